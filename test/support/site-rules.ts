/**
 * A user's audit rule as a site would write it in its rules directory: any pod created in the
 * `debug` namespace. Tests append it to a rule file (`rules:` block included).
 */
export const SITE_DEBUG_NAMESPACE_RULE = `rules:
  - id: site.debug-namespace
    title: Pod in the debug namespace
    description: Nobody should run pods in debug.
    severity: low
    mitre: { tactic: Execution, technique: T1610 }
    matrix: New container
    remediation: Delete it.
    condition: { verb: create, resource: pods, namespace: debug }
`;
