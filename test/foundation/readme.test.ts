import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/core/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

describe('README promises', () => {
  it('documents every configuration setting with its environment variable', () => {
    for (const setting of SETTINGS) {
      expect(readme, `${setting.key} missing from README`).toContain(`\`${setting.env}\``);
    }
  });

  it('keeps the two set-up commands, and CI runs the test one', () => {
    const commands = [...readme.matchAll(/```sh\n([^\n]+)\n```/g)].map((m) => m[1]);
    expect(commands).toEqual(['npm ci && npm start', 'npm test']);
    expect(readFileSync(path.join(root, '.ci/run'), 'utf8')).toMatch(/^npm test$/m);
  });
});
