import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRepositoryName } from './names.js';

/** distribution/reference's own name-grammar cases (see testdata/SOURCES.md). */
const recorded = JSON.parse(readFileSync(path.join(import.meta.dirname, 'testdata', 'distribution-reference-names.json'), 'utf8')) as {
  valid: string[];
  invalid: string[];
};

describe('repository names against distribution/reference test cases', () => {
  it.each(recorded.valid)('accepts %j', (name) => {
    expect(isRepositoryName(name)).toBe(true);
  });
  it.each(recorded.invalid)('refuses %j', (name) => {
    expect(isRepositoryName(name)).toBe(false);
  });
});
