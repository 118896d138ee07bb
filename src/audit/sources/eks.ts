import type { AuditEvent } from '../event.js';
import { isObject } from './event.js';

/**
 * EKS sends control-plane audit logs to CloudWatch Logs (`/aws/eks/CLUSTER/cluster`, streams
 * `kube-apiserver-audit-*`). The message of each log event is the apiserver Event as a JSON string.
 * Exports come in a few wrappers, all handled here:
 * - a subscription delivery (Firehose/Lambda): `{ messageType: "DATA_MESSAGE", logGroup, logEvents: [{ message }] }`
 * - `aws logs filter-log-events` / `get-log-events` output: `{ events: [{ message, logStreamName }] }`
 * - Logs Insights / console JSON rows: `{ "@timestamp", "@message" }`
 * - S3 export lines: `2024-05-01T12:00:00.000Z {"kind":"Event",...}` (timestamp, space, message); see `splitTimestampPrefix`.
 */
export function eksClusterName(logGroup: unknown): string | undefined {
  if (typeof logGroup !== 'string') return undefined;
  return /^\/aws\/eks\/([^/]+)\/cluster$/.exec(logGroup)?.[1];
}

export interface EksMessages {
  messages: unknown[];
  cluster?: string;
}

/** The CloudWatch messages (strings or already-parsed objects) inside an EKS export wrapper, if it is one. */
export function eksMessages(value: Record<string, unknown>): EksMessages | undefined {
  if (typeof value.messageType === 'string' && (Array.isArray(value.logEvents) || value.messageType === 'CONTROL_MESSAGE')) {
    const events = Array.isArray(value.logEvents) ? value.logEvents : [];
    const cluster = eksClusterName(value.logGroup);
    return { messages: value.messageType === 'DATA_MESSAGE' ? events.map((e) => (isObject(e) ? e.message : e)) : [], ...(cluster ? { cluster } : {}) };
  }
  if (Array.isArray(value.events) && value.events.every((e) => isObject(e) && 'message' in e)) {
    return { messages: (value.events as Record<string, unknown>[]).map((e) => e.message) };
  }
  if ('@message' in value) {
    const cluster = eksClusterName(value['@log']) ?? eksClusterName(value.logGroup);
    return { messages: [value['@message']], ...(cluster ? { cluster } : {}) };
  }
  return undefined;
}

const PREFIX = /^(\d{4}-\d\d-\d\dT[\d:.]+Z?)\s+([{[].*)$/s;

/** Splits an S3-export line `TIMESTAMP {json}` into its JSON part; undefined if the line has no such prefix. */
export function splitTimestampPrefix(line: string): string | undefined {
  return PREFIX.exec(line)?.[2];
}

export type { AuditEvent };
