import type { DetectedThreat } from '../../src/center/index.js';

/**
 * A detected threat on one pod, as the audit rules produce it (exec into a pod), for tests of what
 * the center does with threats. Tests override what they look at; `at` always comes from the test
 * (tests assert no absolute time of their own making).
 */
export function podThreat(pod: string, at: Date, overrides: Partial<DetectedThreat> = {}): DetectedThreat {
  const { cluster = 'prod', namespace = 'default' } = overrides.resource ?? {};
  return {
    rule: 'exec-into-pod',
    title: `Exec into ${pod}`,
    severity: 'high',
    tactic: 'Execution',
    resource: { kind: 'pod', id: `${cluster}/${namespace}/pod/${pod}`, name: pod, cluster, namespace },
    evidence: [],
    remediation: 'Restrict pods/exec',
    source: 'audit',
    at,
    ...overrides,
  };
}
