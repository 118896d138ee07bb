import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import { parseManifests } from '../kube/manifests.js';
import { podOf } from '../kube/pods.js';
import type { KubeObject } from '../kube/types.js';
import { evaluatePodSecurity, parsePsaVersion, PSA_LATEST_MINOR } from './evaluate.js';
import type { PsaLevel } from './checks.js';

describe.skipIf(!fixturesAvailable())('Pod Security Standards against the upstream pod-security-admission fixtures', () => {
  it('classifies every fixture as its folder says (level, version, pass/fail)', () => {
    const root = fixture('policy', 'psa');
    const wrong: string[] = [];
    let total = 0;
    let misclassified = 0;
    for (const level of ['baseline', 'restricted'] as PsaLevel[]) {
      for (const version of readdirSync(path.join(root, level))) {
        for (const expected of ['pass', 'fail'] as const) {
          const dir = path.join(root, level, version, expected);
          let files: string[] = [];
          try { files = readdirSync(dir).filter((f) => f.endsWith('.yaml')); } catch { continue; }
          for (const file of files) {
            total++;
            const [doc] = parseManifests(readFileSync(path.join(dir, file), 'utf8'), file);
            const pod = doc ? podOf(doc.object) : undefined;
            if (!pod) { wrong.push(`${level}/${version}/${expected}/${file}: not a pod`); continue; }
            const violations = evaluatePodSecurity(pod, level, version);
            const got = violations.length === 0 ? 'pass' : 'fail';
            if (got !== expected) misclassified++;
            if (got !== expected) wrong.push(`${level}/${version}/${expected}/${file}: got ${got} ${violations.map((v) => v.check).join(',')}`);
            // A fail fixture is named after the check it breaks; that check must be among the reasons.
            if (expected === 'fail' && got === 'fail') {
              // Restricted revisions that override a baseline check report under their own id, as upstream.
              const check = file.replace(/\d*\.yaml$/, '');
              const accepted = [check, check.replace('_baseline', '_restricted')];
              if (check === 'procmount') accepted.push('procmount_restricted');
              if (!violations.some((v) => accepted.includes(v.check.toLowerCase()))) wrong.push(`${level}/${version}/${expected}/${file}: fails for ${violations.map((v) => v.check).join(',')} instead of ${check}`);
            }
          }
        }
      }
    }
    const rate = (total - misclassified) / total;
    console.log(`PSA fixtures: ${total - misclassified}/${total} classified correctly (${(rate * 100).toFixed(2)}%); ${wrong.length - misclassified} attributed to another check`);
    expect(total).toBeGreaterThan(4000);
    expect(wrong.slice(0, 20)).toEqual([]);
  });
});

describe('Pod Security Standards messages and versions', () => {
  const deployment = {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'shop' },
    spec: { template: { metadata: {}, spec: { containers: [{ name: 'app', image: 'nginx', securityContext: { privileged: true } }] } } },
  } as KubeObject;

  it('names the container and the field inside a workload template', () => {
    const pod = podOf(deployment)!;
    const v = evaluatePodSecurity(pod, 'baseline', 'latest');
    expect(v).toHaveLength(1);
    expect(v[0]).toMatchObject({ check: 'privileged', container: 'app', field: 'spec.template.spec.containers[0].securityContext.privileged' });
    expect(v[0]!.message).toContain('"app"');
  });

  it('checks a CronJob template at its path', () => {
    const cron = { kind: 'CronJob', metadata: { name: 'c' }, spec: { jobTemplate: { spec: { template: { spec: { hostPID: true, containers: [{ name: 'x' }] } } } } } } as KubeObject;
    const v = evaluatePodSecurity(podOf(cron)!, 'baseline');
    expect(v.map((x) => x.field)).toEqual(['spec.jobTemplate.spec.template.spec.hostPID']);
  });

  it('applies a control only from its minimum version', () => {
    const pod = podOf({ kind: 'Pod', spec: { containers: [{ name: 'a', securityContext: { runAsUser: 0 } }], securityContext: { runAsNonRoot: true } } } as KubeObject)!;
    expect(evaluatePodSecurity(pod, 'restricted', 'v1.7').map((v) => v.check)).toEqual([]);
    expect(evaluatePodSecurity(pod, 'restricted', 'v1.8').map((v) => v.check)).toEqual(['allowPrivilegeEscalation']);
    expect(evaluatePodSecurity(pod, 'restricted', 'v1.23').map((v) => v.check)).toContain('runAsUser');
  });

  it('parses versions and rejects nonsense', () => {
    expect(parsePsaVersion('latest')).toBe(PSA_LATEST_MINOR);
    expect(parsePsaVersion('v1.99')).toBe(PSA_LATEST_MINOR);
    expect(parsePsaVersion('1.19')).toBe(19);
    expect(() => parsePsaVersion('2.0')).toThrow(/invalid Pod Security Standards version/);
  });
});
