/**
 * `npm run bench -- scale [IMAGES] [EVENTS]` (after `npm run build`: it runs the built CLI).
 * Scaling out on PostgreSQL, each configuration on a fresh database of a private PostgreSQL
 * cluster (test/support/private-postgres.ts, so PostgreSQL's own CPU can be measured apart from
 * other users of the machine):
 * (1) scan-bound: one `palisade server` (jobs off) and 1, then 2 `palisade worker`s; IMAGES
 *     images (debian12 variants sharing their Debian layers, each with a layer of its own) are
 *     pushed to a real registry beforehand, then announced together through the registry webhook
 *     route; scans/min from the announcement until the last is recorded. Target: 2 workers
 *     >= 1.7x 1 worker.
 * (2) audit ingest: 1, then 2 servers; EVENTS real audit events in 400-event EventLists from 8
 *     concurrent senders spread over the servers. Workers take no part in audit ingest (it is
 *     done in the request), so this scales with servers. Informational.
 * Each result carries the CPU seconds of every process (from /proc/PID/stat), PostgreSQL's
 * (postmaster and backends), and the machine's busy cores, so the bottleneck is measured.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openStore } from '../src/store/index.js';
import { importOsv } from '../src/vulndb/index.js';
import type { ServerProcess } from '../test/support/cli.js';
import { fixture } from '../test/support/fixtures.js';
import { createPrivatePostgres, type PrivatePostgres } from '../test/support/private-postgres.js';
import { startRegistry } from '../test/registry/registry.js';
import { api, batches, cpuSeconds, createToken, imageVariants, postBatch, query, startServer, startWorker } from '../test/scale/support.js';
import { result, type BenchResult } from './result.js';

const TICKS = 100;

/** CPU seconds of a process tree's root and its live children, plus what it has reaped (PostgreSQL). */
function treeCpuSeconds(root: number): number {
  let total = 0;
  try {
    const stat = readFileSync(`/proc/${root}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    total += (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
  } catch {
    return 0;
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === root) total += (Number(f[11]) + Number(f[12])) / TICKS;
    } catch {
      // exited meanwhile
    }
  }
  return total;
}

/** Busy and total CPU seconds of the whole machine (/proc/stat). */
function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line as [number, number, number, number, number, number, number, number];
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / TICKS, total: (busy + idle + iowait) / TICKS };
}

interface Meter {
  stop(): Record<string, number>;
}

/** CPU seconds used by each named process (and PostgreSQL, and everything else) from now until stop(). */
function meter(processes: Record<string, number>, postmaster: number): Meter {
  const start = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const pgStart = treeCpuSeconds(postmaster);
  const machineStart = machineCpu();
  const wall = performance.now();
  const self = process.cpuUsage();
  return {
    stop() {
      const seconds = (performance.now() - wall) / 1000;
      const out: Record<string, number> = {};
      for (const [name, pid] of Object.entries(processes)) out[name] = round(cpuSeconds(pid) - start[name]!);
      out.postgres = round(treeCpuSeconds(postmaster) - pgStart);
      const used = process.cpuUsage(self);
      out.bench_client = round((used.user + used.system) / 1e6);
      const machine = machineCpu();
      const busy = machine.busy - machineStart.busy;
      const ours = Object.values(out).reduce((a, b) => a + b, 0);
      out.other_processes = round(Math.max(0, busy - ours));
      out.machine_busy_cores = round(busy / seconds);
      out.wall_seconds = round(seconds);
      return out;
    },
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The heaviest consumer among our processes, as "name (x% of one core)". */
function bottleneck(cpu: Record<string, number>): string {
  const seconds = cpu.wall_seconds!;
  const entries = Object.entries(cpu).filter(([k]) => !['machine_busy_cores', 'wall_seconds', 'other_processes'].includes(k));
  const groups = new Map<string, number>();
  for (const [name, value] of entries) {
    const group = name.replace(/_\d+$/, '');
    groups.set(group, (groups.get(group) ?? 0) + value);
  }
  const perProcess = entries.sort((a, b) => b[1] - a[1]).slice(0, 3).map(([name, v]) => `${name} ${Math.round((v / seconds) * 100)}%`);
  const busy = cpu.machine_busy_cores!;
  return `machine ${busy} of ${os.cpus().length} cores busy${busy > os.cpus().length * 0.9 ? ' (CPU-bound)' : ''}; top: ${perProcess.join(', ')}; others on the machine ${Math.round((cpu.other_processes! / seconds) * 100)}%`;
}

async function createDatabase(postgres: PrivatePostgres, name: string): Promise<string> {
  const admin = `postgres://postgres@127.0.0.1:${postgres.port}/postgres`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`create database ${name}`);
  await client.end();
  return `postgres://postgres@127.0.0.1:${postgres.port}/${name}`;
}

function postmasterPid(postgres: PrivatePostgres): number {
  return Number(readFileSync(`/var/lib/postgresql/${postgres.version}/${postgres.name}/postmaster.pid`, 'utf8').split('\n')[0]);
}

/** The registry webhook Distribution sends for a manifest push. */
function pushEnvelope(repository: string, digest: string, tag: string): string {
  return JSON.stringify({ events: [{ id: randomUUID(), timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 0, digest, repository, tag }, request: { id: randomUUID(), method: 'PUT', useragent: 'skopeo/1.9.3' }, actor: {} }] });
}

export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  const imageCount = Number(args[0] ?? 40);
  const eventCount = Number(args[1] ?? 60_000);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-scale-'));
  const postgres = await createPrivatePostgres();
  const processes: ServerProcess[] = [];
  const registry = await startRegistry();
  try {
    const postmaster = postmasterPid(postgres);
    // Images: pushed once, before any measurement (4 skopeo copies at a time).
    const { layout, digests, dir: imagesDir } = await imageVariants(imageCount + 1, 'bench');
    let next = 0;
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < digests.length) {
        const n = next++;
        await registry.push(`oci:${layout}:variant-${n}`, `bench/app:v${n}`);
      }
    }));
    await rm(imagesDir, { recursive: true, force: true });

    // (1) scans with 1 and 2 workers.
    const scanRates: number[] = [];
    for (const workerCount of [1, 2]) {
      const databaseUrl = await createDatabase(postgres, `bench_scan_${workerCount}`);
      const store = await openStore({ databaseUrl });
      await importOsv(store, [fixture('osv', 'debian'), fixture('osv', 'npm')]);
      await store.close();
      const cwd = await mkdtemp(path.join(dir, 'scan-'));
      const options = { databaseUrl, cwd, env: { PALISADE_RESCAN_SCHEDULE: 'off', PALISADE_DB_UPDATE_SCHEDULE: 'off', PALISADE_LOG_LEVEL: 'info' } };
      const server = await startServer(options);
      const workers = await Promise.all(Array.from({ length: workerCount }, () => startWorker(options)));
      processes.push(server, ...workers);
      const admin = server.adminToken!;
      const token = await createToken(server.url, admin, 'registry:bench');
      await api(server.url, admin, '/api/v1/registries', { name: 'bench', url: registry.url, kind: 'distribution' });
      const announce = (n: number) => fetch(`${server.url}/ingest/registry/bench`, { method: 'POST', body: pushEnvelope('bench/app', digests[n]!, `v${n}`), headers: { authorization: `Bearer ${token}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' } }).then((r) => {
        if (r.status !== 202) throw new Error(`webhook answered ${r.status}`);
      });
      const scanned = async () => Number((await query<{ n: string }>(databaseUrl, `select count(distinct digest) as n from image_scans where status = 'succeeded'`))[0]!.n);
      // Warm-up: the shared Debian layers are analysed once and cached (as after the first push in real life).
      await announce(0);
      while ((await scanned()) < 1) await new Promise((r) => setTimeout(r, 100));

      const cpu = meter({ server: server.child.pid!, ...Object.fromEntries(workers.map((w, i) => [`worker_${i + 1}`, w.child.pid!])) }, postmaster);
      const started = performance.now();
      await Promise.all(Array.from({ length: imageCount }, (_, i) => announce(i + 1)));
      while ((await scanned()) < imageCount + 1) await new Promise((r) => setTimeout(r, 100));
      const seconds = (performance.now() - started) / 1000;
      const usage = cpu.stop();
      const perMinute = Math.round((imageCount / seconds) * 60 * 10) / 10;
      scanRates.push(perMinute);
      emit(result({
        bench: 'scale', metric: `scans_per_minute_${workerCount}_worker${workerCount > 1 ? 's' : ''}`, value: perMinute, baseline: 'none', baseline_value: 0, ratio: 1,
        target: 'informational', ok: true, images: imageCount, seconds: round(seconds), cpu_seconds: usage, bottleneck: bottleneck(usage),
      }));
      await Promise.all([server, ...workers].map((p) => p.stop()));
    }
    emit(result({
      bench: 'scale', metric: 'scans_per_minute_2_workers', value: scanRates[1]!, baseline: 'scans_per_minute_1_worker', baseline_value: scanRates[0]!,
      target: 'ratio >= 1.7', ok: scanRates[1]! / scanRates[0]! >= 1.7, cores: os.cpus().length,
    }));

    // (2) audit ingest with 1 and 2 servers.
    const auditRates: number[] = [];
    for (const serverCount of [1, 2]) {
      const databaseUrl = await createDatabase(postgres, `bench_audit_${serverCount}`);
      const cwd = await mkdtemp(path.join(dir, 'audit-'));
      // Request logs off: at this rate they would be a large share of the work.
      const options = { databaseUrl, cwd, env: { PALISADE_RESCAN_SCHEDULE: 'off', PALISADE_DB_UPDATE_SCHEDULE: 'off' } };
      const first = await startServer(options);
      const servers = [first, ...(await Promise.all(Array.from({ length: serverCount - 1 }, () => startServer(options))))];
      processes.push(...servers);
      const token = await createToken(first.url, first.adminToken!, 'cluster:bench');
      const all = batches(`bench-${serverCount}`, eventCount, 400);
      // Warm-up (not measured): every server's routes, rules and connections.
      for (const batch of batches(`warm-${serverCount}`, 400 * 2 * serverCount, 400)) await postBatch(servers[batch.id % servers.length]!.url, token, batch.body);
      const cpu = meter(Object.fromEntries(servers.map((s, i) => [`server_${i + 1}`, s.child.pid!])), postmaster);
      const started = performance.now();
      let cursor = 0;
      const failures: number[] = [];
      await Promise.all(Array.from({ length: 8 }, async (_, sender) => {
        while (cursor < all.length) {
          const batch = all[cursor++]!;
          const status = await postBatch(servers[(batch.id + sender) % servers.length]!.url, token, batch.body);
          if (status !== 200) failures.push(status);
        }
      }));
      const seconds = (performance.now() - started) / 1000;
      const usage = cpu.stop();
      if (failures.length) throw new Error(`audit ingest failed ${failures.length} batches: ${failures.slice(0, 5).join(', ')}`);
      const rate = Math.round(eventCount / seconds);
      auditRates.push(rate);
      emit(result({
        bench: 'scale', metric: `audit_events_per_s_${serverCount}_server${serverCount > 1 ? 's' : ''}`, value: rate, baseline: 'none', baseline_value: 0, ratio: 1,
        target: 'informational', ok: true, events: eventCount, seconds: round(seconds), cpu_seconds: usage, bottleneck: bottleneck(usage),
      }));
      await Promise.all(servers.map((p) => p.stop()));
    }
    emit(result({
      bench: 'scale', metric: 'audit_events_per_s_2_servers', value: auditRates[1]!, baseline: 'audit_events_per_s_1_server', baseline_value: auditRates[0]!,
      target: 'informational (workers take no part in audit ingest; it scales with servers and PostgreSQL)', ok: true, cores: os.cpus().length,
    }));
  } finally {
    await Promise.all(processes.map((p) => p.stop('SIGKILL').catch(() => {})));
    await registry.stop();
    await postgres.drop();
    await rm(dir, { recursive: true, force: true });
  }
}
