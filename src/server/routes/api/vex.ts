import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { Kysely } from 'kysely';
import { listRecommendations, reapplyVex, refreshSecureScore, saveRecommendation, saveRecommendations } from '../../../center/index.js';
import { PalisadeError } from '../../../core/index.js';
import { registryRecommendation, runningImagesRecommendation, RUNNING_IMAGES_POLICY } from '../../../registry/index.js';
import type { Database } from '../../../store/index.js';
import { addVexDocument, getVexDocument, listVexDocuments, MAX_VEX_DOCUMENT_BYTES, MAX_VEX_STATEMENTS, parseVexDocument, removeVexDocument, vulnerabilitiesOf } from '../../../vex/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';
import { NotFound } from '../../errors.js';
import { decodeCursor, ListQuery, page } from '../../pagination.js';

const ID = Type.Object({ id: Type.String({ pattern: '^vex_[A-Za-z0-9_-]{1,80}$' }) });

/**
 * After statements changed findings: the vulnerability recommendations (of the registries holding
 * the changed images, and of every cluster's running images) and the secure score follow at once.
 */
async function refreshScores(db: Kysely<Database>, applied: { changed: number; registries: readonly string[] }, at: Date): Promise<void> {
  if (!applied.changed) return;
  for (const registry of applied.registries) await saveRecommendations(db, `registry:${registry}`, [await registryRecommendation(db, registry)], at);
  const clusters = (await listRecommendations(db, undefined, { exemptions: false })).filter((r) => r.policy === RUNNING_IMAGES_POLICY && r.scope.startsWith('cluster:'));
  for (const { scope } of clusters) await saveRecommendation(db, scope, await runningImagesRecommendation(db, scope.slice('cluster:'.length)), at);
  await refreshSecureScore(db, at);
}

/**
 * OpenVEX documents (docs/vex.md): listed by readers; uploaded and removed by admins, each change
 * recorded in the audit trail and applied to the stored findings of the vulnerabilities it names
 * (their `vex` statement, the severity counts, recommendations and score) before the answer.
 */
export async function vexRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const { db } = context.store;

  app.get('/vex', {
    config: { auth: 'reader' },
    schema: { tags: ['vex'], summary: 'Uploaded OpenVEX documents with their author, timestamp and statement count, oldest upload first', querystring: ListQuery },
  }, async (request) => {
    const { limit = 50, cursor } = request.query as ListQuery;
    const after = decodeCursor(cursor);
    if (after !== undefined && !(after.length === 1 && Number.isSafeInteger(after[0]) && (after[0] as number) >= 0)) {
      throw new PalisadeError('invalid_cursor', 'cursor is not one this list returned', { field: 'cursor', hint: 'pass the `next` value of the previous page unchanged' });
    }
    const rows = await listVexDocuments(db, { ...(after ? { afterSeq: after[0] as number } : {}), limit: limit + 1 });
    const paged = page(rows, limit, (r) => [r.seq]);
    return { items: paged.items.map((r) => r.summary), ...(paged.next ? { next: paged.next } : {}) };
  });

  app.get('/vex/:id', {
    config: { auth: 'reader' },
    schema: { tags: ['vex'], summary: 'One uploaded document, as uploaded', params: ID },
  }, async (request) => {
    const { id } = request.params as { id: string };
    const found = await getVexDocument(db, id);
    if (!found) throw new NotFound(`no VEX document ${id}`);
    return { ...found.summary, document: found.document };
  });

  app.post('/vex', {
    bodyLimit: MAX_VEX_DOCUMENT_BYTES,
    // An oversized document is refused while it arrives, never parsed; the answer names the cap.
    errorHandler: (error) => {
      if ((error as { code?: string }).code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        throw new PalisadeError('vex.too_large', `VEX document larger than ${MAX_VEX_DOCUMENT_BYTES} bytes`, {
          kind: 'too-large', field: 'body', hint: `split it into documents of at most ${MAX_VEX_STATEMENTS} statements`,
        });
      }
      throw error;
    },
    schema: { tags: ['vex'], summary: 'Upload an OpenVEX document (v0.2.0; v0.0.1 read too); 400 names the first invalid field' },
  }, async (request, reply) => {
    const doc = parseVexDocument(request.body, { strict: true });
    const now = context.clock.now();
    const { summary, applied } = await db.transaction().execute(async (tx) => {
      const stored = await addVexDocument(tx, doc, request.body, actorOf(request), now);
      return { summary: stored, applied: await reapplyVex(tx, vulnerabilitiesOf(doc)) };
    });
    await refreshScores(db, applied, now);
    return reply.status(201).send({ ...summary, applied: { images: applied.images, findings: applied.changed } });
  });

  app.delete('/vex/:id', {
    schema: { tags: ['vex'], summary: 'Remove an uploaded document; the findings it spoke for fall back to the remaining statements', params: ID },
  }, async (request, reply) => {
    const { id } = request.params as { id: string };
    const now = context.clock.now();
    const applied = await db.transaction().execute(async (tx) => {
      const names = await removeVexDocument(tx, id, actorOf(request), now);
      return names ? await reapplyVex(tx, names) : undefined;
    });
    if (!applied) throw new NotFound(`no VEX document ${id}`);
    await refreshScores(db, applied, now);
    return reply.status(204).send();
  });
}
