import { SCOPE_NAME_SOURCE } from '../../../core/index.js';
import type { FastifyRequest } from 'fastify';
import { Forbidden } from '../../errors.js';

/** A cluster's name where a request names one (query or path). */
export const CLUSTER_NAME = { type: 'string', pattern: `^${SCOPE_NAME_SOURCE}$` } as const;

/** `?cluster=NAME`: how an admin token names the cluster a batch belongs to. */
export const CLUSTER_QUERY = { type: 'object', properties: { cluster: CLUSTER_NAME } } as const;

/**
 * The cluster a batch is from: the one a cluster token's scope names, or for an admin token the
 * one `?cluster=` names. A cluster token naming another cluster is refused (403).
 */
export function batchCluster(request: FastifyRequest, what: string): string {
  const principal = request.principal;
  const named = (request.query as { cluster?: string }).cluster;
  const cluster = principal?.cluster ?? (principal?.isAdmin ? named : undefined);
  if (!cluster) throw new Forbidden(`${what} need a cluster token (scope cluster:NAME), or an admin token with ?cluster=NAME`);
  if (principal?.cluster && named && named !== principal.cluster) throw new Forbidden(`this token belongs to cluster ${principal.cluster}, not ${named}`);
  return cluster;
}
