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

const COUNTS: Record<string, number> = { R: 4, E: 5, A: 5, X: 13, D: 4, Z: 5, H: 5, J: 6, F: 4, Q: 5, C: 8, B: 7, K: 7, L: 4, O: 5, U: 5, M: 5, I: 5, P: 5, N: 4, T: 4, G: 4, S: 5, Y: 3, W: 4, V: 4 };

/**
 * A cursor over one record's fields, in one of two spellings: the printf text itself (fields
 * split by a tab), or that text as it stands JSON-escaped inside bpftrace's line (split by the
 * two characters `\t`). Reading the escaped form in place skips JSON.parse and the field array
 * for every record: a few thousand a second per busy node, and most of the agent's garbage.
 * Only the last field, the free text, can hold an escape: the others are numbers and fixed words.
 */
class Fields {
  private pos = 0;
  private end = 0;
  private escaped = false;
  private text = '';
  private left = 0;

  /** Positions the cursor on the record in `text[start, end)`; false when its kind is unknown. */
  reset(text: string, start: number, end: number, escaped: boolean): boolean {
    this.text = text;
    this.pos = start;
    this.escaped = escaped;
    // The printf's trailing newline ends the text: one character, or two escaped.
    if (escaped ? text.startsWith('\\n', end - 2) : text.charCodeAt(end - 1) === NEWLINE) end -= escaped ? 2 : 1;
    this.end = end;
    const count = COUNTS[text[start] ?? ''];
    if (count === undefined || !this.separatorAt(start + 1)) return false;
    this.left = count;
    this.skip();
    return true;
  }

  private separatorAt(i: number): boolean {
    return this.escaped ? this.text.charCodeAt(i) === BACKSLASH && this.text.charCodeAt(i + 1) === LETTER_T : this.text.charCodeAt(i) === TAB;
  }

  /** Where the current field ends; -1 when a field that should follow is missing. */
  private fieldEnd(): number {
    if (this.left === 1) return this.end; // the last field runs to the end, tabs and all
    const separator = this.escaped ? '\\t' : '\t';
    const at = this.text.indexOf(separator, this.pos);
    return at < 0 || at >= this.end ? -1 : at;
  }

  /** Skips a field (the kind). */
  skip(): boolean {
    const stop = this.fieldEnd();
    if (stop < 0) return false;
    this.advance(stop);
    return true;
  }

  private advance(stop: number): void {
    this.pos = stop + (this.escaped ? 2 : 1);
    this.left--;
  }

  /** The next field as a number (NaN when it is not one, as Number() says; also when it is missing). */
  number(): number {
    const stop = this.fieldEnd();
    if (stop < 0) return Number.NaN;
    const start = this.pos;
    this.advance(stop);
    // Plain decimal digits (nearly every field) without making a substring; anything else as Number() reads it.
    let value = 0;
    for (let i = start; i < stop; i++) {
      const digit = this.text.charCodeAt(i) - ZERO;
      if (digit < 0 || digit > 9) return Number(this.text.slice(start, stop));
      value = value * 10 + digit;
    }
    return stop > start ? value : Number.NaN;
  }

  /** The next field as text; undefined when it is missing or its escapes do not decode. */
  string(): string | undefined {
    const stop = this.fieldEnd();
    if (stop < 0) return undefined;
    const start = this.pos;
    this.advance(stop);
    const raw = this.text.slice(start, stop);
    return this.escaped && raw.includes('\\') ? unescapeJson(raw) : raw;
  }

  /** Whether every field was there. */
  get complete(): boolean {
    return this.left <= 0;
  }
}

const SIMPLE_ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const utf8 = new TextDecoder();

/**
 * A JSON string's body, decoded; undefined when an escape is malformed. bpftrace 0.17 writes a
 * byte of 0x80 or more as `\uffffffXX`: its JsonOutput::json_escape (src/output.cpp, v0.17.0 at
 * 1326f040, lines 609-648) escapes every `char c <= '\x1f'`, which a signed char of 0x80 or more
 * is, as `(int)c` in hex. JSON.parse would read that as U+FFFF followed by the letters "ffXX":
 * here those bytes are gathered and read as the UTF-8 they are, so a path or argument in any
 * script arrives as the process wrote it.
 */
export function unescapeJson(raw: string): string | undefined {
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length) out += utf8.decode(Uint8Array.from(bytes));
    bytes = [];
  };
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '\\') {
      flush();
      out += c;
      continue;
    }
    const e = raw[i + 1];
    if (e === 'u') {
      if (raw.startsWith('ffffff', i + 2) && /^[0-9a-fA-F]{2}$/.test(raw.slice(i + 8, i + 10))) {
        bytes.push(parseInt(raw.slice(i + 8, i + 10), 16));
        i += 9;
        continue;
      }
      const hex = raw.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) return undefined;
      flush();
      out += String.fromCharCode(parseInt(hex, 16));
      i += 5;
      continue;
    }
    const simple = e === undefined ? undefined : SIMPLE_ESCAPES[e];
    if (simple === undefined) return undefined;
    flush();
    out += simple;
    i++;
  }
  flush();
  return out;
}

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const LETTER_T = 116;
const ZERO = 48;
const cursor = new Fields();

/** One printf line of host.bt (without the trailing newline) as a record; undefined when malformed. */
export function parseRecord(data: string): SensorRecord | undefined {
  return readRecord(data, 0, data.length, false);
}

function readRecord(text: string, start: number, end: number, escaped: boolean): SensorRecord | undefined {
  const f = cursor;
  if (!f.reset(text, start, end, escaped)) return undefined;
  const kind = text[start]!;
  const t = f.number();
  const pid = f.number();
  if (!Number.isFinite(t) || !Number.isInteger(pid)) return undefined;
  const record = fieldsOf(kind, t, pid, f);
  return record && f.complete ? record : undefined;
}

function fieldsOf(kind: string, t: number, pid: number, f: Fields): SensorRecord | undefined {
  switch (kind) {
    case 'R': return f.skip() ? { k: 'R', t, pid } : undefined;
    case 'E': { const flags = f.number(); const filename = f.string(); return filename === undefined ? undefined : { k: 'E', t, pid, flags, filename }; }
    case 'A': { const index = f.number(); const arg = f.string(); return arg === undefined ? undefined : { k: 'A', t, pid, index, arg }; }
    case 'X': {
      const ppid = f.number(), uid = f.number(), cgroup = f.number(), mntns = f.number(), netns = f.number(), stdinMode = f.number();
      const ctime = f.number(), ctimeNsec = f.number(), nlink = f.number(), filename = f.string();
      return filename === undefined ? undefined : { k: 'X', t, pid, ppid, uid, cgroup, mntns, netns, stdinMode, ctime, ctimeNsec, nlink, filename };
    }
    case 'D': { const dentry = f.string(); return dentry === undefined ? undefined : { k: 'D', t, pid, dentry }; }
    case 'H': { const mtime = f.number(); const path = f.string(); return path === undefined ? undefined : { k: 'H', t, pid, mtime, path }; }
    case 'J': { const target = f.number(); const signal = f.number(); const comm = f.string(); return comm === undefined ? undefined : { k: 'J', t, pid, target, signal, comm }; }
    case 'Z': { const upper = f.string() === '1'; return { k: 'Z', t, pid, upper, ino: f.number() }; }
    case 'F': return { k: 'F', t, pid, child: f.number() };
    case 'Q': { const tid = f.number(); return { k: 'Q', t, pid, tid, code: f.number() }; }
    case 'C':
    case 'B':
    case 'K': {
      const fd = f.number();
      const family = f.number() === 6 ? 6 : 4;
      const ip = f.string();
      const port = f.number();
      // Only connect records carry the socket's type: binds and accepts are of stream sockets.
      const socketType = kind === 'C' ? f.number() : 1;
      return ip === undefined ? undefined : { k: kind, t, pid, fd, family, ip, port, socketType };
    }
    case 'L': return { k: 'L', t, pid, fd: f.number() };
    case 'O': { const flags = f.number(); const path = f.string(); return path === undefined ? undefined : { k: 'O', t, pid, flags, path }; }
    case 'U': {
      const op = f.string();
      const path = f.string();
      return (op === 'unlink' || op === 'truncate' || op === 'rename') && path !== undefined ? { k: 'U', t, pid, op, path } : undefined;
    }
    case 'M': { const flags = f.number(); const name = f.string(); return name === undefined ? undefined : { k: 'M', t, pid, flags, name }; }
    case 'I': { const call = f.string() === 'init_module' ? 'init_module' : 'finit_module'; const detail = f.string(); return detail === undefined ? undefined : { k: 'I', t, pid, call, detail }; }
    case 'P': { const request = f.number(); return { k: 'P', t, pid, request, target: f.number() }; }
    case 'N':
    case 'T':
    case 'G': { const text = f.string(); return text === undefined ? undefined : { k: kind, t, pid, text }; }
    case 'S': { const from = f.number(); return { k: 'S', t, pid, from, to: f.number() }; }
    case 'Y': return { k: 'Y', t, pid };
    case 'W':
    case 'V': return { k: kind, t, pid, flags: f.number() };
    default: return undefined;
  }
}

/**
 * How bpftrace 0.17 spells a printf line with `-f json` (JsonOutput::message, src/output.cpp
 * v0.17.0 line 812: `{"type": "` TYPE `", "data": "` ESCAPED `"}`); any other spelling goes
 * through JSON.parse.
 */
const PRINTF_OPEN = '{"type": "printf", "data": "';
const PRINTF_CLOSE = '"}';

const inPrintfSpelling = (line: string) => line.startsWith(PRINTF_OPEN) && line.endsWith(PRINTF_CLOSE);

/** A printf line's record, read in place (see Fields); undefined for any other line or a malformed record. */
export function parsePrintfLine(line: string): SensorRecord | undefined {
  return inPrintfSpelling(line) ? readRecord(line, PRINTF_OPEN.length, line.length - PRINTF_CLOSE.length, true) : undefined;
}

/** One line of `bpftrace -f json` output. */
export function parseLine(line: string): ParsedLine {
  const record = parsePrintfLine(line);
  return record ? { record } : parseOtherLine(line);
}

/** A line not in the printf spelling parsePrintfLine reads (which is not tried again): lost events, or a printf spelled otherwise. */
export function parseOtherLine(line: string): ParsedLine {
  if (!line.startsWith('{') || inPrintfSpelling(line)) return undefined;
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
  const record = parseRecord(parsed.data);
  return record ? { record } : undefined;
}
