import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replaceImageFindings } from '../../src/center/findings.js';
import { FINDING_SEVERITIES, severityRank, type Finding } from '../../src/core/index.js';
import { bearer, createTestApp, type TestApp } from '../support/app.js';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../support/postgres.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const PACKAGES = ['openssl', 'libssl3', 'zlib1g', 'curl', 'Lodash', 'libc_6%'];
const VEX_STATUSES = [undefined, undefined, undefined, 'not_affected', 'affected', 'fixed', 'under_investigation'] as const;

type Listed = Finding & { vex?: { status: string; author: string } };

/**
 * A large image's findings, varied on every axis the list sorts and filters by: severity (with
 * `unknown`), fixed version or not, package names with LIKE metacharacters, CVE and GHSA aliases,
 * and VEX statements of every status (two of which suppress).
 */
function findings(): Listed[] {
  return Array.from({ length: 640 }, (_, i) => {
    const severity = FINDING_SEVERITIES[(i * 7) % FINDING_SEVERITIES.length]!;
    const name = PACKAGES[i % PACKAGES.length]!;
    const fixed = i % 3 !== 0;
    const vex = VEX_STATUSES[i % VEX_STATUSES.length];
    const id = i % 4 === 0 ? `GHSA-${String(i).padStart(4, '0')}-xxxx-yyyy` : `DEBIAN-CVE-2024-${1000 + i}`;
    return {
      id, aliases: i % 4 === 0 ? [`CVE-2023-${5000 + i}`] : [`CVE-2024-${1000 + i}`], title: `vulnerability ${i}`,
      package: { name, version: '1.0', ecosystem: 'Debian:12', purl: `pkg:deb/debian/${encodeURIComponent(name)}@1.0?n=${i % 50}` },
      installedVersion: '1.0', ...(fixed ? { fixedVersion: '1.1' } : {}), severity, severitySource: 'Debian', status: fixed ? 'fixed' : 'unfixed',
      remediation: fixed ? `Upgrade ${name} to 1.1` : `No fix yet for ${name}`, advisoryIds: [id],
      ...(vex ? { vex: { status: vex, author: 'secops@example.com', statedAt: '2026-11-30T10:00:00Z', documentId: 'vex-1', ...(vex === 'not_affected' ? { justification: 'vulnerable_code_not_in_execute_path' } : {}) } } : {}),
    };
  });
}

const isSuppressed = (f: Listed) => f.vex?.status === 'not_affected' || f.vex?.status === 'fixed';
const key = (f: Listed) => `${f.id} ${f.package.purl}`;

/**
 * The documented order, written independently of the SQL: suppressed last, worst first, fixable
 * first. Ties are broken by id and purl in the database's collation, which need not be JavaScript's.
 */
function documentedOrder(a: Listed, b: Listed): number {
  return Number(isSuppressed(a)) - Number(isSuppressed(b))
    || severityRank(b.severity) - severityRank(a.severity)
    || Number(!a.fixedVersion) - Number(!b.fixedVersion);
}

/** Every expected finding exactly once, in an order the documented order accepts. */
function expectListed(items: Listed[], want: Listed[]): void {
  expect(new Set(items.map(key)).size).toBe(items.length);
  expect(items.map(key).sort()).toEqual(want.map(key).sort());
  for (let i = 1; i < items.length; i++) expect(documentedOrder(items[i - 1]!, items[i]!), `${key(items[i - 1]!)} before ${key(items[i]!)}`).toBeLessThanOrEqual(0);
}

// The embedded store and the real PostgreSQL (when one runs on loopback) answer the same SQL.
const STORES = ['embedded PGlite', ...((await postgresAvailable()) ? ['PostgreSQL'] : [])];

describe.each(STORES)('GET /api/v1/images/{digest}/findings on %s: worst first, filtered and paged by the server', (storeName) => {
  let t: TestApp;
  let pgdb: TestPostgres | undefined;
  const all = findings();
  const get = (url: string) => t.app.inject({ method: 'GET', url: `/api/v1/images/${DIGEST}/findings${url}`, headers: bearer(t.adminToken) });

  /** Every page of a query, following `next`, with the totals each page reported. */
  async function walk(query: string, limit: number): Promise<{ items: Listed[]; pages: number; totals: Set<string> }> {
    const items: Listed[] = [];
    const totals = new Set<string>();
    let cursor: string | undefined;
    let pages = 0;
    do {
      const r = await get(`?limit=${limit}${query}${cursor ? `&cursor=${cursor}` : ''}`);
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json() as { items: Listed[]; next?: string; total: number; suppressed: number };
      expect(body.items.length).toBeLessThanOrEqual(limit);
      items.push(...body.items);
      totals.add(`${body.total} ${body.suppressed}`);
      cursor = body.next;
      pages++;
    } while (cursor);
    return { items, pages, totals };
  }

  beforeAll(async () => {
    pgdb = storeName === 'PostgreSQL' ? await createTestPostgres() : undefined;
    t = await createTestApp(pgdb ? { databaseUrl: pgdb.url } : {});
    await t.store.db.insertInto('images').values({ id: 'img_findings', digest: DIGEST, registry: 'local', repository: 'demo/app', tags: JSON.stringify(['1']) }).execute();
    await t.store.db.transaction().execute((tx) => replaceImageFindings(tx, DIGEST, all));
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await pgdb?.drop();
  });

  it('lists every finding once, across pages, in the documented order, with the total', async () => {
    const { items, pages, totals } = await walk('', 97);
    expect(pages).toBe(Math.ceil(all.length / 97));
    expect([...totals]).toEqual([`${all.length} ${all.filter(isSuppressed).length}`]);
    expectListed(items, all);
    // The VEX statement travels with the finding.
    expect(items.find((f) => f.vex?.status === 'not_affected')?.vex).toMatchObject({ author: 'secops@example.com', justification: 'vulnerable_code_not_in_execute_path' });
  });

  const cases: Array<[string, string, (f: Listed) => boolean]> = [
    ['severity at or above high', '&severity=high', (f) => severityRank(f.severity) >= severityRank('high')],
    ['severity at or above informational (unknown left out)', '&severity=informational', (f) => f.severity !== 'unknown'],
    ['fixable only', '&fixable=true', (f) => Boolean(f.fixedVersion)],
    ['package name part, any case', '&package=LIB', (f) => f.package.name.toLowerCase().includes('lib')],
    ['package name with LIKE metacharacters, literally', `&package=${encodeURIComponent('_6%')}`, (f) => f.package.name.includes('_6%')],
    ['CVE alias text', '&q=cve-2023-5', (f) => f.aliases.some((a) => a.toLowerCase().includes('cve-2023-5'))],
    ['advisory id text', '&q=GHSA-01', (f) => f.id.includes('GHSA-01')],
    ['suppressed by VEX left out', '&suppressed=exclude', (f) => !isSuppressed(f)],
    ['only suppressed by VEX', '&suppressed=only', isSuppressed],
    ['filters together', '&severity=medium&fixable=true&package=ssl&suppressed=exclude', (f) => severityRank(f.severity) >= severityRank('medium') && Boolean(f.fixedVersion) && f.package.name.includes('ssl') && !isSuppressed(f)],
  ];
  for (const [what, query, expected] of cases) {
    it(`filters: ${what}`, async () => {
      const want = all.filter(expected);
      expect(want.length).toBeGreaterThan(0);
      expect(want.length).toBeLessThan(all.length);
      const { items, totals } = await walk(query, 50);
      expectListed(items, want);
      expect([...totals]).toEqual([`${want.length} ${want.filter(isSuppressed).length}`]);
    });
  }

  it('answers an empty page, not an error, when nothing matches', async () => {
    const r = await get('?q=CVE-1999-0001');
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ items: [], total: 0, suppressed: 0, identity: `image:${DIGEST}`, runningIn: [] });
  });

  it('refuses bad parameters with 400 naming the parameter', async () => {
    for (const [query, name] of [
      ['?severity=severe', 'severity'], ['?fixable=perhaps', 'fixable'], ['?suppressed=hide', 'suppressed'], ['?limit=0', 'limit'],
      [`?q=${'x'.repeat(201)}`, 'q'], ['?package=', 'package'], ['?cursor=not-a-cursor', 'cursor'],
      // A cursor of the list as it was paged before (id, purl): not a position in this order.
      [`?cursor=${Buffer.from(JSON.stringify(['CVE-1', 'pkg:deb/x'])).toString('base64url')}`, 'cursor'],
    ] as const) {
      const r = await get(query);
      expect(r.statusCode, `${query}: ${r.body}`).toBe(400);
      expect(r.json().message, query).toContain(name);
    }
    const missing = await t.app.inject({ method: 'GET', url: `/api/v1/images/sha256:${'cd'.repeat(32)}/findings`, headers: bearer(t.adminToken) });
    expect(missing.statusCode).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: `/api/v1/images/${DIGEST}/findings` })).statusCode).toBe(401);
  });
});
