import { PalisadeError } from '../../core/index.js';
import type { AuditEvent } from '../event.js';
import { isObject, normalizeEvent } from './event.js';

/**
 * AKS diagnostic settings export audit events as Azure resource-log records:
 * `{ records: [{ category: "kube-audit" | "kube-audit-admin", resourceId, properties: { log } }] }`
 * where `log` is the Event either as a JSON string (kube-audit) or as an embedded object
 * (seen with kube-audit-admin). Records of other categories (kube-apiserver, guard, ...) are skipped.
 */
export const AKS_AUDIT_CATEGORIES = new Set(['kube-audit', 'kube-audit-admin']);

export function isAksRecord(value: Record<string, unknown>): boolean {
  return typeof value.category === 'string' && isObject(value.properties);
}

/** Cluster name from `/SUBSCRIPTIONS/…/MANAGEDCLUSTERS/NAME` (Azure upper-cases ids; names are lower case). */
export function aksClusterName(resourceId: unknown): string | undefined {
  if (typeof resourceId !== 'string') return undefined;
  const match = /\/managedclusters\/([^/]+)/i.exec(resourceId);
  return match?.[1]?.toLowerCase();
}

/** Returns undefined for records of a category that holds no audit events. */
export function aksRecordToEvent(record: Record<string, unknown>, cluster?: string): AuditEvent | undefined {
  if (!AKS_AUDIT_CATEGORIES.has(record.category as string)) return undefined;
  const properties = record.properties as Record<string, unknown>;
  let log = properties.log;
  if (typeof log === 'string') {
    try {
      log = JSON.parse(log);
    } catch (error) {
      throw new PalisadeError('audit.invalid-json', `AKS record properties.log is not JSON: ${(error as Error).message}`, { field: 'properties.log', cause: error });
    }
  }
  if (!isObject(log)) throw new PalisadeError('audit.missing-field', 'AKS record has no properties.log event', { field: 'properties.log' });
  return normalizeEvent(log, cluster ?? aksClusterName(record.resourceId));
}
