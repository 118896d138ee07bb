// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', 'test-results/', '.palisade/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Capabilities must not reach into the surfaces (DESIGN.md: data flows one way).
      'no-restricted-imports': 'off',
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
  {
    files: ['src/{core,store,jobs,vulndb,image,registry,audit,agent,policy,center}/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/server/**', '**/cli/**'], message: 'capabilities never import surfaces (DESIGN.md)' }] }],
    },
  },
);
