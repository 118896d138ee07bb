/**
 * Linux audit log: parse `type=T msg=audit(TS:SERIAL): k=v ...` records, join the records of
 * one event by serial (SYSCALL, EXECVE, CWD, PATH, PROCTITLE, SOCKADDR, ...), decode the
 * hex-encoded fields, and tail the log file across rotations.
 *
 * Hand-written because no maintained npm parser exists for this format; the grammar is small
 * and the shared fixtures (LAUREL and go-libaudit test data) pin its corner cases.
 */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

export interface AuditdRecord {
  type: string;
  /** Seconds since the epoch, with milliseconds. */
  time: number;
  serial: number;
  node?: string;
  fields: Record<string, string>;
  /** Resolved fields of auditd's ENRICHED format (after the 0x1D separator): UID="root", SYSCALL=execve. */
  enriched?: Record<string, string>;
  raw: string;
}

/** Fields that the kernel hex-encodes when the value holds spaces, quotes or control bytes. */
const ENCODED_FIELDS = new Set(['proctitle', 'exe', 'comm', 'name', 'cwd', 'path', 'acct', 'cmd', 'data', 'ocomm', 'key', 'root_dir', 'sw', 'dir', 'file', 'new_group', 'hostname']);

function decodeHex(hex: string): string {
  return Buffer.from(hex, 'hex').toString('utf8');
}

/**
 * Parses `k=v k="v w" k='a=b c=d'` into a map; quotes are removed, bare values kept as written.
 * Unquoted values of `encoded` keys are hex-decoded when they are hex (quoted ones never are).
 */
export function parseFields(text: string, into: Record<string, string> = {}, encoded?: (key: string) => boolean): Record<string, string> {
  const n = text.length;
  let i = 0;
  while (i < n) {
    // A key runs from the last space before '=' (free text such as `config changed,` is skipped).
    let keyStart = i;
    let j = i;
    while (j < n) {
      const c = text.charCodeAt(j);
      if (c === 61) break; // '='
      if (c === 32) keyStart = j + 1;
      j++;
    }
    if (j >= n) break;
    const key = text.slice(keyStart, j);
    j++;
    const quote = text.charCodeAt(j);
    if (quote === 34 || quote === 39) {
      let end = j + 1;
      while (end < n && text.charCodeAt(end) !== quote) end++;
      const value = text.slice(j + 1, end);
      // User-space messages nest a field list in msg='...': lift its fields to the record.
      if (quote === 39) parseFields(value, into, encoded);
      into[key] = value;
      i = end + 1;
    } else {
      let end = j;
      while (end < n && text.charCodeAt(end) !== 32) end++;
      const value = text.slice(j, end);
      // Untrusted strings are hex-encoded by the kernel (unquoted) when they hold spaces, quotes or control bytes.
      into[key] = encoded?.(key) && isHex(value) ? decodeHex(value) : value;
      i = end;
    }
    while (i < n && text.charCodeAt(i) === 32) i++;
  }
  return into;
}

function isHex(value: string): boolean {
  if (value.length === 0 || value.length % 2 !== 0) return false;
  for (let k = 0; k < value.length; k++) {
    const c = value.charCodeAt(k);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

const encodedKey = (key: string) => ENCODED_FIELDS.has(key);
const encodedExecveKey = (key: string) => ENCODED_FIELDS.has(key) || isExecveArg(key);

/** EXECVE arguments: a0, a1, ... and a1[0], a1[1] chunks of long ones. */
function isExecveArg(key: string): boolean {
  if (key.charCodeAt(0) !== 97 || key.length < 2) return false;
  const c = key.charCodeAt(1);
  return c >= 48 && c <= 57 && !key.endsWith('_len');
}

const HEADER = /^(?:node=(\S+) )?type=(\S+) msg=audit\((\d+(?:\.\d+)?):(\d+)\):?\s?/;

/** One line of audit.log, or undefined for comments and lines that are not audit records. */
export function parseAuditdLine(line: string): AuditdRecord | undefined {
  const header = HEADER.exec(line);
  if (!header) return undefined;
  const type = header[2]!;
  const body = line.slice(header[0].length);
  const sep = body.indexOf('\u001d');
  const fields = parseFields(sep >= 0 ? body.slice(0, sep) : body, {}, type === 'EXECVE' ? encodedExecveKey : encodedKey);
  const record: AuditdRecord = { type, time: Number(header[3]), serial: Number(header[4]), fields, raw: line };
  if (header[1]) record.node = header[1];
  if (sep >= 0) record.enriched = parseFields(body.slice(sep + 1));
  return record;
}

/** `(null)`, `(none)` and `?` mean no value. */
export function present(value: string | undefined): string | undefined {
  return value === undefined || value === '(null)' || value === '(none)' || value === '?' ? undefined : value;
}

export interface AuditdSockaddr {
  family: 'inet' | 'inet6' | 'unix' | 'netlink' | 'other';
  ip?: string;
  port?: number;
  path?: string;
}

/**
 * SOCKADDR's saddr: a struct sockaddr in hex. The family is in the architecture's byte order
 * (ppc64 writes it big-endian); port and address are in network order.
 */
export function decodeSockaddr(hex: string, littleEndian = true): AuditdSockaddr {
  const bytes = Buffer.from(hex, 'hex');
  if (bytes.length < 2) return { family: 'other' };
  const family = littleEndian ? bytes.readUInt16LE(0) : bytes.readUInt16BE(0);
  if (family === 2 && bytes.length >= 8) {
    return { family: 'inet', port: bytes.readUInt16BE(2), ip: `${bytes[4]}.${bytes[5]}.${bytes[6]}.${bytes[7]}` };
  }
  if (family === 10 && bytes.length >= 24) {
    const groups: string[] = [];
    for (let i = 8; i < 24; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
    const mapped = groups.slice(0, 5).every((g) => g === '0') && groups[5] === 'ffff';
    return { family: 'inet6', port: bytes.readUInt16BE(2), ip: mapped ? `${bytes[20]}.${bytes[21]}.${bytes[22]}.${bytes[23]}` : groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::') };
  }
  if (family === 1) {
    const end = bytes.indexOf(0, 2);
    return { family: 'unix', path: bytes.subarray(2, end < 0 ? bytes.length : end).toString('utf8') };
  }
  if (family === 16) return { family: 'netlink' };
  return { family: 'other' };
}

/** Architectures by audit arch code; the 0x40000000 bit says little-endian. */
const ARCHES: Record<string, string> = { c000003e: 'x86_64', '40000003': 'i386', c00000b7: 'aarch64', '40000028': 'arm', '80000015': 'ppc64', c0000015: 'ppc64le', '80000016': 's390x', c00000f3: 'riscv64' };

/** Syscall numbers the agent interprets, by architecture. */
const SYSCALLS: Record<string, Record<number, string>> = {
  x86_64: { 2: 'open', 257: 'openat', 437: 'openat2', 85: 'creat', 76: 'truncate', 77: 'ftruncate', 82: 'rename', 264: 'renameat', 316: 'renameat2', 87: 'unlink', 263: 'unlinkat', 86: 'link', 88: 'symlink', 90: 'chmod', 268: 'fchmodat', 92: 'chown', 260: 'fchownat', 59: 'execve', 322: 'execveat', 42: 'connect', 49: 'bind', 43: 'accept', 288: 'accept4', 50: 'listen' },
  aarch64: { 56: 'openat', 437: 'openat2', 45: 'truncate', 46: 'ftruncate', 38: 'renameat', 276: 'renameat2', 35: 'unlinkat', 37: 'linkat', 36: 'symlinkat', 53: 'fchmodat', 54: 'fchownat', 221: 'execve', 281: 'execveat', 203: 'connect', 200: 'bind', 202: 'accept', 242: 'accept4', 201: 'listen' },
  ppc64: { 5: 'open', 286: 'openat', 11: 'execve', 328: 'connect', 327: 'bind', 330: 'accept', 344: 'accept4', 38: 'rename', 10: 'unlink', 292: 'unlinkat' },
};

/** One audit event: the records sharing a serial. */
export interface AuditdEvent {
  time: number;
  serial: number;
  node?: string;
  records: AuditdRecord[];
}

export interface DecodedAuditdEvent extends AuditdEvent {
  arch?: string;
  syscall?: string;
  success?: boolean;
  pid?: number;
  ppid?: number;
  uid?: number;
  auid?: number;
  comm?: string;
  exe?: string;
  key?: string;
  argv?: string[];
  proctitle?: string[];
  cwd?: string;
  paths: { name: string; nametype?: string; mode?: string }[];
  sockaddr?: AuditdSockaddr;
  /** open/openat flags (a1 or a2), to tell writes from reads. */
  openFlags?: number;
}

function num(value: string | undefined): number | undefined {
  const v = present(value);
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** EXECVE argv: `a0`..`aN`, or for long arguments `aN_len` with `aN[0]`, `aN[1]` chunks (possibly over several records). */
export function execveArgv(records: AuditdRecord[]): string[] | undefined {
  const execs = records.filter((r) => r.type === 'EXECVE');
  if (!execs.length) return undefined;
  const merged: Record<string, string> = {};
  for (const r of execs) Object.assign(merged, r.fields);
  const argc = num(merged.argc) ?? 0;
  const argv: string[] = [];
  for (let i = 0; i < argc; i++) {
    const whole = merged[`a${i}`];
    if (whole !== undefined) {
      argv.push(whole);
      continue;
    }
    let joined = '';
    for (let chunk = 0; merged[`a${i}[${chunk}]`] !== undefined; chunk++) joined += merged[`a${i}[${chunk}]`];
    argv.push(joined);
  }
  return argv;
}

export function decodeAuditdEvent(event: AuditdEvent): DecodedAuditdEvent {
  const decoded: DecodedAuditdEvent = { ...event, paths: [] };
  const syscall = event.records.find((r) => r.type === 'SYSCALL');
  let littleEndian = true;
  if (syscall) {
    const f = syscall.fields;
    const archCode = (f.arch ?? '').toLowerCase();
    decoded.arch = syscall.enriched?.ARCH ?? ARCHES[archCode] ?? archCode;
    littleEndian = archCode ? (Number.parseInt(archCode, 16) & 0x40000000) !== 0 : true;
    const number = num(f.syscall);
    decoded.syscall = syscall.enriched?.SYSCALL ?? (number !== undefined ? SYSCALLS[decoded.arch]?.[number] ?? String(number) : undefined);
    decoded.success = f.success === undefined ? undefined : f.success === 'yes';
    if (f.exit === '-115') decoded.success = true; // EINPROGRESS: a non-blocking connect under way
    decoded.pid = num(f.pid);
    decoded.ppid = num(f.ppid);
    decoded.uid = num(f.uid);
    const auid = num(f.auid);
    if (auid !== undefined && auid !== 4294967295) decoded.auid = auid;
    decoded.comm = present(f.comm);
    decoded.exe = present(f.exe);
    decoded.key = present(f.key);
    const flagsArg = decoded.syscall === 'open' ? f.a1 : decoded.syscall === 'openat' ? f.a2 : undefined;
    if (flagsArg !== undefined) decoded.openFlags = Number.parseInt(flagsArg, 16);
  } else {
    const first = event.records[0];
    if (first) {
      decoded.pid = num(first.fields.pid);
      decoded.uid = num(first.fields.uid);
      decoded.exe = present(first.fields.exe);
    }
  }
  decoded.argv = execveArgv(event.records);
  for (const record of event.records) {
    if (record.type === 'PROCTITLE' && record.fields.proctitle !== undefined) decoded.proctitle = record.fields.proctitle.split('\0').filter((p, i, a) => p !== '' || i < a.length - 1);
    else if (record.type === 'CWD') decoded.cwd = present(record.fields.cwd);
    else if (record.type === 'PATH') {
      const name = present(record.fields.name);
      if (name !== undefined) decoded.paths.push({ name, ...(record.fields.nametype ? { nametype: record.fields.nametype } : {}), ...(record.fields.mode ? { mode: record.fields.mode } : {}) });
    } else if (record.type === 'SOCKADDR' && record.fields.saddr) decoded.sockaddr = decodeSockaddr(record.fields.saddr, littleEndian);
  }
  return decoded;
}

/** Types that end a multi-record event, or stand alone. */
const END = 'EOE';
/** Record types that belong to a syscall event and wait for EOE. */
const SYSCALL_PARTS = new Set(['SYSCALL', 'EXECVE', 'CWD', 'PATH', 'PROCTITLE', 'SOCKADDR', 'SOCKETCALL', 'FD_PAIR', 'BPRM_FCAPS', 'MMAP', 'NETFILTER_PKT', 'OBJ_PID', 'IPC', 'AVC', 'SELINUX_ERR', 'URINGOP', 'KERN_MODULE', 'CAPSET', 'TIME_ADJNTPVAL', 'TIME_INJOFFSET', 'ANOM_PROMISCUOUS', 'PROCTITLE']);

/**
 * Joins records into events. A syscall event ends at EOE; a record of another type (LOGIN,
 * USER_*) ends its event when a record with another serial arrives, since the kernel may still
 * add a SYSCALL record to it; an event whose EOE never comes (lost messages) is flushed once
 * the log has moved `window` serials past it, or by `flush()`. Serials wrap at 2^32.
 */
export class AuditdAssembler {
  private readonly open = new Map<string, AuditdEvent & { awaitEoe: boolean }>();
  private lastKey = '';
  constructor(private readonly emit: (event: AuditdEvent) => void, private readonly window = 16) {}

  push(record: AuditdRecord): void {
    const key = `${record.time}:${record.serial}`;
    const changed = key !== this.lastKey;
    this.lastKey = key;
    if (changed) {
      for (const [k, event] of this.open) if (k !== key && !event.awaitEoe) this.finish(k, event);
    }
    const existing = this.open.get(key);
    if (record.type === END) {
      if (existing) this.finish(key, existing);
      return;
    }
    if (existing) {
      existing.records.push(record);
      if (SYSCALL_PARTS.has(record.type)) existing.awaitEoe = true;
    } else {
      this.open.set(key, { time: record.time, serial: record.serial, ...(record.node ? { node: record.node } : {}), records: [record], awaitEoe: SYSCALL_PARTS.has(record.type) });
    }
    if (changed) this.expire(record.serial);
  }

  private finish(key: string, event: AuditdEvent & { awaitEoe: boolean }): void {
    this.open.delete(key);
    const { awaitEoe: _, ...plain } = event;
    this.emit(plain);
  }

  private expire(current: number): void {
    for (const [key, event] of this.open) {
      const behind = (current - event.serial + 2 ** 32) % 2 ** 32;
      if (behind > this.window && behind < 2 ** 31) this.finish(key, event);
    }
  }

  private previous = new Set<string>();
  /**
   * Called once per polling interval: emits events that were already open at the previous call
   * (their EOE was lost, or they never get one), so nothing waits longer than two intervals.
   */
  tick(): void {
    for (const [key, event] of [...this.open]) if (this.previous.has(key)) this.finish(key, event);
    this.previous = new Set(this.open.keys());
  }

  /** Emits every open event (end of input). */
  flush(): void {
    for (const [key, event] of [...this.open]) this.finish(key, event);
  }
}

/** Parses a whole text into events, in the order they complete. */
export function parseAuditdText(text: string): AuditdEvent[] {
  const events: AuditdEvent[] = [];
  const assembler = new AuditdAssembler((e) => events.push(e));
  for (const line of text.split('\n')) {
    const record = parseAuditdLine(line);
    if (record) assembler.push(record);
  }
  assembler.flush();
  return events;
}

/**
 * Follows audit.log by polling: reads what was appended since the last call; when the file
 * was rotated (a new inode at the path) it finishes the old file first, then reads the new one
 * from its start; when it was truncated it starts over.
 */
export class AuditdLogTail {
  private fd: number | undefined;
  private inode = 0;
  private position = 0;
  private partial = '';
  private readonly buffer = Buffer.alloc(1 << 16);

  constructor(readonly path: string, private readonly options: { fromStart?: boolean } = {}) {}

  /** Complete lines appended since the last call. */
  read(): string[] {
    const lines: string[] = [];
    let current: ReturnType<typeof statSync> | undefined;
    try {
      current = statSync(this.path);
    } catch {
      current = undefined;
    }
    if (this.fd === undefined) {
      if (!current) return lines;
      this.openAt(current.ino, this.options.fromStart ? 0 : current.size);
      this.options.fromStart = true; // a later reopen (after rotation) always reads from the start
    } else if (current && current.ino !== this.inode) {
      this.drain(lines); // the rest of the rotated file
      if (this.partial) lines.push(this.partial);
      this.partial = '';
      closeSync(this.fd);
      this.openAt(current.ino, 0);
    } else if (fstatSync(this.fd).size < this.position) {
      this.position = 0;
      this.partial = '';
    }
    this.drain(lines);
    return lines;
  }

  private openAt(inode: number, position: number): void {
    this.fd = openSync(this.path, 'r');
    this.inode = inode;
    this.position = position;
  }

  private drain(lines: string[]): void {
    if (this.fd === undefined) return;
    for (;;) {
      const n = readSync(this.fd, this.buffer, 0, this.buffer.length, this.position);
      if (n <= 0) break;
      this.position += n;
      const text = this.partial + this.buffer.toString('utf8', 0, n);
      const parts = text.split('\n');
      this.partial = parts.pop() ?? '';
      for (const part of parts) if (part) lines.push(part);
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
