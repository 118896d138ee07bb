import type { Kysely } from 'kysely';

/**
 * What a node agent's heartbeat says about its own health (issue 17): which sensor collects host
 * events (eBPF through bpftrace, or the /proc + auditd fallback) and why eBPF is not running, and
 * the events it lost (kernel ring buffer, the agent's queue) or dropped (spool full or failing),
 * as of the heartbeat that reported them. Lost events are shown, never hidden.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('nodes')
    .addColumn('sensor', 'text')
    .addColumn('sensor_reason', 'text')
    .addColumn('lost_events', 'bigint')
    .addColumn('dropped_events', 'bigint')
    .addColumn('dropped_by_reason', 'jsonb')
    .addColumn('health_at', 'timestamptz')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('nodes')
    .dropColumn('sensor').dropColumn('sensor_reason').dropColumn('lost_events').dropColumn('dropped_events').dropColumn('dropped_by_reason').dropColumn('health_at')
    .execute();
}
