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

const DIGEST = /sha256:[0-9a-f]{64}/;
/** The images page of an image reference that carries its digest; a tag alone names no one image. */
const imageLink = (reference: string): string | undefined => {
  const digest = DIGEST.exec(reference)?.[0];
  return digest ? `/images${query({ digest })}` : undefined;
};

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
  // An image named by digest (a kubelet imageID, a pinned reference) has its findings on the images page.
  if (name === 'image' || name === 'imageID') return imageLink(value);
  if (name === 'node' || name === 'nodeName') return `/inventory${query({ node: value })}`;
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

interface HostProcess { pid?: number; name?: string; exe?: string; argv?: string[]; uid?: number }
interface HostEvidence {
  node: string;
  container?: { id: string; name?: string; image?: string; runtime?: string; pod?: string; namespace?: string };
  pod?: { name: string; namespace?: string; uid?: string };
  process?: HostProcess;
  processTree: HostProcess[];
  event?: { kind?: string; at?: string };
}

/** A node agent's evidence: the node, the process with its ancestors, and the container and pod it ran in. */
function isHostEvidence(value: unknown): value is HostEvidence {
  const v = value as Partial<HostEvidence> | null;
  return Boolean(v && typeof v === 'object' && typeof v.node === 'string' && Array.isArray(v.processTree));
}

const commandLine = (p: HostProcess): string => (p.argv?.length ? p.argv.join(' ') : p.exe ?? p.name ?? '');
const processLabel = (p: HostProcess): string => `${p.name ?? p.exe ?? 'process'}${p.pid !== undefined ? ` (pid ${p.pid})` : ''}`;

/**
 * What a person asks first about a process alert, answered in words before the field table: which
 * process (command line, user, its parents), in which container, pod and node, each linked to
 * what else concerns it: the container's and the pod's alerts, the node in the inventory.
 */
function HostSummary({ evidence, index }: { evidence: HostEvidence; index: number }) {
  const { node, container, pod, process, processTree } = evidence;
  const namespace = pod?.namespace ?? container?.namespace;
  const ancestors = processTree.slice(process ? 1 : 0);
  return (
    <table aria-label={`Host evidence ${index + 1}`} className="host-evidence">
      <tbody>
        {process ? (
          <tr><th scope="row">Process</th><td className="wrap"><code>{commandLine(process)}</code><div className="muted">{processLabel(process)}{process.exe && process.exe !== commandLine(process) ? `, executable ${process.exe}` : ''}{process.uid !== undefined ? `, user id ${process.uid}${process.uid === 0 ? ' (root)' : ''}` : ''}</div></td></tr>
        ) : null}
        {ancestors.length ? (
          <tr><th scope="row">Started by</th><td className="wrap">
            <ol className="ancestors">{ancestors.map((p, i) => <li key={i}>{processLabel(p)}{p.argv?.length ? <>: <code>{commandLine(p)}</code></> : null}</li>)}</ol>
          </td></tr>
        ) : null}
        {container ? (
          <tr><th scope="row">Container</th><td className="wrap">
            <Link to={`/alerts${query({ resource: container.id })}`} aria-label={`alerts on container ${container.name ?? container.id.slice(0, 12)}`}>{container.name ?? container.id.slice(0, 12)}</Link>
            <span className="muted"> id {container.id.slice(0, 12)}{container.runtime ? `, ${container.runtime}` : ''}</span>
            {container.image ? <div>image {imageLink(container.image) ? <Link to={imageLink(container.image)!} aria-label={`findings of image ${container.image}`}>{container.image}</Link> : container.image}</div> : null}
          </td></tr>
        ) : null}
        {pod ? (
          <tr><th scope="row">Pod</th><td><Link to={`/alerts${query({ q: pod.name, namespace })}`} aria-label={`alerts on pod ${pod.name}`}>{pod.name}</Link>{namespace ? <> in namespace <Link to={`/alerts${query({ namespace })}`}>{namespace}</Link></> : null}</td></tr>
        ) : null}
        <tr><th scope="row">Node</th><td><Link to={`/inventory${query({ node })}`} aria-label={`node ${node} in the inventory`}>{node}</Link></td></tr>
        {evidence.event?.kind ? <tr><th scope="row">Event</th><td>{evidence.event.kind}{evidence.event.at ? <> at <time dateTime={evidence.event.at}>{new Date(evidence.event.at).toLocaleString()}</time></> : null}</td></tr> : null}
      </tbody>
    </table>
  );
}

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
  const fields = (
    <table aria-label={`Evidence event ${index + 1}`}>
      <thead><tr><th scope="col">Field</th><th scope="col">Value</th></tr></thead>
      <tbody>
        {rows.map(([path, value]) => (
          <tr key={path}><th scope="row"><code>{path || '(value)'}</code></th><td className="wrap">{cell(path, value)}</td></tr>
        ))}
      </tbody>
    </table>
  );
  // A node agent's record repeats the process and container at several depths: the summary
  // says what matters, the field table is one click away.
  const host = isHostEvidence(event);
  return (
    <figure className="evidence">
      {host ? <HostSummary evidence={event} index={index} /> : null}
      {host ? <details><summary>Every recorded field ({rows.length})</summary>{fields}</details> : fields}
      {rows.length >= MAX_ROWS ? <figcaption className="muted">First {MAX_ROWS} fields; the raw record below holds all of them.</figcaption> : null}
      <details>
        <summary>Raw record (JSON)</summary>
        <pre tabIndex={0} aria-label={`Evidence event ${index + 1} as JSON`}>{JSON.stringify(event, null, 2)}</pre>
      </details>
    </figure>
  );
}
