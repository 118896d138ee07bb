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

export const aliasOf = {
  containerId: (cluster: string, id: string) => `containerid:${cluster}/${id}`,
  podUid: (cluster: string, uid: string) => `poduid:${cluster}/${uid}`,
};

/** The kind part of an id. */
export function kindOfId(id: string): string {
  return id.slice(0, id.indexOf(':'));
}

const DIGEST = /(sha256:[0-9a-f]{64})$/;

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
