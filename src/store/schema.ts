import type { ColumnType, Generated, JSONColumnType } from 'kysely';

/**
 * Row types of the foundation tables. Capabilities add their own tables by augmenting
 * this interface from their own module, beside their own migration:
 *
 *   declare module '../store/schema.js' { interface Database { advisories: AdvisoryTable } }
 */
export interface Database {
  palisade_meta: MetaTable;
  tokens: TokenTable;
  clusters: ClusterTable;
  nodes: NodeTable;
  registries: RegistryTable;
  repositories: RepositoryTable;
  images: ImageTable;
  image_scans: ImageScanTable;
  findings: FindingTable;
  alerts: AlertTable;
  recommendations: RecommendationTable;
  plans: PlanTable;
  usage: UsageTable;
  audit_trail: AuditTrailTable;
  job_effects: JobEffectTable;
}

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;

export interface MetaTable {
  key: string;
  value: string;
}

export interface TokenTable {
  id: string;
  name: string;
  /** `admin`, `cluster:NAME` or `registry:NAME`. */
  scope: string;
  /** sha256 of the secret: tokens are 256-bit random, so a fast hash is enough and the secret is never stored. */
  hash: string;
  /** First characters of the secret, to recognise a token in a list without revealing it. */
  prefix: string;
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface ClusterTable {
  id: string;
  name: string;
  created_at: CreatedAt;
  last_event_at: Timestamp | null;
}

export interface NodeTable {
  id: string;
  cluster: string;
  name: string;
  cores: number | null;
  kernel: string | null;
  os: string | null;
  runtime: string | null;
  agent_version: string | null;
  last_heartbeat: Timestamp | null;
}

export interface RegistryTable {
  id: string;
  name: string;
  url: string;
  kind: string;
  /** AES-GCM sealed credentials (key from PALISADE_SECRET_KEY); never returned by the API. */
  credentials: string | null;
  /** No webhooks: Palisade lists the catalog and tags on a schedule and compares digests. */
  poll: Generated<boolean>;
  created_at: CreatedAt;
}

export interface RepositoryTable {
  id: string;
  registry: string;
  name: string;
}

export interface ImageTable {
  /** `registry/repository@digest`. */
  id: string;
  digest: string;
  registry: string;
  repository: string;
  tags: JSONColumnType<string[], string[] | string, string[] | string>;
  /** Arrived by `palisade registry import` or a push marked as an import. */
  imported: Generated<boolean>;
  /** Deleted from the registry; kept for history, never rescanned. */
  deleted: Generated<boolean>;
  last_pushed: Timestamp | null;
  last_pulled: Timestamp | null;
  last_scanned: Timestamp | null;
}

export interface ImageScanTable {
  id: string;
  digest: string;
  status: string;
  started_at: Timestamp;
  finished_at: Timestamp | null;
  error: string | null;
  /** The image inventory (OS + packages), kept so database updates re-match without pulling. */
  inventory: JSONColumnType<object, object | string, object | string> | null;
}

export interface FindingTable {
  id: Generated<string>;
  digest: string;
  vulnerability: string;
  aliases: JSONColumnType<string[], string[] | string, string[] | string>;
  package_name: string;
  package_version: string;
  ecosystem: string;
  purl: string;
  layer: string | null;
  severity: string;
  fixed_version: string | null;
  status: string;
  /** The scanner's JSON shape of this finding, served as is by the API. */
  detail: JSONColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;
}

export interface AlertTable {
  id: string;
  rule: string;
  title: string;
  severity: string;
  tactic: string;
  technique: string | null;
  source: string;
  resource_kind: string;
  resource_id: string;
  cluster: string | null;
  namespace: string | null;
  resource: JSONColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;
  evidence: JSONColumnType<unknown[], unknown[] | string, unknown[] | string>;
  remediation: string;
  first_seen: Timestamp;
  last_seen: Timestamp;
  count: number;
  status: string;
  /** rule + resource + window start: the same threat on the same resource updates one alert. */
  dedupe_key: string;
}

export interface RecommendationTable {
  policy: string;
  scope: string;
  title: string;
  severity: string;
  remediation: string;
  healthy: JSONColumnType<unknown[], unknown[] | string, unknown[] | string>;
  unhealthy: JSONColumnType<unknown[], unknown[] | string, unknown[] | string>;
  not_applicable: JSONColumnType<unknown[], unknown[] | string, unknown[] | string>;
  /** The secure-score control (src/center/score.ts); null where none applies. */
  control: ColumnType<string | null, string | null | undefined, string | null>;
  evaluated_at: Timestamp;
}

export interface PlanTable {
  kind: string;
  scope: string;
  enabled: boolean;
  since: Timestamp;
}

export interface UsageTable {
  id: Generated<string>;
  /** `core_hours` or `image_scans`. */
  meter: string;
  scope: string;
  quantity: number;
  /** Idempotency key: the same heartbeat or scan is metered once. */
  source_key: string;
  at: Timestamp;
}

export interface AuditTrailTable {
  id: Generated<string>;
  actor: string;
  action: string;
  target: string;
  details: JSONColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;
  at: Timestamp;
}

/** What idempotent jobs have done, keyed, so a job that runs twice takes effect once. */
export interface JobEffectTable {
  key: string;
  queue: string;
  done_at: Timestamp;
  result: JSONColumnType<object, object | string, object | string> | null;
}
