/**
 * Which container a process belongs to, from /proc/PID/cgroup, and — when the node offers it —
 * the pod, namespace and image from the kubelet or the CRI. Without either, the container id
 * alone identifies the container in alerts.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import type { ContainerRef } from './events.js';

const HEX64 = /^[0-9a-f]{64}$/;
/** A cgroup segment naming a container: optional runtime prefix, 64 hex, optional .scope. */
const SEGMENT = /^(?:(cri-containerd|crio|docker|libpod|containerd)-)?([0-9a-f]{64})(?:\.scope)?$/;
const POD_SEGMENT = /(?:^|-)pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
/** runc run NAME without a cgroupsPath puts the container at /NAME (see TESTING.md). */
const BARE_RUNC = /^\/([A-Za-z0-9][A-Za-z0-9_.-]{0,127})$/;
const NOT_CONTAINER_UNIT = /\.(slice|scope|service|mount|socket)$/;

const RUNTIME_BY_PREFIX: Record<string, ContainerRef['runtime']> = {
  'cri-containerd': 'containerd',
  containerd: 'containerd',
  crio: 'cri-o',
  docker: 'docker',
  libpod: 'podman',
};

/** The container a cgroup file places a process in, or undefined for host processes. */
export function containerFromCgroup(text: string): ContainerRef | undefined {
  let bare: string | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    // hierarchy-id:controllers:path — the path may itself contain ':'.
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const path = line.slice(second + 1);
    const found = containerFromPath(path);
    if (found) return found;
    const runc = BARE_RUNC.exec(path);
    if (runc && !NOT_CONTAINER_UNIT.test(runc[1]!) && bare === undefined) bare = runc[1]!;
  }
  return bare === undefined ? undefined : { id: bare, runtime: 'runc' };
}

function containerFromPath(path: string): ContainerRef | undefined {
  const segments = path.split('/');
  let podUid: string | undefined;
  for (let i = segments.length - 1; i >= 0; i--) {
    const segment = segments[i]!;
    const match = SEGMENT.exec(segment);
    if (!match) continue;
    for (const s of segments) {
      const pod = POD_SEGMENT.exec(s);
      if (pod) podUid = pod[1]!.replaceAll('_', '-');
    }
    const prefix = match[1];
    const parent = segments[i - 1] ?? '';
    const runtime: ContainerRef['runtime'] = prefix ? RUNTIME_BY_PREFIX[prefix]!
      : parent === 'docker' ? 'docker'
      : 'unknown';
    return { id: match[2]!, runtime, ...(podUid ? { podUid } : {}) };
  }
  return undefined;
}

/** Pod-level facts about a container, from the kubelet or the CRI. */
export type ContainerMetadata = Pick<ContainerRef, 'name' | 'pod' | 'namespace' | 'podUid' | 'image'>;

export interface ContainerMetadataSource {
  /** Refreshes the table; cheap to call every interval (it rate-limits itself). */
  refresh(): Promise<void>;
  lookup(id: string): ContainerMetadata | undefined;
}

/** Strips `containerd://`, `cri-o://`, `docker://` from a kubelet containerID. */
function bareId(id: string): string {
  const i = id.indexOf('://');
  return i >= 0 ? id.slice(i + 3) : id;
}

interface KubeletPodList {
  items?: {
    metadata?: { name?: string; namespace?: string; uid?: string };
    status?: { containerStatuses?: KubeletStatus[]; initContainerStatuses?: KubeletStatus[]; ephemeralContainerStatuses?: KubeletStatus[] };
  }[];
}
interface KubeletStatus { name?: string; containerID?: string; image?: string; imageID?: string }

/** The kubelet's `/pods` answer (a PodList) as container id → metadata. */
export function parseKubeletPods(json: unknown): Map<string, ContainerMetadata> {
  const table = new Map<string, ContainerMetadata>();
  for (const pod of (json as KubeletPodList).items ?? []) {
    const statuses = [...pod.status?.containerStatuses ?? [], ...pod.status?.initContainerStatuses ?? [], ...pod.status?.ephemeralContainerStatuses ?? []];
    for (const status of statuses) {
      if (!status.containerID) continue;
      table.set(bareId(status.containerID), {
        ...(status.name ? { name: status.name } : {}),
        ...(pod.metadata?.name ? { pod: pod.metadata.name } : {}),
        ...(pod.metadata?.namespace ? { namespace: pod.metadata.namespace } : {}),
        ...(pod.metadata?.uid ? { podUid: pod.metadata.uid } : {}),
        ...(status.image ? { image: status.image } : {}),
      });
    }
  }
  return table;
}

interface CrictlPs { containers?: { id?: string; metadata?: { name?: string }; image?: { image?: string }; imageRef?: string; labels?: Record<string, string> }[] }

/** `crictl ps -a -o json` as container id → metadata (pod facts come from the kubelet's CRI labels). */
export function parseCrictlPs(json: unknown): Map<string, ContainerMetadata> {
  const table = new Map<string, ContainerMetadata>();
  for (const c of (json as CrictlPs).containers ?? []) {
    if (!c.id) continue;
    const labels = c.labels ?? {};
    const pod = labels['io.kubernetes.pod.name'];
    const namespace = labels['io.kubernetes.pod.namespace'];
    const podUid = labels['io.kubernetes.pod.uid'];
    const name = c.metadata?.name ?? labels['io.kubernetes.container.name'];
    const image = c.image?.image ?? c.imageRef;
    table.set(c.id, {
      ...(name ? { name } : {}), ...(pod ? { pod } : {}), ...(namespace ? { namespace } : {}),
      ...(podUid ? { podUid } : {}), ...(image ? { image } : {}),
    });
  }
  return table;
}

abstract class CachedTable implements ContainerMetadataSource {
  private table = new Map<string, ContainerMetadata>();
  private lastRefresh = 0;
  private inFlight: Promise<void> | undefined;
  constructor(private readonly minIntervalMs: number) {}
  protected abstract load(): Promise<Map<string, ContainerMetadata>>;
  refresh(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    if (Date.now() - this.lastRefresh < this.minIntervalMs) return Promise.resolve();
    this.lastRefresh = Date.now();
    this.inFlight = this.load().then((t) => { this.table = t; }, () => { /* keep the last table: metadata is best effort */ })
      .finally(() => { this.inFlight = undefined; });
    return this.inFlight;
  }
  lookup(id: string): ContainerMetadata | undefined {
    const direct = this.table.get(id);
    if (direct) return direct;
    // CRI ids are sometimes shown shortened; cgroups always carry the full id.
    for (const [key, value] of this.table) if (key.length >= 12 && id.startsWith(key)) return value;
    return undefined;
  }
}

/** The kubelet's authenticated `/pods` endpoint (port 10250) with the agent's service account token. */
export class KubeletMetadata extends CachedTable {
  constructor(private readonly options: { url: string; tokenFile?: string; caFile?: string; minIntervalMs?: number }) {
    super(options.minIntervalMs ?? 10_000);
  }
  protected async load(): Promise<Map<string, ContainerMetadata>> {
    const { url, tokenFile, caFile } = this.options;
    const token = tokenFile && existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined;
    // Loaded on first use: most nodes use the CRI, and https costs memory in every agent.
    const https = await import('node:https');
    return new Promise((resolve, reject) => {
      const request = https.get(new URL('/pods', url), {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(caFile ? { ca: readFileSync(caFile) } : { rejectUnauthorized: false }),
        timeout: 5000,
      }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (d: string) => { body += d; });
        response.on('end', () => {
          if (response.statusCode !== 200) return reject(new Error(`kubelet answered ${response.statusCode}`));
          try { resolve(parseKubeletPods(JSON.parse(body))); } catch (error) { reject(error as Error); }
        });
      });
      request.on('timeout', () => request.destroy(new Error('kubelet timeout')));
      request.on('error', reject);
    });
  }
}

/** The CRI through `crictl` when it is installed and the runtime socket exists. */
export class CrictlMetadata extends CachedTable {
  constructor(private readonly options: { endpoint: string; crictl?: string; minIntervalMs?: number }) {
    super(options.minIntervalMs ?? 10_000);
  }
  protected load(): Promise<Map<string, ContainerMetadata>> {
    return new Promise((resolve, reject) => {
      execFile(this.options.crictl ?? 'crictl', ['--runtime-endpoint', this.options.endpoint, 'ps', '-a', '-o', 'json'], { timeout: 5000, maxBuffer: 32 << 20 }, (error, stdout) => {
        if (error) return reject(error);
        try { resolve(parseCrictlPs(JSON.parse(stdout))); } catch (e) { reject(e as Error); }
      });
    });
  }
}

/** The usual CRI sockets, in the order kubelets use them. */
export const CRI_SOCKETS = ['/run/containerd/containerd.sock', '/var/run/crio/crio.sock', '/run/cri-dockerd.sock'];

export function detectRuntimeSocket(root = '/'): string | undefined {
  for (const socket of CRI_SOCKETS) if (existsSync(root + socket.slice(1))) return socket;
  return undefined;
}

/** Merges metadata into a container ref, keeping the cgroup facts. */
export function attribute(container: ContainerRef, source?: ContainerMetadataSource): ContainerRef {
  const meta = source?.lookup(container.id);
  return meta ? { ...container, ...meta, podUid: meta.podUid ?? container.podUid } : container;
}

export { HEX64 };
