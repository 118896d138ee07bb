/**
 * Each ecosystem's comparator against its reference implementation's own test vectors, stored in
 * testdata/ (origins, commits and licences in testdata/SOURCES.md).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import {
  compareApk2Versions,
  compareApkVersions,
  compareVersions,
  isValidApk2Version,
  isValidApkVersion,
  compareComposerVersions,
  compareGoVersions,
  compareNuGetVersions,
  compareRubyGemsVersions,
  compareSemver,
  compareRpmVersions, composerComparatorHolds, compareMavenVersions, comparePep440, isValidPep440, normalizeComposerVersion, phpVersionCompare } from './index.js';

const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');

function text(file: string): string {
  return readFileSync(path.join(TESTDATA, file), 'utf8');
}

/** Lines that are neither blank nor `#` comments. */
function dataLines(file: string): string[] {
  return text(file).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

/** `A<TAB>B<TAB>R` lines: R is -1, 0 or 1. */
function tsvTriples(file: string): Array<[string, string, number]> {
  return dataLines(file).map((l) => {
    const [a, b, r] = l.split('\t');
    return [a!, b!, Number(r)];
  });
}

type Compare = (a: string, b: string) => number;

/** Every pair of a list the reference sorts strictly ascending. */
function expectSorted(compare: Compare, sorted: string[]): void {
  const wrong: string[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = 0; j < sorted.length; j++) {
      const want = Math.sign(i - j);
      const got = compare(sorted[i]!, sorted[j]!);
      if (got !== want) wrong.push(`${sorted[i]} vs ${sorted[j]}: ${got}, want ${want}`);
    }
  }
  expect(wrong).toEqual([]);
}

function expectTriples(compare: Compare, triples: Array<[string, string, number]>): void {
  const wrong: string[] = [];
  for (const [a, b, r] of triples) {
    const got = compare(a, b);
    const back = compare(b, a);
    if (got !== r || back !== -r + 0) wrong.push(`${a} vs ${b}: ${got} (reverse ${back}), want ${r}`);
  }
  expect(wrong).toEqual([]);
}

describe('PyPI: pypa/packaging', () => {
  it('orders test_version.py VERSIONS exactly as listed', () => {
    const sorted = dataLines('pypi-sorted.txt');
    expect(sorted.length).toBeGreaterThanOrEqual(90);
    expectSorted(comparePep440, sorted);
  });

  it('compares each normalisation case equal to its normal form', () => {
    const pairs = JSON.parse(text('pypi-equal.json')) as Array<[string, string]>;
    expect(pairs.length).toBeGreaterThanOrEqual(100);
    for (const [raw, normal] of pairs) {
      expect(isValidPep440(raw), JSON.stringify(raw)).toBe(true);
      expect(comparePep440(raw, normal), JSON.stringify([raw, normal])).toBe(0);
    }
  });

  it('rejects test_invalid_versions as PEP 440 (they order as legacy versions)', () => {
    const invalid = dataLines('pypi-invalid.txt');
    expect(invalid.length).toBeGreaterThanOrEqual(15);
    for (const v of invalid) expect(isValidPep440(v), JSON.stringify(v)).toBe(false);
  });

  it('orders legacy versions as packaging 21.3 LegacyVersion did (below every PEP 440 version)', () => {
    const triples = tsvTriples('pypi-legacy.tsv');
    expect(triples.length).toBeGreaterThan(1000);
    expectTriples(comparePep440, triples);
  });
});

describe('Maven: maven-artifact 3.9 ComparableVersion', () => {
  it('holds every assertion of ComparableVersionTest', () => {
    const triples = tsvTriples('maven-asserts.tsv');
    expect(triples.length).toBeGreaterThan(900);
    expectTriples(compareMavenVersions, triples);
  });

  it('agrees with ComparableVersion on 5,000 recorded pairs (qualifiers ga, final, sp, jre, big numbers)', () => {
    const triples = tsvTriples('maven-oracle.tsv');
    expect(triples.length).toBe(5000);
    expectTriples(compareMavenVersions, triples);
  });
});

describe('Packagist: composer/semver and PHP version_compare', () => {
  it('normalises every successfulNormalizedVersions case of VersionParserTest', () => {
    const pairs = JSON.parse(text('composer-normalize.json')) as Array<[string, string]>;
    expect(pairs.length).toBeGreaterThanOrEqual(70);
    const wrong = pairs.filter(([raw, normal]) => normalizeComposerVersion(raw) !== normal).map(([raw, normal]) => `${raw} → ${normalizeComposerVersion(raw)}, want ${normal}`);
    expect(wrong).toEqual([]);
  });

  it('refuses every failingNormalizedVersions case', () => {
    const invalid = JSON.parse(text('composer-invalid.json')) as string[];
    expect(invalid.length).toBeGreaterThanOrEqual(20);
    for (const v of invalid) expect(normalizeComposerVersion(v), JSON.stringify(v)).toBeUndefined();
  });

  it('answers every ComparatorTest case as version_compare does', () => {
    const rows = dataLines('composer-comparator.tsv').map((l) => l.split('\t') as [string, string, string, string]);
    expect(rows.length).toBeGreaterThanOrEqual(50);
    for (const [a, op, b, want] of rows) expect(composerComparatorHolds(a, op, b), `${a} ${op} ${b}`).toBe(want === 'true');
  });

  it('answers php-src version_compare.phpt', () => {
    const lines = dataLines('php-version-compare.txt');
    expect(lines.length).toBe(54);
    for (const line of lines) {
      const [a, op, b] = line.split(' ') as [string, string, string];
      expect(phpVersionCompare(a, b), line).toBe(op === '<' ? -1 : op === '>' ? 1 : 0);
    }
  });

  it('sorts as SemverTest sortProvider (1.0 = 1.0.0, stability flags, dev branches)', () => {
    const sort = (list: string[]): string[] => [...list].sort(compareComposerVersions);
    expect(sort(['1.0', '0.1', '0.1', '3.2.1', '2.4.0-alpha', '2.4.0'])).toEqual(['0.1', '0.1', '1.0', '2.4.0-alpha', '2.4.0', '3.2.1']);
    expect(sort(['dev-foo', 'dev-master', '1.0', '50.2'])).toEqual(['dev-foo', '1.0', '50.2', 'dev-master']);
    expect(compareComposerVersions('1.0', '1.0.0')).toBe(0);
    expect(compareComposerVersions('v1.0.0', '1.0.0.0')).toBe(0);
    expect(compareComposerVersions('1.0.0-RC1', '1.0.0-rc1')).toBe(0);
    expect(compareComposerVersions('1.0.0@beta', '1.0.0')).toBe(0);
    expect(compareComposerVersions('1.0.0-beta.2', '1.0.0-beta10')).toBe(-1);
    expect(compareComposerVersions('1.0.0-p1', '1.0.0-patch1')).toBe(0);
    expect(compareComposerVersions('2.x-dev', '2.99.0')).toBe(1);
  });
});

describe('Alpine: apk-tools 2.x and 3.x', () => {
  const rows = dataLines('apk-oracle.tsv').map((l) => l.split('\t') as [string, string, string, string, string, string]);

  it('2.x port answers as the compiled apk-tools 2.14 version.c on every recorded pair', () => {
    expect(rows.length).toBeGreaterThan(5000);
    const wrong = rows.filter(([a, b, r2]) => compareApk2Versions(a, b) !== Number(r2)).map(([a, b, r2]) => `${a} vs ${b}: ${compareApk2Versions(a, b)}, want ${r2}`);
    expect(wrong).toEqual([]);
    const invalid = rows.filter(([a, b, , , va, vb]) => isValidApk2Version(a) !== (va[0] === '1') || isValidApk2Version(b) !== (vb[0] === '1'));
    expect(invalid).toEqual([]);
  });

  it('3.x port answers as the compiled apk-tools 3 version.c on every recorded pair', () => {
    const wrong = rows.filter(([a, b, , r3]) => compareApkVersions(a, b) !== Number(r3)).map(([a, b, , r3]) => `${a} vs ${b}: ${compareApkVersions(a, b)}, want ${r3}`);
    expect(wrong).toEqual([]);
    const invalid = rows.filter(([a, b, , , va, vb]) => isValidApkVersion(a) !== (va[1] === '1') || isValidApkVersion(b) !== (vb[1] === '1'));
    expect(invalid).toEqual([]);
  });

  it.skipIf(!fixturesAvailable())('2.x port holds apk-tools 2.14 test/version.data (the first 733 lines of the 3.x file)', () => {
    const lines = readFileSync(fixture('versions', 'apk.txt'), 'utf8').split('\n').slice(0, 733);
    let checked = 0;
    for (const raw of lines) {
      const parts = raw.trim().split(/\s+/);
      if (parts.length !== 3 || !/^[<>=]$/.test(parts[1]!)) continue;
      const [a, op, b] = parts as [string, string, string];
      expect(compareApk2Versions(a, b), raw).toBe(op === '<' ? -1 : op === '>' ? 1 : 0);
      checked++;
    }
    expect(checked).toBeGreaterThan(600);
  });

  it('compares each Alpine release with its own apk-tools generation', () => {
    expect(compareVersions('Alpine:v3.19', '8.2.0', '8.2.001')).toBe(1);
    expect(compareVersions('Alpine:v3.22', '1.0-r', '1.0-r0')).toBe(0);
    expect(compareVersions('Alpine:v3.23', '8.2.0', '8.2.001')).toBe(-1);
    expect(compareVersions('Wolfi', '8.2.0', '8.2.001')).toBe(-1);
    // suffix chains and revisions order alike in both
    for (const eco of ['Alpine:v3.18', 'Alpine:v3.23']) {
      expect(compareVersions(eco, '1.0_alpha1_pre2', '1.0_alpha1')).toBe(-1);
      expect(compareVersions(eco, '1.0_p1_p2', '1.0_p1')).toBe(1);
      expect(compareVersions(eco, '1.0_rc1-r3', '1.0-r0')).toBe(-1);
    }
  });
});

describe('RPM: rpm.vercmp', () => {
  it('answers as rpm 4.18 on 5,550 recorded EVR pairs (tilde, caret, separators other than dots, epochs, releases)', () => {
    const triples = tsvTriples('rpm-oracle.tsv');
    expect(triples.length).toBe(5550);
    expectTriples(compareRpmVersions, triples);
  });
});

describe('npm (and crates.io, Hex, Pub): node-semver', () => {
  it('orders every comparisons.js pair and equates every equality.js pair', () => {
    const greater = dataLines('npm-comparisons.tsv').map((l) => l.split('\t') as [string, string]);
    expect(greater.length).toBe(31);
    expectTriples(compareSemver, greater.map(([a, b]): [string, string, number] => [a, b, 1]));
    const equal = JSON.parse(text('npm-equality.json')) as Array<[string, string]>;
    expect(equal.length).toBe(37);
    expectTriples(compareSemver, equal.map(([a, b]): [string, string, number] => [a, b, 0]));
  });
});

describe('Go: golang.org/x/mod/semver', () => {
  it('orders semver_test.go tests as TestCompare does (shorthands, invalid below valid), with or without the v', () => {
    const tests = dataLines('go-semver.tsv').map((l) => l.split('\t') as [string, string]);
    expect(tests.length).toBe(32);
    const triples: Array<[string, string, number]> = [];
    tests.forEach(([a, ca], i) => tests.forEach(([b, cb], j) => triples.push([a, b, ca === cb ? 0 : Math.sign(i - j)])));
    expectTriples(compareGoVersions, triples);
    expectTriples(compareGoVersions, [['v1', 'v1', 0], ['v2', 'v1', 1], ['v1', 'v2', -1], ['v1.19', 'v1.2', 1]]);
    // OSV spells Go versions without the v; toolchains are go1.N[.P][rcN]
    expectTriples(compareGoVersions, [['1.2.3', 'v1.2.3', 0], ['1.19', 'v1.19.0', 0], ['go1.21rc2', '1.21.0', -1], ['go1.21.0', 'v1.21.0', 0]]);
  });
});

describe('RubyGems: Gem::Version', () => {
  it('answers every <=> and equality assertion of test_gem_version.rb', () => {
    const triples = tsvTriples('rubygems.tsv');
    expect(triples.length).toBeGreaterThanOrEqual(25);
    expectTriples(compareRubyGemsVersions, triples);
  });
});

describe('NuGet: NuGet.Versioning VersionComparer.Default', () => {
  it('answers VersionComparerTests (case-insensitive labels, numeric labels, metadata ignored)', () => {
    const triples = tsvTriples('nuget.tsv');
    expect(triples.length).toBe(13);
    expectTriples(compareNuGetVersions, triples);
  });
});
