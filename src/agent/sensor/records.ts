/**
 * Records of the host sensor script (host.bt) as bpftrace prints them with `-f json`: one JSON
 * object a line, `{"type":"printf","data":"K\tNS\tPID\t...\n"}` for events and
 * `{"type":"lost_events","data":{"events":N}}` when the kernel's ring buffer overflowed.
 * Fields are tab-separated with the free text (paths, arguments) last, so a tab inside it
 * cannot shift the others.
 */

interface Base {
  /** Monotonic nanoseconds (bpf_ktime_get_ns), the clock of process.hrtime.bigint(). */
  t: number;
  pid: number;
}

export type SensorRecord =
  | (Base & { k: 'R' })
  | (Base & { k: 'E'; flags: number; filename: string })
  | (Base & { k: 'A'; index: number; arg: string })
  | (Base & { k: 'X'; ppid: number; uid: number; cgroup: number; mntns: number; netns: number; stdinMode: number; ctime: number; ctimeNsec: number; nlink: number; filename: string })
  | (Base & { k: 'D'; dentry: string })
  | (Base & { k: 'Z'; upper: boolean; ino: number })
  | (Base & { k: 'H'; mtime: number; path: string })
  | (Base & { k: 'J'; target: number; signal: number; comm: string })
  | (Base & { k: 'F'; child: number })
  | (Base & { k: 'Q'; tid: number; code: number })
  | (Base & { k: 'C' | 'B' | 'K'; fd: number; family: 4 | 6; ip: string; port: number; socketType: number })
  | (Base & { k: 'L'; fd: number })
  | (Base & { k: 'O'; flags: number; path: string })
  | (Base & { k: 'U'; op: 'unlink' | 'truncate' | 'rename'; path: string })
  | (Base & { k: 'M'; flags: number; name: string })
  | (Base & { k: 'I'; call: 'init_module' | 'finit_module'; detail: string })
  | (Base & { k: 'P'; request: number; target: number })
  | (Base & { k: 'N' | 'T' | 'G'; text: string })
  | (Base & { k: 'S'; from: number; to: number })
  | (Base & { k: 'Y' })
  | (Base & { k: 'W' | 'V'; flags: number });

export type ParsedLine = { record: SensorRecord } | { lost: number } | undefined;

/** Splits into `count` fields, the last keeping any further tabs. */
function fields(data: string, count: number): string[] | undefined {
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < count - 1; i++) {
    const tab = data.indexOf('\t', start);
    if (tab < 0) return undefined;
    out.push(data.slice(start, tab));
    start = tab + 1;
  }
  out.push(data.slice(start));
  return out;
}

const COUNTS: Record<string, number> = { R: 4, E: 5, A: 5, X: 13, D: 4, Z: 5, H: 5, J: 6, F: 4, Q: 5, C: 8, B: 7, K: 7, L: 4, O: 5, U: 5, M: 5, I: 5, P: 5, N: 4, T: 4, G: 4, S: 5, Y: 3, W: 4, V: 4 };

/** One printf line of host.bt (without the trailing newline) as a record; undefined when malformed. */
export function parseRecord(data: string): SensorRecord | undefined {
  const kind = data[0];
  const count = kind ? COUNTS[kind] : undefined;
  if (!kind || count === undefined || data[1] !== '\t') return undefined;
  const f = fields(data, count);
  if (!f) return undefined;
  const n = (i: number) => Number(f[i]);
  const t = n(1);
  const pid = n(2);
  if (!Number.isFinite(t) || !Number.isInteger(pid)) return undefined;
  const base = { t, pid };
  switch (kind) {
    case 'R': return { k: 'R', ...base };
    case 'E': return { k: 'E', ...base, flags: n(3), filename: f[4]! };
    case 'A': return { k: 'A', ...base, index: n(3), arg: f[4]! };
    case 'X': return { k: 'X', ...base, ppid: n(3), uid: n(4), cgroup: n(5), mntns: n(6), netns: n(7), stdinMode: n(8), ctime: n(9), ctimeNsec: n(10), nlink: n(11), filename: f[12]! };
    case 'D': return { k: 'D', ...base, dentry: f[3]! };
    case 'H': return { k: 'H', ...base, mtime: n(3), path: f[4]! };
    case 'J': return { k: 'J', ...base, target: n(3), signal: n(4), comm: f[5]! };
    case 'Z': return { k: 'Z', ...base, upper: f[3] === '1', ino: n(4) };
    case 'F': return { k: 'F', ...base, child: n(3) };
    case 'Q': return { k: 'Q', ...base, tid: n(3), code: n(4) };
    case 'C': return { k: 'C', ...base, fd: n(3), family: n(4) === 6 ? 6 : 4, ip: f[5]!, port: n(6), socketType: n(7) };
    case 'B':
    case 'K': return { k: kind, ...base, fd: n(3), family: n(4) === 6 ? 6 : 4, ip: f[5]!, port: n(6), socketType: 1 };
    case 'L': return { k: 'L', ...base, fd: n(3) };
    case 'O': return { k: 'O', ...base, flags: n(3), path: f[4]! };
    case 'U': return f[3] === 'unlink' || f[3] === 'truncate' || f[3] === 'rename' ? { k: 'U', ...base, op: f[3], path: f[4]! } : undefined;
    case 'M': return { k: 'M', ...base, flags: n(3), name: f[4]! };
    case 'I': return { k: 'I', ...base, call: f[3] === 'init_module' ? 'init_module' : 'finit_module', detail: f[4]! };
    case 'P': return { k: 'P', ...base, request: n(3), target: n(4) };
    case 'N':
    case 'T':
    case 'G': return { k: kind, ...base, text: f[3]! };
    case 'S': return { k: 'S', ...base, from: n(3), to: n(4) };
    case 'Y': return { k: 'Y', ...base };
    case 'W':
    case 'V': return { k: kind, ...base, flags: n(3) };
    default: return undefined;
  }
}

/** One line of `bpftrace -f json` output. */
export function parseLine(line: string): ParsedLine {
  if (!line.startsWith('{')) return undefined;
  let parsed: { type?: string; data?: unknown };
  try {
    parsed = JSON.parse(line) as { type?: string; data?: unknown };
  } catch {
    return undefined;
  }
  if (parsed.type === 'lost_events') {
    const events = Number((parsed.data as { events?: unknown } | undefined)?.events);
    return Number.isFinite(events) ? { lost: events } : undefined;
  }
  if (parsed.type !== 'printf' || typeof parsed.data !== 'string') return undefined;
  const data = parsed.data.endsWith('\n') ? parsed.data.slice(0, -1) : parsed.data;
  const record = parseRecord(data);
  return record ? { record } : undefined;
}
