import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPalisadeError } from '../../src/core/index.js';
import { effectiveStatement, parseVexDocument, type AttributedStatement, type ImageIdentity } from '../../src/vex/index.js';

// Real documents from openvex/go-vex (commit in testdata/go-vex/README.md).
const goVex = (name: string) => JSON.parse(readFileSync(path.join(import.meta.dirname, 'testdata', 'go-vex', name), 'utf8')) as Record<string, unknown>;
const ALPINE = 'sha256:124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126';
const alpine: ImageIdentity = { digests: [ALPINE], repositories: ['docker.io/library/alpine'], tags: ['3.18'] };
const finding = (id: string, purl: string, aliases: string[] = []) => ({ id, aliases, package: { purl } });
const attributed = (doc: ReturnType<typeof parseVexDocument>, documentId = 'vex_a', first = 0): AttributedStatement[] =>
  doc.statements.map((statement, i) => ({ statement, documentId, author: doc.author ?? '', order: first + i }));

function fieldOfError(work: () => unknown): string | undefined {
  try {
    work();
  } catch (error) {
    if (isPalisadeError(error) && error.status === 400) return error.field;
    throw error;
  }
  return undefined;
}

describe('OpenVEX documents', () => {
  it('reads go-vex\'s v0.2.0 document strictly, with statuses, justifications and the document timestamp inherited', () => {
    const doc = parseVexDocument(goVex('v0.2.0.json'), { strict: true });
    expect(doc).toMatchObject({ author: 'The OpenVEX Project <openvex@openssf.org>', role: 'Demo Writer', version: 1 });
    expect(doc.statements).toHaveLength(5);
    expect(doc.statements[3]).toMatchObject({
      vulnerability: ['CVE-2023-3446'], status: 'not_affected', justification: 'vulnerable_code_not_present',
      impactStatement: 'affected functions were removed before packaging', timestamp: '2023-07-17T18:28:47.696004345-06:00',
    });
    expect(doc.statements[0]!.products[0]!.subcomponents.map((c) => c.identifiers[0])).toEqual(['pkg:apk/alpine/libssl3@3.0.8-r3', 'pkg:apk/alpine/libcrypto3@3.0.8-r3']);
  });

  it('reads go-vex\'s v0.0.1 document (string vulnerability, string products, string version)', () => {
    const doc = parseVexDocument(goVex('v0.0.1.json'), { strict: true });
    expect(doc.version).toBe(1);
    expect(doc.statements[0]).toMatchObject({ vulnerability: ['CVE-2023-12345'], status: 'fixed' });
    expect(doc.statements[0]!.products.map((p) => p.identifiers)).toEqual([['pkg:apk/wolfi/git@2.39.0-r1?arch=armv7'], ['pkg:apk/wolfi/git@2.39.0-r1?arch=x86_64']]);
  });

  it('refuses incomplete or malformed documents with 400 naming the field', () => {
    // go-vex's own sample lacks the document timestamp the spec's schema requires.
    expect(fieldOfError(() => parseVexDocument(goVex('v020-1.vex.json'), { strict: true }))).toBe('timestamp');
    const good = goVex('v0.2.0.json');
    const statements = good.statements as Array<Record<string, unknown>>;
    const withStatement = (change: Record<string, unknown>, drop: string[] = []) => {
      const first = { ...statements[3]!, ...change };
      for (const key of drop) delete first[key];
      return { ...good, statements: [first] };
    };
    expect(fieldOfError(() => parseVexDocument(withStatement({ status: 'maybe' }), { strict: true }))).toBe('statements[0].status');
    expect(fieldOfError(() => parseVexDocument(withStatement({ justification: 'because' }), { strict: true }))).toBe('statements[0].justification');
    // not_affected needs a justification or an impact statement (spec, "Statement Fields").
    expect(fieldOfError(() => parseVexDocument(withStatement({}, ['justification', 'impact_statement']), { strict: true }))).toBe('statements[0].justification');
    expect(fieldOfError(() => parseVexDocument(withStatement({ vulnerability: {} }), { strict: true }))).toBe('statements[0].vulnerability.name');
    // No encapsulating document to inherit a product from: a statement must name one.
    expect(fieldOfError(() => parseVexDocument(withStatement({}, ['products']), { strict: true }))).toBe('statements[0].products');
    expect(fieldOfError(() => parseVexDocument(withStatement({ colour: 'red' }), { strict: true }))).toBe('statements[0].colour');
    // The schema's @id is an IRI: a bare image reference is not one (write it as a pkg:oci purl).
    expect(fieldOfError(() => parseVexDocument(withStatement({ products: [{ '@id': 'ghcr.io/acme/app:1' }] }), { strict: true }))).toBe('statements[0].products[0].@id');
    expect(fieldOfError(() => parseVexDocument({ ...good, author: undefined }, { strict: true }))).toBe('author');
    expect(fieldOfError(() => parseVexDocument({ ...good, statements: 'all' }, { strict: true }))).toBe('statements');
    expect(fieldOfError(() => parseVexDocument([], { strict: true }))).toBe('document');
    // Lenient (scan --vex): a bare statement list is enough.
    expect(parseVexDocument({ statements: [{ vulnerability: { name: 'CVE-1' }, status: 'fixed' }] }, { strict: false }).statements).toHaveLength(1);
  });
});

describe('OpenVEX matching (go-vex rules)', () => {
  const doc = parseVexDocument(goVex('v0.2.0.json'), { strict: true });
  const statements = attributed(doc);

  it('matches the image by its pkg:oci digest and the finding\'s package by a version-less-or-equal subcomponent purl', () => {
    const libssl = finding('CVE-2023-3446', 'pkg:apk/alpine/libssl3@3.0.8-r3?arch=x86_64&distro=alpine-3.18.0');
    expect(effectiveStatement(statements, libssl, alpine)?.statement.status).toBe('not_affected');
    // The finding's qualifiers are extra detail; the statement names none, so they do not stop it.
    expect(effectiveStatement(statements, finding('CVE-2023-3446', 'pkg:apk/alpine/libcrypto3@3.0.8-r3'), alpine)?.statement.status).toBe('not_affected');
  });

  it('does not match another image, another package version, another package or another vulnerability', () => {
    const other: ImageIdentity = { digests: [`sha256:${'0'.repeat(64)}`], repositories: ['docker.io/library/alpine'], tags: [] };
    expect(effectiveStatement(statements, finding('CVE-2023-3446', 'pkg:apk/alpine/libssl3@3.0.8-r3'), other)).toBeUndefined();
    expect(effectiveStatement(statements, finding('CVE-2023-3446', 'pkg:apk/alpine/libssl3@3.0.9-r0'), alpine)).toBeUndefined();
    expect(effectiveStatement(statements, finding('CVE-2023-3446', 'pkg:apk/alpine/busybox@1.36.0-r9'), alpine)).toBeUndefined();
    expect(effectiveStatement(statements, finding('CVE-2023-9999', 'pkg:apk/alpine/libssl3@3.0.8-r3'), alpine)).toBeUndefined();
    // A repository the image is not in: the purl's name is the repository's last segment.
    const elsewhere: ImageIdentity = { digests: [ALPINE], repositories: ['ghcr.io/acme/base'], tags: [] };
    expect(effectiveStatement(statements, finding('CVE-2023-3446', 'pkg:apk/alpine/libssl3@3.0.8-r3'), elsewhere)).toBeUndefined();
  });

  it('matches a vulnerability by alias, a product by repository_url or image reference, and a package product directly', () => {
    const byRepository = parseVexDocument({
      statements: [
        { vulnerability: { name: 'CVE-2024-1', aliases: ['GHSA-xxxx-yyyy-zzzz'] }, products: [{ '@id': 'pkg:oci/app?repository_url=ghcr.io/acme/app' }], status: 'fixed' },
        { vulnerability: { name: 'CVE-2024-2' }, products: [{ '@id': 'ghcr.io/acme/app:1.0' }], status: 'not_affected', justification: 'component_not_present' },
        { vulnerability: { name: 'CVE-2024-3' }, products: [{ '@id': 'pkg:npm/lodash' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
      ],
    }, { strict: false });
    const app: ImageIdentity = { digests: [ALPINE], repositories: ['ghcr.io/acme/app'], tags: ['1.0'] };
    const list = attributed(byRepository);
    expect(effectiveStatement(list, finding('DEBIAN-CVE-2024-1', 'pkg:deb/debian/zlib1g@1', ['GHSA-xxxx-yyyy-zzzz']), app)?.statement.status).toBe('fixed');
    expect(effectiveStatement(list, finding('CVE-2024-2', 'pkg:deb/debian/zlib1g@1'), app)?.statement.status).toBe('not_affected');
    expect(effectiveStatement(list, finding('CVE-2024-2', 'pkg:deb/debian/zlib1g@1'), { ...app, tags: ['2.0'] })).toBeUndefined();
    expect(effectiveStatement(list, finding('CVE-2024-1', 'pkg:deb/debian/zlib1g@1'), { ...app, repositories: ['ghcr.io/acme/other'] })).toBeUndefined();
    expect(effectiveStatement(list, finding('CVE-2024-3', 'pkg:npm/lodash@4.17.20'), app)?.statement.status).toBe('not_affected');
    expect(effectiveStatement(list, finding('CVE-2024-3', 'pkg:npm/underscore@1.0.0'), app)).toBeUndefined();
  });

  it('lets the latest statement in time win, whatever the upload order: a later affected re-enables a finding', () => {
    const at = (timestamp: string, status: string, extra: Record<string, unknown> = {}) => parseVexDocument({
      '@context': 'https://openvex.dev/ns/v0.2.0', '@id': `https://example.com/vex/${timestamp}`, author: 'Alice', timestamp, version: 1,
      statements: [{ vulnerability: { name: 'CVE-2023-3446' }, products: [{ '@id': `pkg:oci/alpine@${encodeURIComponent(ALPINE)}` }], status, ...extra }],
    }, { strict: true });
    const earlier = at('2024-01-01T00:00:00Z', 'not_affected', { justification: 'vulnerable_code_not_present' });
    const later = at('2024-02-01T00:00:00Z', 'affected', { action_statement: 'upgrade libssl3' });
    const f = finding('CVE-2023-3446', 'pkg:apk/alpine/libssl3@3.0.8-r3');
    // Uploaded later but stated earlier: the affected statement still wins.
    expect(effectiveStatement([...attributed(later, 'vex_b', 0), ...attributed(earlier, 'vex_a', 1)], f, alpine)?.statement.status).toBe('affected');
    expect(effectiveStatement([...attributed(earlier, 'vex_a', 0), ...attributed(later, 'vex_b', 1)], f, alpine)?.statement).toMatchObject({ status: 'affected', actionStatement: 'upgrade libssl3' });
    expect(effectiveStatement(attributed(earlier), f, alpine)?.statement.status).toBe('not_affected');
  });
});

describe('OpenVEX timestamps', () => {
  it('refuses a time the schema allows but a server cannot hold (a leap second) with 400, not a failed insert', () => {
    const doc = goVex('v0.2.0.json');
    expect(fieldOfError(() => parseVexDocument({ ...doc, timestamp: '2016-12-31T23:59:60Z' }, { strict: true }))).toBe('timestamp');
    const statements = (doc.statements as Array<Record<string, unknown>>).map((s, i) => (i === 1 ? { ...s, timestamp: '2016-12-31T23:59:60Z' } : s));
    expect(fieldOfError(() => parseVexDocument({ ...doc, statements }, { strict: true }))).toBe('statements[1].timestamp');
  });
});
