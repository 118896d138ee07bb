// `npm run build` ends here: the CLI (and with it the server, the agent and every command) bundled
// by esbuild into dist/bin/, the file users run (`palisade`, the image's entry point). Node then
// reads a few dozen files instead of some 2,000 modules, each resolved, read and compiled on its
// own: `palisade scan --help` took 0.27 s unbundled against 0.16 s bundled here (node -e 0: 0.08 s).
// Each command stays its own chunk, loaded only when that command runs (src/cli/main.ts).
//
// The compiled tree in dist/ stays: it holds the data the code finds beside itself (rules,
// migrations, the bpftrace script, the store template), and the build scripts import it.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';

process.chdir(path.join(import.meta.dirname, '..'));

/**
 * Packages left to Node's own loading, each for a reason the bundle cannot carry:
 * files found beside their own code at run time (PGlite's WebAssembly and data), worker threads
 * started by module path (thread-stream; pino-pretty), optional native add-ons tried with require
 * (pg-native), and CommonJS modules loaded with import(), whose named exports only Node's loader
 * gives (see cjsBehindImport below): selfsigned, and the cookie module @fastify/cookie imports.
 * Everything else a server start loads is bundled: each package left to Node costs its files'
 * resolving, reading and wrapping one by one (yaml alone is 73 files). pino is bundled because
 * Palisade never uses its transports, the one part that starts a worker by path; Swagger UI is
 * told where its pages are (src/server/swagger-ui-files.ts).
 */
const EXTERNAL = [
  '@electric-sql/pglite',
  '@electric-sql/pglite/*',
  '@fastify/cookie',
  'pino-pretty',
  'thread-stream',
  'pg-native',
  'selfsigned',
];

/**
 * `import.meta.dirname` means the source file's folder, where its data lies in dist/ (rules beside
 * their engine, migrations beside the store). In a bundle it would be dist/bin/ for every module:
 * each use is rewritten to the folder the module compiles to, found from the bundle's own place.
 */
const dirnameOfSource = {
  name: 'dirname-of-source',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.dirname')) return undefined;
      const folder = path.relative('src', path.dirname(args.path)).split(path.sep).join('/');
      return { contents: source.replaceAll('import.meta.dirname', `__palisadeDist(${JSON.stringify(folder)})`), loader: 'ts' };
    });
  },
};

/**
 * node-postgres asks, as it loads, whether it runs in a Cloudflare Worker: where `navigator` is
 * missing (Node 20; Node 21 and later have it) it evaluates `typeof Response`, and that loads
 * Node's whole fetch implementation (undici), ~30 ms of every server start here, which pg-boss
 * pays by importing pg even on the embedded database. Palisade never runs in a Worker: in the
 * bundle that question answers itself. Only that expression in that file is replaced; when pg
 * changes it, the build says so and the bundle keeps pg's own check.
 */
const CLOUDFLARE_PROBE = "typeof Response === 'function'";
const pgWithoutCloudflareProbe = {
  name: 'pg-without-cloudflare-probe',
  setup(esbuild) {
    esbuild.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(CLOUDFLARE_PROBE)) {
        console.warn(`bundle: ${args.path} no longer holds ${CLOUDFLARE_PROBE}; its Cloudflare probe is left as it is`);
        return undefined;
      }
      return { contents: source.replace(CLOUDFLARE_PROBE, 'false /* not a Cloudflare Worker (scripts/bundle.mjs) */'), loader: 'js' };
    });
  },
};

/**
 * A CommonJS module reached through import() becomes a chunk exporting only `default`: esbuild
 * does not give it the named exports Node's loader finds, so `const { generate } = await
 * import('selfsigned')` would get undefined at run time. Such a chunk (an entry point of its own
 * whose module is CommonJS) fails the build, naming the module to add to EXTERNAL, rather than a
 * command failing for a user.
 */
function cjsBehindImport(metafile) {
  return Object.values(metafile.outputs)
    .map((output) => output.entryPoint)
    .filter((input) => input && metafile.inputs[input]?.format === 'cjs');
}

const result = await build({
  entryPoints: { palisade: 'src/cli/main.ts' },
  outdir: 'dist/bin',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: EXTERNAL,
  plugins: [dirnameOfSource, pgWithoutCloudflareProbe],
  // Every output file (entry and chunks, all in dist/bin/) can find dist/ and load CommonJS
  // dependencies that call require, which ESM output lacks.
  banner: {
    js: [
      "import { createRequire as __palisadeCreateRequire } from 'node:module';",
      "import { fileURLToPath as __palisadeFileURLToPath } from 'node:url';",
      'const require = __palisadeCreateRequire(import.meta.url);',
      'const __palisadeDist = (folder) => __palisadeFileURLToPath(new URL(`../${folder}`, import.meta.url));',
    ].join('\n'),
  },
  legalComments: 'linked',
  logLevel: 'warning',
  // Whitespace and syntax only: Node reads, decodes and parses every byte of the chunks a command
  // loads (a server start loaded 6.2 MB, 4.7 MB of it the bundle), and a third of that was
  // indentation and blank lines. Names stay as written, so stack traces still name functions;
  // keepNames' wrappers cost more at start than whole minification saved (measured).
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: true,
  write: false,
});
const broken = cjsBehindImport(result.metafile);
if (broken.length) {
  console.error(`bundle: CommonJS modules reached through import() would lose their named exports; add their packages to EXTERNAL in scripts/bundle.mjs:\n  ${broken.join('\n  ')}`);
  process.exit(1);
}
rmSync('dist/bin', { recursive: true, force: true });
for (const file of result.outputFiles) {
  mkdirSync(path.dirname(file.path), { recursive: true });
  writeFileSync(file.path, file.contents);
}
