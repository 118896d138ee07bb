/**
 * `npm run bench -- NAME [ARGS]`: runs bench/NAME.ts and prints one JSON object per result line.
 * Each benchmark measures its own baseline in the same run (these machines are noisy).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchResult } from './result.js';

const [name, ...args] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: npm run bench -- NAME   (NAME is a file in bench/, e.g. startup)');
  process.exit(2);
}
const file = path.join(import.meta.dirname, `${name}.ts`);
const mod = (await import(pathToFileURL(file).href).catch((error: unknown) => {
  console.error(`bench: cannot load bench/${name}.ts: ${(error as Error).message}`);
  process.exit(2);
})) as { default: (args: string[], emit: (r: BenchResult) => void) => Promise<void> };

let failed = 0;
await mod.default(args, (result) => {
  if (!result.ok) failed++;
  console.log(JSON.stringify(result));
});
process.exit(failed ? 1 : 0);
