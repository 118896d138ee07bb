/** Output formats of `palisade policy check`: table for people, JSON for scripts, SARIF 2.1 for code scanning. */
import { readFileSync } from 'node:fs';
import { PalisadeError, sarifLog, yamlLibrary } from '../core/index.js';
import { compilePolicySet, evaluateObject, type EvaluateOptions, type PolicySet } from './engine.js';
import type { SourcedObject } from './kube/manifests.js';
import { documentLines, type DocumentLines } from './locate.js';
import type { AnyPolicy, PolicyConfig, PolicyResult } from './model.js';
import { BUILTIN_POLICIES } from './policies/index.js';

export interface CheckReport {
  results: PolicyResult[];
}

/** Source file of each result, index-aligned with `results` (SARIF locations). */
export interface CheckOutcome extends CheckReport {
  sources: string[];
  resources: number;
}

export function checkManifests(objects: SourcedObject[], set: PolicySet, options: EvaluateOptions = {}): CheckOutcome {
  const results: PolicyResult[] = [];
  const sources: string[] = [];
  for (const { object, source } of objects) {
    for (const r of evaluateObject(set, object, options)) {
      results.push(r);
      sources.push(source);
    }
  }
  return { results, sources, resources: objects.length };
}

/** A policy configuration file (YAML or JSON): `{ policies: { ID: settings }, exceptions: [...] }`. */
export function loadPolicyConfig(file: string | undefined, definitions: readonly AnyPolicy[] = BUILTIN_POLICIES): PolicySet {
  if (!file) return compilePolicySet(definitions);
  let config: unknown;
  try {
    config = yamlLibrary().parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PalisadeError('policy.config_unreadable', `${file}: ${(error as Error).message.split('\n')[0]}`, { field: '--policies', hint: 'a YAML file with policies: and exceptions:' });
  }
  if (config != null && (typeof config !== 'object' || Array.isArray(config))) {
    throw new PalisadeError('policy.config_invalid', `${file}: expected a map with policies: and exceptions:`, { field: '--policies' });
  }
  return compilePolicySet(definitions, (config ?? {}) as PolicyConfig);
}

const resourceName = (r: PolicyResult): string => `${r.resource.kind}/${r.resource.namespace ? `${r.resource.namespace}/` : ''}${r.resource.name}`;

export function formatTable(report: CheckReport): string {
  if (report.results.length === 0) return 'no policy violations';
  const rows = report.results.map((r) => [resourceName(r), r.policy, r.effect, r.severity, r.message]);
  const header = ['RESOURCE', 'POLICY', 'EFFECT', 'SEVERITY', 'MESSAGE'];
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => row[i]!.length))));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

export function formatJson(report: CheckReport): string {
  return JSON.stringify({ results: report.results }, null, 2);
}

const SARIF_LEVEL = { deny: 'error', audit: 'warning' } as const;

/**
 * SARIF 2.1.0 (core's writer): one rule per policy, one result per violation, located by file, line of the field
 * (or of its nearest existing parent) and resource. `texts` supplies sources not on disk (stdin).
 */
export function toSarif(outcome: CheckOutcome, definitions: readonly AnyPolicy[] = BUILTIN_POLICIES, version = '0.1.0', texts: Map<string, string> = new Map()): object {
  const lines = new Map<string, DocumentLines | undefined>();
  const linesOf = (file: string): DocumentLines | undefined => {
    if (!lines.has(file)) {
      let text = texts.get(file);
      if (text === undefined && file !== '-') { try { text = readFileSync(file, 'utf8'); } catch { text = undefined; } }
      lines.set(file, text === undefined ? undefined : documentLines(text));
    }
    return lines.get(file);
  };
  const used = new Set(outcome.results.map((r) => r.policy));
  return sarifLog({
    toolVersion: version,
    rules: definitions.filter((d) => used.has(d.id)).map((d) => ({
      id: d.id,
      name: d.id,
      shortDescription: { text: d.title },
      fullDescription: { text: d.description },
      help: { text: d.remediation },
      properties: { severity: d.severity, tags: ['kubernetes', 'security', d.control] },
    })),
    results: outcome.results.map((r, i) => {
      const source = outcome.sources[i] ?? '-';
      const file = source.replace(/#\d+$/, '');
      const line = linesOf(file)?.line(Number(/#(\d+)$/.exec(source)?.[1] ?? 1), r.field);
      return {
        ruleId: r.policy,
        level: SARIF_LEVEL[r.effect],
        message: { text: `${resourceName(r)}: ${r.message}` },
        locations: [{
          ...(file !== '-' || line !== undefined ? { physicalLocation: { artifactLocation: { uri: file === '-' ? 'stdin' : file }, ...(line !== undefined ? { region: { startLine: line } } : {}) } } : {}),
          logicalLocations: [{ fullyQualifiedName: `${resourceName(r)}${r.field ? `#${r.field}` : ''}`, kind: 'resource' }],
        }],
        properties: { severity: r.severity, effect: r.effect, ...(r.container ? { container: r.container } : {}), ...(r.field ? { field: r.field } : {}) },
      };
    }),
  });
}
