import { describe, expect, it } from 'vitest';
import { parseOsvJson, validateOsvRecord } from './osv.js';
import { rateRecord, scoreCvss } from './severity.js';

const ok = {
  id: 'GHSA-1',
  modified: '2024-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name: 'a' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.2.3' }] }] }],
};

describe('OSV validation', () => {
  it('accepts a well-formed record without warnings', () => {
    const r = validateOsvRecord(ok, 'a.json');
    expect(r.warnings).toEqual([]);
    expect(r.record?.affected[0]?.ranges[0]?.events).toEqual([{ introduced: '0' }, { fixed: '1.2.3' }]);
  });

  it('names file and record id for each problem and keeps the usable parts', () => {
    const r = validateOsvRecord(
      {
        ...ok,
        affected: [
          ok.affected[0],
          { package: { ecosystem: 'Nonsense', name: 'b' }, ranges: [] },
          { package: { ecosystem: 'npm', name: 'c' }, ranges: [{ type: 'SEMVER', events: [{ fixed: '1.0.0' }] }] },
          { package: { ecosystem: 'npm', name: 'd' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0', fixed: '1.0.0' }] }] },
          { package: { ecosystem: 'npm', name: 'e' }, ranges: [{ type: 'SEMVER', events: [{ introduced: 'x.y' }] }] },
          { package: { ecosystem: 'npm', name: 'f' }, ranges: [{ type: 'WEIRD', events: [{ introduced: '0' }] }] },
        ],
      },
      'dir/a.json',
    );
    expect(r.record?.affected.map((a) => a.package.name)).toEqual(['a']);
    expect(r.warnings.map((w) => [w.code, w.file, w.id])).toEqual([
      ['unknown-ecosystem', 'dir/a.json', 'GHSA-1'],
      ['malformed-range', 'dir/a.json', 'GHSA-1'],
      ['malformed-range', 'dir/a.json', 'GHSA-1'],
      ['malformed-range', 'dir/a.json', 'GHSA-1'],
      ['malformed-range', 'dir/a.json', 'GHSA-1'],
    ]);
    expect(r.warnings[1]!.message).toMatch(/no introduced/);
  });

  it('skips records without id, modified time or any usable package', () => {
    expect(validateOsvRecord({ modified: '2024-01-01T00:00:00Z' }, 'x.json').record).toBeUndefined();
    expect(validateOsvRecord({ id: 'A', modified: 'yesterday' }, 'x.json').warnings[0]).toMatchObject({ code: 'invalid-record', id: 'A' });
    const none = validateOsvRecord({ ...ok, affected: [{ package: { ecosystem: 'Nope', name: 'x' } }] }, 'x.json');
    expect(none.record).toBeUndefined();
    expect(none.warnings.map((w) => w.code)).toEqual(['unknown-ecosystem', 'invalid-record']);
  });

  it('reports invalid JSON with the file name, and reads arrays of records', () => {
    expect(parseOsvJson('{"id": ', 'bad.json')[0]!.warnings[0]).toMatchObject({ code: 'invalid-json', file: 'bad.json' });
    expect(parseOsvJson(JSON.stringify([ok, { ...ok, id: 'GHSA-2' }]), 'list.json').map((r) => r.record?.id)).toEqual(['GHSA-1', 'GHSA-2']);
  });
});

describe('severity', () => {
  it('scores CVSS v2, v3.0, v3.1 and v4.0 vectors and rejects partial ones', () => {
    expect(scoreCvss('AV:N/AC:L/Au:N/C:P/I:P/A:P')).toEqual({ score: 7.5, version: 2 });
    expect(scoreCvss('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toEqual({ score: 9.8, version: 3 });
    expect(scoreCvss('CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N')?.score).toBeLessThan(4);
    expect(scoreCvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N')).toEqual({ score: 9.3, version: 4 });
    expect(scoreCvss('CVSS:3.1/AV:N')).toBeUndefined();
    expect(scoreCvss('garbage')).toBeUndefined();
  });

  it('prefers the vendor rating, then CVSS, else unknown', () => {
    const base = validateOsvRecord(ok, 'a.json').record!;
    expect(rateRecord(base, base.affected[0])).toEqual({ severity: 'unknown', source: 'none' });
    const cvss = { ...base, severity: [{ type: 'CVSS_V2', score: 'AV:N/AC:L/Au:N/C:P/I:P/A:P' }] };
    expect(rateRecord(cvss, cvss.affected[0])).toMatchObject({ severity: 'high', source: 'CVSS_V2', score: 7.5 });
    const vendor = { ...cvss, database_specific: { severity: 'MODERATE' } };
    expect(rateRecord(vendor, vendor.affected[0])).toEqual({ severity: 'medium', source: 'GHSA' });
    const ubuntu = { ...base, id: 'UBUNTU-CVE-1', severity: [{ type: 'Ubuntu', score: 'negligible' }, { type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }] };
    expect(rateRecord(ubuntu, ubuntu.affected[0])).toEqual({ severity: 'informational', source: 'Ubuntu' });
  });
});
