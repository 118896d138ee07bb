import { describe, expect, it } from 'vitest';
import { SARIF_SCHEMA, sarifLog } from './sarif.js';

describe('sarifLog', () => {
  it('writes one run naming the tool, with each result pointing at the index of the rule it cites', () => {
    const log = sarifLog({
      toolVersion: '9.9.9',
      rules: [{ id: 'a', shortDescription: { text: 'A' } }, { id: 'b', shortDescription: { text: 'B' } }],
      results: [
        { ruleId: 'b', level: 'error', message: { text: 'one' }, locations: [] },
        { ruleId: 'a', level: 'note', message: { text: 'two' }, locations: [] },
        { ruleId: 'c', level: 'warning', message: { text: 'three' }, locations: [] },
      ],
      properties: { image: 'x' },
    }) as { $schema: string; version: string; runs: Array<{ tool: { driver: { name: string; version: string; rules: unknown[] } }; results: Array<{ ruleId: string; ruleIndex?: number }>; properties?: unknown }> };
    expect(log.$schema).toBe(SARIF_SCHEMA);
    expect(log.version).toBe('2.1.0');
    expect(log.runs).toHaveLength(1);
    const run = log.runs[0]!;
    expect(run.tool.driver).toMatchObject({ name: 'palisade', version: '9.9.9' });
    expect(run.results.map((r) => [r.ruleId, r.ruleIndex])).toEqual([['b', 1], ['a', 0], ['c', undefined]]);
    expect(run.properties).toEqual({ image: 'x' });
  });
});
