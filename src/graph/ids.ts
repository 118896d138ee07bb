const DIGEST = /(sha256:[0-9a-f]{64})$/;

/**
 * Identity ids: `kind:` then the path that makes it unique. Workload and pod paths match the ids
 * audit alerts already carry (`CLUSTER/NS/deployment/web`, `CLUSTER/NS/pod/web-1`), so an alert's
 * resource id maps to its identity without a lookup. Images are global: a digest is the same
 * image in every cluster and registry.
 */
export const nodeId = {
  cluster: (cluster: string) => `cluster:${cluster}`,
  namespace: (cluster: string, ns: string) => `namespace:${cluster}/${ns}`,
  workload: (cluster: string, ns: string, kind: string, name: string) => `workload:${cluster}/${ns}/${kind.toLowerCase()}/${name}`,
  pod: (cluster: string, ns: string, name: string) => `pod:${cluster}/${ns}/pod/${name}`,
  container: (cluster: string, ns: string, pod: string, name: string) => `container:${cluster}/${ns}/${pod}/${name}`,
  image: (digest: string) => `image:${digest}`,
  serviceAccount: (cluster: string, ns: string, name: string) => `serviceaccount:${cluster}/${ns}/${name}`,
  role: (cluster: string, ns: string, name: string) => `role:${cluster}/${ns}/${name}`,
  clusterRole: (cluster: string, name: string) => `clusterrole:${cluster}/${name}`,
  roleBinding: (cluster: string, ns: string, name: string) => `rolebinding:${cluster}/${ns}/${name}`,
  clusterRoleBinding: (cluster: string, name: string) => `clusterrolebinding:${cluster}/${name}`,
  service: (cluster: string, ns: string, name: string) => `service:${cluster}/${ns}/${name}`,
  ingress: (cluster: string, ns: string, name: string) => `ingress:${cluster}/${ns}/${name}`,
  node: (cluster: string, name: string) => `node:${cluster}/${name}`,
};

/** Namespaced API kinds the graph keeps under an id of their own, not as a workload. */
const NAMESPACED_IDENTITY: Record<string, (cluster: string, ns: string, name: string) => string> = {
  pod: nodeId.pod, service: nodeId.service, serviceaccount: nodeId.serviceAccount, role: nodeId.role,
  rolebinding: nodeId.roleBinding, ingress: nodeId.ingress,
};
const CLUSTER_IDENTITY: Record<string, (cluster: string, name: string) => string> = {
  clusterrole: nodeId.clusterRole, clusterrolebinding: nodeId.clusterRoleBinding, node: nodeId.node, namespace: nodeId.namespace,
};

/**
 * The graph identity a recommendation's or alert's resource names, where the graph keeps one:
 * posture and audit ids are `CLUSTER/NAMESPACE/kind/name` (`-` for a cluster-scoped object), an
 * audit namespace `CLUSTER/NAMESPACE`, an image id ends in its manifest digest. Registries and
 * repositories are not graph identities, and a container named only by its runtime id needs the
 * alias lookup the incident assignment does, so those answer undefined.
 */
export function identityOfResource(ref: { kind: string; id: string }): string | undefined {
  if (ref.kind === 'cluster') return nodeId.cluster(ref.id);
  if (ref.kind === 'image') {
    const digest = DIGEST.exec(ref.id)?.[1];
    return digest ? nodeId.image(digest) : undefined;
  }
  const parts = ref.id.split('/');
  if (ref.kind === 'namespace' && parts.length === 2) return nodeId.namespace(parts[0]!, parts[1]!);
  if (parts.length !== 4 || parts.some((p) => p === '')) return undefined;
  const [cluster, ns, kind, name] = parts as [string, string, string, string];
  if (cluster === '-') return undefined;
  if (ns === '-') return CLUSTER_IDENTITY[kind]?.(cluster, name);
  const own = NAMESPACED_IDENTITY[kind];
  if (own) return own(cluster, ns, name);
  return ref.kind === 'workload' ? nodeId.workload(cluster, ns, kind, name) : undefined;
}

export const aliasOf = {
  containerId: (cluster: string, id: string) => `containerid:${cluster}/${id}`,
  podUid: (cluster: string, uid: string) => `poduid:${cluster}/${uid}`,
};

/** The kind part of an id. */
export function kindOfId(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

/** The manifest digest an image reference or a kubelet imageID names, if it names one. */
export function digestOf(reference: string | undefined): string | undefined {
  if (!reference || !reference.includes('@')) return undefined;
  return DIGEST.exec(reference)?.[1];
}

/** Strips `containerd://`, `cri-o://`, `docker://` from a kubelet containerID. */
export function bareContainerId(id: string): string {
  const i = id.indexOf('://');
  return i >= 0 ? id.slice(i + 3) : id;
}
