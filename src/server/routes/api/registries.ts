import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { connectRegistry, parseRegistryKind, REGISTRY_KINDS } from '../../../registry/index.js';
import { actorOf } from '../../auth.js';
import type { ServerContext } from '../../context.js';

/** Connecting a registry: returns its ingest token once and the webhook configuration to paste. */
export async function registryRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  app.post('/registries', {
    schema: {
      tags: ['registries'],
      body: Type.Object({
        name: Type.String({ maxLength: 64 }),
        url: Type.String({ maxLength: 512 }),
        kind: Type.Union(REGISTRY_KINDS.map((k) => Type.Literal(k))),
        username: Type.Optional(Type.String({ maxLength: 256 })),
        password: Type.Optional(Type.String({ maxLength: 4096 })),
        poll: Type.Optional(Type.Boolean()),
        /** Where the registry reaches this server, for the webhook snippet (`registry add --server-url`). */
        publicUrl: Type.Optional(Type.String({ maxLength: 512, pattern: '^https?://' })),
        /** Token realm hosts besides the registry's own that may receive its credentials. */
        tokenRealms: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 8 })),
        /** Where the login is exchanged: ACR's Azure AD authority, or the token endpoint for a Google service-account key. */
        authority: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
        /** Repositories to poll when the registry has no usable catalog. */
        repositories: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 255 }), { maxItems: 1000 })),
        /** Nexus: the webhook capability's Secret Key (generated when left out). */
        webhookSecret: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })),
      }, { additionalProperties: false }),
    },
  }, async (request, reply) => {
    const body = request.body as { name: string; url: string; kind: string; username?: string; password?: string; poll?: boolean; tokenRealms?: string[]; publicUrl?: string; authority?: string; repositories?: string[]; webhookSecret?: string };
    const connection = await connectRegistry(context.store, {
      name: body.name,
      url: body.url,
      kind: parseRegistryKind(body.kind),
      ...(body.username ? { login: { username: body.username, password: body.password ?? '' } } : {}),
      ...(body.tokenRealms ? { tokenRealms: body.tokenRealms } : {}),
      ...(body.authority ? { authority: body.authority } : {}),
      ...(body.repositories ? { repositories: body.repositories } : {}),
      ...(body.webhookSecret ? { webhookSecret: body.webhookSecret } : {}),
      poll: body.poll ?? false,
      secretKey: context.config.secretKey,
      publicUrl: body.publicUrl ?? context.config.publicUrl,
      actor: actorOf(request),
      clock: context.clock,
    });
    return reply.status(201).send(connection);
  });
}
