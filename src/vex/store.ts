/**
 * Uploaded OpenVEX documents and their statements (migration 0740). A statement is found by any
 * name of its vulnerability (name, @id, aliases) through `vex_statement_vulnerabilities`, so
 * applying VEX to an image's findings reads only the statements about the vulnerabilities it has.
 * Adding and removing a document is recorded in the audit trail, as other admin changes are.
 */
import type { Generated, JSONColumnType, Kysely } from 'kysely';
import { randomIds } from '../core/index.js';
import { recordAction, type Database } from '../store/index.js';
import type { VexDocument, VexStatement } from './document.js';
import type { AttributedStatement } from './match.js';

export interface VexDocumentTable {
  id: string;
  /** Upload order: the tie-break between statements stated at the same instant. */
  seq: Generated<string>;
  iri: string | null;
  author: string;
  role: string | null;
  timestamp: Date | null;
  version: number | null;
  statement_count: number;
  /** The document as uploaded, for `GET /api/v1/vex/{id}`. */
  document: JSONColumnType<Record<string, unknown>, string, string>;
  uploaded_by: string;
  uploaded_at: Date;
}

export interface VexStatementTable {
  document_id: string;
  position: number;
  status: string;
  statement: JSONColumnType<VexStatement, string, string>;
}

export interface VexStatementVulnerabilityTable {
  document_id: string;
  position: number;
  vulnerability: string;
}

declare module '../store/schema.js' {
  interface Database {
    vex_documents: VexDocumentTable;
    vex_statements: VexStatementTable;
    vex_statement_vulnerabilities: VexStatementVulnerabilityTable;
  }
}

export interface VexDocumentSummary {
  id: string;
  /** The document's own @id. */
  iri?: string;
  author: string;
  role?: string;
  timestamp?: string;
  version?: number;
  statements: number;
  uploadedBy: string;
  uploadedAt: string;
}

const summaryOf = (row: Omit<VexDocumentTable, 'document' | 'seq'>): VexDocumentSummary => ({
  id: row.id,
  ...(row.iri ? { iri: row.iri } : {}),
  author: row.author,
  ...(row.role ? { role: row.role } : {}),
  ...(row.timestamp ? { timestamp: new Date(row.timestamp).toISOString() } : {}),
  ...(row.version !== null ? { version: row.version } : {}),
  statements: row.statement_count,
  uploadedBy: row.uploaded_by,
  uploadedAt: new Date(row.uploaded_at).toISOString(),
});

const SUMMARY_COLUMNS = ['id', 'iri', 'author', 'role', 'timestamp', 'version', 'statement_count', 'uploaded_by', 'uploaded_at'] as const;

/** Every name of every statement's vulnerability in a document. */
export const vulnerabilitiesOf = (doc: Pick<VexDocument, 'statements'>): string[] => [...new Set(doc.statements.flatMap((s) => s.vulnerability))];

/** Stores a parsed (strictly validated) document in the caller's transaction. */
export async function addVexDocument(db: Kysely<Database>, doc: VexDocument, raw: unknown, actor: string, now: Date): Promise<VexDocumentSummary> {
  const id = randomIds.next('vex_');
  const row = {
    id,
    iri: doc.id ?? null,
    author: doc.author ?? actor,
    role: doc.role ?? null,
    timestamp: doc.timestamp ? new Date(doc.timestamp) : null,
    version: doc.version ?? null,
    statement_count: doc.statements.length,
    uploaded_by: actor,
    uploaded_at: now,
  };
  await db.insertInto('vex_documents').values({ ...row, document: JSON.stringify(raw) }).execute();
  const statements = doc.statements.map((s, position) => ({ document_id: id, position, status: s.status, statement: JSON.stringify(s) }));
  const names = doc.statements.flatMap((s, position) => s.vulnerability.map((vulnerability) => ({ document_id: id, position, vulnerability })));
  for (let i = 0; i < statements.length; i += 500) await db.insertInto('vex_statements').values(statements.slice(i, i + 500)).execute();
  for (let i = 0; i < names.length; i += 1000) await db.insertInto('vex_statement_vulnerabilities').values(names.slice(i, i + 1000)).execute();
  await recordAction(db, { actor, action: 'vex.add', target: `vex:${id}`, details: { iri: doc.id ?? null, author: row.author, statements: doc.statements.length }, at: now });
  return summaryOf(row);
}

/** Uploaded documents, oldest upload first, a page at a time: each with its upload sequence number, the position to continue after. */
export async function listVexDocuments(db: Kysely<Database>, page: { afterSeq?: number; limit: number }): Promise<Array<{ seq: number; summary: VexDocumentSummary }>> {
  let query = db.selectFrom('vex_documents').select([...SUMMARY_COLUMNS, 'seq']).orderBy('seq').limit(page.limit);
  if (page.afterSeq !== undefined) query = query.where('seq', '>', String(page.afterSeq));
  return (await query.execute()).map(({ seq, ...row }) => ({ seq: Number(seq), summary: summaryOf(row) }));
}

export async function getVexDocument(db: Kysely<Database>, id: string): Promise<{ summary: VexDocumentSummary; document: Record<string, unknown> } | undefined> {
  const row = await db.selectFrom('vex_documents').select([...SUMMARY_COLUMNS, 'document']).where('id', '=', id).executeTakeFirst();
  return row ? { summary: summaryOf(row), document: row.document } : undefined;
}

/** Removes a document and its statements; returns the vulnerabilities it spoke about (to re-apply VEX to), or undefined when there is none. */
export async function removeVexDocument(db: Kysely<Database>, id: string, actor: string, now: Date): Promise<string[] | undefined> {
  const names = await db.selectFrom('vex_statement_vulnerabilities').select('vulnerability').distinct().where('document_id', '=', id).execute();
  const removed = await db.deleteFrom('vex_documents').where('id', '=', id).executeTakeFirst();
  if (!removed.numDeletedRows) return undefined;
  await recordAction(db, { actor, action: 'vex.remove', target: `vex:${id}`, details: {}, at: now });
  return names.map((n) => n.vulnerability);
}

/** Every stored statement naming one of these vulnerabilities, with its document's author, in upload order. */
export async function statementsAbout(db: Kysely<Database>, vulnerabilities: readonly string[]): Promise<AttributedStatement[]> {
  const unique = [...new Set(vulnerabilities)];
  const found = new Map<string, AttributedStatement & { seq: number; position: number }>();
  for (let i = 0; i < unique.length; i += 1000) {
    const rows = await db.selectFrom('vex_statement_vulnerabilities as n')
      .innerJoin('vex_statements as s', (join) => join.onRef('s.document_id', '=', 'n.document_id').onRef('s.position', '=', 'n.position'))
      .innerJoin('vex_documents as d', 'd.id', 'n.document_id')
      .select(['s.document_id', 's.position', 's.statement', 'd.author', 'd.seq'])
      .where('n.vulnerability', 'in', unique.slice(i, i + 1000))
      .execute();
    for (const r of rows) {
      found.set(`${r.document_id}\u0000${r.position}`, { statement: r.statement, documentId: r.document_id, author: r.author, order: 0, seq: Number(r.seq), position: r.position });
    }
  }
  const ordered = [...found.values()].sort((a, b) => a.seq - b.seq || a.position - b.position);
  return ordered.map((s, order) => ({ statement: s.statement, documentId: s.documentId, author: s.author, order }));
}

/** Whether any document is stored: scans skip the statement lookup when none is. */
export async function hasVexDocuments(db: Kysely<Database>): Promise<boolean> {
  return (await db.selectFrom('vex_documents').select('id').limit(1).executeTakeFirst()) !== undefined;
}
