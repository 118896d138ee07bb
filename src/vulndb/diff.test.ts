import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturesAvailable } from '../../test/support/fixtures.js';
import { diffAdvisoryFiles } from './diff.js';
import type { AdvisoryFile } from './file.js';
import type { OsvRecord } from './osv.js';
import { validRecords, writeRecordsFile } from './testing/fixtures.js';

describe.skipIf(!fixturesAvailable())('what a new advisory database version changed', () => {
  let dir: string;
  const opened: AdvisoryFile[] = [];
  const write = async (name: string, records: OsvRecord[]) => {
    const file = await writeRecordsFile(path.join(dir, name), records);
    opened.push(file);
    return file;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-diff-'));
  });
  afterAll(async () => {
    for (const f of opened) f.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('names exactly the packages whose advisories were added, edited or dropped', async () => {
    const npm = validRecords('npm');
    const go = validRecords('go');
    const previous = await write('previous.pvdb', npm);
    const crypto = go.find((r) => r.id === 'GO-2020-0012')!;
    expect(crypto.affected.map((a) => a.package.name)).toEqual(['golang.org/x/crypto']);
    const next = await write('next.pvdb', [
      // minimist loses GHSA-vh95-rmgr-6w4m (it keeps GHSA-xvch-5gv4-984h); ms's GHSA-3fx5-fwvr-xrjg is edited.
      ...npm.filter((r) => r.id !== 'GHSA-vh95-rmgr-6w4m').map((r) => (r.id === 'GHSA-3fx5-fwvr-xrjg' ? { ...r, summary: `${r.summary} (edited)` } : r)),
      crypto,
    ]);
    expect(await diffAdvisoryFiles(previous, next)).toEqual([
      { ecosystem: 'Go', key: 'golang.org/x/crypto' },
      { ecosystem: 'npm', key: 'minimist' },
      { ecosystem: 'npm', key: 'ms' },
    ]);
    // Read backwards, the same packages changed.
    expect(await diffAdvisoryFiles(next, previous)).toEqual(await diffAdvisoryFiles(previous, next));
  });

  it('finds nothing between two builds of the same records, and every package against an empty file', async () => {
    const npm = validRecords('npm');
    const a = await write('a.pvdb', npm);
    const b = await write('b.pvdb', [...npm].reverse());
    expect(await diffAdvisoryFiles(a, b)).toEqual([]);
    const empty = await write('empty.pvdb', []);
    const all = await diffAdvisoryFiles(empty, a);
    const names = new Set(npm.flatMap((r) => r.affected.map((x) => x.package.name)));
    expect(all.map((c) => c.key).sort()).toEqual([...names].sort());
    expect(all.every((c) => c.ecosystem === 'npm')).toBe(true);
  });
});
