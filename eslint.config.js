// @ts-check
import { readdirSync } from 'node:fs';
import path from 'node:path';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// DESIGN.md's boundaries, checked on every `npm run lint` (and so on every `npm test`).
// Built from ESLint's own `no-restricted-imports` with regex patterns, one block per folder and
// depth: a relative import names its target by counting `../`, so the pattern that means
// "another folder of src/" depends on how deep the importing file sits.

/** The folders of src/, read from disk so a new folder is checked from its first file. Each one's index.ts is its public face. */
const FOLDERS = readdirSync(path.join(import.meta.dirname, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
/** Surfaces read the center; nothing below them may import them (data flows one way). */
const SURFACES = ['server', 'cli'];
/**
 * Folders that may import only a few others. `core` is the shared vocabulary and imports no
 * folder; `store` persists aggregates and never imports a capability; `jobs` is the queue wiring
 * over the store; `rules` is the detection-rule kernel audit and agent share, and knows no
 * capability. Folders not listed may import any folder that is not a surface.
 */
const ONLY = { core: [], store: ['core'], jobs: ['core', 'store'], rules: ['core'] };
const WHY_ONLY = {
  core: 'core is the vocabulary every folder shares',
  store: 'the store never imports a capability (DESIGN.md): owners declare their tables on its Database type',
  jobs: 'the queue wiring knows no capability; each registers its own handlers',
  rules: 'the rule kernel serves audit and agent alike and knows no event type',
};
/** How deep below src/<folder>/ a source file may sit; deeper files would go unchecked. */
const MAX_DEPTH = 6;

const any = (names) => `(?:${names.join('|')})`;

/** no-restricted-imports patterns for a file `depth` folders below src/<folder>/. */
export function boundaryPatterns(folder, depth, { isTest }) {
  const toSrc = `^(?:\\.\\./){${depth + 1}}`;
  const others = FOLDERS.filter((f) => f !== folder);
  const patterns = [
    {
      regex: `${toSrc}${any(others)}/(?!index\\.js$)`,
      message: `import another folder only through its face, its index.ts (DESIGN.md "Layout"): add what you need to that index.ts`,
    },
  ];
  if (!SURFACES.includes(folder)) {
    patterns.push(
      { regex: `${toSrc}${any(SURFACES)}(?:/|$)`, message: 'capabilities, the center and the store never import a surface (server/, cli/): data flows one way (DESIGN.md)' },
      { regex: '^(?:fastify|fastify-plugin|@fastify/.*)$', message: 'only the HTTP surface (src/server) imports Fastify; take a plain logger or callback instead' },
    );
  }
  if (folder in ONLY) {
    const allowed = ONLY[folder];
    const forbidden = others.filter((f) => !allowed.includes(f) && !SURFACES.includes(f));
    if (forbidden.length > 0) {
      patterns.push({
        regex: `${toSrc}${any(forbidden)}(?:/|$)`,
        message: `${folder}/ may import ${allowed.length ? `only ${allowed.join(', ')}` : 'no other folder'}: ${WHY_ONLY[folder] ?? 'see ONLY in eslint.config.js'}`,
      });
    }
  }
  // Unit tests beside the code may use the shared helpers under test/ (test/support: temp
  // store, fixtures, real registry); shipped code never may, so nothing in dist/ reaches test/.
  if (!isTest) {
    patterns.push({ regex: `^(?:\\.\\./){${depth + 2}}test(?:/|$)`, message: 'shipped code never imports test/ (only *.test.ts and testing/ helpers may)' });
  }
  return patterns;
}


/** Test code inside src/: excluded from the build (tsconfig.build.json), so it may reach test/. */
const SRC_TEST_FILES = ['src/**/*.test.ts', 'src/*/testing/**/*.ts'];

function boundaryBlocks() {
  const blocks = [];
  for (const folder of FOLDERS) {
    for (let depth = 0; depth <= MAX_DEPTH; depth += 1) {
      const dirs = '*/'.repeat(depth);
      blocks.push({
        files: [`src/${folder}/${dirs}*.ts`],
        ignores: SRC_TEST_FILES,
        rules: { 'no-restricted-imports': ['error', { patterns: boundaryPatterns(folder, depth, { isTest: false }) }] },
      });
      const testFiles = [`src/${folder}/${dirs}*.test.ts`];
      if (depth > 0) testFiles.push(`src/${folder}/testing/${'*/'.repeat(depth - 1)}*.ts`);
      blocks.push({
        files: testFiles,
        rules: { 'no-restricted-imports': ['error', { patterns: boundaryPatterns(folder, depth, { isTest: true }) }] },
      });
    }
  }
  return blocks;
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', 'test-results/', '.palisade/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plain Node scripts (build and deploy helpers).
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
  {
    // Migrations describe tables that do not exist yet: Kysely's documented pattern is Kysely<any>.
    files: ['src/store/migrations/**/*.ts', 'src/store/migrate.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  ...boundaryBlocks(),
);
