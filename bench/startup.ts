/**
 * Time from process start to /readyz 200: fresh and warm embedded data dirs, and PostgreSQL; and
 * a management command (`palisade token list`) answered through a running server's API — all
 * against the cost of starting a bare Node process measured in the same run. Targets from issue 20
 * (idle machine): fresh < 3 s, warm < 1 s, CLI through the API < 300 ms; and from issue 19, `palisade --version`
 * ≤ 2× the bare process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTestPostgres, postgresAvailable } from '../test/support/postgres.js';
import { PALISADE_BIN, cleanEnv, startProcess } from '../test/support/cli.js';
import { result, type BenchResult } from './result.js';

const RUNS = 3;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Where a start went: the server's own marks (ms since its process began) at the end of each step. */
type Phases = Record<string, number>;

async function timeToReady(args: string[], env: Record<string, string>, cwd: string, phases: Phases[] = []): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [PALISADE_BIN, ...args], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited:\n${output}`);
      const url = /"url":"([^"]+)"/.exec(output)?.[1];
      if (url) {
        const ok = await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false);
        if (ok) {
          const marks = /"startupMs":(\{[^}]*\})/.exec(output)?.[1];
          if (marks) phases.push(JSON.parse(marks) as Phases);
          return performance.now() - started;
        }
      }
      if (performance.now() - started > 180_000) throw new Error(`not ready in 180 s:\n${output}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
}

async function timeCommand(args: string[], cwd: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [PALISADE_BIN, ...args], { cwd, env: cleanEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr.on('data', (d: Buffer) => (errors += d));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0) throw new Error(`palisade ${args.join(' ')} exited ${code}: ${errors}`);
  return performance.now() - started;
}

async function bareNode(): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => child.once('exit', r));
  return performance.now() - started;
}

export default async function (_args: string[], emit: (r: BenchResult) => void): Promise<void> {
  const baseline: number[] = [];
  for (let i = 0; i < RUNS; i++) baseline.push(await bareNode());
  const base = median(baseline);

  // `palisade --version` (issue 19: ≤ 2× a bare Node process), the first thing CI scripts run.
  const version: number[] = [];
  for (let i = 0; i < RUNS; i++) version.push(await timeCommand(['--version'], process.cwd()));
  emit(result({
    bench: 'startup', metric: 'cli_version_ms', value: Math.round(median(version)), baseline: 'bare_node_process_ms', baseline_value: Math.round(base),
    target: 'ratio <= 2', ok: median(version) <= 2 * base, runs: version.map(Math.round),
  }));

  const fresh: number[] = [];
  const warm: number[] = [];
  const freshPhases: Phases[] = [];
  const warmPhases: Phases[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-startup-'));
    fresh.push(await timeToReady(['server', '--port', '0'], {}, cwd, freshPhases));
    warm.push(await timeToReady(['server', '--port', '0'], {}, cwd, warmPhases));
    await rm(cwd, { recursive: true, force: true });
  }
  const report = (metric: string, values: number[], limit: number, phases: Phases[] = []) => emit(result({
    bench: 'startup', metric, value: Math.round(median(values)), baseline: 'bare_node_process_ms', baseline_value: Math.round(base),
    target: `value < ${limit} ms`, ok: median(values) < limit, runs: values.map(Math.round),
    // Each run's step marks (the server's "ready" log line), to see which step a slow start spent its time in.
    ...(phases.length ? { phases } : {}),
    load: os.loadavg().map((l) => Math.round(l * 100) / 100),
  }));
  report('embedded_fresh_ms', fresh, 3000, freshPhases);
  report('embedded_warm_ms', warm, 1000, warmPhases);

  // A management command beside a running server (found through its data directory's server.json).
  const cwd = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-startup-'));
  const server = await startProcess(['server', '--port', '0'], { cwd, timeoutMs: 120_000 });
  const cli: number[] = [];
  try {
    for (let i = 0; i < RUNS; i++) cli.push(await timeCommand(['token', 'list', '--format', 'json'], cwd));
  } finally {
    await server.stop();
    await rm(cwd, { recursive: true, force: true });
  }
  report('cli_through_api_ms', cli, 300);

  if (await postgresAvailable()) {
    const pgdb = await createTestPostgres();
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'palisade-bench-startup-'));
    const pgFresh = [await timeToReady(['server', '--port', '0'], { PALISADE_DATABASE_URL: pgdb.url }, cwd)];
    const pgWarm: number[] = [];
    for (let i = 0; i < RUNS; i++) pgWarm.push(await timeToReady(['server', '--port', '0'], { PALISADE_DATABASE_URL: pgdb.url }, cwd));
    await pgdb.drop();
    await rm(cwd, { recursive: true, force: true });
    report('postgres_fresh_ms', pgFresh, 5000);
    report('postgres_warm_ms', pgWarm, 2000);
  }
}
