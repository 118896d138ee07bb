/**
 * The one SARIF 2.1.0 writer (OASIS Static Analysis Results Interchange Format), for every command
 * that speaks to code-scanning UIs: `palisade scan` (one rule per advisory) and `palisade policy
 * check` (one rule per policy). Each capability maps its own results to rules and results; this
 * writes the log around them (schema, tool, rule indexes) so both logs name the tool alike and a
 * result always points at the rule it cites. Kept in core because two capabilities share it and
 * a capability may not import another's internals.
 */

export type SarifLevel = 'error' | 'warning' | 'note' | 'none';

export interface SarifText {
  text: string;
  markdown?: string;
}

export interface SarifRule {
  id: string;
  name?: string;
  shortDescription: SarifText;
  fullDescription?: SarifText;
  help?: SarifText;
  properties?: Record<string, unknown>;
}

export interface SarifLocation {
  physicalLocation?: { artifactLocation: { uri: string }; region?: { startLine: number } };
  logicalLocations?: Array<{ name?: string; fullyQualifiedName?: string; kind: string }>;
}

/** A result as a capability writes it: `ruleIndex` is filled in from the rule list. */
export interface SarifResult {
  ruleId: string;
  level: SarifLevel;
  message: SarifText;
  locations: SarifLocation[];
  partialFingerprints?: Record<string, string>;
  properties?: Record<string, unknown>;
}

export interface SarifRun {
  /** The palisade release that wrote the log. */
  toolVersion: string;
  rules: SarifRule[];
  results: SarifResult[];
  /** Run-level properties (the scanned image, ...). */
  properties?: Record<string, unknown>;
}

export const SARIF_SCHEMA = 'https://json.schemastore.org/sarif-2.1.0.json';
const TOOL_URI = 'https://github.com/palisade-security/palisade';

/** A SARIF log with one run. Results citing a rule not in `rules` get no `ruleIndex` (SARIF allows that). */
export function sarifLog(run: SarifRun): object {
  const ruleIndex = new Map(run.rules.map((r, i) => [r.id, i]));
  return {
    $schema: SARIF_SCHEMA,
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'palisade', version: run.toolVersion, informationUri: TOOL_URI, rules: run.rules } },
        results: run.results.map(({ ruleId, ...rest }) => ({ ruleId, ruleIndex: ruleIndex.get(ruleId), ...rest })),
        ...(run.properties ? { properties: run.properties } : {}),
      },
    ],
  };
}
