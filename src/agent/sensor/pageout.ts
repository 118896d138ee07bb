/**
 * bpftrace 0.17 compiles its script with LLVM and clang, which it links; compiling pages in about
 * 70 MiB of those libraries and they stay resident in bpftrace for as long as it runs, though it
 * never calls them again once the probes are attached. (Its ahead-of-time mode, which would run
 * without LLVM, refuses `curtask` and casts, which the host script needs.) The agent asks the
 * kernel to reclaim those pages with process_madvise(MADV_PAGEOUT) (Linux 5.10+; root or
 * CAP_SYS_NICE with ptrace access). Node has no system-call interface, so the call goes through
 * perl's syscall() (perl-base is essential on Debian, so it is in the agent image and on Debian
 * hosts). A page that is needed again is simply read back in. Pages another process maps too
 * (a second bpftrace on the node) are left alone by the kernel.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';

/** The compiler libraries bpftrace links. */
export const COMPILER_LIBRARIES = /\/lib(LLVM|clang)[^/]*\.so/;

const SYS_PIDFD_OPEN = 434;
const SYS_PROCESS_MADVISE = 440;
const MADV_PAGEOUT = 21;
/** IOV_MAX: process_madvise takes at most this many ranges per call. */
const MAX_RANGES = 1024;

// Arguments: pid, then address and length pairs in hex. Prints the bytes advised.
const PERL = `my ($pid, @r) = @ARGV;
my $fd = syscall(${SYS_PIDFD_OPEN}, $pid + 0, 0); die "pidfd_open: $!\\n" if $fd < 0;
my $iov = pack("Q*", map { hex } @r);
my $n = syscall(${SYS_PROCESS_MADVISE}, $fd, $iov, scalar(@r) / 2, ${MADV_PAGEOUT}, 0); die "process_madvise: $!\\n" if $n < 0;
print "$n\\n";`;

/** File-backed mappings of a process whose path matches, as [start, length]. */
export function mappedRanges(pid: number, match: RegExp, procRoot = '/proc'): [bigint, bigint][] {
  const ranges: [bigint, bigint][] = [];
  for (const line of readFileSync(`${procRoot}/${pid}/maps`, 'latin1').split('\n')) {
    const fields = line.split(/\s+/);
    const file = fields[5];
    if (!file || !file.startsWith('/') || !match.test(file)) continue;
    const [start, end] = fields[0]!.split('-').map((hex) => BigInt(`0x${hex}`)) as [bigint, bigint];
    ranges.push([start, end - start]);
  }
  return ranges.slice(0, MAX_RANGES);
}

/** Asks the kernel to page out a process's mappings of matching files; the bytes advised, or why not. */
export function pageOut(pid: number, match: RegExp = COMPILER_LIBRARIES, options: { procRoot?: string; perl?: string } = {}): { bytes: number } | { error: string } {
  let ranges: [bigint, bigint][];
  try {
    ranges = mappedRanges(pid, match, options.procRoot);
  } catch (error) {
    return { error: `cannot read the mappings of ${pid}: ${(error as Error).message}` };
  }
  if (!ranges.length) return { bytes: 0 };
  const args = ['-e', PERL, String(pid), ...ranges.flatMap(([start, length]) => [start.toString(16), length.toString(16)])];
  const result = spawnSync(options.perl ?? 'perl', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) return { error: (result.stderr || result.error?.message || `perl exited ${result.status}`).trim() };
  return { bytes: Number(result.stdout.trim()) };
}

/**
 * The agent's own executable (Node): loading modules and starting the sensor run code of it that
 * a collection never runs again, and those pages stay resident (about 20 of the 42 MiB it maps).
 * Paged out once after the first collection, what the loop uses comes back at once and the rest
 * stays out. Counted in the container's working set, they would otherwise look like the agent's
 * memory. The kernel leaves pages that another process maps too: only a binary of the agent's own
 * (its image's, in a DaemonSet) is paged out, never a Node shared with other programs on a host.
 */
export function ownBinary(): RegExp {
  const file = realpathSync(process.execPath);
  return new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}
