/**
 * `npm run bench -- scan [RUNS]`
 * (1) Cold scan of the debian12 `app` image from a local `docker-registry` (empty layer cache), against
 *     the floor measured in the same run: the same blobs fetched with `curl` and read with
 *     `tar -xzf - -O > /dev/null` (both layers at once, as the scanner reads them). Target ≤ 1.5× the floor.
 * (2) Warm rescan after the advisory database changed (layer cache hit in the store): target ≤ 100 ms.
 *     Baseline: the cold scan.
 * (3) Peak RSS of a scan of an image with a 1 GiB layer (in a child process): target < 256 MiB.
 *     Baseline: the layer size.
 * (4) First scan of the debian12 `app` image as a `docker-archive:` and an `oci-archive:` file (fresh layer cache,
 *     in process, matched against an advisory database file of the fixture records opened for each scan;
 *     CLI start-up is measured by bench/startup.ts), against `tar -xOf FILE > /dev/null` over the same
 *     file in the same run. Target ≤ 1.0× tar + 300 ms.
 *     tar -xOf reads an oci-archive's gzip layers as blobs, without inflating them; so the oci-archive
 *     scan is also set against the floor of (1) on the same file: every layer taken out with
 *     `tar -xOf` and read with `tar -xzf - -O` (all layers at once, as the scanner reads them).
 *     Target ≤ 1.5× that floor, as (1).
 * (5) Peak RSS of those scans (in a child process): target < 200 MiB. Baseline: the archive size.
 * Medians of RUNS (3) runs. `npm run bench -- scan RUNS archives` runs (4) and (5) only.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { inventoryImage, memoryLayerCache, scanImage } from '../src/image/index.js';
import { openStore } from '../src/store/index.js';
import { AdvisoryFile, importOsv } from '../src/vulndb/index.js';
import { validRecords, writeRecordsFile } from '../src/vulndb/testing/fixtures.js';
import { registryAvailable, startRegistry } from '../test/registry/registry.js';
import { fixture, fixturesAvailable } from '../test/support/fixtures.js';
import { result, type BenchResult } from './result.js';

const run = promisify(execFile);
const GiB = 1024 ** 3;

if (process.env.PALISADE_BENCH_SCAN_CHILD) {
  // Child mode: scan one image and report this process's peak RSS.
  // With an advisory file (the archive scans): the whole one-shot scan, matching included.
  const file = process.env.PALISADE_BENCH_SCAN_ADVISORIES;
  const advisories = file ? AdvisoryFile.open(file) : undefined;
  const packages = advisories
    ? (await scanImage(process.env.PALISADE_BENCH_SCAN_CHILD, { advisories, cache: memoryLayerCache() })).packages.length
    : (await inventoryImage(process.env.PALISADE_BENCH_SCAN_CHILD)).inventory.packages.length;
  process.stdout.write(JSON.stringify({ maxRss: process.resourceUsage().maxRSS * 1024, packages }));
  process.exit(0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
async function timed(work: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await work();
  return performance.now() - start;
}

export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  if (!fixturesAvailable() || !registryAvailable()) throw new Error('bench scan needs ../shared/fixtures and docker-registry + skopeo (scripts/registry.sh install)');
  const runs = Number(args[0] ?? 3);
  if (args[1] === 'archives') return benchArchives(runs, emit);
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-bench-scan-'));
  const registry = await startRegistry();
  try {
    await registry.push(`oci:${fixture('images/debian12')}:app`, 'bench/app:1');
    const probe = await inventoryImage(`${registry.host}/bench/app:1`, { insecure: true });
    const blobs = probe.image.layers.map((l) => `${registry.url}/v2/bench/app/blobs/${l.digest}`);

    // (1) cold scan vs curl | tar
    const floor: number[] = [];
    const cold: number[] = [];
    for (let i = 0; i < runs; i++) {
      floor.push(await timed(() => Promise.all(blobs.map((url) => run('bash', ['-c', `curl -sSf '${url}' | tar -xzf - -O > /dev/null`])))));
      cold.push(await timed(() => inventoryImage(`${registry.host}/bench/app:1`, { insecure: true, cache: memoryLayerCache() })));
    }
    const coldMs = median(cold);
    const floorMs = median(floor);
    emit(result({ bench: 'scan', metric: 'cold_scan_ms', value: Math.round(coldMs), baseline: 'curl_tar_xzf_ms', baseline_value: Math.round(floorMs), target: 'ratio <= 1.5', ok: coldMs / floorMs <= 1.5, layers: blobs.length }));

    // (2) warm rescan after a database change
    const store = await openStore({ dataDir: path.join(dir, 'db') });
    try {
      await importOsv(store, [fixture('osv/debian')]);
      await scanImage(`${registry.host}/bench/app:1`, { store, insecure: true });
      const warm: number[] = [];
      let cachedLayers = 0;
      let findings = 0;
      for (let i = 0; i < runs; i++) {
        // Each round changes the database, so matching cannot reuse earlier candidates.
        await importOsv(store, [fixture(i % 2 === 0 ? 'osv/npm' : 'osv/go')]);
        let report: Awaited<ReturnType<typeof scanImage>> | undefined;
        warm.push(await timed(async () => (report = await scanImage(`${registry.host}/bench/app:1`, { store, insecure: true }))));
        cachedLayers = report!.image.layers.filter((l) => l.cached).length;
        findings = report!.vulnerabilities.length;
      }
      const warmMs = median(warm);
      emit(result({ bench: 'scan', metric: 'warm_rescan_ms', value: Math.round(warmMs), baseline: 'cold_scan_ms', baseline_value: Math.round(coldMs), target: 'value <= 100', ok: warmMs <= 100 && cachedLayers === blobs.length, cached_layers: cachedLayers, findings }));
    } finally {
      await store.close();
    }

    // (3) peak RSS with a 1 GiB layer
    const layout = path.join(dir, 'big');
    await writeBigLayout(layout, GiB);
    const child = await new Promise<string>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, PALISADE_BENCH_SCAN_CHILD: `oci:${layout}:big` }, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`child exited ${code}`))));
    });
    const { maxRss, packages } = JSON.parse(child) as { maxRss: number; packages: number };
    emit(result({ bench: 'scan', metric: 'peak_rss_mib_1gib_layer', value: Math.round(maxRss / 1048576), baseline: 'layer_mib', baseline_value: GiB / 1048576, target: 'value < 256', ok: maxRss < 256 * 1048576 && packages === 1 }));
  } finally {
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  }
  await benchArchives(runs, emit);
}

/** The members of an oci-archive holding its (first) manifest's layers, read with GNU tar as a user would. */
async function ociArchiveLayers(file: string): Promise<string[]> {
  const member = async (name: string) => JSON.parse((await run('tar', ['-xOf', file, name], { maxBuffer: 1 << 20 })).stdout) as Record<string, unknown>;
  const blob = (digest: string) => `blobs/${digest.replace(':', '/')}`;
  const index = (await member('index.json')) as { manifests: { digest: string }[] };
  const manifest = (await member(blob(index.manifests[0]!.digest))) as { layers: { digest: string }[] };
  return manifest.layers.map((layer) => blob(layer.digest));
}

function childScan(image: string, advisories: string): Promise<{ maxRss: number; packages: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], { env: { ...process.env, PALISADE_BENCH_SCAN_CHILD: image, PALISADE_BENCH_SCAN_ADVISORIES: advisories }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as { maxRss: number; packages: number }) : reject(new Error(`child exited ${code}`))));
  });
}

/** (4) and (5): archives read in place against GNU tar reading the same file. */
async function benchArchives(runs: number, emit: (r: BenchResult) => void): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-bench-archives-'));
  try {
    const source = `oci:${fixture('images/debian12')}:app`;
    const advisoryFile = path.join(dir, 'advisories.pvdb');
    (await writeRecordsFile(advisoryFile, validRecords('debian', 'npm', 'go'))).close();
    const archives = { 'docker-archive': path.join(dir, 'app-docker.tar'), 'oci-archive': path.join(dir, 'app-oci.tar') };
    await run('skopeo', ['copy', '--quiet', source, `docker-archive:${archives['docker-archive']}:bench/app:1`]);
    await run('skopeo', ['copy', '--quiet', source, `oci-archive:${archives['oci-archive']}:app`]);
    for (const [transport, file] of Object.entries(archives)) {
      const image = `${transport}:${file}`;
      const bytes = (await stat(file)).size;
      const tarMs: number[] = [];
      const scanMs: number[] = [];
      let packages = 0;
      let findings = 0;
      const gzipLayers = transport === 'oci-archive' ? await ociArchiveLayers(file) : [];
      const inflateMs: number[] = [];
      for (let i = 0; i < runs; i++) {
        tarMs.push(await timed(() => run('bash', ['-c', 'tar -xOf "$1" > /dev/null', 'tar', file])));
        if (gzipLayers.length) inflateMs.push(await timed(() => Promise.all(gzipLayers.map((member) => run('bash', ['-c', 'tar -xOf "$1" "$2" | tar -xzf - -O > /dev/null', 'tar', file, member])))));
        // A whole one-shot scan: open the advisory file, read the image, match.
        scanMs.push(await timed(async () => {
          const advisories = AdvisoryFile.open(advisoryFile);
          try {
            const report = await scanImage(image, { advisories, cache: memoryLayerCache() });
            packages = report.packages.length;
            findings = report.vulnerabilities.length;
          } finally {
            advisories.close();
          }
        }));
      }
      const tarMedian = median(tarMs);
      const scanMedian = median(scanMs);
      emit(result({ bench: 'scan', metric: `first_scan_ms_${transport}`, value: Math.round(scanMedian), baseline: 'tar_xOf_ms', baseline_value: Math.round(tarMedian), target: 'value <= baseline + 300', ok: scanMedian <= tarMedian + 300, archive_mib: Math.round(bytes / 1048576), packages, findings }));
      if (inflateMs.length) {
        const floorMs = median(inflateMs);
        emit(result({ bench: 'scan', metric: `first_scan_ms_${transport}_vs_inflate`, value: Math.round(scanMedian), baseline: 'tar_xOf_layer_tar_xzf_ms', baseline_value: Math.round(floorMs), target: 'ratio <= 1.5', ok: scanMedian / floorMs <= 1.5, layers: gzipLayers.length }));
      }
      const child = await childScan(image, advisoryFile);
      emit(result({ bench: 'scan', metric: `peak_rss_mib_${transport}`, value: Math.round(child.maxRss / 1048576), baseline: 'archive_mib', baseline_value: Math.round(bytes / 1048576), target: 'value < 200', ok: child.maxRss < 200 * 1048576 && child.packages === packages }));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** An OCI layout whose one layer holds a `size`-byte incompressible file and one npm package, gzip-compressed. */
async function writeBigLayout(dir: string, size: number): Promise<void> {
  await mkdir(path.join(dir, 'blobs/sha256'), { recursive: true });
  const pack = tar.pack();
  const diff = createHash('sha256');
  const blobHash = createHash('sha256');
  const tmpBlob = path.join(dir, 'layer.tmp');
  const hashing = (hash: ReturnType<typeof createHash>) =>
    async function* (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        hash.update(chunk);
        yield chunk;
      }
    };
  // tar-stream's pack is a streamx Readable; the pipeline overloads cannot type the generator chain.
  const writing = (pipeline as unknown as (...s: unknown[]) => Promise<void>)(pack, hashing(diff), createGzip({ level: 1 }), hashing(blobHash), createWriteStream(tmpBlob));
  const pkg = Buffer.from(JSON.stringify({ name: 'big-app-dep', version: '1.0.0' }));
  pack.entry({ name: 'app/node_modules/big-app-dep/package.json', size: pkg.length }, pkg);
  const entry = pack.entry({ name: 'data/blob.bin', size });
  const block = randomBytes(1 << 20);
  for (let written = 0; written < size; written += block.length) {
    block.writeUInt32LE(written >>> 20, 0); // vary blocks so gzip cannot fold them
    if (!entry.write(Buffer.from(block))) await new Promise<void>((r) => entry.once('drain', () => r()));
  }
  entry.end(Buffer.alloc(0));
  pack.finalize();
  await writing;
  const blobDigest = blobHash.digest('hex');
  const diffId = `sha256:${diff.digest('hex')}`;
  const { rename } = await import('node:fs/promises');
  await rename(tmpBlob, path.join(dir, 'blobs/sha256', blobDigest));
  const blobSize = (await stat(path.join(dir, 'blobs/sha256', blobDigest))).size;
  const put = async (data: string) => {
    const digest = createHash('sha256').update(data).digest('hex');
    await writeFile(path.join(dir, 'blobs/sha256', digest), data);
    return { digest: `sha256:${digest}`, size: Buffer.byteLength(data) };
  };
  const config = await put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const manifest = await put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${blobDigest}`, size: blobSize }] }));
  await writeFile(path.join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'big' } }] }));
}
