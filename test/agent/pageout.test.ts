import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILER_LIBRARIES, mappedRanges, ownBinary, pageOut } from '../../src/agent/sensor/pageout.js';

/**
 * Reclaiming the pages of a library a process no longer uses (what the agent does to bpftrace's
 * LLVM and clang after attach), on a real process: a private copy of sleep, so no other process
 * maps the same file and the kernel may page it out.
 */
const root = process.getuid?.() === 0;

/** Resident KiB of a process's mappings of `file`, from /proc/PID/smaps. */
function residentKiB(pid: number, file: string): number {
  let total = 0;
  let inFile = false;
  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inFile = line.endsWith(file);
    else if (inFile && line.startsWith('Rss:')) total += Number(/(\d+)/.exec(line)![1]);
  }
  return total;
}

describe.skipIf(!root)('paging out a process\'s library pages (process_madvise through perl)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-pageout-'));
  const program = path.join(dir, 'private-sleep');
  copyFileSync('/usr/bin/sleep', program);
  const child = spawn(program, ['60'], { stdio: 'ignore' });
  afterAll(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages out the matching mappings and only those', async () => {
    await new Promise((r) => setTimeout(r, 300));
    const pid = child.pid!;
    const before = residentKiB(pid, program);
    expect(before).toBeGreaterThan(0);
    const libc = residentKiB(pid, readFileSync(`/proc/${pid}/maps`, 'utf8').match(/\/\S*libc\.so\.6/)![0]);
    const result = pageOut(pid, /private-sleep$/);
    expect(result).toMatchObject({ bytes: expect.any(Number) });
    expect((result as { bytes: number }).bytes).toBeGreaterThan(0);
    // Clean pages go; the data pages the program wrote to (private copies) would need swap.
    const after = residentKiB(pid, program);
    expect(after).toBeLessThan(before);
    expect(after).toBeLessThanOrEqual(16);
    expect(libc).toBeGreaterThan(0); // shared with every process: not asked for, and not ours to drop
  });

  it('finds nothing to do where no mapping matches, and says why when the process is gone', () => {
    expect(mappedRanges(child.pid!, COMPILER_LIBRARIES)).toEqual([]);
    expect(pageOut(child.pid!)).toEqual({ bytes: 0 });
    expect(pageOut(2 ** 22 + 7)).toMatchObject({ error: expect.stringMatching(/cannot read the mappings/) });
  });
});

describe.skipIf(!root)('the agent paging out its own start-up code', () => {
  // A private copy of Node, as the agent's image holds its own: pages of a binary other processes map are not dropped.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-own-'));
  const node = path.join(dir, 'node+copy');
  copyFileSync(process.execPath, node);
  chmodSync(node, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names exactly its own executable, whatever characters its path holds', () => {
    const own = ownBinary();
    expect(own.test(realpathSync(process.execPath))).toBe(true);
    expect(own.test(`${realpathSync(process.execPath)}.old`)).toBe(false);
  });

  it('drops most of its resident executable pages and keeps running', async () => {
    const script = `const { ownBinary, pageOut } = await import(${JSON.stringify(path.resolve('src/agent/sensor/pageout.ts'))});
      const { readFileSync } = await import('node:fs');
      const rss = () => Number(/^RssFile:\\s+(\\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = rss();
      const result = pageOut(process.pid, ownBinary());
      await new Promise((r) => setTimeout(r, 200));
      console.log(JSON.stringify({ before, after: rss(), result }));`;
    const child = spawn(node, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise((r) => child.on('exit', r));
    expect(code).toBe(0);
    const { before, after, result } = JSON.parse(out) as { before: number; after: number; result: { bytes?: number; error?: string } };
    expect(result.error).toBeUndefined();
    expect(result.bytes).toBeGreaterThan(50 * 1024 * 1024); // Node's text and read-only data
    expect(after).toBeLessThan(before - 10 * 1024); // at least 10 MiB of its file pages left
  }, 60_000);
});
