/**
 * Agreement with reference implementations run live where this machine has them: pypa/packaging
 * under python3, and Maven's ComparableVersion from a maven-artifact 3.9 jar. Without them the
 * recorded answers in reference.test.ts still run; these say so and skip.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compareMavenVersions, comparePep440, isValidPep440 } from './index.js';

const TESTDATA = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata');
const lines = (file: string): string[] => readFileSync(path.join(TESTDATA, file), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'));

const PACKAGING_ORACLE = `
import json, sys
from packaging.version import InvalidVersion, Version
def parse(v):
    try:
        return Version(v)
    except InvalidVersion:
        return None
req = json.load(sys.stdin)
valid = [parse(v) is not None for v in req["versions"]]
out = []
for a, b in req["pairs"]:
    x, y = parse(a), parse(b)
    out.append(None if x is None or y is None else (x > y) - (x < y))
print(json.dumps({"valid": valid, "pairs": out}))
`;

function python(): string | undefined {
  try {
    execFileSync('python3', ['-c', 'import packaging.version'], { stdio: 'ignore' });
    return 'python3';
  } catch {
    return undefined;
  }
}

const havePackaging = python() !== undefined;
if (!havePackaging) console.warn('SKIP packaging oracle: python3 with the packaging module not found (apt-get install python3-packaging)');

describe.skipIf(!havePackaging)('PyPI comparator agrees with pypa/packaging run here', () => {
  it('on every pair of packaging test strings and their normal forms, and on which strings are PEP 440', () => {
    const equal = JSON.parse(readFileSync(path.join(TESTDATA, 'pypi-equal.json'), 'utf8')) as Array<[string, string]>;
    const legacy = lines('pypi-legacy.tsv').flatMap((l) => l.split('\t').slice(0, 2));
    const versions = [...new Set([...lines('pypi-sorted.txt'), ...equal.flat(), ...lines('pypi-invalid.txt'), ...legacy])];
    const valid = versions.filter(isValidPep440);
    const pairs: Array<[string, string]> = [];
    for (const a of valid) for (const b of valid) pairs.push([a, b]);
    expect(pairs.length).toBeGreaterThan(40_000);
    const answer = JSON.parse(
      execFileSync('python3', ['-c', PACKAGING_ORACLE], { input: JSON.stringify({ versions, pairs }), maxBuffer: 64 << 20 }).toString('utf8'),
    ) as { valid: boolean[]; pairs: Array<number | null> };
    const validity = versions.filter((v, i) => isValidPep440(v) !== answer.valid[i]);
    expect(validity).toEqual([]);
    const wrong = pairs.filter(([a, b], i) => comparePep440(a, b) !== answer.pairs[i]).slice(0, 20);
    expect(wrong).toEqual([]);
  }, 120_000);
});

/** A maven-artifact 3.9.x jar: PALISADE_MAVEN_ARTIFACT_JAR, or the local Maven repository. */
function mavenArtifactJar(): string | undefined {
  const env = process.env.PALISADE_MAVEN_ARTIFACT_JAR;
  if (env) return existsSync(env) ? env : undefined;
  const dir = path.join(os.homedir(), '.m2', 'repository', 'org', 'apache', 'maven', 'maven-artifact');
  if (!existsSync(dir)) return undefined;
  const version = readdirSync(dir).filter((v) => /^3\.9\.\d+$/.test(v)).sort().pop();
  const jar = version && path.join(dir, version, `maven-artifact-${version}.jar`);
  return jar && existsSync(jar) ? jar : undefined;
}

function haveJava(): boolean {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const jar = mavenArtifactJar();
const mavenOracle = jar !== undefined && haveJava();
if (!mavenOracle) console.warn('SKIP ComparableVersion oracle: needs java and a maven-artifact 3.9 jar (PALISADE_MAVEN_ARTIFACT_JAR or ~/.m2)');

describe.skipIf(!mavenOracle)('Maven comparator agrees with ComparableVersion run here', () => {
  it('on every pair of strings in the recorded Maven vectors', () => {
    const strings = [...new Set([...lines('maven-asserts.tsv'), ...lines('maven-oracle.tsv')].flatMap((l) => l.split('\t').slice(0, 2)))];
    const pairs: Array<[string, string]> = [];
    for (const a of strings) for (const b of strings) if (a !== b && !a.includes('\n') && !b.includes('\n')) pairs.push([a, b]);
    expect(pairs.length).toBeGreaterThan(50_000);
    const out = execFileSync('java', ['-cp', jar!, path.join(TESTDATA, 'MavenOracle.java')], {
      input: pairs.map(([a, b]) => `${a}\t${b}`).join('\n') + '\n',
      maxBuffer: 64 << 20,
    }).toString('utf8');
    const truth = out.trim().split('\n').map(Number);
    expect(truth.length).toBe(pairs.length);
    const wrong = pairs.filter(([a, b], i) => compareMavenVersions(a, b) !== truth[i]).slice(0, 20);
    expect(wrong).toEqual([]);
  }, 300_000);
});
