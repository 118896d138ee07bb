import type { ReactNode } from 'react';
import { query } from './api.js';
import { Link } from './router.js';

/**
 * Alert evidence (an audit event, a host event, a registry event) as a table a person can read:
 * one row per field, nested objects flattened to dotted paths, and the values that name a
 * resource (pod, namespace, node) linked to the page that lists what else concerns it.
 * Raw JSON stays one click away for whoever needs the exact record.
 */
const MAX_ROWS = 80;
const MAX_DEPTH = 5;

type Row = [path: string, value: string];

function flatten(value: unknown, prefix: string, rows: Row[], depth: number): void {
  if (rows.length >= MAX_ROWS) return;
  if (value === null || value === undefined) return;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      if (value.length) rows.push([prefix, value.map(String).join(', ')]);
      return;
    }
    value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, rows, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    if (depth >= MAX_DEPTH) {
      rows.push([prefix, JSON.stringify(value)]);
      return;
    }
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${key}` : key, rows, depth + 1);
    return;
  }
  rows.push([prefix, String(value)]);
}

/** The last segment of a path, without an array index: `requestObject.spec.containers[0].image` → `image`. */
const leaf = (path: string): string => path.split('.').pop()!.replace(/\[\d+\]$/, '');

/**
 * Where a value that names a resource leads: the alerts on the same namespace or pod, the
 * inventory that lists the node. Values with no page of their own (users, images by reference)
 * stay plain text rather than link to a page that would not show them.
 */
function linkFor(path: string, value: string, event: Record<string, unknown>): string | undefined {
  const name = leaf(path);
  if (name === 'namespace') return `/alerts${query({ namespace: value })}`;
  if (name === 'node' || name === 'nodeName') return '/inventory';
  if (path === 'pod.name') {
    // A node agent's evidence: { node, container, pod: { name, namespace }, process, processTree, event }.
    const pod = event.pod as { namespace?: string } | undefined;
    return `/alerts${query({ q: value, namespace: pod?.namespace })}`;
  }
  if (path === 'objectRef.name' || name === 'pod' || name === 'podName') {
    const ref = event.objectRef as { namespace?: string } | undefined;
    return `/alerts${query({ q: value, namespace: ref?.namespace ?? (typeof event.namespace === 'string' ? event.namespace : undefined) })}`;
  }
  return undefined;
}

/** The fields people look at first, in the order they read them, when the event has them. */
const HEADLINE = [
  'user.username', 'verb', 'objectRef.resource', 'objectRef.namespace', 'objectRef.name', 'sourceIPs', 'userAgent', 'responseStatus.code',
  'requestReceivedTimestamp', 'node', 'pod.name', 'pod.namespace', 'container.name', 'container.image', 'process.exe', 'process.cmdline', 'process.uid',
];

export function EvidenceTable({ event, index }: { event: unknown; index: number }) {
  const rows: Row[] = [];
  flatten(event, '', rows, 0);
  const order = (path: string) => {
    const i = HEADLINE.indexOf(path);
    return i < 0 ? HEADLINE.length : i;
  };
  rows.sort((a, b) => order(a[0]) - order(b[0]));
  const record = (event && typeof event === 'object' ? event : {}) as Record<string, unknown>;
  const cell = (path: string, value: string): ReactNode => {
    const to = linkFor(path, value, record);
    return to ? <Link to={to}>{value}</Link> : value;
  };
  return (
    <figure className="evidence">
      <table aria-label={`Evidence event ${index + 1}`}>
        <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
        <tbody>
          {rows.map(([path, value]) => (
            <tr key={path}><th scope="row"><code>{path || '(value)'}</code></th><td className="wrap">{cell(path, value)}</td></tr>
          ))}
        </tbody>
      </table>
      {rows.length >= MAX_ROWS ? <figcaption className="muted">First {MAX_ROWS} fields; the raw record below holds all of them.</figcaption> : null}
      <details>
        <summary>Raw record (JSON)</summary>
        <pre tabIndex={0} aria-label={`Evidence event ${index + 1} as JSON`}>{JSON.stringify(event, null, 2)}</pre>
      </details>
    </figure>
  );
}
