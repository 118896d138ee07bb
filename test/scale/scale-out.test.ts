/**
 * Scale out on one PostgreSQL: two `palisade server`s (jobs off, API and ingest only) and two
 * `palisade worker`s as real processes. Audit batches go to both servers, images are pushed
 * through two real registries whose notifications go to different servers (one digest through
 * both), and every event and every digest must be processed exactly once, counted in the
 * database. A schedule set to fire every minute must create its job once per tick for the whole
 * cluster of processes, not once per process.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerProcess } from '../support/cli.js';
import { fixturesAvailable } from '../support/fixtures.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/postgres.js';
import { registryAvailable, startRegistry, type LocalRegistry } from '../registry/registry.js';
import { api, batches, counts, createToken, imageVariants, postBatch, query, startServer, startWorker, storedAuditIds, waitFor } from './support.js';

const ready = fixturesAvailable() && registryAvailable() && (await postgresAvailable());

/** Every process gets the same schedules: the rescan every minute; the osv.dev refresh (which
 * would download from the internet) registered on a cron that cannot fire during the test. The
 * by-push criterion is off: every digest here was just pushed, and the schedule test counts
 * ticks, while the scan test counts each digest's push scan exactly once. */
const SCHEDULES = { PALISADE_RESCAN_SCHEDULE: '* * * * *', PALISADE_DB_UPDATE_SCHEDULE: '0 0 1 1 *', PALISADE_RESCAN_PUSHED_WINDOW_DAYS: '0' };
const CLUSTER = 'scale';

describe.skipIf(!ready)('scale out: two servers and two workers on one PostgreSQL', () => {
  let pgdb: TestPostgres;
  let dir: string;
  let imagesDir: string;
  let layout: string;
  const processes: ServerProcess[] = [];
  let servers: ServerProcess[] = [];
  let workers: ServerProcess[] = [];
  const registries: LocalRegistry[] = [];
  let admin: string;
  let started: number;

  beforeAll(async () => {
    pgdb = await createTestPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-scale-out-'));
    ({ layout, dir: imagesDir } = await imageVariants(6));
    const options = { databaseUrl: pgdb.url, cwd: dir, env: SCHEDULES };
    // The first server migrates the database and prints the admin token; the others start together.
    const first = await startServer(options);
    processes.push(first);
    admin = first.adminToken!;
    const rest = await Promise.all([startServer(options), startWorker(options), startWorker(options)]);
    processes.push(...rest);
    servers = [first, rest[0]];
    workers = [rest[1], rest[2]];
    started = Date.now();

    for (const [name, server] of [['east', servers[0]!], ['west', servers[1]!]] as const) {
      const token = await createToken(server.url, admin, `registry:${name}`);
      const registry = await startRegistry({ notifications: { url: `${server.url}/ingest/registry/${name}`, token } });
      registries.push(registry);
      await api(server.url, admin, '/api/v1/registries', { name, url: registry.url, kind: 'distribution' });
    }
  });

  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop().catch(() => {})));
    await Promise.all(registries.map((r) => r.stop()));
    await pgdb?.drop();
    for (const d of [dir, imagesDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('stores every audit event sent to either server exactly once, a batch re-sent to the other server included', async () => {
    const token = await createToken(servers[0]!.url, admin, `cluster:${CLUSTER}`);
    const all = batches('scale-out', 12_000, 400);
    // Four senders, alternating servers batch by batch.
    let next = 0;
    const statuses: number[] = [];
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < all.length) {
        const batch = all[next++]!;
        statuses.push(await postBatch(servers[batch.id % 2]!.url, token, batch.body));
      }
    }));
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    // The apiserver re-sends a batch whose answer it lost; here it reaches the other server.
    for (const batch of all.slice(0, 3)) {
      const response = await fetch(`${servers[(batch.id + 1) % 2]!.url}/ingest/audit`, { method: 'POST', body: batch.body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ events: 400, duplicates: 400 });
    }

    const stored = await storedAuditIds(pgdb.url, CLUSTER);
    const c = await counts(pgdb.url, CLUSTER);
    console.log(`scale-out audit: sent 12000 (+1200 re-sent), stored rows ${c.auditRows}, distinct ${c.auditDistinct}`);
    expect(c.auditRows).toBe(12_000);
    expect(c.auditDistinct).toBe(12_000);
    expect(stored.size).toBe(12_000);
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
    for (let i = 0; i < 12_000; i += 997) expect(stored.get(`scale-out-${i}`)).toBe(1);
  }, 90_000);

  it('scans every pushed digest exactly once, whichever server heard of it and however many tags', async () => {
    const [east, west] = registries as [LocalRegistry, LocalRegistry];
    // Variants 0-2 to east (notifying server 1), 3-5 to west (notifying server 2), each under two
    // tags; variant 0 to both registries first, so both servers queue its digest at the same time.
    // One push at a time per registry: docker-registry can lose a layer that two pushes to one
    // repository upload at once ("manifest blob unknown", moby/moby#22854), a race of the
    // stand-in registry, not of what is tested here.
    const pushAll = async (registry: LocalRegistry, pushes: Array<[number, string]>) => {
      for (const [n, tag] of pushes) await registry.push(`oci:${layout}:variant-${n}`, `scale/app:${tag}`);
    };
    const twice = (n: number): Array<[number, string]> => [[n, `v${n}`], [n, `v${n}-again`]];
    await Promise.all([
      pushAll(east, [...twice(0), ...twice(1), ...twice(2)]),
      pushAll(west, [[0, 'v0'], ...twice(3), ...twice(4), ...twice(5)]),
    ]);

    const digests = await waitFor('six digests scanned and the scan queue idle', async () => {
      const c = await counts(pgdb.url, CLUSTER);
      const [pending] = await query<{ n: string }>(pgdb.url, `select count(*) as n from pgboss.job where name = 'registry-scan' and state in ('created', 'retry', 'active')`);
      return c.scansPerDigest.size >= 6 && Number(pending!.n) === 0 ? c : undefined;
    }, 120_000);
    // Late duplicates would show up here.
    await new Promise((r) => setTimeout(r, 2000));
    const c = await counts(pgdb.url, CLUSTER);
    const images = await query<{ registry: string; digest: string; last_scanned: Date | null }>(pgdb.url, 'select registry, digest, last_scanned from images');
    console.log(`scale-out scans: digests ${c.scansPerDigest.size}, scans per digest ${JSON.stringify([...c.scansPerDigest.values()])}, effects ${c.scanEffects}, metered ${c.meteredScans}`);
    expect(digests.scansPerDigest.size).toBe(6);
    expect([...c.scansPerDigest.values()]).toEqual([1, 1, 1, 1, 1, 1]);
    expect(c.scanEffects).toBe(6);
    expect(c.meteredScans).toBe(6);
    // Seven image rows (variant 0 lives in both registries), all marked scanned.
    expect(images).toHaveLength(7);
    expect(images.every((i) => i.last_scanned !== null)).toBe(true);
    // The work was spread: both workers scanned (each logs the digests it scanned).
    const scannedBy = workers.map((w) => (w.output().match(/"msg":"image scanned"/g) ?? []).length);
    const problems = workers.flatMap((w) => w.output().split('\n').filter((l) => /"level":(40|50|60)/.test(l)));
    console.log(`scale-out scans per worker: ${JSON.stringify(scannedBy)}; worker warnings: ${problems.length}\n${problems.slice(0, 10).join('\n')}`);
    expect(scannedBy.reduce((a, b) => a + b, 0), `every scan logs "image scanned" once; worker warnings:\n${problems.join('\n')}`).toBe(6);
  }, 150_000);

  it('fires a schedule once per tick for the whole cluster of processes, not once per process', async () => {
    const schedules = await query<{ name: string; cron: string }>(pgdb.url, 'select name, cron from pgboss.schedule order by name');
    // Stored once each, although both workers registered them at start.
    expect(new Set(schedules.map((s) => s.name)).size).toBe(schedules.length);
    expect(schedules.filter((s) => ['registry-rescan', 'vulndb-update'].includes(s.name))).toEqual([{ name: 'registry-rescan', cron: '* * * * *' }, { name: 'vulndb-update', cron: '0 0 1 1 *' }]);

    // pg-boss's cron monitor runs in every scheduling process, is elected through a timestamp in
    // its version row (one process per 30 s), and sends a `__pgboss__send-it` job keyed by the
    // schedule name and the minute; the one process that takes it creates the scheduled job.
    const rescans = () => query<{ created_on: Date }>(pgdb.url, `
      select created_on from pgboss.job where name = 'registry-rescan'
      union all select created_on from pgboss.archive where name = 'registry-rescan' order by 1`);
    const sendIts = () => query<{ tick: Date }>(pgdb.url, `
      select singleton_on as tick from pgboss.job where name = '__pgboss__send-it' and singleton_key = 'registry-rescan'
      union all select singleton_on from pgboss.archive where name = '__pgboss__send-it' and singleton_key = 'registry-rescan' order by 1`);
    // A tick, then the rest of its minute (at most 32 s: the monitors, elected every 30 s, have all
    // had their chance at it by then).
    const seen = await waitFor('a tick of the every-minute rescan', async () => {
      const jobs = await rescans();
      return jobs.length >= 1 ? jobs : undefined;
    }, 100_000, 1000);
    const created = new Date(seen.at(-1)!.created_on).getTime();
    const until = Math.min(created + 32_000, Math.floor(created / 60_000) * 60_000 + 60_000);
    await new Promise((r) => setTimeout(r, Math.max(0, until - Date.now())));
    const jobs = await rescans();
    const ticks = await sendIts();
    // pg-boss also sends for a tick less than 60 s old when a scheduler starts: count the minute
    // boundaries from 60 s before the workers started until now.
    const now = Date.now();
    let possible = 0;
    for (let m = Math.ceil((started - 60_000) / 60_000) * 60_000; m <= now; m += 60_000) possible++;
    console.log(`scale-out schedule: ${jobs.length} rescan jobs for ${ticks.length} ticks (${ticks.map((t) => new Date(t.tick).toISOString().slice(11, 16)).join(', ')}), ${possible} minute boundaries in ${Math.round((now - started) / 1000)} s, with ${workers.length} scheduling workers and ${servers.length} servers`);
    expect(jobs.length).toBe(ticks.length);
    expect(new Set(ticks.map((t) => new Date(t.tick).getTime())).size).toBe(ticks.length);
    // Once per process would be twice per tick.
    expect(jobs.length).toBeLessThanOrEqual(possible);
    expect(jobs.length).toBeGreaterThanOrEqual(1);
    // The osv.dev refresh never ran (its cron cannot fire now); had it, it would be once too (same path).
    const [updates] = await query<{ n: string }>(pgdb.url, `select count(*) as n from pgboss.job where name = 'vulndb-update'`);
    expect(Number(updates!.n)).toBe(0);
  }, 150_000);
});
