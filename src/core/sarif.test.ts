import { describe, expect, it } from 'vitest';
import { SARIF_SCHEMA, sarifLog } from './sarif.js';
import { sarifSchemaErrors } from '../../test/support/sarif-schema.js';

describe('sarifLog', () => {
  it('writes one run naming the tool, with each result pointing at the index of the rule it cites', () => {
    const log = sarifLog({
      toolVersion: '9.9.9',
      rules: [{ id: 'a', shortDescription: { text: 'A' } }, { id: 'b', shortDescription: { text: 'B' } }],
      results: [
        { ruleId: 'b', level: 'error', message: { text: 'one' }, locations: [] },
        { ruleId: 'a', level: 'note', message: { text: 'two' }, locations: [] },
        { ruleId: 'c', level: 'warning', message: { text: 'three' }, locations: [] },
      ],
      properties: { image: 'x' },
    }) as { $schema: string; version: string; runs: Array<{ tool: { driver: { name: string; version: string; rules: unknown[] } }; results: Array<{ ruleId: string; ruleIndex?: number }>; properties?: unknown }> };
    expect(log.$schema).toBe(SARIF_SCHEMA);
    expect(log.version).toBe('2.1.0');
    expect(log.runs).toHaveLength(1);
    const run = log.runs[0]!;
    expect(run.tool.driver).toMatchObject({ name: 'palisade', version: '9.9.9' });
    expect(run.results.map((r) => [r.ruleId, r.ruleIndex])).toEqual([['b', 1], ['a', 0], ['c', undefined]]);
    expect(run.properties).toEqual({ image: 'x' });
  });
});

describe('sarifLog against the OASIS SARIF 2.1.0 schema', () => {
  // The schema comes from oasis-tcs/sarif-spec@a560296ca8c921f3bdb8d4a8db57ab83dae968a7
  // (sarif-2.1/schema/sarif-schema-2.1.0.json), vendored in test/support/testdata (see SOURCES.md).
  it('writes a log the standard schema accepts, with every field the scan and policy writers use', () => {
    const log = sarifLog({
      toolVersion: '1.2.3',
      rules: [
        {
          id: 'CVE-2023-4911',
          name: 'CVE20234911',
          shortDescription: { text: 'glibc: buffer overflow in ld.so' },
          fullDescription: { text: 'glibc: buffer overflow in ld.so (DSA-5514-1)' },
          help: { text: 'upgrade glibc', markdown: 'upgrade glibc\n\n`apt-get install --only-upgrade libc6`' },
          properties: { tags: ['vulnerability', 'security', 'Debian'], 'security-severity': '7.8' },
        },
      ],
      results: [
        {
          ruleId: 'CVE-2023-4911',
          level: 'error',
          message: { text: 'libc6 2.36-9 is affected by CVE-2023-4911; fixed in 2.36-9+deb12u3' },
          locations: [
            { physicalLocation: { artifactLocation: { uri: 'var/lib/dpkg/status' }, region: { startLine: 12 } }, logicalLocations: [{ name: 'pkg:deb/debian/libc6@2.36-9', kind: 'package' }] },
          ],
          partialFingerprints: { imagePackageAdvisory: 'sha256:abc:pkg:deb/debian/libc6@2.36-9:CVE-2023-4911' },
          properties: { severity: 'high', fixedVersion: null },
        },
        { ruleId: 'not-a-rule', level: 'none', message: { text: 'cites no listed rule' }, locations: [] },
      ],
      properties: { image: { name: 'debian:12' } },
    });
    expect(sarifSchemaErrors(JSON.parse(JSON.stringify(log)))).toEqual([]);
  });

  it('the schema check can fail: a log without its version is refused', () => {
    const log = JSON.parse(JSON.stringify(sarifLog({ toolVersion: '1', rules: [], results: [] }))) as Record<string, unknown>;
    expect(sarifSchemaErrors(log)).toEqual([]);
    delete log.version;
    expect(sarifSchemaErrors(log).length).toBeGreaterThan(0);
  });
});
