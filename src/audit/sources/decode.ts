import { isPalisadeError } from '../../core/index.js';
import type { AuditEvent, AuditInputError } from '../event.js';
import { aksRecordToEvent, isAksRecord } from './aks.js';
import { eksMessages, splitTimestampPrefix } from './eks.js';
import { AUDIT_API_VERSIONS, isObject, normalizeEvent } from './event.js';
import { gkeEntryToEvent, isGkeEntry } from './gke.js';

/** Where decoded events and bad input go; a sink lets file readers stream without building arrays. */
export interface AuditSink {
  event(event: AuditEvent): void;
  error(error: AuditInputError): void;
  /** A well-formed record that holds no audit event (an AKS record of another category, a CloudWatch control message). */
  skip?(): void;
}

export interface DecodeContext {
  /** Cluster to stamp on events whose source does not name one. */
  cluster?: string;
  file?: string;
  line?: number;
}

/** Collects into arrays: for tests, the webhook and small inputs. */
export class AuditBatch implements AuditSink {
  readonly events: AuditEvent[] = [];
  readonly errors: AuditInputError[] = [];
  skipped = 0;
  event(event: AuditEvent): void {
    this.events.push(event);
  }
  error(error: AuditInputError): void {
    this.errors.push(error);
  }
  skip(): void {
    this.skipped++;
  }
}

function report(sink: AuditSink, ctx: DecodeContext, index: number | undefined, error: unknown): void {
  const e = error as { code?: unknown; message?: unknown; field?: unknown };
  const out: AuditInputError = isPalisadeError(error) || typeof e?.code === 'string'
    ? { code: String(e.code), message: String(e.message), ...(typeof e.field === 'string' ? { field: e.field } : {}) }
    : { code: 'audit.invalid', message: typeof e?.message === 'string' ? e.message : String(error) };
  if (ctx.file !== undefined) out.file = ctx.file;
  if (ctx.line !== undefined) out.line = ctx.line;
  if (index !== undefined) out.index = index;
  sink.error(out);
}

function one(sink: AuditSink, ctx: DecodeContext, index: number | undefined, build: () => AuditEvent | undefined): void {
  try {
    const event = build();
    if (event) sink.event(event);
    else sink.skip?.();
  } catch (error) {
    report(sink, ctx, index, error);
  }
}

/**
 * Decodes one parsed JSON value in any supported wrapper: an Event, an EventList, a JSON array of
 * either, AKS `records`, a GKE LogEntry, EKS CloudWatch wrappers, or a container-runtime `{log:"…"}` line.
 * Each bad item is reported and its valid siblings are still delivered.
 */
export function decodeAuditValue(value: unknown, sink: AuditSink, ctx: DecodeContext = {}, index?: number): void {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) decodeAuditValue(value[i], sink, ctx, i);
    return;
  }
  if (!isObject(value)) {
    report(sink, ctx, index, { code: 'audit.not-an-event', message: 'audit input is not a JSON object' });
    return;
  }
  const kind = value.kind;
  if (kind === 'Event') return one(sink, ctx, index, () => normalizeEvent(value, ctx.cluster));
  if (kind === 'EventList') {
    // A list written by a collector may have lost its apiVersion; a wrong one is refused.
    if (value.apiVersion !== undefined && !AUDIT_API_VERSIONS.includes(value.apiVersion as (typeof AUDIT_API_VERSIONS)[number])) {
      report(sink, ctx, index, { code: 'audit.api-version', message: `unsupported audit apiVersion ${JSON.stringify(value.apiVersion)}`, field: 'apiVersion' });
      return;
    }
    if (!Array.isArray(value.items)) {
      report(sink, ctx, index, { code: 'audit.bad-field', message: 'EventList has no items list', field: 'items' });
      return;
    }
    const items = value.items;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      // Items of an EventList may omit kind/apiVersion; they inherit the list's.
      const event = isObject(item) ? { kind: 'Event', ...(value.apiVersion !== undefined ? { apiVersion: value.apiVersion } : {}), ...item } : item;
      one(sink, ctx, i, () => normalizeEvent(event, ctx.cluster));
    }
    return;
  }
  if (Array.isArray(value.records)) {
    const records = value.records;
    for (let i = 0; i < records.length; i++) {
      const record = records[i];
      if (!isObject(record) || !isAksRecord(record)) {
        report(sink, ctx, i, { code: 'audit.unknown-format', message: 'AKS record has no category and properties', field: 'records' });
        continue;
      }
      one(sink, ctx, i, () => aksRecordToEvent(record, ctx.cluster));
    }
    return;
  }
  if (isAksRecord(value)) return one(sink, ctx, index, () => aksRecordToEvent(value, ctx.cluster));
  if (isGkeEntry(value)) return one(sink, ctx, index, () => gkeEntryToEvent(value, ctx.cluster));
  const eks = eksMessages(value);
  if (eks) {
    if (eks.messages.length === 0) sink.skip?.();
    const inner: DecodeContext = { ...ctx, ...(ctx.cluster === undefined && eks.cluster ? { cluster: eks.cluster } : {}) };
    for (let i = 0; i < eks.messages.length; i++) {
      const message = eks.messages[i];
      if (typeof message === 'string') {
        try {
          decodeAuditValue(JSON.parse(message), sink, inner, i);
        } catch (error) {
          report(sink, inner, i, { code: 'audit.invalid-json', message: `CloudWatch message is not JSON: ${(error as Error).message}` });
        }
      } else decodeAuditValue(message, sink, inner, i);
    }
    return;
  }
  // Collectors (Falco's recordings, log shippers) drop kind and apiVersion: a record with an
  // auditID and a verb is an audit event all the same.
  if (kind === undefined && typeof value.auditID === 'string' && typeof value.verb === 'string') {
    return one(sink, ctx, index, () => normalizeEvent(value, ctx.cluster));
  }
  // Container runtimes (docker json-file, fluentd) wrap each log line as {"log":"<line>\n","stream":...}.
  if (typeof value.log === 'string' && value.log.trimStart().startsWith('{')) {
    try {
      decodeAuditValue(JSON.parse(value.log), sink, ctx, index);
    } catch (error) {
      report(sink, ctx, index, { code: 'audit.invalid-json', message: `log field is not JSON: ${(error as Error).message}` });
    }
    return;
  }
  // Name the field that shows it is not an audit event: a foreign kind, else the missing auditID.
  report(sink, ctx, index, kind !== undefined
    ? { code: 'audit.unknown-format', message: `not an audit event: kind ${JSON.stringify(kind)}, expected Event or EventList`, field: 'kind' }
    : { code: 'audit.unknown-format', message: 'not an audit event: no kind and no auditID', field: typeof value.auditID === 'string' ? 'verb' : 'auditID' });
}

/**
 * Finds where a JSON value that starts with `{` or `[` ends, across as many chunks as it takes,
 * without parsing it: depth of brackets outside strings. JSON.parse then reads the exact slice.
 */
class ValueScanner {
  private depth = 0;
  private inString = false;
  private escaped = false;

  reset(): void {
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
  }

  /** Index just after the value's end in `text`, or -1 when it continues past `text`. */
  feed(text: string, from: number): number {
    for (let i = from; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 92 /* \\ */) this.escaped = true;
        else if (c === 34 /* " */) this.inString = false;
      } else if (c === 34) this.inString = true;
      else if (c === 123 || c === 91) this.depth++;
      else if (c === 125 || c === 93) {
        if (--this.depth === 0) return i + 1;
      }
    }
    return -1;
  }
}

function skipSpace(text: string, from: number): number {
  let i = from;
  while (i < text.length && (text.charCodeAt(i) <= 32)) i++;
  return i;
}

/**
 * Reads audit logs in every shape they are found in, line by line so a multi-gigabyte log never
 * sits in memory: one JSON object per line (the apiserver log backend and every cloud export),
 * objects concatenated on a line (`}{`), pretty-printed objects one after another, and one
 * pretty-printed document (an EventList or a JSON array saved by hand). The common case costs one
 * JSON.parse per line; only a line that is not JSON on its own is scanned for where its values
 * end. A broken line inside JSON lines is reported and does not swallow the lines after it: a
 * line that starts at column 0 with a complete object while a value is still open means the
 * open value was a truncated line (pretty-printers indent what is nested).
 */
export class AuditLineDecoder {
  private lineNo = 0;
  private pending: { parts: string[]; bytes: number; startLine: number; scanner: ValueScanner; tooLarge: boolean } | undefined;
  static readonly MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

  constructor(private readonly sink: AuditSink, private readonly ctx: DecodeContext = {}) {}

  get lines(): number {
    return this.lineNo;
  }

  push(raw: string): void {
    this.lineNo++;
    if (this.pending) {
      this.continueValue(raw);
      return;
    }
    const line = raw.trim();
    if (line !== '') this.startLine(line, this.lineNo);
  }

  end(): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    this.fail(p.startLine, p.tooLarge ? 'audit.document-too-large' : 'audit.invalid-json',
      p.tooLarge ? `JSON document starting here is larger than ${AuditLineDecoder.MAX_DOCUMENT_BYTES} bytes` : 'invalid JSON: the value starting here never ends');
  }

  private fail(line: number, code: string, message: string): void {
    const out: AuditInputError = { code, message, line };
    if (this.ctx.file !== undefined) out.file = this.ctx.file;
    this.sink.error(out);
  }

  private startLine(line: string, lineNo: number): void {
    let text = line;
    const c = line.charCodeAt(0);
    if (c !== 123 /* { */ && c !== 91 /* [ */) {
      const json = splitTimestampPrefix(line);
      if (json === undefined) {
        this.fail(lineNo, 'audit.invalid-json', `invalid JSON: line starts with ${JSON.stringify(line.slice(0, 20))}, not an object`);
        return;
      }
      text = json;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.scanFrom(text, lineNo);
      return;
    }
    decodeAuditValue(value, this.sink, { ...this.ctx, line: lineNo });
  }

  /** Splits `text` into the values it holds; an unfinished last one stays pending. */
  private scanFrom(text: string, lineNo: number): void {
    let start = skipSpace(text, 0);
    while (start < text.length) {
      const c = text.charCodeAt(start);
      if (c !== 123 && c !== 91) {
        this.fail(lineNo, 'audit.invalid-json', `invalid JSON: unexpected ${JSON.stringify(text.slice(start, start + 20))}`);
        return;
      }
      const scanner = new ValueScanner();
      const end = scanner.feed(text, start);
      if (end === -1) {
        const rest = text.slice(start);
        this.pending = { parts: [rest], bytes: rest.length, startLine: lineNo, scanner, tooLarge: false };
        return;
      }
      this.parseValue(text.slice(start, end), lineNo);
      start = skipSpace(text, end);
    }
  }

  private continueValue(raw: string): void {
    const p = this.pending!;
    if (raw.charCodeAt(0) === 123 && isCompleteObject(raw)) {
      // A fresh object at column 0: the open value was a truncated line.
      this.pending = undefined;
      this.fail(p.startLine, 'audit.invalid-json', 'invalid JSON: the value starting here ends before it is complete');
      this.startLine(raw.trim(), this.lineNo);
      return;
    }
    const end = p.scanner.feed(raw + '\n', 0);
    if (end === -1) {
      p.bytes += raw.length + 1;
      if (p.bytes > AuditLineDecoder.MAX_DOCUMENT_BYTES) {
        // Keep scanning to find its end, but stop holding it: memory stays bounded.
        p.tooLarge = true;
        p.parts = [];
      } else if (!p.tooLarge) p.parts.push(raw);
      return;
    }
    this.pending = undefined;
    if (p.tooLarge) this.fail(p.startLine, 'audit.document-too-large', `JSON document starting here is larger than ${AuditLineDecoder.MAX_DOCUMENT_BYTES} bytes`);
    else {
      p.parts.push(raw.slice(0, end));
      this.parseValue(p.parts.join('\n'), p.startLine);
    }
    const rest = raw.slice(end);
    if (rest.trim() !== '') this.scanFrom(rest, this.lineNo);
  }

  private parseValue(text: string, lineNo: number): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      this.fail(lineNo, 'audit.invalid-json', `invalid JSON: ${(error as Error).message}`);
      return;
    }
    decodeAuditValue(value, this.sink, { ...this.ctx, line: lineNo });
  }
}

function isCompleteObject(line: string): boolean {
  const text = line.trim();
  if (!text.startsWith('{') || !text.endsWith('}')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** Decodes a whole text (file contents, HTTP body) of JSON lines or one JSON document. */
export function decodeAuditText(text: string, sink: AuditSink, ctx: DecodeContext = {}): void {
  const decoder = new AuditLineDecoder(sink, ctx);
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    decoder.push(text.slice(start, end));
    start = end + 1;
  }
  decoder.end();
}
