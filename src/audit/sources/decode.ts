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
    if (!AUDIT_API_VERSIONS.includes(value.apiVersion as (typeof AUDIT_API_VERSIONS)[number])) {
      report(sink, ctx, index, { code: 'audit.api-version', message: `unsupported audit apiVersion ${JSON.stringify(value.apiVersion ?? null)}` });
      return;
    }
    const items = Array.isArray(value.items) ? value.items : [];
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      // Items of an EventList may omit kind/apiVersion; they inherit the list's.
      const event = isObject(item) ? { kind: 'Event', apiVersion: value.apiVersion, ...item } : item;
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
  // Container runtimes (docker json-file, fluentd) wrap each log line as {"log":"<line>\n","stream":...}.
  if (typeof value.log === 'string' && value.log.trimStart().startsWith('{')) {
    try {
      decodeAuditValue(JSON.parse(value.log), sink, ctx, index);
    } catch (error) {
      report(sink, ctx, index, { code: 'audit.invalid-json', message: `log field is not JSON: ${(error as Error).message}` });
    }
    return;
  }
  report(sink, ctx, index, {
    code: 'audit.unknown-format',
    message: `not an audit event: kind ${JSON.stringify(kind ?? null)}`,
    field: 'kind',
  });
}

/**
 * Reads JSON-lines audit logs line by line (the apiserver log backend and every cloud export are
 * JSON lines). A file holding one pretty-printed document (an EventList saved by hand, a JSON
 * array) is recognised when its first line is not JSON on its own: those lines are held and
 * parsed as a whole at the end, and if that fails too, each held line is reported.
 */
export class AuditLineDecoder {
  private lineNo = 0;
  private held: string[] | undefined;
  private heldBytes = 0;
  private started = false;
  static readonly MAX_DOCUMENT_BYTES = 256 * 1024 * 1024;

  constructor(private readonly sink: AuditSink, private readonly ctx: DecodeContext = {}) {}

  get lines(): number {
    return this.lineNo;
  }

  push(raw: string): void {
    this.lineNo++;
    if (this.held) {
      this.held.push(raw);
      this.heldBytes += raw.length;
      // A complete JSON object on the second line means JSON lines with a broken first line.
      if (this.heldBytes > AuditLineDecoder.MAX_DOCUMENT_BYTES || (this.held.length === 2 && isCompleteObject(raw))) this.release();
      return;
    }
    const line = raw.trim();
    if (line === '') return;
    const first = !this.started;
    this.started = true;
    this.decodeLine(line, this.lineNo, first);
  }

  end(): void {
    if (!this.held) return;
    const held = this.held;
    try {
      const value: unknown = JSON.parse(held.join('\n'));
      this.held = undefined;
      decodeAuditValue(value, this.sink, { ...this.ctx, line: this.lineNo - held.length + 1 });
    } catch {
      this.release();
    }
  }

  /** Gives up on the whole-document reading: report and decode the held lines one by one. */
  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    const firstLine = this.lineNo - held.length + 1;
    held.forEach((raw, i) => {
      const line = raw.trim();
      if (line !== '') this.decodeLine(line, firstLine + i, false);
    });
  }

  private decodeLine(line: string, lineNo: number, first: boolean): void {
    let text = line;
    const c = line.charCodeAt(0);
    if (c !== 123 /* { */ && c !== 91 /* [ */) text = splitTimestampPrefix(line) ?? line;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      if (first && (c === 123 || c === 91)) {
        this.held = [line];
        this.heldBytes = line.length;
        return;
      }
      const out: AuditInputError = { code: 'audit.invalid-json', message: `invalid JSON: ${(error as Error).message}`, line: lineNo };
      if (this.ctx.file !== undefined) out.file = this.ctx.file;
      this.sink.error(out);
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
