import { describe, expect, it } from 'vitest';
import { atLeast, compareSeverity, FINDING_SEVERITIES, isFindingSeverity, isSeverity, SEVERITIES, severityRank } from './severity.js';

describe('the severity scale', () => {
  it('ranks critical above every level and unknown (or any other word) below informational', () => {
    const shuffled = ['low', 'unknown', 'critical', 'informational', 'medium', 'high'];
    expect(shuffled.sort((a, b) => compareSeverity(b, a))).toEqual([...FINDING_SEVERITIES]);
    expect(severityRank('unknown')).toBe(0);
    expect(severityRank('negligible')).toBe(severityRank('unknown'));
    expect(compareSeverity('informational', 'unknown')).toBeGreaterThan(0);
  });

  it('compares thresholds on the same scale', () => {
    expect(atLeast('critical', 'high')).toBe(true);
    expect(atLeast('high', 'high')).toBe(true);
    expect(atLeast('medium', 'high')).toBe(false);
    expect(atLeast('unknown', 'informational')).toBe(false);
  });

  it('gives rules and alerts the five levels only; findings may also be unknown', () => {
    expect(SEVERITIES.every(isSeverity)).toBe(true);
    expect(isSeverity('unknown')).toBe(false);
    expect(isFindingSeverity('unknown')).toBe(true);
    expect(isSeverity('Critical')).toBe(false);
    expect(isFindingSeverity(3)).toBe(false);
  });
});
