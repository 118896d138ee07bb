import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The built CLI, bundled, run as users run it (scripts/test.sh builds before testing). */
export const PALISADE_BIN = path.resolve(import.meta.dirname, '../../dist/bin/palisade.js');

function ensureBuilt(): void {
  if (!existsSync(PALISADE_BIN)) throw new Error(`${PALISADE_BIN} is missing: run \`npm run build\` first (npm test does)`);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment for a child: PALISADE_* from the parent are dropped so each test states its own. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('PALISADE_')) env[key] = value;
  return { ...env, PALISADE_FIXTURES: process.env.PALISADE_FIXTURES ?? '', ...extra };
}

export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  ensureBuilt();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PALISADE_BIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** The admin token printed on first start, when this start printed one. */
  adminToken?: string;
  output(): string;
  /** Sends SIGTERM and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `palisade server|worker ...` and resolves once it says it is ready (or rejects with its output). */
export function startProcess(args: string[], options: { env?: Record<string, string>; cwd?: string; readyPattern?: RegExp; timeoutMs?: number } = {}): Promise<ServerProcess> {
  ensureBuilt();
  const ready = options.readyPattern ?? /palisade (server|worker) ready/;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [PALISADE_BIN, ...args], { cwd: options.cwd, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let settled = false;
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => fail(new Error(`not ready within ${options.timeoutMs ?? 60_000} ms:\n${output}`)), options.timeoutMs ?? 60_000);
    function fail(error: Error) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    }
    const onData = (data: Buffer) => {
      output += data;
      if (settled || !ready.test(output)) return;
      settled = true;
      clearTimeout(timer);
      const url = /"url":"([^"]+)"/.exec(output)?.[1] ?? '';
      resolve({
        child,
        url,
        adminToken: /Admin token[^:]*: (pal_[\w-]+)/.exec(output)?.[1],
        output: () => output,
        async stop(signal = 'SIGTERM') {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          child.kill(signal);
          return exited;
        },
      });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => fail(new Error(`exited with ${code} before ready:\n${output}`)));
  });
}
