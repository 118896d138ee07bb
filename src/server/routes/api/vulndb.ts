import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { PalisadeError } from '../../../core/index.js';
import { queuePendingRematches } from '../../../registry/index.js';
import { recordAction } from '../../../store/index.js';
import { dbStatus, importOsv } from '../../../vulndb/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';

/**
 * Default cap on one uploaded OSV file: osv.dev's all-ecosystem all.zip is about 1 GiB today, so
 * 4 GiB leaves room to grow while still bounding the temporary disk one request can take.
 */
export const MAX_IMPORT_BYTES = 4 * 1024 ** 3;

export interface VulnDbRouteOptions {
  context: ServerContext;
  /** Tests lower it; the default is {@link MAX_IMPORT_BYTES}. */
  maxImportBytes?: number;
}

function tooLarge(limit: number): PalisadeError {
  return new PalisadeError('vulndb.import.too_large', `the uploaded file is larger than the limit of ${limit} bytes`, {
    kind: 'too-large',
    field: 'body',
    hint: 'split it into several archives (one per ecosystem, as osv.dev publishes them)',
  });
}

/** Counts bytes on their way to disk and stops the upload at the limit, before the disk fills. */
function byteLimit(limit: number, counted: (n: number) => void): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      total += chunk.length;
      counted(total);
      if (total > limit) return done(tooLarge(limit));
      done(null, chunk);
    },
  });
}

function emptyBody(): PalisadeError {
  return new PalisadeError('vulndb.import.empty', 'the request body is empty', { field: 'body', hint: 'send the OSV JSON file or zip archive as the body' });
}

/**
 * The advisory database seen through the server, for `palisade db status|import` beside a running
 * server (the embedded database serves one process). An import is streamed to a temporary file,
 * never held in memory: zip archives are read by their central directory, which needs a file.
 */
export async function vulnDbRoutes(app: FastifyInstance, { context, maxImportBytes = MAX_IMPORT_BYTES }: VulnDbRouteOptions) {
  const { store } = context;

  // This plugin's routes take raw files; the stream is read by the handler, not parsed up front.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));

  // Serialised as JSON (dates as ISO strings): what `db status --format json` prints in process.
  app.get('/db/status', { schema: { tags: ['vulnerabilities'], description: 'advisories per ecosystem, newest modified time, last update and import' } }, async () =>
    dbStatus(store));

  app.post('/db/import', {
    schema: {
      tags: ['vulnerabilities'],
      description: 'import one OSV JSON file or zip archive of them, sent as the raw request body (application/octet-stream or application/zip)',
      querystring: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^/\\\\\\x00-\\x1f]+$' })) }, { additionalProperties: false }),
    },
  }, async (request) => {
    const { name = 'upload' } = request.query as { name?: string };
    const declared = Number(request.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxImportBytes) throw tooLarge(maxImportBytes);
    const body = request.body as Readable | undefined;
    if (!body || declared === 0) {
      throw emptyBody();
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-import-'));
    const file = path.join(dir, 'upload');
    try {
      let received = 0;
      await pipeline(body, byteLimit(maxImportBytes, (n) => (received = n)), createWriteStream(file, { mode: 0o600 }));
      if (received === 0) {
        throw emptyBody();
      }
      const report = await importOsv(store, [file], { source: `upload ${name}`, clock: context.clock });
      // Warnings name the temporary file; the user knows the file by the name they sent.
      for (const w of report.warnings) w.file = w.file.replace(file, name);
      if (report.added.length + report.changed.length + report.unchanged === 0) {
        const first = report.warnings[0];
        throw new PalisadeError('vulndb.import.no_records', `${name} holds no OSV record${first ? `: ${first.message}` : ''}`, {
          kind: 'unprocessable',
          field: 'body',
          hint: 'send an OSV JSON file (one record or an array) or a zip archive of them, such as osv.dev all.zip',
        });
      }
      // As after a scheduled update: the stored inventories holding a changed package are re-matched,
      // without pulling images, one job per published database version still to re-match.
      await queuePendingRematches(store, context.jobs);
      await recordAction(store.db, {
        actor: actorOf(request),
        action: 'vulndb.import',
        target: report.runId,
        details: { name, bytes: received, added: report.added.length, changed: report.changed.length },
        at: context.clock.now(),
      });
      return report;
    } catch (error) {
      // A client that hung up mid-upload, or a body cut short: say so instead of a 500.
      if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as NodeJS.ErrnoException).code === 'ECONNRESET') {
        throw new PalisadeError('vulndb.import.incomplete', 'the upload ended before the whole file arrived', { field: 'body' });
      }
      throw error;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
