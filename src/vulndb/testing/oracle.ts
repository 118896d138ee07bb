/**
 * Test-only: asks the real `dpkg` and `rpm` binaries to order version pairs, in batches, without a
 * shell (arguments travel as arrays or through a file, never through a command string).
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const OP: Record<number, string> = { [-1]: 'lt', 0: 'eq', 1: 'gt' };

function run(cmd: string, args: string[], input: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
    child.stdin.end(input);
  });
}

/** dpkg's own answer for one pair: -1, 0 or 1. */
export function dpkgCompare(a: string, b: string): number {
  for (const [op, r] of [['lt', -1], ['eq', 0]] as const) {
    try {
      execFileSync('dpkg', ['--compare-versions', '--', a, op, b], { stdio: 'ignore' });
      return r;
    } catch {
      // relation does not hold
    }
  }
  return 1;
}

/**
 * Checks predicted orders against dpkg: each pair becomes one `dpkg --compare-versions -- A OP B`
 * run by xargs from NUL-separated arguments (exit 0 only when every relation held). Only chunks that
 * fail are re-run pair by pair to name the disagreements.
 */
export async function dpkgDisagreements(
  pairs: Array<[string, string, number]>,
  chunk = 2000,
): Promise<Array<{ a: string; b: string; ours: number; dpkg: number }>> {
  const out: Array<{ a: string; b: string; ours: number; dpkg: number }> = [];
  for (let i = 0; i < pairs.length; i += chunk) {
    const slice = pairs.slice(i, i + chunk);
    const input = Buffer.from(slice.map(([a, b, r]) => ['--', a, OP[r]!, b].join('\0')).join('\0') + '\0');
    const code = await run('xargs', ['-0', '-n', '4', '-P', '2', 'dpkg', '--compare-versions'], input);
    if (code === 0) continue;
    for (const [a, b, r] of slice) {
      const truth = dpkgCompare(a, b);
      if (truth !== r) out.push({ a, b, ours: r, dpkg: truth });
    }
  }
  return out;
}

/** rpm's own `rpm.vercmp` for many pairs in one Lua call; pairs travel through a temp file. */
export function rpmCompareMany(pairs: Array<[string, string]>): number[] {
  for (const [a, b] of pairs) {
    if (/[\s]/.test(a + b)) throw new Error(`whitespace in EVR pair ${a} ${b}`);
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'palisade-rpm-'));
  try {
    const file = path.join(dir, 'pairs.txt');
    writeFileSync(file, pairs.map(([a, b]) => `${a} ${b}`).join('\n') + '\n');
    if (/[%{}"\\]/.test(file)) throw new Error(`unsafe temp path ${file}`);
    const lua =
      `%{lua: local out = {} for line in io.lines("${file}") do ` +
      `local i = string.find(line, " ", 1, true) ` +
      `out[#out + 1] = rpm.vercmp(string.sub(line, 1, i - 1), string.sub(line, i + 1)) end ` +
      `print(table.concat(out, ","))}`;
    const text = execFileSync('rpm', ['--eval', lua], { maxBuffer: 64 << 20 }).toString('utf8').trim();
    const values = text.split(',').map(Number);
    if (values.length !== pairs.length) throw new Error(`rpm answered ${values.length} of ${pairs.length} pairs`);
    return values;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
