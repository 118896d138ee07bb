import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import {
  dpkgInventory,
  hasBinary,
  osvVersionsByPackage,
  parseStatusStanzas,
  pkgdbStatusFiles,
  readImageFile,
  seededRandom,
} from '../testing/fixtures.js';
import { compareDpkgVersions, compareRpmVersions, isValidDpkgVersion } from './index.js';
import { dpkgDisagreements, rpmCompareMany } from '../testing/oracle.js';

/**
 * Live agreement with the real binaries. Outside CI a missing binary skips with a message; in CI
 * (CI=true) it fails, because scripts/test.sh installs them.
 */
const inCi = process.env.CI === 'true';
const haveDpkg = hasBinary('dpkg');
const haveRpm = hasBinary('rpm');
if (!haveDpkg && !inCi) console.warn('SKIP dpkg oracle: no dpkg binary on PATH (required when CI=true)');
if (!haveRpm && !inCi) console.warn('SKIP rpm oracle: no rpm binary on PATH (apt-get install -y rpm; required when CI=true)');

/** Real Debian version strings grouped by package: pkgdb status files, the debian12 images, OSV records. */
function debianVersionsByPackage(): Map<string, Set<string>> {
  const groups = new Map<string, Set<string>>();
  const add = (name: string, version: string): void => {
    if (!isValidDpkgVersion(version)) return;
    const set = groups.get(name) ?? new Set<string>();
    set.add(version);
    groups.set(name, set);
  };
  const texts = pkgdbStatusFiles().map((f) => readFileSync(f, 'utf8'));
  texts.push(readImageFile('app', 'var/lib/dpkg/status'));
  for (const text of texts) {
    for (const s of parseStatusStanzas(text)) add(s.Package, s.Version);
    for (const p of dpkgInventory(texts[texts.length - 1]!).packages) if (p.sourceVersion) add(p.sourceName!, p.sourceVersion);
  }
  for (const [name, versions] of osvVersionsByPackage()) for (const v of versions) if (v !== '0') add(name, v);
  return groups;
}

function drawPairs(groups: Map<string, Set<string>>, target: number, seed: number): Array<[string, string]> {
  const random = seededRandom(seed);
  const all = [...new Set([...groups.values()].flatMap((s) => [...s]))].sort();
  const pairs: Array<[string, string]> = [];
  // Versions of the same package first: those comparisons are the ones matching depends on.
  for (const set of groups.values()) {
    const list = [...set];
    for (const a of list) for (const b of list) if (a !== b) pairs.push([a, b]);
  }
  const pick = (): string => all[Math.floor(random() * all.length)]!;
  while (pairs.length < target) pairs.push([pick(), pick()]);
  // Every pair costs a dpkg process (slow on a loaded machine): keep `target`, the same-package
  // pairs first, as the fixtures grow (they gave 14,812 pairs).
  return pairs.slice(0, target);
}

describe.skipIf(!fixturesAvailable() || (!haveDpkg && !inCi))('dpkg comparator agrees with dpkg --compare-versions', () => {
  it('on >= 10,000 pairs of real version strings', async () => {
    expect(haveDpkg, 'dpkg binary is required in CI').toBe(true);
    const groups = debianVersionsByPackage();
    const pairs = drawPairs(groups, 10_500, 1).map(([a, b]): [string, string, number] => [a, b, compareDpkgVersions(a, b)]);
    expect(pairs.length).toBeGreaterThanOrEqual(10_000);
    // The sample must exercise all three answers, or agreement would prove little.
    for (const r of [-1, 0, 1]) expect(pairs.some((p) => p[2] === r), `answer ${r} present`).toBe(true);
    const wrong = await dpkgDisagreements(pairs);
    expect(wrong).toEqual([]);
    // One dpkg process per pair: minutes when the machine is shared and loaded.
  }, 900_000);
});

function rpmEvrs(): string[] {
  const out = new Set<string>();
  for (const db of ['cbl-mariner-2.0', 'sle15-bci', 'libuuid']) {
    const expected = JSON.parse(readFileSync(fixture('pkgdb', 'rpm', db, 'expected.json'), 'utf8')) as {
      packages: Array<{ epoch: number | null; version: string; release: string }>;
    };
    for (const p of expected.packages) {
      out.add(`${p.epoch === null ? '' : `${p.epoch}:`}${p.version}-${p.release}`);
      out.add(p.version);
    }
  }
  for (const line of readFileSync(fixture('versions', 'rpm.txt'), 'utf8').split('\n')) {
    const [a, b] = line.split(' ');
    if (a && b) out.add(a).add(b);
  }
  return [...out].sort();
}

describe.skipIf(!fixturesAvailable() || (!haveRpm && !inCi))('rpm comparator agrees with rpm.vercmp', () => {
  it('on >= 5,000 EVR pairs', () => {
    expect(haveRpm, 'rpm binary is required in CI (apt-get install -y rpm)').toBe(true);
    const evrs = rpmEvrs();
    const random = seededRandom(2);
    const pick = (): string => evrs[Math.floor(random() * evrs.length)]!;
    const pairs: Array<[string, string]> = [];
    // Neighbours in sorted order share a prefix (same version, different release); random pairs cover the rest.
    for (let i = 0; i + 1 < evrs.length; i++) pairs.push([evrs[i]!, evrs[i + 1]!], [evrs[i + 1]!, evrs[i]!], [evrs[i]!, evrs[i]!]);
    while (pairs.length < 6_000) pairs.push([pick(), pick()]);
    const truth = rpmCompareMany(pairs);
    const ours = pairs.map(([a, b]) => compareRpmVersions(a, b));
    for (const r of [-1, 0, 1]) expect(ours.includes(r), `answer ${r} present`).toBe(true);
    const wrong = pairs.map((p, i) => ({ a: p[0], b: p[1], ours: ours[i], rpm: truth[i] })).filter((x) => x.ours !== x.rpm);
    expect(wrong).toEqual([]);
  }, 120_000);
});
