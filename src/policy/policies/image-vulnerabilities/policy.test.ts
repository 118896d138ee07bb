import { describe, expect, it } from 'vitest';
import { assessObject, compilePolicySet, evaluateObject, evaluateUpdate } from '../../engine.js';
import type { ImageAssessment } from '../../model.js';
import { imageVulnerabilities } from './policy.js';

const APP = 'registry.example.com/shop/app:1.0';
const pod = (image: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop' }, spec: { containers: [{ name: 'c', image }] } });
const sample = imageVulnerabilities.sample!.images!;
const images = (extra: Record<string, ImageAssessment> = {}) => new Map(Object.entries({ ...sample, ...extra }));
const set = (parameters: Record<string, unknown> = {}, effect: 'audit' | 'deny' = 'deny') => compilePolicySet([imageVulnerabilities], { policies: { 'image-vulnerabilities': { effect, parameters } } });

describe('image-vulnerabilities', () => {
  it('denies at the default severity (critical), naming the worst finding with its fix', () => {
    const results = evaluateObject(set(), pod(APP), { images: images() });
    expect(results).toEqual([expect.objectContaining({
      policy: 'image-vulnerabilities', effect: 'deny', field: 'spec.containers[0].image',
      message: 'container "c" image "registry.example.com/shop/app:1.0" (sha256:f5e70c743f37) has 1 finding at or above critical: GHSA-xvch-5gv4-984h (critical) in minimist 1.2.5 → 1.2.6',
    })]);
  });

  it('counts every finding at or above a lower threshold and names the worst three', () => {
    const [result] = evaluateObject(set({ severity: 'medium' }), pod(APP), { images: images() });
    expect(result!.message).toMatch(/has 3 findings at or above medium: GHSA-xvch-5gv4-984h \(critical\).*; GHSA-35jh-r3h4-6jhm \(high\).*; GHSA-29mw-wpgm-hmr9 \(medium\)/);
  });

  it('allows an image whose worst finding is below the threshold', () => {
    const onlyHigh: ImageAssessment = { state: 'scanned', summary: { digest: `sha256:${'b'.repeat(64)}`, counts: { high: { fixable: 2, unfixable: 0 } }, worst: [{ id: 'GHSA-35jh-r3h4-6jhm', severity: 'high', package: 'lodash', installedVersion: '4.17.20', fixedVersion: '4.17.21' }] } };
    expect(evaluateObject(set(), pod('r/lite:1'), { images: images({ 'r/lite:1': onlyHigh }) })).toEqual([]);
    expect(evaluateObject(set({ severity: 'high' }), pod('r/lite:1'), { images: images({ 'r/lite:1': onlyHigh }) })).toHaveLength(1);
  });

  it('ignoreUnfixed leaves out findings with nothing to upgrade to', () => {
    const unfixed: ImageAssessment = { state: 'scanned', summary: { digest: `sha256:${'c'.repeat(64)}`, counts: { critical: { fixable: 0, unfixable: 1 } }, worst: [{ id: 'CVE-2026-1', severity: 'critical', package: 'zlib1g', installedVersion: '1:1.2.13' }] } };
    const opts = { images: images({ 'r/u:1': unfixed }) };
    expect(evaluateObject(set(), pod('r/u:1'), opts)[0]!.message).toContain('CVE-2026-1 (critical) in zlib1g 1:1.2.13 → no fix');
    expect(evaluateObject(set({ ignoreUnfixed: true }), pod('r/u:1'), opts)).toEqual([]);
  });

  it('requireScan turns an unscanned or undecided image into a violation that says why; exempt images pass', () => {
    const opts = { images: images({ 'x/slow:1': { state: 'unresolved', reason: 'the registry did not answer within 2000 ms' } }) };
    expect(evaluateObject(set(), pod('ghcr.io/unknown/tool:1'), opts)).toEqual([]);
    expect(evaluateObject(set({ requireScan: true }), pod('ghcr.io/unknown/tool:1'), opts)[0]!.message)
      .toBe('container "c" image "ghcr.io/unknown/tool:1" has no Palisade vulnerability scan: registry ghcr.io is not connected to Palisade');
    expect(evaluateObject(set({ requireScan: true }), pod('x/slow:1'), opts)[0]!.message).toContain('did not answer within 2000 ms');
    expect(evaluateObject(set({ requireScan: true, severity: 'low' }), pod('registry.example.com/shop/accepted:2'), opts)).toEqual([]);
  });

  it('is not applicable where nobody resolved images (posture scans, policy check), rather than falsely healthy', () => {
    const [assessment] = assessObject(set(), pod(APP));
    expect(assessment!.status).toBe('notApplicable');
    expect(evaluateObject(set({ requireScan: true }), pod(APP))).toEqual([]);
  });

  it('does not block an UPDATE that keeps the image (scaling), but does one that brings it in', () => {
    const deployment = (image: string, replicas: number) => ({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'shop' }, spec: { replicas, template: { spec: { containers: [{ name: 'c', image }] } } } });
    const opts = { images: images() };
    expect(evaluateUpdate(set(), deployment(APP, 5), deployment(APP, 2), opts)).toEqual([]);
    expect(evaluateUpdate(set(), deployment(APP, 2), deployment('registry.example.com/shop/base:12', 2), opts)).toHaveLength(1);
  });

  it('refuses a severity that is not on the scale, naming the key', () => {
    expect(() => set({ severity: 'severe' })).toThrow(/policies\.image-vulnerabilities\.parameters\.severity: must be one of critical, high, medium, low, informational, unknown/);
    expect(() => set({ requireScan: 'yes' })).toThrow(/requireScan: expected boolean, got string/);
  });
});
