import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPalisadeError, PalisadeError } from '../../../core/index.js';
import { CYCLONEDX_MEDIA_TYPE, HARBOR_MEDIA_TYPES, harborScanner, harborScannerMetadata, harborSpdxReport, SBOM_REPORT_TYPE, SPDX_MEDIA_TYPE, type HarborCaller, type HarborSbomReport, type HarborScanInput } from '../../../registry/index.js';
import type { ServerContext } from '../../context.js';

/** Harbor registers the scanner as `https://PALISADE/harbor`, then calls `/api/v1/...` under it. */
export const HARBOR_PREFIX = '/harbor';

const ScanRequestBody = Type.Object({
  registry: Type.Object({ url: Type.String({ maxLength: 2048 }), authorization: Type.Optional(Type.String({ maxLength: 16_384 })) }),
  artifact: Type.Object({
    repository: Type.String({ maxLength: 255 }),
    digest: Type.String({ maxLength: 200 }),
    tag: Type.Optional(Type.String({ maxLength: 128 })),
    mime_type: Type.Optional(Type.String({ maxLength: 200 })),
  }),
  enabled_capabilities: Type.Optional(Type.Array(Type.Object({ type: Type.String({ maxLength: 64 }) }), { maxItems: 16 })),
});

/**
 * Harbor's pluggable scanner adapter API (goharbor/pluggable-scanner-spec; the document is vendored
 * in src/registry/harbor/spec). Called by Harbor with the token of a registry connected with kind
 * `harbor` (Harbor's scanner registration: authorization "Bearer", the token as credential). Errors
 * leave in the spec's `ErrorResponse` shape and media type, with Palisade's `{ code, message }` beside it.
 */
export async function harborAdapterRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const scanner = harborScanner({ store: context.store, clock: context.clock, ...(context.logger ? { logger: context.logger } : {}) });
  app.addHook('onClose', () => scanner.close());

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const status = isPalisadeError(error) ? error.status : (error as FastifyError).validation ? 400 : ((error as FastifyError).statusCode ?? 500);
    const code = isPalisadeError(error) ? error.code : (error as FastifyError).validation ? 'invalid_request' : ((error as FastifyError).code ?? 'error').toLowerCase();
    if (status >= 500 && !isPalisadeError(error)) request.log.error({ err: error }, 'harbor adapter request failed');
    const message = isPalisadeError(error) ? error.toLine() : status >= 500 ? 'internal error; see the server log' : error.message;
    return sendAs(reply, status, HARBOR_MEDIA_TYPES.error, { code, message, error: { message } });
  });

  app.get('/api/v1/metadata', { config: { auth: 'registry' }, schema: { tags: ['harbor'] } }, async (request, reply) => {
    await harborCaller(context, request);
    // Harbor 2.x asks for 1.1 (capability types); an older Harbor that names only 1.0 gets 1.0.
    const accept = request.headers.accept ?? '';
    const version = /version=1\.0/.test(accept) && !/version=1\.1/.test(accept) ? '1.0' : '1.1';
    return sendAs(reply, 200, HARBOR_MEDIA_TYPES.metadata(version), await harborScannerMetadata(context.store, version));
  });

  app.post('/api/v1/scan', { config: { auth: 'registry' }, schema: { tags: ['harbor'], body: ScanRequestBody } }, async (request, reply) => {
    const caller = await harborCaller(context, request);
    const capabilities = (request.body as { enabled_capabilities?: Array<{ type: string }> }).enabled_capabilities;
    const unknown = capabilities?.find((c) => c.type !== 'vulnerability' && c.type !== 'sbom');
    if (unknown) {
      throw new PalisadeError('harbor.scan.capability', `enabled_capabilities: Palisade has no '${unknown.type.slice(0, 40)}' capability (vulnerability and sbom)`, { kind: 'unprocessable', field: 'enabled_capabilities' });
    }
    const id = await scanner.accept(caller, request.body as HarborScanInput);
    return sendAs(reply, 202, HARBOR_MEDIA_TYPES.scanResponse, { id });
  });

  app.get('/api/v1/scan/:id/report', {
    config: { auth: 'registry' },
    schema: { tags: ['harbor'], params: Type.Object({ id: Type.String({ maxLength: 64 }) }), querystring: Type.Object({ sbom_media_type: Type.Optional(Type.String({ maxLength: 200 })) }) },
  }, async (request, reply) => {
    const caller = await harborCaller(context, request);
    const sbomType = (request.query as { sbom_media_type?: string }).sbom_media_type;
    if (sbomType !== undefined && sbomType !== CYCLONEDX_MEDIA_TYPE && sbomType !== SPDX_MEDIA_TYPE) {
      throw new PalisadeError('harbor.report.sbom', `sbom_media_type ${JSON.stringify(sbomType.slice(0, 80))} is not produced: Palisade's SBOMs are ${CYCLONEDX_MEDIA_TYPE} and ${SPDX_MEDIA_TYPE}`, { field: 'sbom_media_type' });
    }
    // Harbor asks for an SBOM with ?sbom_media_type=; otherwise the vulnerability report, as Accept names it.
    const mediaType = sbomType ? SBOM_REPORT_TYPE : reportMediaType(request.headers.accept);
    const state = await scanner.report(caller, (request.params as { id: string }).id, sbomType ? 'sbom' : 'vulnerability');
    if (!state) return sendAs(reply, 404, HARBOR_MEDIA_TYPES.error, { code: 'not_found', message: 'no scan request with this id', error: { message: 'no scan request with this id' } });
    if (state.state === 'pending') return reply.status(302).header('Refresh-After', String(state.refreshAfterSeconds)).send();
    // The spec's way to end Harbor's polling of a scan that failed: 500 with the reason.
    if (state.state === 'failed') return sendAs(reply, 500, HARBOR_MEDIA_TYPES.error, { code: 'harbor.scan.failed', message: state.message, error: { message: state.message } });
    // SPDX is written from the stored CycloneDX SBOM: one inventory, two notations.
    const report = sbomType === SPDX_MEDIA_TYPE ? harborSpdxReport(state.report as HarborSbomReport) : state.report;
    return sendAs(reply, 200, mediaType, report);
  });
}

/**
 * Sends JSON under exactly the spec's media type. Fastify would rewrite a `+json` type it
 * serializes (quoting `version="1.1"`, adding `charset=utf-8`); a Buffer is sent as typed.
 */
function sendAs(reply: FastifyReply, status: number, mediaType: string, body: unknown): FastifyReply {
  return reply.status(status).header('content-type', mediaType).send(Buffer.from(JSON.stringify(body)));
}

/** The two report media types carry the same document; anything else asked for is refused by name. */
function reportMediaType(accept: string | undefined): string {
  if (!accept || /\*\/\*/.test(accept)) return HARBOR_MEDIA_TYPES.securityReport;
  const asked = accept.split(',').map((part) => part.trim().replace(/\s*;\s*/g, '; '));
  for (const type of asked) {
    if (type.startsWith('application/vnd.security.vulnerability.report') && /version=1\.1/.test(type)) return HARBOR_MEDIA_TYPES.securityReport;
    if (type.startsWith('application/vnd.scanner.adapter.vuln.report.harbor+json') && /version=1\.0/.test(type)) return HARBOR_MEDIA_TYPES.harborReport;
  }
  throw new PalisadeError('harbor.report.media_type', `cannot produce a report as ${JSON.stringify(accept.slice(0, 120))}`, {
    field: 'Accept',
    hint: `ask for ${HARBOR_MEDIA_TYPES.securityReport} or ${HARBOR_MEDIA_TYPES.harborReport}`,
  });
}

/** A `registry:NAME` token of a registry connected with kind harbor, or an admin token. */
async function harborCaller(context: ServerContext, request: FastifyRequest): Promise<HarborCaller> {
  const principal = request.principal!;
  if (principal.isAdmin) return { isAdmin: true };
  const name = principal.registry!;
  const registry = await context.store.db.selectFrom('registries').select('kind').where('name', '=', name).executeTakeFirst();
  if (registry?.kind !== 'harbor') {
    throw new PalisadeError('harbor.token', `the token of registry ${name} cannot call the Harbor scanner adapter: ${registry ? `${name} is connected with kind ${registry.kind}` : `${name} is not connected`}`, {
      kind: 'forbidden', hint: 'register the scanner in Harbor with the token of a registry connected with kind harbor',
    });
  }
  return { registry: name, isAdmin: false };
}
