import { FINDING_SEVERITIES, severityRank, type FindingSeverity } from '../../../core/index.js';
import type { ImageAssessment, ImageFindingRef, ImageFindingsSummary, PolicyDefinition } from '../../model.js';
import { perContainer, q } from '../helpers.js';

export interface Parameters {
  /** Deny (or audit) images with findings at or above this severity. */
  severity: string;
  /** An image Palisade has not scanned (or cannot judge in time) violates too. */
  requireScan: boolean;
  /** Only findings with a fixed version count: nothing to upgrade to is not the deployer's to fix. */
  ignoreUnfixed: boolean;
}

/** How many findings a message names; the count says how many more there are. */
const NAMED = 3;

const nameFinding = (f: ImageFindingRef): string => `${f.id} (${f.severity}) in ${f.package} ${f.installedVersion} → ${f.fixedVersion ?? 'no fix'}`;

/** Findings of the summary that count under these parameters: how many, and the worst few. */
function countedFindings(summary: ImageFindingsSummary, parameters: Pick<Parameters, 'severity' | 'ignoreUnfixed'>): { count: number; worst: ImageFindingRef[] } {
  const threshold = severityRank(parameters.severity);
  let count = 0;
  for (const severity of FINDING_SEVERITIES) {
    if (severityRank(severity) < threshold) continue;
    const c = summary.counts[severity];
    if (c) count += c.fixable + (parameters.ignoreUnfixed ? 0 : c.unfixable);
  }
  const worst = count === 0 ? [] : summary.worst
    .filter((f) => severityRank(f.severity) >= threshold && (!parameters.ignoreUnfixed || f.fixedVersion !== undefined))
    .slice(0, NAMED);
  return { count, worst };
}

const shortDigest = (digest: string): string => digest.slice(0, 19);

function judge(image: string, assessment: ImageAssessment | undefined, p: Parameters): string | undefined {
  if (!assessment) return p.requireScan ? `image ${q(image)} was not checked for vulnerabilities` : undefined;
  switch (assessment.state) {
    case 'exempt':
      return undefined;
    case 'unscanned':
    case 'unresolved':
      return p.requireScan ? `image ${q(image)} has no Palisade vulnerability scan: ${assessment.reason}` : undefined;
    case 'scanned': {
      const { count, worst } = countedFindings(assessment.summary, p);
      if (count === 0) return undefined;
      const more = count > worst.length ? ` and ${count - worst.length} more` : '';
      return `image ${q(image)} (${shortDigest(assessment.summary.digest)}) has ${count} ${p.ignoreUnfixed ? 'fixable ' : ''}finding${count === 1 ? '' : 's'} at or above ${p.severity}: ${worst.map(nameFinding).join('; ')}${more}`;
    }
  }
}

/**
 * Defender's gated deployment: a workload whose images have stored vulnerability findings at or
 * above a severity is denied (or audited). The evaluator only reads image assessments the caller
 * resolved beforehand (tags to digests through the connected registries, digests to stored
 * findings, with VEX and exemptions applied), so it stays pure and synchronous; without them
 * (posture scans, `policy check`) it does not apply.
 */
export const imageVulnerabilities: PolicyDefinition<Parameters> = {
  id: 'image-vulnerabilities',
  title: 'Container images with vulnerability findings should not be deployed',
  description: 'Deploying an image whose scan found serious vulnerabilities puts known-exploitable code into the cluster; gating admission stops it before it runs.',
  severity: 'high',
  remediation: 'Rebuild the image on the fixed package versions each finding names, push it, and deploy the new digest; or, when the risk is accepted, exempt the image from the registry recommendation with a reason and an expiry.',
  control: 'Remediate vulnerabilities',
  appliesTo: 'pods',
  needs: 'image-assessments',
  defaults: { effect: 'disabled', parameters: { severity: 'critical', requireScan: false, ignoreUnfixed: false } },
  // Scaling or relabelling a workload that already runs an image is not deploying it anew.
  onUpdate: 'new-violations',
  sample: {
    parameters: { severity: 'high', requireScan: true },
    // Real findings: the fixture image debian12:app (registry.example.com/shop/app) scanned against the
    // GitHub Advisory Database records GHSA-xvch-5gv4-984h (minimist) and GHSA-35jh-r3h4-6jhm (lodash).
    images: {
      'registry.example.com/shop/app:1.0': {
        state: 'scanned',
        summary: {
          digest: 'sha256:f5e70c743f3715fccb4ce522d2c17246517accad6fbc1242c53c975ab051a4d7',
          counts: { critical: { fixable: 1, unfixable: 0 }, high: { fixable: 1, unfixable: 0 }, medium: { fixable: 1, unfixable: 0 } },
          worst: [
            { id: 'GHSA-xvch-5gv4-984h', severity: 'critical', package: 'minimist', installedVersion: '1.2.5', fixedVersion: '1.2.6' },
            { id: 'GHSA-35jh-r3h4-6jhm', severity: 'high', package: 'lodash', installedVersion: '4.17.20', fixedVersion: '4.17.21' },
            { id: 'GHSA-29mw-wpgm-hmr9', severity: 'medium', package: 'lodash', installedVersion: '4.17.20', fixedVersion: '4.17.21' },
          ],
        },
      },
      'registry.example.com/shop/base:12': {
        state: 'scanned',
        summary: {
          digest: 'sha256:36422f534d0bde24d4db9fccbdf1abb889ef47f730ee6a48711fa05cd9d945a6',
          counts: { unknown: { fixable: 49, unfixable: 0 } },
          worst: [{ id: 'DEBIAN-CVE-2026-109518', severity: 'unknown', package: 'apt', installedVersion: '2.6.1', fixedVersion: '2.6.2' }],
        },
      },
      'registry.example.com/shop/accepted:2': { state: 'exempt', digest: `sha256:${'a'.repeat(64)}`, reason: 'exempt from registry-images-vulnerabilities in registry:shop' },
      'ghcr.io/unknown/tool:1': { state: 'unscanned', reason: 'registry ghcr.io is not connected to Palisade' },
    },
  },
  evaluate: (ctx) => perContainer(ctx, (c) => {
    const image = String(c.container.image ?? '');
    const message = judge(image, ctx.images?.get(image), ctx.parameters);
    return message ? { message: `container ${q(c.name)} ${message}`, container: c.name, field: `${c.path}.image` } : undefined;
  }),
  validate: (p) => (FINDING_SEVERITIES.includes(p.severity as FindingSeverity) ? [] : [`severity: must be one of ${FINDING_SEVERITIES.join(', ')}`]),
};
