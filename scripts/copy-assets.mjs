// Rules are data beside their engines (DESIGN.md): the build copies them next to the compiled code,
// and writes each built-in YAML rule file's parsed form beside it (`NAME.yaml.json`): the server
// reads those with JSON.parse at start-up instead of parsing 300 KiB of YAML (about 200 ms of a
// start measured here). src/rules/load.ts uses the JSON only while it is as new as the YAML.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

for (const dir of ['audit/rules', 'agent/rules', 'agent/sensor']) {
  if (!existsSync(`src/${dir}`)) continue;
  cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true, filter: (source) => !source.endsWith('.ts') });
  for (const name of readdirSync(`dist/${dir}`)) {
    if (!name.endsWith('.yaml')) continue;
    const file = path.join('dist', dir, name);
    writeFileSync(`${file}.json`, JSON.stringify(parse(readFileSync(file, 'utf8')) ?? null));
  }
}
