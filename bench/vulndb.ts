/**
 * `npm run bench -- vulndb [RECORDS]` (default 200000)
 * (1) Import rate of a synthetic OSV zip of RECORDS records (Debian 12, npm, PyPI, Go; sizes and
 *     shapes like osv.dev's) into the embedded database, against the raw rate of reading the same
 *     archive (yauzl, streaming) and JSON.parse-ing every entry in the same run. Target ratio >= 0.3.
 * (2) Matching every package of the fixture images (dpkg status of debian12:minbase and :app, the
 *     npm packages under /app/node_modules) against that database, after warm-up: packages/s,
 *     target >= 50,000; baseline: the same matching over an in-memory index (no database).
 * (3) Database size on disk per 100,000 records (reported against the zip's size).
 * (4) Matching in process, no database: the same packages against an in-memory index of the real
 *     records plus 50,000 synthetic ones, every range evaluated (no memo): packages/s, target
 *     >= 200,000; baseline: the same queries fetching their candidate records without evaluating
 *     any range (the floor matching cannot beat).
 * (5) The advisory database file of those records: open it and match both images once (what a
 *     one-shot scan does), against the first match over a fresh in-memory index of the same parsed
 *     records. Target <= 50 ms. `npm run bench -- vulndb match` runs (4) and (5) alone.
 * (6) Re-matching stored inventories after a database change touching 1% of 10,000 of them,
 *     against matching all of them from scratch in the same run. Target ratio <= 0.05.
 *     `npm run bench -- vulndb rematch [INVENTORIES]` runs it alone.
 */
import { createHash } from 'node:crypto';
import { readdir, stat, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createReadStream, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { sql } from 'kysely';
import { openStore } from '../src/store/index.js';
import { ManualClock, type ImageInventory, type InstalledPackage } from '../src/core/index.js';
import { AdvisoryFile, AdvisoryFileBuilder, AdvisoryIndex, baseEcosystem, importOsv, matchInventory, matchPackages, packageKey, packageQueries, validateOsvRecord, type OsvRecord } from '../src/vulndb/index.js';
import { zipJsonEntries } from '../src/vulndb/import.js';
import { dpkgInventory, osvRecords, readImageFile, seededRandom } from '../src/vulndb/testing/fixtures.js';
import { writeLargeZip } from '../src/vulndb/testing/zip.js';
import { fixture, fixturesAvailable } from '../test/support/fixtures.js';
import { result, type BenchResult } from './result.js';

const WORDS = 'buffer overflow in the parser allows remote attackers to cause a denial of service or possibly execute arbitrary code via a crafted request header when handling malformed input'.split(' ');

function sentence(random: () => number, words: number): string {
  return Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
}

/** Synthetic records shaped like osv.dev's: ids, aliases, summary, details, CVSS, ranges, references. */
export function* syntheticRecords(count: number, debianSources: string[], npmNames: string[]): Generator<[string, string]> {
  const random = seededRandom(7);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  const debianPool = [...debianSources, ...Array.from({ length: 8000 }, (_, i) => `libsynth${i}`)];
  const npmPool = [...npmNames, ...Array.from({ length: 20000 }, (_, i) => `synth-pkg-${i}`)];
  const pypiPool = Array.from({ length: 10000 }, (_, i) => `synth_py_${i}`);
  const goPool = Array.from({ length: 5000 }, (_, i) => `github.com/synth/mod${i}`);
  const start = Date.UTC(2018, 0, 1);
  for (let i = 0; i < count; i++) {
    const r = random();
    const cve = `CVE-${2018 + (i % 8)}-${100000 + i}`;
    const modified = new Date(start + Math.floor(random() * 8 * 365 * 86400_000)).toISOString().replace(/\.\d+Z$/, 'Z');
    const [major, minor, patch] = [Math.floor(random() * 10), Math.floor(random() * 30), Math.floor(random() * 20)];
    let id: string;
    let affected: unknown[];
    if (r < 0.4) {
      id = `DEBIAN-${cve}`;
      affected = [{
        package: { ecosystem: 'Debian:12', name: pick(debianPool), purl: 'pkg:deb/debian/x?arch=source' },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: `${major}.${minor}.${patch}-${1 + (i % 5)}+deb12u${1 + (i % 3)}` }] }],
        ecosystem_specific: { urgency: pick(['low', 'medium', 'high', 'not yet assigned']) },
      }];
    } else {
      const [eco, name, type] = r < 0.7 ? ['npm', pick(npmPool), 'SEMVER'] : r < 0.85 ? ['PyPI', pick(pypiPool), 'ECOSYSTEM'] : ['Go', pick(goPool), 'SEMVER'];
      id = r < 0.85 ? `GHSA-${(i * 7919).toString(36).padStart(4, '0')}-syn${i % 10}-${(i % 1296).toString(36)}` : `GO-${2018 + (i % 8)}-${i}`;
      affected = [{
        package: { ecosystem: eco, name },
        ranges: [{ type, events: [{ introduced: `${major}.0.0` }, { fixed: `${major}.${minor}.${patch + 1}` }] }],
        database_specific: { source: 'https://example.invalid/advisory.json' },
      }];
    }
    const record = {
      schema_version: '1.6.0',
      id,
      modified,
      published: modified,
      aliases: id.startsWith('DEBIAN') ? [] : [cve],
      upstream: [cve],
      summary: sentence(random, 8),
      details: sentence(random, 90),
      severity: [{ type: 'CVSS_V3', score: pick(['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N', 'CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N']) }],
      affected,
      references: [{ type: 'ADVISORY', url: `https://nvd.nist.gov/vuln/detail/${cve}` }, { type: 'WEB', url: `https://example.invalid/${id}` }],
      database_specific: { cwe_ids: ['CWE-787'] },
    };
    yield [`${id}.json`, JSON.stringify(record)];
  }
}

/** npm packages of the app image: every /app/node_modules/.../package.json in its layers. */
export async function npmPackagesOfApp(): Promise<InstalledPackage[]> {
  const layout = fixture('images', 'debian12');
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations?: Record<string, string> }> };
  const blob = (d: string): string => path.join(layout, 'blobs', ...d.split(':'));
  const app = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!;
  const manifest = JSON.parse(readFileSync(blob(app.digest), 'utf8')) as { layers: Array<{ digest: string }> };
  const out: InstalledPackage[] = [];
  for (const layer of manifest.layers) {
    const extract = tar.extract();
    const done = new Promise<void>((resolve, reject) => {
      extract.on('entry', (header, stream, next) => {
        const name = header.name.replace(/^\.\//, '');
        if (!/^app\/node_modules\/(@[^/]+\/)?[^/]+\/package\.json$/.test(name)) {
          stream.on('end', next);
          stream.resume();
          return;
        }
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => {
          chunks.push(c as Buffer);
        });
        stream.on('end', () => {
          const pkg = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { name?: string; version?: string };
          if (pkg.name && pkg.version) out.push({ name: pkg.name, version: pkg.version, ecosystem: 'npm', purl: `pkg:npm/${pkg.name}@${pkg.version}` });
          next();
        });
      });
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    createReadStream(blob(layer.digest)).pipe(createGunzip()).pipe(extract);
    await done;
  }
  return out;
}

async function du(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await du(p) : (await stat(p)).size;
  }
  return total;
}

/** Real records of the fixtures (Debian, npm, Go), validated as an import would. */
function realRecords(): OsvRecord[] {
  return [...osvRecords('debian'), ...osvRecords('npm'), ...osvRecords('go')]
    .map(({ file, record }) => validateOsvRecord(record, file).record)
    .filter((r): r is OsvRecord => r !== undefined);
}

/** The images' packages: dpkg status of minbase and app, and the app's npm packages. */
async function benchInventories(): Promise<ImageInventory[]> {
  const minbase = dpkgInventory(readImageFile('minbase', 'var/lib/dpkg/status'));
  const app = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'));
  const npmPackages = await npmPackagesOfApp();
  return [minbase, { os: app.os!, packages: [...app.packages, ...npmPackages] }];
}

/** The app image's Debian source names and npm package names, which synthetic advisories name too. */
function appNames(inventories: ImageInventory[]): { sources: string[]; npmNames: string[] } {
  const app = inventories[1]!;
  return {
    sources: [...new Set(app.packages.filter((p) => p.ecosystem !== 'npm').map((p) => p.sourceName ?? p.name))],
    npmNames: app.packages.filter((p) => p.ecosystem === 'npm').map((p) => p.name),
  };
}

/** (4) In-process matching over an in-memory index, against fetching the candidates alone. */
async function matchInProcess(emit: (r: BenchResult) => void, inventories: ImageInventory[]): Promise<void> {
  const { sources, npmNames } = appNames(inventories);
  const synthetic: OsvRecord[] = [];
  for (const [file, text] of syntheticRecords(50_000, sources, npmNames)) {
    const record = validateOsvRecord(JSON.parse(text), file).record;
    if (record) synthetic.push(record);
  }
  const index = new AdvisoryIndex([...realRecords(), ...synthetic]);
  const packagesPerRound = inventories.reduce((n, inv) => n + inv.packages.length, 0);
  const measure = (ms: number, round: () => number): { rate: number; rounds: number; sink: number } => {
    for (let i = 0; i < 3; i++) round(); // warm-up: JIT and the comparators' parse caches
    let rounds = 0;
    let sink = 0;
    const t = performance.now();
    while (performance.now() - t < ms) {
      sink += round();
      rounds++;
    }
    return { rate: (rounds * packagesPerRound) / ((performance.now() - t) / 1000), rounds, sink };
  };
  const lookupOnly = measure(1500, () => {
    let candidates = 0;
    for (const inv of inventories) {
      for (const q of packageQueries(inv)) for (const key of q.keys) candidates += index.lookup(q.ecosystem, key).length;
    }
    return candidates;
  });
  const matching = measure(3000, () => inventories.reduce((n, inv) => n + matchPackages(inv, index.lookup).length, 0));
  // (5) The advisory file as a one-shot scan meets it: open, then the first match of both images
  // (records read by position, inflated, parsed, candidates compiled), against the first match over
  // a fresh in-memory index of the same records (already parsed). Target: the 50 ms of a warm rescan.
  const all = [...realRecords(), ...synthetic];
  const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-file-'));
  try {
    const file = path.join(dir, 'advisories.pvdb');
    const builder = new AdvisoryFileBuilder();
    for (const r of all) for (const a of r.affected) builder.addPosting(baseEcosystem(a.package.ecosystem), packageKey(a.package.ecosystem, a.package.name), r.id);
    const byId = new Map(all.map((r) => [r.id, r]));
    await builder.write(file, builder.recordOrder().map((id) => ({ id, json: JSON.stringify(byId.get(id)) })), { generation: 'bench', builtAt: new Date(0), status: { advisories: all.length, ecosystems: [] } });
    const fileBytes = (await stat(file)).size;
    const firstFile: number[] = [];
    const firstMemory: number[] = [];
    let fileFindings = 0;
    let memoryFindings = 0;
    for (let i = 0; i < 5; i++) {
      let t = performance.now();
      const opened = AdvisoryFile.open(file);
      fileFindings = inventories.reduce((n, inv) => n + matchPackages(inv, opened.lookup).length, 0);
      firstFile.push(performance.now() - t);
      opened.close();
      const fresh = new AdvisoryIndex(all);
      t = performance.now();
      memoryFindings = inventories.reduce((n, inv) => n + matchPackages(inv, fresh.lookup).length, 0);
      firstMemory.push(performance.now() - t);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    emit(result({
      bench: 'vulndb', metric: 'file_open_first_match_ms', value: Math.round(med(firstFile) * 10) / 10,
      baseline: 'in_memory_index_first_match_ms', baseline_value: Math.round(med(firstMemory) * 10) / 10,
      target: 'value <= 50', ok: med(firstFile) <= 50 && fileFindings === memoryFindings,
      records: all.length, file_mib: Math.round((fileBytes / 2 ** 20) * 10) / 10, findings: fileFindings,
    }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  emit(result({
    bench: 'vulndb', metric: 'match_in_process_packages_per_s', value: Math.round(matching.rate),
    baseline: 'candidate_lookup_only', baseline_value: Math.round(lookupOnly.rate),
    target: 'value >= 200000', ok: matching.rate >= 200_000,
    packages_per_round: packagesPerRound, records: synthetic.length, findings_per_round: Math.round(matching.sink / matching.rounds),
    candidates_per_round: Math.round(lookupOnly.sink / lookupOnly.rounds),
  }));
}

/**
 * (6) Re-matching after a database change (issue 21): INVENTORIES stored inventories (default
 * 10,000: the Debian 12 minbase and app images' dpkg packages, alternately, each with one npm
 * package `bench-marker-K`, K = i mod 100, so one marker is held by 1% of them). First every
 * inventory is matched from scratch (the first database version has nothing to compare with: a
 * full re-match writes every image's findings); then an advisory for one marker is imported and
 * only the images holding it are re-matched. Target: targeted <= 0.05 x from scratch, same run.
 * Also reported: the one-time indexing of the stored inventories (done by the first targeted
 * re-match after an upgrade, then only for new scans).
 */
async function rematchAfterChange(emit: (r: BenchResult) => void, inventories: ImageInventory[], count: number): Promise<void> {
  const { rematchStoredInventories } = await import('../src/registry/index.js');
  const { indexStoredInventories } = await import('../src/vulndb/index.js');
  const { recordImagePushes } = await import('../src/store/index.js');
  const clock = new ManualClock('2026-12-01T00:00:00Z');
  const work = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-rematch-'));
  const store = await openStore({ dataDir: path.join(work, 'data') });
  try {
    await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm'), fixture('osv', 'go')], { clock });
    const bases = inventories.map((inv) => ({ os: inv.os!, packages: inv.packages.filter((p) => p.ecosystem !== 'npm') }));
    const digestOf = (i: number) => `sha256:${createHash('sha256').update(`bench-image-${i}`).digest('hex')}`;
    let t = performance.now();
    for (let start = 0; start < count; start += 500) {
      const batch = Array.from({ length: Math.min(500, count - start) }, (_, k) => start + k);
      await recordImagePushes(store.db, batch.map((i) => ({ registry: 'bench', repository: `team${i % 50}/app${i}`, digest: digestOf(i), tag: '1', imported: false, at: clock.now() })));
      await store.db.insertInto('image_scans').values(batch.map((i) => {
        const base = bases[i % bases.length]!;
        const inventory: ImageInventory = { os: base.os, packages: [...base.packages, { name: `bench-marker-${i % 100}`, version: '1.0.0', ecosystem: 'npm', purl: `pkg:npm/bench-marker-${i % 100}@1.0.0` }] };
        return { id: `scn_bench_${i}`, digest: digestOf(i), status: 'succeeded', started_at: clock.now(), finished_at: clock.now(), error: null, inventory: JSON.stringify(inventory) };
      })).execute();
    }
    const seedSeconds = (performance.now() - t) / 1000;

    // From scratch: the first version's change is full, every inventory is matched and its findings written.
    t = performance.now();
    const scratch = await rematchStoredInventories({ store, clock });
    const scratchMs = performance.now() - t;

    const markerAdvisory = (marker: number, id: string) => JSON.stringify({
      id, modified: clock.now().toISOString(), aliases: [], summary: `bench advisory for bench-marker-${marker}`,
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [{ package: { ecosystem: 'npm', name: `bench-marker-${marker}` }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.1' }] }] }],
    });
    const importMarker = async (marker: number) => {
      clock.advance(86_400_000);
      const file = path.join(work, `marker-${marker}.json`);
      await writeFile(file, markerAdvisory(marker, `GHSA-bench-mark-${String(marker).padStart(4, '0')}`));
      return (await importOsv(store, [file], { clock })).version!;
    };

    // The first targeted re-match after an upgrade indexes every stored inventory once: measured apart.
    t = performance.now();
    const indexed = await indexStoredInventories(store.db);
    const indexMs = performance.now() - t;

    // A change touching 1% of the inventories (bench-marker-7), re-matched as the job does.
    const version = await importMarker(7);
    t = performance.now();
    const targeted = await rematchStoredInventories({ store, clock }, { version });
    const targetedMs = performance.now() - t;

    const ratio = targetedMs / scratchMs;
    emit(result({
      bench: 'vulndb', metric: 'rematch_1pct_change_ms', value: Math.round(targetedMs),
      baseline: 'rematch_all_from_scratch_ms', baseline_value: Math.round(scratchMs),
      target: 'ratio <= 0.05', ok: ratio <= 0.05 && targeted.images === count / 100 && targeted.newAlerts === count / 100 && scratch.images === count,
      ratio,
      inventories: count, rematched: targeted.images, new_alerts: targeted.newAlerts, changed_packages: targeted.changedPackages,
      index_inventories_once_ms: Math.round(indexMs), indexed, seed_seconds: Math.round(seedSeconds * 10) / 10,
      load_average_1m: Math.round(os.loadavg()[0]! * 100) / 100,
    }));
  } finally {
    await store.close().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  if (!fixturesAvailable()) throw new Error('vulndb bench needs the shared fixtures (PALISADE_FIXTURES)');
  if (args[0] === 'match') return matchInProcess(emit, await benchInventories());
  if (args[0] === 'rematch') return rematchAfterChange(emit, await benchInventories(), rematchCount(args[1]));
  const count = Number(args[0] ?? 200_000);
  if (!Number.isInteger(count) || count <= 0) throw new Error(`RECORDS must be a positive integer, got ${args[0]}`);
  const work = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-vulndb-'));
  try {
    // The images' packages; synthetic advisories name them too, so matching does real work.
    const inventories = await benchInventories();
    const packages = inventories.reduce((n, inv) => n + inv.packages.length, 0);
    const { sources, npmNames } = appNames(inventories);

    const zip = path.join(work, 'synthetic.zip');
    // Entries are produced one at a time as the archive is written (memory stays flat at 200k).
    await writeLargeZip(zip, syntheticRecords(count, sources, npmNames));
    const zipBytes = (await stat(zip)).size;

    // (1) baseline: stream the archive and JSON.parse every entry.
    let t = performance.now();
    let parsed = 0;
    for await (const entry of zipJsonEntries(zip, () => {})) {
      JSON.parse(entry.text);
      parsed++;
    }
    const rawRate = parsed / ((performance.now() - t) / 1000);

    const dataDir = path.join(work, 'data');
    const store = await openStore({ dataDir });
    try {
      const emptyBytes = await du(dataDir);
      t = performance.now();
      const report = await importOsv(store, [zip]);
      const importSeconds = (performance.now() - t) / 1000;
      const imported = report.added.length + report.changed.length + report.unchanged;
      const importRate = imported / importSeconds;
      emit(result({
        bench: 'vulndb', metric: 'import_records_per_s', value: Math.round(importRate),
        baseline: 'yauzl_stream_json_parse', baseline_value: Math.round(rawRate),
        target: 'ratio >= 0.3', ok: importRate / rawRate >= 0.3,
        records: imported, seconds: Math.round(importSeconds * 10) / 10,
      }));

      // Real records for the images' packages on top of the synthetic ones.
      await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm'), fixture('osv', 'go')]);

      // (2) matching, after warm-up (candidate cache filled).
      for (const inv of inventories) await matchInventory(store, inv);
      let matched = 0;
      let findings = 0;
      t = performance.now();
      while (performance.now() - t < 3000) {
        for (const inv of inventories) {
          findings += (await matchInventory(store, inv)).length;
          matched += inv.packages.length;
        }
      }
      const matchRate = matched / ((performance.now() - t) / 1000);
      // Baseline: the same matching over an in-memory index of the same real records (no database, no cache check).
      const memory = new AdvisoryIndex(realRecords());
      let memMatched = 0;
      t = performance.now();
      while (performance.now() - t < 1500) {
        for (const inv of inventories) {
          matchPackages(inv, memory.lookup);
          memMatched += inv.packages.length;
        }
      }
      const memRate = memMatched / ((performance.now() - t) / 1000);
      emit(result({
        bench: 'vulndb', metric: 'match_packages_per_s', value: Math.round(matchRate),
        baseline: 'in_memory_index_real_records', baseline_value: Math.round(memRate),
        target: 'value >= 50000', ok: matchRate >= 50_000,
        packages_per_round: packages, findings_per_round: Math.round(findings / (matched / packages)),
      }));

      // (3) size on disk: the whole data directory (includes PostgreSQL's WAL, a fixed ~100 MB
      // at small sizes) and the vulndb tables with their indexes alone.
      const tables = await sql<{ bytes: string | number }>`select sum(pg_total_relation_size(c.oid)) as bytes from pg_class c
        where c.relname in ('vuln_advisories', 'vuln_affected') and c.relkind = 'r'`.execute(store.db);
      const tableBytes = Number(tables.rows[0]?.bytes ?? 0);
      await store.close();
      const bytes = (await du(dataDir)) - emptyBytes;
      const per100k = Math.round((bytes / imported) * 100_000);
      const zipPer100k = Math.round((zipBytes / count) * 100_000);
      emit(result({
        bench: 'vulndb', metric: 'db_bytes_per_100k_records', value: per100k,
        baseline: 'zip_bytes_per_100k_records', baseline_value: zipPer100k,
        target: 'ratio <= 10', ok: per100k / zipPer100k <= 10,
        mib_per_100k: Math.round((per100k / 2 ** 20) * 10) / 10,
        table_mib_per_100k: Math.round((tableBytes / imported) * 100_000 / 2 ** 20 * 10) / 10,
      }));
    } finally {
      await store.close().catch(() => {});
    }
    await matchInProcess(emit, inventories);
    await rematchAfterChange(emit, inventories, rematchCount(undefined));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** INVENTORIES of `vulndb rematch [INVENTORIES]`: a positive multiple of 100 (so 1% is whole), default 10,000. */
function rematchCount(arg: string | undefined): number {
  const n = Number(arg ?? 10_000);
  if (!Number.isInteger(n) || n <= 0 || n % 100) throw new Error(`INVENTORIES must be a positive multiple of 100, got ${arg}`);
  return n;
}
