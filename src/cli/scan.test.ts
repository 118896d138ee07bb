import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { openStore, type Store } from '../store/index.js';
import { importOsv } from '../vulndb/index.js';
import { runScan, type ScanFlags, type ScanOutput } from './scan.js';
import { sarifSchemaErrors } from '../../test/support/sarif-schema.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';

const APP = `oci:${fixture('images/debian12')}:app`;

function capture(stdin = ''): ScanOutput & { text: string; warnings: string[] } {
  const out = {
    text: '',
    warnings: [] as string[],
    isTTY: false,
    write(t: string) {
      out.text += t;
    },
    warn(l: string) {
      out.warnings.push(l);
    },
    readStdin: async () => stdin,
  };
  return out;
}

describe.skipIf(!fixturesAvailable())('palisade scan', () => {
  let dir: string;
  let temp: TestStore;
  let store: Store;
  beforeAll(async () => {
    temp = await createTestStore({ name: 'cli-scan' });
    store = temp.store;
    dir = temp.dir;
    await importOsv(store, [fixture('osv/debian'), fixture('osv/npm')]);
  }, 180_000);
  afterAll(async () => {
    await temp?.close();
  });

  const scan = async (flags: ScanFlags, stdin = '') => {
    const out = capture(stdin);
    const code = await runScan(store, APP, flags, out);
    return { code, out };
  };

  it('prints one JSON document with the documented fields (default when not on a terminal)', async () => {
    const { code, out } = await scan({});
    expect(code).toBe(0);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking an untyped JSON document
    const doc = JSON.parse(out.text) as Record<string, any>;
    expect(doc.schemaVersion).toBe(1);
    expect(doc.image.digest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(doc.os).toMatchObject({ id: 'debian', version: '12' });
    for (const p of doc.packages) expect(Object.keys(p)).toEqual(expect.arrayContaining(['name', 'version', 'ecosystem', 'purl', 'layer']));
    expect(doc.vulnerabilities.length).toBeGreaterThan(49);
    for (const v of doc.vulnerabilities) {
      expect(Object.keys(v)).toEqual(expect.arrayContaining(['id', 'aliases', 'package', 'installedVersion', 'severity', 'status', 'remediation']));
    }
    expect(doc.summary.total).toBe(doc.vulnerabilities.length);
  });

  it('exits with --exit-code when findings remain, and 0 when filters remove them all', async () => {
    expect((await scan({ exitCode: '3', format: 'json' })).code).toBe(3);
    // No advisory in the fixtures is rated informational: filtering to it leaves nothing, so the gate passes.
    const none = await scan({ exitCode: '3', severity: 'informational', format: 'json' });
    const doc = JSON.parse(none.out.text) as { vulnerabilities: unknown[]; suppressed: Array<{ reason: string }> };
    expect(doc.vulnerabilities).toEqual([]);
    expect(none.code).toBe(0);
    expect(doc.suppressed.length).toBeGreaterThan(49);
    expect(doc.suppressed.every((s) => s.reason === 'severity')).toBe(true);
    await expect(scan({ severity: 'urgent' })).rejects.toMatchObject({ code: 'scan.severity.invalid' });
    await expect(scan({ exitCode: 'x' })).rejects.toMatchObject({ code: 'scan.exit-code.invalid' });
  });

  it('writes SARIF 2.1.0 with one rule per advisory and one result per finding', async () => {
    const json = JSON.parse((await scan({ format: 'json' })).out.text) as { vulnerabilities: Array<{ id: string }> };
    const sarif = JSON.parse((await scan({ format: 'sarif' })).out.text) as { version: string; runs: Array<{ tool: { driver: { rules: Array<{ id: string }> } }; results: Array<{ ruleId: string; ruleIndex: number; level: string }> }> };
    expect(sarif.version).toBe('2.1.0');
    // What users upload to code-scanning tools must pass the OASIS SARIF 2.1.0 schema, not only our own reading of it.
    expect(sarifSchemaErrors(sarif)).toEqual([]);
    const run = sarif.runs[0]!;
    expect(run.results).toHaveLength(json.vulnerabilities.length);
    expect(new Set(run.tool.driver.rules.map((r) => r.id))).toEqual(new Set(json.vulnerabilities.map((v) => v.id)));
    for (const r of run.results) expect(run.tool.driver.rules[r.ruleIndex]!.id).toBe(r.ruleId);
  });

  it('writes a CycloneDX SBOM with every package and the vulnerabilities', async () => {
    const json = JSON.parse((await scan({ format: 'json' })).out.text) as { packages: unknown[]; vulnerabilities: unknown[] };
    const bom = JSON.parse((await scan({ format: 'cyclonedx' })).out.text) as { bomFormat: string; specVersion: string; components: Array<{ purl?: string }>; vulnerabilities: Array<{ affects: unknown[] }>; metadata: { component: { type: string } } };
    expect(bom.bomFormat).toBe('CycloneDX');
    expect(bom.specVersion).toBe('1.6');
    expect(bom.metadata.component.type).toBe('container');
    expect(bom.components).toHaveLength(json.packages.length);
    expect(bom.components.every((c) => c.purl?.startsWith('pkg:'))).toBe(true);
    expect(bom.vulnerabilities).toHaveLength(json.vulnerabilities.length);
    expect(bom.vulnerabilities.every((v) => v.affects.length === 1)).toBe(true);
  });

  it('refuses an --exit-code gate over an empty or stale advisory database unless --allow-empty-db', async () => {
    const empty = await openStore({ dataDir: path.join(dir, 'empty-db') });
    try {
      await expect(runScan(empty, APP, { exitCode: '1', format: 'json' }, capture())).rejects.toMatchObject({
        code: 'scan.advisory_db.empty',
        hint: expect.stringContaining('palisade db update'),
      });
      const allowed = capture();
      expect(await runScan(empty, APP, { exitCode: '1', format: 'json', allowEmptyDb: true }, allowed)).toBe(0);
      expect(JSON.parse(allowed.text).database).toMatchObject({ advisories: 0, version: null, stale: true });
    } finally {
      await empty.close();
    }
    // Imported a moment ago: older than 0.00001 h (36 ms) is stale.
    await new Promise((r) => setTimeout(r, 50));
    await expect(scan({ exitCode: '1', maxDbAge: '0.00001', format: 'json' })).rejects.toMatchObject({ code: 'scan.advisory_db.stale' });
  }, 180_000);

  it('carries the advisory database version and age in the JSON report', async () => {
    const doc = JSON.parse((await scan({ format: 'json' })).out.text) as { database: { advisories: number; version: string; updatedAt: string; ageHours: number; stale: boolean } };
    expect(doc.database.advisories).toBeGreaterThan(49);
    expect(doc.database.version).toMatch(/\S/);
    expect(Date.parse(doc.database.updatedAt)).toBeLessThanOrEqual(Date.now());
    expect(doc.database.ageHours).toBeGreaterThanOrEqual(0);
    expect(doc.database.stale).toBe(false);
  });

  it('never cuts a fix command or an identifier in a table written outside a terminal', async () => {
    const json = JSON.parse((await scan({ format: 'json' })).out.text) as { vulnerabilities: Array<{ id: string; command?: string; remediation: string }> };
    const table = (await scan({ format: 'table' })).out.text;
    expect(table).not.toContain('…');
    // Wider than the 160 columns the table used to be cut at.
    expect(Math.max(...table.split('\n').map((l) => l.length))).toBeGreaterThan(160);
    for (const v of json.vulnerabilities) {
      expect(table).toContain(v.id);
      expect(table).toContain((v.command ?? v.remediation).replace(/\s+/g, ' '));
    }
  });

  it('prints a table grouped by severity, and writes to --output', async () => {
    const { out } = await scan({ format: 'table', ignoreUnfixed: true });
    expect(out.text).toMatch(/Debian GNU\/Linux 12 \(bookworm\), \d+ packages, \d+ vulnerabilities/);
    expect(out.text).toMatch(/^UNKNOWN \(\d+\)$/m);
    expect(out.text).toMatch(/PACKAGE\s+INSTALLED\s+FIXED\s+ID\s+TITLE\s+REMEDIATION/);
    const file = path.join(dir, 'report.json');
    const written = await scan({ format: 'json', output: file });
    expect(written.out.text).toBe('');
    expect(JSON.parse(await readFile(file, 'utf8'))).toHaveProperty('image');
  });

  it('suppresses findings named in an OpenVEX document', async () => {
    const json = JSON.parse((await scan({ format: 'json' })).out.text) as { vulnerabilities: Array<{ id: string; package: { purl: string } }> };
    const target = json.vulnerabilities[0]!;
    const vex = path.join(dir, 'vex.json');
    await writeFile(vex, JSON.stringify({ statements: [{ vulnerability: { name: target.id }, products: [{ '@id': target.package.purl }], status: 'not_affected', justification: 'component_not_present' }] }));
    const doc = JSON.parse((await scan({ format: 'json', vex })).out.text) as { vulnerabilities: Array<{ id: string; package: { purl: string } }>; suppressed: Array<{ id: string; reason: string }> };
    expect(doc.vulnerabilities.some((v) => v.id === target.id && v.package.purl === target.package.purl)).toBe(false);
    expect(doc.suppressed).toContainEqual(expect.objectContaining({ id: target.id, reason: 'vex:not_affected' }));
  });

  it('needs --username and --password-stdin together', async () => {
    await expect(scan({ passwordStdin: true })).rejects.toMatchObject({ code: 'scan.credentials.invalid' });
    await expect(scan({ username: 'u' })).rejects.toMatchObject({ code: 'scan.credentials.invalid' });
  });
});
