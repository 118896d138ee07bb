import path from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

// The boundaries of DESIGN.md are ESLint rules (eslint.config.js). These cases lint virtual files
// (ESLint's lintText with a path that need not exist) through the repository's own config, so a
// config that stopped catching a forbidden import fails here, not silently in review.
const root = path.resolve(import.meta.dirname, '../..');
const eslint = new ESLint({ cwd: root });

async function boundaryErrors(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  // Severity 2: an error that fails `npm run lint`, not a warning that scrolls by.
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' && m.severity === 2).map((m) => m.message);
}

const forbidden: Array<[string, string, string, RegExp]> = [
  ['a capability importing the HTTP surface', 'src/registry/virtual.ts', `import { buildApp } from '../server/index.js';`, /never import a surface/],
  ['a capability importing the CLI, from a subfolder', 'src/image/catalog/virtual.ts', `import { main } from '../../cli/main.js';`, /never import a surface/],
  ['a capability importing fastify', 'src/registry/virtual.ts', `import type { FastifyBaseLogger } from 'fastify';`, /only the HTTP surface/],
  ['the center importing a Fastify plugin', 'src/center/virtual.ts', `import cookie from '@fastify/cookie';`, /only the HTTP surface/],
  ['the store importing a capability through its face', 'src/store/virtual.ts', `import { matchInventory } from '../vulndb/index.js';`, /store\/ may import only core/],
  ['the rule kernel importing a capability', 'src/rules/virtual.ts', `import { loadAuditRules } from '../audit/index.js';`, /rules\/ may import only core/],
  ['core importing the store', 'src/core/virtual.ts', `import type { Store } from '../store/index.js';`, /core\/ may import no other folder/],
  ['a folder reaching past another folder\'s face', 'src/policy/live/virtual.ts', `import { storeAuditEvents } from '../../audit/events-store.js';`, /only through its face/],
  ['a route reaching into the center', 'src/server/routes/api/virtual.ts', `export { scoreView } from '../../../center/score-history.js';`, /only through its face/],
  ['shipped code importing test helpers', 'src/image/virtual.ts', `import { fixture } from '../../test/support/fixtures.js';`, /never imports test\//],
  ['shipped code three folders deep importing test helpers', 'src/server/routes/api/virtual.ts', `import { createTestStore } from '../../../../test/support/store.js';`, /never imports test\//],
];

const allowed: Array<[string, string, string]> = [
  ['a capability importing another through its face', 'src/registry/virtual.ts', `import { refreshSecureScore } from '../center/index.js';`],
  ['a subfolder importing a face', 'src/policy/live/virtual.ts', `import { isPlanEnabled } from '../../center/index.js';`],
  ['a folder importing its own modules', 'src/image/catalog/virtual.ts', `import { scanImage } from '../scan.js';\nimport { parseDpkgStatus } from './dpkg.js';`],
  ['the surface importing faces and fastify', 'src/server/routes/api/virtual.ts', `import type { FastifyInstance } from 'fastify';\nimport { listAlerts } from '../../../center/index.js';`],
  ['the store importing core', 'src/store/virtual.ts', `import { PalisadeError } from '../core/index.js';`],
  ['the job queue importing the store', 'src/jobs/virtual.ts', `import type { Store } from '../store/index.js';`],
  ['a unit test beside the code using test/support', 'src/image/virtual.test.ts', `import { fixture } from '../../test/support/fixtures.js';`],
  ['a testing helper in src using test/support', 'src/vulndb/testing/virtual.ts', `import { fixture } from '../../../test/support/fixtures.js';`],
];

describe('eslint.config.js enforces the faces of DESIGN.md', () => {
  it.each(forbidden)('rejects %s', async (_name, file, source, message) => {
    const errors = await boundaryErrors(file, source);
    expect(errors.length, `${file}: ${source}`).toBeGreaterThan(0);
    expect(errors.join('\n')).toMatch(message);
  });

  it.each(allowed)('accepts %s', async (_name, file, source) => {
    expect(await boundaryErrors(file, source)).toEqual([]);
  });
});
