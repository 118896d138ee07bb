// Rules are data beside their engines (DESIGN.md): the build copies them next to the compiled code.
import { cpSync, existsSync } from 'node:fs';

for (const dir of ['audit/rules', 'agent/rules', 'agent/sensor']) {
  if (!existsSync(`src/${dir}`)) continue;
  cpSync(`src/${dir}`, `dist/${dir}`, { recursive: true, filter: (source) => !source.endsWith('.ts') });
}
