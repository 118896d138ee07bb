import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { yamlLibrary } from './lazy.js';
import { PalisadeError } from './errors.js';
import { SCOPE_NAME, SCOPE_NAME_HINT } from './names.js';

/**
 * Configuration: flags > PALISADE_* environment > palisade.yaml > defaults, validated once at
 * start; one error lists every bad key. Each setting is declared once here, with its
 * environment name, its YAML key and how to read it.
 */
export interface Config {
  dataDir: string;
  databaseUrl: string | undefined;
  host: string;
  port: number;
  /** Largest request body accepted, in bytes. */
  bodyLimit: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Key sealing stored registry credentials and signing sessions. */
  secretKey: string | undefined;
  /** Jobs run at once per process. */
  jobConcurrency: number;
  /** How long SIGTERM waits for in-flight requests and jobs before leaving jobs to another worker. */
  shutdownTimeoutMs: number;
  /** Run job handlers inside `palisade server` too (the embedded default must: one process). */
  serverRunsJobs: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** HTTPS port of the admission webhook listener (the API server only calls webhooks over TLS); unset: served by the main listener only. */
  admissionPort: number | undefined;
  /**
   * `required`: the API server must present a cluster token (set in its AdmissionConfiguration's
   * kubeconfig); `optional`: a token is verified when sent, and the pinned TLS certificate is the
   * only check when not (managed clusters cannot configure webhook credentials).
   */
  admissionAuth: 'optional' | 'required';
  /** Workload policy configuration (parameters, effects, exceptions) for admission and `policy check`. */
  policyFile: string | undefined;
  /** Public URL of this server, used in generated webhook and agent configuration. */
  publicUrl: string | undefined;
  rulesDir: string | undefined;
  /** Cron (UTC) of the vulnerability database refresh from osv.dev; `off` for air-gapped installs. */
  dbUpdateSchedule: string;
  /** Cron (UTC) of the rescan of images pulled within `rescanWindowDays`, pushed within `rescanPushedWindowDays`, or running. */
  rescanSchedule: string;
  rescanWindowDays: number;
  rescanPushedWindowDays: number;
  rescanRunningImages: boolean;
  /** Cron (UTC) of polling registries that send no webhooks. */
  pollSchedule: string;
  /** Live clusters whose posture is assessed on `postureSchedule` through the Kubernetes API. */
  clusters: ClusterSource[];
  /** Cron (UTC) of the posture scan of every cluster in `clusters`. */
  postureSchedule: string;
  /** Price table overrides (palisade.yaml only): see the costs page; unset figures keep Defender's list prices. */
  prices: Record<string, unknown> | undefined;
  /**
   * Which peers may set X-Forwarded-For/-Proto (a TLS-terminating proxy): `false` (none, the
   * default), `true` (any), a hop count, or addresses/CIDRs. Decides the client address used for
   * sign-in back-off and whether session cookies are marked Secure.
   */
  trustProxy: boolean | number | string[];
  /** Admission decisions older than this many days are deleted. */
  admissionLogRetentionDays: number;
}

/** Where a cluster's API server is reached: its pod's service account, or a kubeconfig (and context). */
export interface ClusterSource {
  name: string;
  inCluster?: boolean;
  kubeconfig?: string;
  context?: string;
}

type Kind = 'string' | 'int' | 'bool' | 'enum' | 'bytes' | 'path' | 'cron' | 'mapping' | 'clusters' | 'proxies';

interface Setting {
  key: keyof Config;
  env: string;
  kind: Kind;
  default: unknown;
  values?: readonly string[];
  min?: number;
  max?: number;
  description: string;
  secret?: boolean;
}

export const SETTINGS: readonly Setting[] = [
  { key: 'dataDir', env: 'PALISADE_DATA_DIR', kind: 'path', default: './.palisade', description: 'embedded database directory (PGlite)' },
  { key: 'databaseUrl', env: 'PALISADE_DATABASE_URL', kind: 'string', default: undefined, description: 'PostgreSQL URL; when set, used instead of the embedded database', secret: true },
  { key: 'host', env: 'PALISADE_HOST', kind: 'string', default: '127.0.0.1', description: 'address the server listens on (0.0.0.0 in a container)' },
  { key: 'port', env: 'PALISADE_PORT', kind: 'int', default: 8080, min: 0, max: 65535, description: 'HTTP port' },
  { key: 'bodyLimit', env: 'PALISADE_BODY_LIMIT', kind: 'bytes', default: 16 * 1024 * 1024, min: 1024, description: 'largest request body (bytes, or 10mb, 512kb)' },
  { key: 'logLevel', env: 'PALISADE_LOG_LEVEL', kind: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], description: 'log level' },
  { key: 'secretKey', env: 'PALISADE_SECRET_KEY', kind: 'string', default: undefined, description: 'key for credentials at rest (32+ characters)', secret: true },
  { key: 'jobConcurrency', env: 'PALISADE_JOB_CONCURRENCY', kind: 'int', default: 2, min: 1, max: 64, description: 'jobs run at once per process' },
  { key: 'shutdownTimeoutMs', env: 'PALISADE_SHUTDOWN_TIMEOUT_MS', kind: 'int', default: 25_000, min: 0, description: 'grace period on SIGTERM' },
  { key: 'serverRunsJobs', env: 'PALISADE_SERVER_RUNS_JOBS', kind: 'bool', default: true, description: 'run job handlers in the server process too' },
  { key: 'tlsCert', env: 'PALISADE_TLS_CERT', kind: 'path', default: undefined, description: 'PEM certificate for HTTPS (admission webhook)' },
  { key: 'tlsKey', env: 'PALISADE_TLS_KEY', kind: 'path', default: undefined, description: 'PEM private key for HTTPS', secret: true },
  { key: 'admissionPort', env: 'PALISADE_ADMISSION_PORT', kind: 'int', default: undefined, min: 0, max: 65535, description: 'HTTPS port for the admission webhook' },
  { key: 'admissionAuth', env: 'PALISADE_ADMISSION_AUTH', kind: 'enum', default: 'optional', values: ['optional', 'required'], description: 'whether the admission webhook requires the API server to send a cluster token' },
  { key: 'policyFile', env: 'PALISADE_POLICY_FILE', kind: 'path', default: undefined, description: 'policy parameters, effects and exceptions (YAML)' },
  { key: 'publicUrl', env: 'PALISADE_PUBLIC_URL', kind: 'string', default: undefined, description: 'URL clusters and registries use to reach this server' },
  { key: 'rulesDir', env: 'PALISADE_RULES_DIR', kind: 'path', default: undefined, description: 'directory of extra detection rules' },
  { key: 'dbUpdateSchedule', env: 'PALISADE_DB_UPDATE_SCHEDULE', kind: 'cron', default: '0 2 * * *', description: 'cron (UTC) of the osv.dev refresh, or off' },
  { key: 'rescanSchedule', env: 'PALISADE_RESCAN_SCHEDULE', kind: 'cron', default: '0 3 * * *', description: 'cron (UTC) of the rescan of recently pulled images, or off' },
  { key: 'rescanWindowDays', env: 'PALISADE_RESCAN_WINDOW_DAYS', kind: 'int', default: 30, min: 0, max: 365, description: 'images pulled within this many days are rescanned (0: not by pull)' },
  { key: 'rescanPushedWindowDays', env: 'PALISADE_RESCAN_PUSHED_WINDOW_DAYS', kind: 'int', default: 90, min: 0, max: 3650, description: 'images pushed within this many days are rescanned (0: not by push)' },
  { key: 'rescanRunningImages', env: 'PALISADE_RESCAN_RUNNING_IMAGES', kind: 'bool', default: true, description: 'every image a connected cluster runs is rescanned' },
  { key: 'prices', env: 'PALISADE_PRICES', kind: 'mapping', default: undefined, description: 'price table overrides (YAML mapping; in the environment as JSON)' },
  { key: 'pollSchedule', env: 'PALISADE_POLL_SCHEDULE', kind: 'cron', default: '*/15 * * * *', description: 'cron (UTC) of registry polling, or off' },
  { key: 'clusters', env: 'PALISADE_CLUSTERS', kind: 'clusters', default: [], description: 'clusters to assess: NAME=in-cluster or NAME=KUBECONFIG[#CONTEXT], comma-separated' },
  { key: 'postureSchedule', env: 'PALISADE_POSTURE_SCHEDULE', kind: 'cron', default: '*/30 * * * *', description: 'cron (UTC) of the posture scan of the configured clusters, or off' },
  { key: 'trustProxy', env: 'PALISADE_TRUST_PROXY', kind: 'proxies', default: false, description: 'proxies trusted for X-Forwarded-For/-Proto: false, true, a hop count, or comma-separated addresses/CIDRs' },
  { key: 'admissionLogRetentionDays', env: 'PALISADE_ADMISSION_LOG_RETENTION_DAYS', kind: 'int', default: 30, min: 1, max: 3650, description: 'days admission decisions are kept' },
];

const YAML_KEYS = new Map(SETTINGS.map((s) => [s.key, s]));

export interface ConfigSources {
  /** Values from command-line flags, already named by Config key. */
  flags?: Partial<Record<keyof Config, unknown>>;
  env?: NodeJS.ProcessEnv;
  /** palisade.yaml path; default $PALISADE_CONFIG, else ./palisade.yaml when it exists. */
  file?: string;
  cwd?: string;
}

export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? process.env;
  const cwd = sources.cwd ?? process.cwd();
  const problems: string[] = [];
  const fileValues = readConfigFile(sources.file ?? env.PALISADE_CONFIG, cwd, problems);
  const config: Record<string, unknown> = {};

  for (const setting of SETTINGS) {
    const fromFlag = sources.flags?.[setting.key];
    const fromEnv = env[setting.env];
    const fromFile = fileValues[setting.key];
    const [raw, origin] = fromFlag !== undefined ? [fromFlag, `flag --${kebab(setting.key)}`]
      : fromEnv !== undefined && fromEnv !== '' ? [fromEnv, setting.env]
      : fromFile !== undefined ? [fromFile, `palisade.yaml ${setting.key}`]
      : [setting.default, 'default'];
    if (raw === undefined) {
      config[setting.key] = undefined;
      continue;
    }
    const value = coerce(setting, raw, cwd);
    if (value instanceof Error) {
      const shown = setting.secret ? '(hidden)' : JSON.stringify(raw);
      problems.push(`${setting.key}: ${value.message} (got ${shown} from ${origin})`);
    } else {
      config[setting.key] = value;
    }
  }
  if (config.secretKey !== undefined && String(config.secretKey).length < 32) {
    problems.push('secretKey: must be at least 32 characters (from PALISADE_SECRET_KEY or palisade.yaml)');
  }
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    problems.push('tlsCert/tlsKey: set both or neither');
  }
  if (problems.length) {
    throw new PalisadeError('config.invalid', `invalid configuration: ${problems.join('; ')}`, {
      hint: 'see the configuration table in README.md',
    });
  }
  return config as unknown as Config;
}

// The YAML parser is loaded only when a palisade.yaml exists: most commands (a one-shot scan in CI
// above all) have none, and loading it costs a noticeable share of their start-up.
const parseYaml = (text: string): unknown => yamlLibrary().parse(text);

function readConfigFile(file: string | undefined, cwd: string, problems: string[]): Partial<Record<keyof Config, unknown>> {
  const explicit = file !== undefined;
  const filePath = path.resolve(cwd, file ?? 'palisade.yaml');
  let text: string;
  try {
    text = readFileSync(filePath, 'utf8');
  } catch (error) {
    if (explicit) problems.push(`config file ${filePath}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (error) {
    problems.push(`${filePath} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    return {};
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    problems.push(`${filePath} must be a mapping of settings`);
    return {};
  }
  const values: Partial<Record<keyof Config, unknown>> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!YAML_KEYS.has(key as keyof Config)) {
      problems.push(`${key}: unknown key in ${path.basename(filePath)} (known: ${SETTINGS.map((s) => s.key).join(', ')})`);
      continue;
    }
    values[key as keyof Config] = value;
  }
  return values;
}

function coerce(setting: Setting, raw: unknown, cwd: string): unknown {
  const text = String(raw).trim();
  switch (setting.kind) {
    case 'string':
      return text;
    case 'path':
      return path.resolve(cwd, text);
    case 'mapping': {
      const value = typeof raw === 'string' ? safeJson(raw) : raw;
      return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : new Error('must be a mapping');
    }
    case 'clusters':
      return parseClusterSources(raw, cwd);
    case 'proxies':
      return parseTrustProxy(raw);
    case 'cron':
      // Five fields of digits, ranges, steps, lists or *; `off` disables the schedule.
      return text === 'off' || /^(\S+\s+){4}\S+$/.test(text) && text.split(/\s+/).every((f) => /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/.test(f))
        ? text
        : new Error('must be a five-field cron expression (UTC) or off');
    case 'enum':
      return setting.values!.includes(text) ? text : new Error(`must be one of ${setting.values!.join(', ')}`);
    case 'bool':
      if (typeof raw === 'boolean') return raw;
      if (/^(true|1|yes|on)$/i.test(text)) return true;
      if (/^(false|0|no|off)$/i.test(text)) return false;
      return new Error('must be true or false');
    case 'int':
    case 'bytes': {
      const n = setting.kind === 'bytes' ? parseBytes(text) : /^-?\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(n)) return new Error(setting.kind === 'bytes' ? 'must be a size like 1048576, 512kb or 16mb' : 'must be an integer');
      if (setting.min !== undefined && n < setting.min) return new Error(`must be at least ${setting.min}`);
      if (setting.max !== undefined && n > setting.max) return new Error(`must be at most ${setting.max}`);
      return n;
    }
  }
}

/** `false`/`true`, a hop count, or addresses and CIDRs (a list in YAML, comma-separated in the environment). */
function parseTrustProxy(raw: unknown): boolean | number | string[] | Error {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'number') return Number.isInteger(raw) && raw >= 0 ? raw : new Error('must be a hop count of 0 or more');
  const text = Array.isArray(raw) ? raw.map(String).join(',') : String(raw).trim();
  if (/^(false|off|no)$/i.test(text) || text === '') return false;
  if (/^(true|on|yes)$/i.test(text)) return true;
  if (/^\d+$/.test(text)) return Number(text);
  const entries = text.split(',').map((e) => e.trim()).filter(Boolean);
  const bad = entries.find((e) => {
    const [address, bits, extra] = e.split('/');
    const family = isIP(address ?? '');
    return !family || extra !== undefined || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128)));
  });
  return bad ? new Error(`${JSON.stringify(bad)} is not an IP address or CIDR (use false, true, a hop count, or addresses like 10.0.0.0/8)`) : entries;
}


/**
 * `prod=in-cluster,staging=/etc/palisade/staging.kubeconfig#admin@staging` (environment), or the
 * same as a YAML mapping of name to `in-cluster` or `KUBECONFIG[#CONTEXT]`.
 */
function parseClusterSources(raw: unknown, cwd: string): ClusterSource[] | Error {
  if (Array.isArray(raw) && raw.length === 0) return [];
  const entries: [string, unknown][] = typeof raw === 'string'
    ? raw.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
      const at = part.indexOf('=');
      return at < 0 ? [part, undefined] : [part.slice(0, at).trim(), part.slice(at + 1).trim()];
    })
    : typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? Object.entries(raw)
      : [];
  if (entries.length === 0 && raw !== '') return new Error('must be NAME=in-cluster or NAME=KUBECONFIG[#CONTEXT], comma-separated');
  const sources: ClusterSource[] = [];
  for (const [name, where] of entries) {
    if (!SCOPE_NAME.test(name)) return new Error(`cluster name ${JSON.stringify(name)} must be ${SCOPE_NAME_HINT}`);
    if (sources.some((s) => s.name === name)) return new Error(`cluster ${name} is listed twice`);
    if (typeof where !== 'string' || where === '') return new Error(`cluster ${name} needs in-cluster or a kubeconfig path`);
    if (where === 'in-cluster') {
      sources.push({ name, inCluster: true });
      continue;
    }
    const hash = where.indexOf('#');
    const file = hash < 0 ? where : where.slice(0, hash);
    const context = hash < 0 ? undefined : where.slice(hash + 1);
    sources.push({ name, kubeconfig: path.resolve(cwd, file), ...(context ? { context } : {}) });
  }
  return sources;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseBytes(text: string): number {
  const match = /^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(text);
  if (!match) return NaN;
  const unit = (match[2] ?? 'b').toLowerCase();
  const factor = unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1024 ** 2 : unit.startsWith('g') ? 1024 ** 3 : 1;
  return Number(match[1]) * factor;
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

export function storeLocation(config: Config): { databaseUrl: string } | { dataDir: string } {
  return config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir };
}
