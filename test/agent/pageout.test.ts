import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { COMPILER_LIBRARIES, mappedRanges, pageOut } from '../../src/agent/sensor/pageout.js';

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
