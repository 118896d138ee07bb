import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { sql, type Kysely } from 'kysely';
import { expect } from 'vitest';
import type { Database } from '../../src/store/index.js';

/**
 * Hostile request bodies for the property tests of every body-taking route (issue 14 point 4):
 * valid bodies with one field replaced by something hostile (lone surrogates, NUL, huge or deep
 * values, wrong types), bare scalars, nesting past the limit, garbage text, and other media types.
 */
export interface HostileRequest {
  payload: string;
  contentType: string | undefined;
  what: string;
}

const HOSTILE_STRINGS = [
  '\ud800', '\udfff', 'a\ud83db', '\udc00\ud800', 'nul\u0000byte', '\u202e\u0000', '../../v2/_catalog?x=', '%00%ff',
  "'; drop table alerts; --", '__proto__', '{"$ne":null}', '\\', '"', '', ' ', '\ufeff', 'x'.repeat(70_000),
];

const hostileString = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), minLength: 1, maxLength: 4 }),
);

const nested = (depth: number, leaf: unknown): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = i % 2 ? { k: value } : [value];
  return value;
};

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(null, true, false, 0, -1, 1e308, -0, Number.MAX_SAFE_INTEGER + 2, 1.5, [], {}),
  fc.integer({ min: 40, max: 62 }).map((d) => nested(d, 'deep but allowed')),
  fc.array(hostileString, { maxLength: 5 }),
  fc.dictionary(hostileString, hostileString, { maxKeys: 3 }),
);

type Path = Array<string | number>;

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(value)) value.forEach((v, i) => { out.push([...prefix, i]); pathsOf(v, [...prefix, i], out); });
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) { out.push([...prefix, k]); pathsOf(v, [...prefix, k], out); }
  }
  return out;
}

type Action = 'replace' | 'delete' | 'add' | 'taint';
/** Appended to a string field: the characters PostgreSQL cannot store, in a value that stays otherwise valid. */
const TAINTS = ['\ud800', '\udfff', '\u0000', '\udbff\u0000', '\ud83d'];

function mutate(seed: unknown, path: Path, action: Action, value: unknown, key: string): unknown {
  const copy = structuredClone(seed) as Record<string | number, unknown>;
  let parent: Record<string | number, unknown> = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (action === 'taint') parent[last] = typeof parent[last] === 'string' ? `${parent[last] as string}${key}` : value;
  else if (action === 'replace') parent[last] = value;
  else if (action === 'delete') {
    if (Array.isArray(parent)) parent.splice(last as number, 1); else delete parent[last];
  } else {
    const target = parent[last];
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) (target as Record<string, unknown>)[key] = value;
    else parent[last] = value;
  }
  return copy;
}

/** Bodies of a route, from its valid seed bodies. */
export function hostileRequests(seeds: unknown[]): fc.Arbitrary<HostileRequest> {
  const json = (what: string) => (value: unknown): HostileRequest => ({ payload: JSON.stringify(value), contentType: 'application/json', what });
  const mutated = fc.constantFrom(...seeds).chain((seed) => {
    const paths = pathsOf(seed);
    const strings = paths.filter((p) => typeof p.reduce<unknown>((v, step) => (v as Record<string | number, unknown>)[step], seed) === 'string');
    const edit = fc.tuple(fc.constantFrom(...paths), fc.constantFrom<Action>('replace', 'delete', 'add'), hostileValue, hostileString)
      .map(([path, action, value, key]) => json(`${action} ${path.join('.')}`)(mutate(seed, path, action, value, key)));
    if (!strings.length) return edit;
    const taint = fc.tuple(fc.constantFrom(...strings), fc.constantFrom(...TAINTS))
      .map(([path, suffix]) => json(`taint ${path.join('.')}`)(mutate(seed, path, 'taint', undefined, suffix)));
    return fc.oneof(edit, taint);
  });
  return fc.oneof(
    { arbitrary: mutated, weight: 6 },
    { arbitrary: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 20 }), fc.constant(null), fc.boolean()).map(json('scalar')), weight: 1 },
    { arbitrary: fc.tuple(fc.integer({ min: 65, max: 3000 }), fc.constantFrom(...seeds)).map(([d, seed]) => json(`nested ${d}`)(nested(d, seed))), weight: 1 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ payload: text, contentType: 'application/json', what: 'garbage json' })), weight: 1 },
    {
      arbitrary: fc.tuple(fc.constantFrom(...seeds), fc.constantFrom('text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'application/xml', 'multipart/form-data; boundary=x', 'application/jsonx', 'application/octet-stream', undefined))
        .map(([seed, contentType]) => ({ payload: JSON.stringify(seed), contentType, what: `as ${contentType ?? 'no content type'}` })),
      weight: 1,
    },
  );
}

/**
 * Every public table's rows, hashed, so a property can say "nothing was stored": `countOnly`
 * tables (a token's last use is touched in the background) are compared by row count, `skip`
 * tables (the audit trail records failed sign-ins on purpose) not at all.
 */
export async function storeSnapshot(db: Kysely<Database>, options: { countOnly?: string[]; skip?: string[] } = {}): Promise<Record<string, string>> {
  const tables = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`.execute(db);
  const names = tables.rows.map((r) => r.name).filter((n) => !(options.skip ?? []).includes(n));
  const parts = names.map((name) => (options.countOnly ?? []).includes(name)
    ? sql`select ${name} as name, count(*)::text as digest from ${sql.table(name)}`
    : sql`select ${name} as name, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as digest from ${sql.table(name)} x`);
  // Queued jobs (scans) count as stored: a refused webhook must queue nothing.
  const queue = await sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = 'pgboss' and table_name = 'job'`.execute(db);
  if (queue.rows.length) parts.push(sql`select 'pgboss.job' as name, count(*)::text as digest from pgboss.job`);
  const rows = await sql<{ name: string; digest: string }>`${sql.join(parts, sql` union all `)}`.execute(db);
  return Object.fromEntries(rows.rows.map((r) => [r.name, r.digest]));
}

export interface HostileRoute {
  app: FastifyInstance;
  db: Kysely<Database>;
  method: 'POST' | 'PUT' | 'PATCH';
  url: string;
  headers: Record<string, string>;
  seeds: unknown[];
  numRuns: number;
  snapshot?: { countOnly?: string[]; skip?: string[] };
  /** Statuses seen, for the test to check the property was not vacuous. */
  seen?: Map<number, number>;
}

/** The property: no 5xx, nothing stored on a 4xx; then the server is still ready. */
/** Written in the background for earlier accepted batches, so it may land while any later, refused
 * request is answered: audit detection state (coalesced, at most once a second), and the resource
 * graph and incident membership (the graph writer's queue, every 200 ms). */
const BACKGROUND_TABLES = [
  'audit_state_scopes', 'audit_state_values',
  'graph_nodes', 'graph_edges', 'graph_aliases',
  'incidents', 'incident_alerts', 'incident_digests', 'incident_image_alerts', 'incident_keys', 'incident_pending', 'incident_notifications',
];

export async function assertNoServerErrors(route: HostileRoute): Promise<Map<number, number>> {
  const seen = route.seen ?? new Map<number, number>();
  const snapshotOptions = { countOnly: ['tokens', ...(route.snapshot?.countOnly ?? [])], skip: [...BACKGROUND_TABLES, ...(route.snapshot?.skip ?? [])] };
  await fc.assert(fc.asyncProperty(hostileRequests(route.seeds), async (request) => {
    const before = await storeSnapshot(route.db, snapshotOptions);
    const response = await route.app.inject({
      method: route.method,
      url: route.url,
      payload: request.payload,
      headers: { ...route.headers, ...(request.contentType ? { 'content-type': request.contentType } : {}) },
    });
    seen.set(response.statusCode, (seen.get(response.statusCode) ?? 0) + 1);
    expect(response.statusCode, `${request.what}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
    if (response.statusCode >= 400) {
      expect(response.json(), request.what).toMatchObject({ code: expect.any(String), message: expect.any(String) });
      expect(await storeSnapshot(route.db, snapshotOptions), `${request.what} answered ${response.statusCode} but stored something`).toEqual(before);
    }
  }), { numRuns: route.numRuns, endOnFailure: true });
  const ready = await route.app.inject('/readyz');
  expect(ready.statusCode, ready.body).toBe(200);
  return seen;
}
