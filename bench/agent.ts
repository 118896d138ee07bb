/**
 * `npm run bench -- agent [SECONDS]`
 * (1) The agent's own cost at a 1 s interval: CPU (share of one core) and RSS of an agent process
 *     while the bench holds 500 extra processes and 2,000 loopback sockets (1,000 connections),
 *     against the same agent on the machine as it is (baseline), measured in the same run over
 *     equal windows after a warm-up. Targets (issue 7): < 2% of one core and < 100 MiB RSS.
 * (2) auditd parsing: records/s through parse + join + decode over the real fixture records
 *     (repeated), and parsing alone, against splitting the same lines on spaces.
 * The agent runs from dist/ when built (as deployed), else through tsx (reported in `runtime`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AuditAssembler, decodeAuditEvent, parseAuditLine } from '../src/agent/index.js';
import { fixture, fixturesAvailable } from '../test/support/fixtures.js';
import { result, type BenchResult } from './result.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TICKS = 100;
/** The heap flags deploy/agent/daemonset.yaml sets through NODE_OPTIONS. */
const NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=96'];

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function rssMiB(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  return kb / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function startAgent(): { child: ChildProcess; runtime: string } {
  const dist = path.join(ROOT, 'dist/agent/index.js');
  const useDist = existsSync(dist);
  const entry = useDist ? pathToFileURL(dist).href : pathToFileURL(path.join(ROOT, 'src/agent/index.ts')).href;
  const code = `const { runAgent } = await import(${JSON.stringify(entry)});
    const controller = new AbortController();
    process.on('SIGTERM', () => controller.abort());
    await runAgent({ intervalMs: 1000, node: 'bench', watchFiles: true, signal: controller.signal });`;
  const args = [...NODE_FLAGS, ...(useDist ? [] : ['--import', 'tsx']), '--input-type=module', '-e', code];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  return { child, runtime: useDist ? 'dist' : 'tsx' };
}

/** CPU share of one core and peak RSS of pid over a window. */
async function measure(pid: number, seconds: number): Promise<{ cpuPct: number; rssMiB: number }> {
  const t0 = Date.now();
  const c0 = cpuTicks(pid);
  let rss = rssMiB(pid);
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    rss = Math.max(rss, rssMiB(pid));
  }
  const cpu = (cpuTicks(pid) - c0) / TICKS;
  return { cpuPct: (cpu / ((Date.now() - t0) / 1000)) * 100, rssMiB: rss };
}

/** 1,000 loopback connections (2,000 sockets) held by one helper process. */
function startSocketHolder(connections: number): Promise<ChildProcess> {
  const code = `const net = require('node:net');
    const server = net.createServer(() => {});
    server.listen(0, '127.0.0.1', async () => {
      const port = server.address().port;
      const held = [];
      for (let i = 0; i < ${connections}; i++) {
        await new Promise((resolve, reject) => { const s = net.connect(port, '127.0.0.1', resolve); s.on('error', reject); held.push(s); });
      }
      process.stdout.write('ready\\n');
    });
    setTimeout(() => process.exit(0), 600000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(child); });
    child.on('exit', (code) => reject(new Error(`socket holder exited with ${code}`)));
  });
}

function auditLines(): string[] {
  const files: string[] = [];
  const laurel = fixture('auditd', 'laurel');
  for (const f of readdirSync(laurel)) if (f.endsWith('.txt')) files.push(path.join(laurel, f));
  for (const f of readdirSync(path.join(laurel, 'tree'))) if (/^\d+\.txt$/.test(f)) files.push(path.join(laurel, 'tree', f));
  const lib = fixture('auditd', 'go-libaudit');
  for (const f of readdirSync(path.join(lib, 'testdata'))) if (f.endsWith('.log')) files.push(path.join(lib, 'testdata', f));
  for (const f of readdirSync(path.join(lib, 'auparse', 'testdata'))) if (f.endsWith('.log')) files.push(path.join(lib, 'auparse', 'testdata', f));
  return files.flatMap((f) => readFileSync(f, 'utf8').split('\n').filter((l) => l.startsWith('type=') || l.startsWith('node=')));
}

/**
 * Records/s through the agent's audit path (parse + join by serial + decode, streaming as the
 * agent does), and through parsing alone, against splitting the same lines on spaces. Target:
 * 10,000 records/s, several times what a busy node writes with the recommended rules
 * (deploy/agent/audit.rules) — the agent reads the log once per interval.
 */
function auditBench(emit: (r: BenchResult) => void): void {
  const base = auditLines();
  const lines: string[] = [];
  while (lines.length < 200_000) lines.push(...base);
  const text = lines.join('\n');
  const rounds = 5;
  const full: number[] = [];
  const parse: number[] = [];
  const split: number[] = [];
  let sink = 0;
  const rate = (start: number) => lines.length / ((performance.now() - start) / 1000);
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    for (const line of text.split('\n')) sink += line.split(' ').length;
    split.push(rate(t));
    t = performance.now();
    for (const line of text.split('\n')) sink += parseAuditLine(line) ? 1 : 0;
    parse.push(rate(t));
    t = performance.now();
    const assembler = new AuditAssembler((event) => { sink += decodeAuditEvent(event).paths.length; });
    for (const line of text.split('\n')) {
      const record = parseAuditLine(line);
      if (record) assembler.push(record);
    }
    assembler.flush();
    full.push(rate(t));
  }
  const median = (v: number[]) => Math.round([...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!);
  const loadavg = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  emit(result({
    bench: 'agent', metric: 'audit_records_per_s', value: median(full), baseline: 'split_lines', baseline_value: median(split),
    target: 'records/s >= 10000', ok: median(full) >= 10_000, records: lines.length, loadavg, checksum: sink % 1000,
  }));
  emit(result({
    bench: 'agent', metric: 'audit_parse_only_records_per_s', value: median(parse), baseline: 'split_lines', baseline_value: median(split),
    target: 'records/s >= 10000', ok: median(parse) >= 10_000, records: lines.length, loadavg,
  }));
}

export default async function (args: string[], emit: (r: BenchResult) => void): Promise<void> {
  const seconds = Number(args[0] ?? 15);
  if (fixturesAvailable()) auditBench(emit);

  const { child: agent, runtime } = startAgent();
  const extra: ChildProcess[] = [];
  try {
    await sleep(4000); // start-up and the first full snapshot
    const idle = await measure(agent.pid!, seconds);
    for (let i = 0; i < 500; i++) extra.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
    extra.push(await startSocketHolder(1000));
    await sleep(3000); // the agent reads the new processes and sockets once
    const loaded = await measure(agent.pid!, seconds);
    const common = { runtime, node_flags: NODE_FLAGS.join(' '), window_s: seconds, processes: 500, sockets: 2000, loadavg: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]) };
    emit(result({ bench: 'agent', metric: 'cpu_percent_of_core', value: round(loaded.cpuPct), baseline: 'agent_idle_machine', baseline_value: round(idle.cpuPct), target: 'cpu < 2% of one core', ok: loaded.cpuPct < 2, ...common }));
    emit(result({ bench: 'agent', metric: 'rss_mib', value: round(loaded.rssMiB), baseline: 'agent_idle_machine', baseline_value: round(idle.rssMiB), target: 'rss < 100 MiB', ok: loaded.rssMiB < 100, ...common }));
  } finally {
    agent.kill('SIGTERM');
    for (const child of extra) child.kill('SIGKILL');
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
