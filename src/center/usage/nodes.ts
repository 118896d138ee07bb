import type { Kysely } from 'kysely';
import { inTransaction, upsertListedNodes, type Database, type ListedNode } from '../../store/index.js';
import { meterCoreHour } from './meter.js';

/**
 * Records the nodes a cluster's API lists (store/nodes.ts keeps what only an agent knows) and
 * meters their cores for this hour, in one transaction.
 */
export async function recordListedNodes(db: Kysely<Database>, cluster: string, nodes: readonly ListedNode[], at: Date): Promise<void> {
  await inTransaction(db, async (tx) => {
    await upsertListedNodes(tx, cluster, nodes);
    for (const node of nodes) if (node.cores) await meterCoreHour(tx, cluster, node.name, node.cores, at);
  });
}
