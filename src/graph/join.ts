/**
 * Which alerts make one incident. Alerts are joined when the resources they concern are connected
 * in the identity graph and they happened within a window of each other:
 * - the same resource (the same rule or another one),
 * - the same container, or a container and its pod,
 * - the same pod, or a pod and the workload that owns it (owner chain to the top: a Deployment
 *   owns its ReplicaSet's pods),
 * - an image alert (a vulnerable digest) joins every incident whose containers run that digest. A
 *   vulnerable image is a standing condition, so it joins whatever the time; and it never bridges
 *   two incidents: two unrelated pods running one image stay two incidents.
 * Pure: the caller resolves each alert's identities from the graph.
 */

export interface JoinAlert {
  id: string;
  title: string;
  resource: { kind: string; id: string; name: string };
  firstSeen: Date;
  lastSeen: Date;
}

/** What an alert concerns, resolved through the graph. */
export interface AlertIdentity {
  pod?: { id: string; name: string };
  /** The topmost owner of the pod (or the workload the alert names). */
  owner?: { id: string; name: string };
  containers: { id: string; name: string }[];
  /** Image digests the alert's containers run (or the image an image alert names). */
  images: string[];
}

export interface JoinedGroup {
  /** The earliest alert that is not about an image alone: stable while the incident grows. */
  anchor: string;
  alerts: { id: string; joinedBecause: string }[];
}

export const DEFAULT_INCIDENT_WINDOW_MS = 24 * 60 * 60 * 1000;

const isImageAlert = (a: JoinAlert) => a.resource.kind === 'image';
const shortDigest = (digest: string) => digest.slice(0, 19);

export function joinAlerts(alerts: readonly JoinAlert[], identities: ReadonlyMap<string, AlertIdentity>, windowMs = DEFAULT_INCIDENT_WINDOW_MS): JoinedGroup[] {
  const byTime = [...alerts].sort((a, b) => a.firstSeen.getTime() - b.firstSeen.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const parent = new Map<string, string>();
  const find = (id: string): string => {
    let root = id;
    while (parent.get(root) !== root) root = parent.get(root)!;
    parent.set(id, root);
    return root;
  };
  // The earlier alert stays root, so a group's root is its earliest alert.
  const union = (earlier: string, later: string) => {
    const a = find(earlier);
    const b = find(later);
    if (a === b) return;
    const [keep, drop] = order.get(a)! <= order.get(b)! ? [a, b] : [b, a];
    parent.set(drop, keep);
  };
  const order = new Map(byTime.map((a, i) => [a.id, i]));
  const reason = new Map<string, string>();
  const latest = new Map<string, { alert: JoinAlert; lastSeen: number }>();
  const empty: AlertIdentity = { containers: [], images: [] };

  for (const alert of byTime.filter((a) => !isImageAlert(a))) {
    parent.set(alert.id, alert.id);
    const id = identities.get(alert.id) ?? empty;
    const keys: { key: string; why: (other: JoinAlert) => string }[] = [
      { key: `resource:${alert.resource.id}`, why: (o) => `same ${alert.resource.kind} ${alert.resource.name} as "${o.title}"` },
      ...id.containers.map((c) => ({ key: `container:${c.id}`, why: (o: JoinAlert) => `same container ${c.name} as "${o.title}"` })),
      ...(id.pod ? [{ key: `pod:${id.pod.id}`, why: (o: JoinAlert) => (alert.resource.kind === 'container' || o.resource.kind === 'container'
        ? `container of pod ${id.pod!.name}, where "${o.title}" was raised`
        : `same pod ${id.pod!.name} as "${o.title}"`) }] : []),
      ...(id.owner ? [{ key: `owner:${id.owner.id}`, why: (o: JoinAlert) => `${id.pod ? `pod ${id.pod.name} is owned by ${id.owner!.name}` : `same workload ${id.owner!.name}`}, as in "${o.title}"` }] : []),
    ];
    for (const { key, why } of keys) {
      const seen = latest.get(key);
      if (seen && alert.firstSeen.getTime() - seen.lastSeen <= windowMs) {
        if (!reason.has(alert.id)) reason.set(alert.id, why(seen.alert));
        union(seen.alert.id, alert.id);
      }
    }
    for (const { key } of keys) {
      const seen = latest.get(key);
      latest.set(key, { alert, lastSeen: Math.max(seen?.lastSeen ?? 0, alert.lastSeen.getTime()) });
    }
  }

  const groups = new Map<string, JoinedGroup>();
  for (const alert of byTime.filter((a) => !isImageAlert(a))) {
    const root = find(alert.id);
    const group = groups.get(root) ?? { anchor: root, alerts: [] };
    group.alerts.push({ id: alert.id, joinedBecause: reason.get(alert.id) ?? 'first alert of the incident' });
    groups.set(root, group);
  }

  // Images join the incidents whose containers run them; those that join none group by image.
  const runtimeGroups = [...groups.values()];
  const imageOnly = new Map<string, { lastSeen: number; group: JoinedGroup; title: string }>();
  for (const alert of byTime.filter(isImageAlert)) {
    const digests = identities.get(alert.id)?.images ?? [];
    let joined = false;
    for (const group of runtimeGroups) {
      const runner = group.alerts.map((a) => identities.get(a.id)).find((i) => i?.images.some((d) => digests.includes(d)));
      if (!runner) continue;
      const digest = digests.find((d) => runner.images.includes(d))!;
      group.alerts.push({ id: alert.id, joinedBecause: `image ${shortDigest(digest)}… runs in ${runner.pod ? `pod ${runner.pod.name}` : 'its containers'}` });
      joined = true;
    }
    if (joined) continue;
    const seen = imageOnly.get(alert.resource.id);
    if (seen && alert.firstSeen.getTime() - seen.lastSeen <= windowMs) {
      seen.group.alerts.push({ id: alert.id, joinedBecause: `same image ${alert.resource.name} as "${seen.title}"` });
      seen.lastSeen = Math.max(seen.lastSeen, alert.lastSeen.getTime());
    } else {
      const group = { anchor: alert.id, alerts: [{ id: alert.id, joinedBecause: 'first alert of the incident' }] };
      groups.set(alert.id, group);
      imageOnly.set(alert.resource.id, { lastSeen: alert.lastSeen.getTime(), group, title: alert.title });
    }
  }
  return [...groups.values()];
}
