import { query } from './api.js';
import { Link } from './router.js';

/** What an incident or an attack path names (contract of #18): a kind, the graph's id, a name. */
export interface Entity { kind: string; id: string; name: string }

/** The path after the kind in a graph id: `pod:prod/payments/pod/web-1` → `prod/payments/pod/web-1`. */
const pathOf = (id: string): string => id.slice(id.indexOf(':') + 1);
const DIGEST = /sha256:[0-9a-f]{64}/;

/**
 * The page that shows what else concerns an entity, when the dashboard has one: its alerts, the
 * image's findings, the node in the inventory, the images with a vulnerability. A user or a
 * service account has no page of its own, so it stays text rather than lead nowhere.
 */
export function entityLink(entity: Entity): string | undefined {
  const path = pathOf(entity.id).split('/');
  switch (entity.kind) {
    case 'cluster': return `/alerts${query({ cluster: entity.name })}`;
    case 'namespace': return `/alerts${query({ cluster: path[0], namespace: entity.name })}`;
    case 'pod':
    case 'workload': return `/alerts${query({ q: entity.name, namespace: path[1] })}`;
    // A container is named pod/container; its alerts are found by the pod's name.
    case 'container': return `/alerts${query({ q: entity.name.split('/')[0], namespace: path[1] })}`;
    case 'image': {
      const digest = DIGEST.exec(entity.id)?.[0] ?? DIGEST.exec(entity.name)?.[0];
      return digest ? `/images${query({ digest })}` : undefined;
    }
    case 'finding': {
      const vulnerability = /\b(CVE-\d{4}-\d+|GHSA(-[0-9a-z]{4}){3}|[A-Z]+-\d{4}-[\w-]+)\b/i.exec(entity.name)?.[0];
      return vulnerability ? `/images${query({ vulnerability })}` : undefined;
    }
    case 'node': return `/inventory${query({ node: entity.name })}`;
    default: return undefined;
  }
}

export function EntityName({ entity, label }: { entity: Entity; label?: string }) {
  const to = entityLink(entity);
  const text = entity.kind === 'image' && DIGEST.test(entity.name) ? `${entity.name.slice(0, 19)}…` : entity.name;
  return to ? <Link to={to} aria-label={label ?? `${entity.kind} ${entity.name}`}>{text}</Link> : <span title={entity.id}>{text}</span>;
}
