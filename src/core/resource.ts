/** What an alert, finding or recommendation is about. */
export const RESOURCE_KINDS = [
  'cluster', 'node', 'namespace', 'workload', 'pod', 'container', 'registry', 'repository', 'image',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export interface ResourceRef {
  kind: ResourceKind;
  /** Stable identity within its kind, e.g. `prod/default/deployment/web` or an image digest. */
  id: string;
  name: string;
  cluster?: string;
  namespace?: string;
  /**
   * The resource graph's id for it (`workload:prod/shop/deployment/web`, `image:sha256:…`), where
   * the graph keeps one: what joins a recommendation to the alerts, incidents and attack paths on
   * the same resource. Added when the center reads a recommendation, not stored with it.
   */
  identity?: string;
}
