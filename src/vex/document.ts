/**
 * OpenVEX documents (https://github.com/openvex/spec, v0.2.0; v0.0.1 read too), parsed once for
 * every consumer: the center's uploads (strict: the spec's JSON schema and its completeness rules,
 * a bad document is refused naming the field) and `palisade scan --vex` (lenient: a hand-written
 * document with just statements keeps working, as it always has).
 */
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { PalisadeError } from '../core/index.js';
import { OPENVEX_SCHEMA } from './openvex-schema.js';

export const VEX_STATUSES = ['not_affected', 'affected', 'fixed', 'under_investigation'] as const;
export type VexStatus = (typeof VEX_STATUSES)[number];

/** A product or subcomponent: every identifier it can be recognised by (its @id, purl, CPEs, hash values). */
export interface VexComponent {
  identifiers: string[];
}

export interface VexProduct extends VexComponent {
  subcomponents: VexComponent[];
}

/** One statement with what it inherits from its document (the timestamp) filled in. */
export interface VexStatement {
  /** The vulnerability's name first, then its @id and aliases: any of them names it. */
  vulnerability: string[];
  products: VexProduct[];
  status: VexStatus;
  justification?: string;
  impactStatement?: string;
  actionStatement?: string;
  statusNotes?: string;
  /** When the statement was known true (its own timestamp, else the document's); absent only in lenient documents. */
  timestamp?: string;
}

export interface VexDocument {
  /** The document's @id (IRI). */
  id?: string;
  author?: string;
  role?: string;
  timestamp?: string;
  version?: number;
  statements: VexStatement[];
}

/** Uploaded documents larger than this are refused before parsing (a document of 10,000 statements fits). */
export const MAX_VEX_DOCUMENT_BYTES = 4 * 1024 * 1024;
export const MAX_VEX_STATEMENTS = 10_000;

const HINT = 'give an OpenVEX JSON document (https://github.com/openvex/spec)';
/** The largest document version the store keeps (a 32-bit integer column). */
const MAX_DOCUMENT_VERSION = 2_147_483_647;

/** A time Date can read, in the years a timestamp column holds as written (0001 to 9999). */
function isStorableTime(value: string): boolean {
  const at = Date.parse(value);
  if (Number.isNaN(at)) return false;
  const year = new Date(at).getUTCFullYear();
  return year >= 1 && year <= 9999;
}

const invalid = (field: string, message: string) => new PalisadeError('vex.invalid', `VEX document: ${field}: ${message}`, { field, hint: HINT });

// ajv-formats is CommonJS: its default export arrives as the module object under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020, formats: string[]) => Ajv2020;
let validator: ReturnType<Ajv2020['compile']> | undefined;
function schemaValidator() {
  if (!validator) {
    const ajv = new Ajv2020({ allErrors: false, strict: false });
    addFormats(ajv, ['date-time', 'uri']);
    // An IRI is a URI that may hold non-ASCII characters; purls (pkg:…) are IRIs too.
    ajv.addFormat('iri', /^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$/u);
    validator = ajv.compile(OPENVEX_SCHEMA);
  }
  return validator;
}

/** `/statements/0/products/1` → `statements[0].products[1]`, with the property the error is about. */
function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let field = '';
  for (const part of parts) field += /^\d+$/.test(part) ? `[${part}]` : field ? `.${part}` : part;
  const params = error.params as { missingProperty?: string; additionalProperty?: string };
  const extra = params.missingProperty ?? params.additionalProperty;
  if (extra) field = field ? `${field}.${extra}` : extra;
  return field || 'document';
}

function schemaMessage(error: ErrorObject): string {
  const params = error.params as { additionalProperty?: string; allowedValues?: unknown[] };
  if (error.keyword === 'additionalProperties') return 'is not an OpenVEX field';
  if (error.keyword === 'enum') return `must be one of ${(params.allowedValues ?? []).join(', ')}`;
  if (error.keyword === 'required') return 'is required';
  if (error.keyword === 'format' && (error.params as { format?: string }).format === 'iri') return 'must be an IRI: a purl (pkg:oci/NAME@sha256%3A…, pkg:deb/debian/NAME) or a URL';
  return error.message ?? 'is invalid';
}

/**
 * v0.0.1 wrote the vulnerability and products as bare strings and the version as a string;
 * go-vex reads both shapes, so do we: bring v0.0.1 statements to the v0.2.0 shape first.
 */
function upgrade(doc: Record<string, unknown>): Record<string, unknown> {
  const statements = Array.isArray(doc.statements) ? doc.statements.map((s: unknown) => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) return s;
    const statement = { ...(s as Record<string, unknown>) };
    if (typeof statement.vulnerability === 'string') statement.vulnerability = { name: statement.vulnerability };
    if (Array.isArray(statement.products)) statement.products = statement.products.map((p: unknown) => (typeof p === 'string' ? { '@id': p } : p));
    return statement;
  }) : doc.statements;
  const version = typeof doc.version === 'string' && /^\d+$/.test(doc.version) ? Number(doc.version) : doc.version;
  return { ...doc, statements, ...(doc.version !== undefined ? { version } : {}) };
}

const strings = (values: unknown[]): string[] => values.filter((v): v is string => typeof v === 'string' && v.length > 0);

function componentOf(raw: Record<string, unknown>): VexComponent {
  const identifiers = raw.identifiers && typeof raw.identifiers === 'object' ? Object.values(raw.identifiers as Record<string, unknown>) : [];
  const hashes = raw.hashes && typeof raw.hashes === 'object' ? Object.values(raw.hashes as Record<string, unknown>) : [];
  return { identifiers: [...new Set(strings([raw['@id'], ...identifiers, ...hashes]))] };
}

function statementOf(raw: Record<string, unknown>, documentTimestamp: string | undefined): VexStatement {
  const v = raw.vulnerability as { name?: unknown; '@id'?: unknown; aliases?: unknown } | undefined;
  const vulnerability = [...new Set(strings([v?.name, v?.['@id'], ...(Array.isArray(v?.aliases) ? v.aliases : [])]))];
  const products = (Array.isArray(raw.products) ? raw.products : [])
    .filter((p): p is Record<string, unknown> => !!p && typeof p === 'object')
    .map((p) => ({
      ...componentOf(p),
      subcomponents: (Array.isArray(p.subcomponents) ? p.subcomponents : [])
        .filter((c): c is Record<string, unknown> => !!c && typeof c === 'object').map(componentOf),
    }));
  const text = (key: string) => (typeof raw[key] === 'string' && raw[key] !== '' ? raw[key] as string : undefined);
  const [impactStatement, actionStatement, statusNotes] = [text('impact_statement'), text('action_statement'), text('status_notes')];
  const timestamp = typeof raw.timestamp === 'string' ? raw.timestamp : documentTimestamp;
  return {
    vulnerability,
    products,
    status: raw.status as VexStatus,
    ...(typeof raw.justification === 'string' ? { justification: raw.justification } : {}),
    ...(impactStatement ? { impactStatement } : {}),
    ...(actionStatement ? { actionStatement } : {}),
    ...(statusNotes ? { statusNotes } : {}),
    ...(timestamp ? { timestamp } : {}),
  };
}

/**
 * Strict: the document as the center stores it. Valid against the spec's schema, and complete as
 * the spec's "Data Inheritance" section requires of a standalone document: every statement has a
 * product (there is no encapsulating document to inherit one from) and a timestamp (its own or the
 * document's). Lenient: only a statement list is needed (what `scan --vex` has always accepted).
 */
export function parseVexDocument(input: unknown, options: { strict: boolean }): VexDocument {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw invalid('document', 'must be a JSON object');
  const doc = upgrade(input as Record<string, unknown>);
  if (!Array.isArray(doc.statements)) throw invalid('statements', 'must be a list of statements');
  if (doc.statements.length > MAX_VEX_STATEMENTS) throw invalid('statements', `at most ${MAX_VEX_STATEMENTS} statements in one document`);
  if (options.strict) {
    const validate = schemaValidator();
    if (!validate(doc)) {
      const error = validate.errors![0]!;
      throw invalid(fieldOf(error), schemaMessage(error));
    }
  }
  const documentTimestamp = typeof doc.timestamp === 'string' ? doc.timestamp : undefined;
  // RFC 3339 and the schema allow what the store cannot hold (a leap second, the year 0000, a
  // version past 32 bits): refuse it here, naming the field, rather than fail storing it.
  if (options.strict && documentTimestamp !== undefined && !isStorableTime(documentTimestamp)) throw invalid('timestamp', 'is not a time this server can read (years 0001 to 9999)');
  if (options.strict && typeof doc.version === 'number' && doc.version > MAX_DOCUMENT_VERSION) throw invalid('version', `must be at most ${MAX_DOCUMENT_VERSION}`);
  const statements = doc.statements.map((raw: unknown, i: number) => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw invalid(`statements[${i}]`, 'must be an object');
    const statement = statementOf(raw as Record<string, unknown>, documentTimestamp);
    if (!(VEX_STATUSES as readonly string[]).includes(statement.status)) throw invalid(`statements[${i}].status`, `must be one of ${VEX_STATUSES.join(', ')}`);
    if (!statement.vulnerability.length) throw invalid(`statements[${i}].vulnerability.name`, 'is required');
    if (options.strict) {
      if (!statement.products.some((p) => p.identifiers.length)) throw invalid(`statements[${i}].products`, 'a statement must name at least one product (by @id, identifiers or hashes)');
      if (!statement.timestamp) throw invalid(`statements[${i}].timestamp`, 'is required when the document has no timestamp');
      if (Number.isNaN(Date.parse(statement.timestamp))) throw invalid(`statements[${i}].timestamp`, 'is not a time this server can read');
    }
    return statement;
  });
  return {
    ...(typeof doc['@id'] === 'string' ? { id: doc['@id'] } : {}),
    ...(typeof doc.author === 'string' ? { author: doc.author } : {}),
    ...(typeof doc.role === 'string' ? { role: doc.role } : {}),
    ...(documentTimestamp ? { timestamp: documentTimestamp } : {}),
    ...(typeof doc.version === 'number' ? { version: doc.version } : {}),
    statements,
  };
}

/** Parses the text of a document (a file given to `scan --vex`, a CLI upload) with the same rules. */
export function parseVexText(text: string, options: { strict: boolean; source?: string }): VexDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PalisadeError('vex.invalid', `${options.source ?? 'VEX document'} is not JSON: ${(error as Error).message}`, { field: 'vex', hint: HINT });
  }
  return parseVexDocument(json, options);
}
