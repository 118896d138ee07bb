import { purl } from './purl.js';
import type { Cataloger, FileAnalysis, FoundPackage } from './types.js';

/** PHP Composer: `vendor/composer/installed.json`, a list (Composer 1) or `{ packages: [...] }` (Composer 2). */
const INSTALLED = /(?:^|\/)vendor\/composer\/installed\.json$/;

export function parseComposerInstalled(text: string, path: string): FileAnalysis {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { warnings: [`composer: ${path} is not valid JSON`] };
  }
  const list = Array.isArray(doc) ? doc : (doc as { packages?: unknown })?.packages;
  if (!Array.isArray(list)) return { warnings: [`composer: ${path} has no package list`] };
  const packages: FoundPackage[] = [];
  for (const p of list as Array<{ name?: unknown; version?: unknown }>) {
    if (typeof p?.name !== 'string' || typeof p.version !== 'string') continue;
    // Tags are often `v1.2.3`; advisories name versions without the prefix.
    const version = p.version.replace(/^v(?=\d)/, '');
    const [vendor, name] = p.name.includes('/') ? [p.name.slice(0, p.name.indexOf('/')), p.name.slice(p.name.indexOf('/') + 1)] : [undefined, p.name];
    packages.push({ name: p.name, version, ecosystem: 'Packagist', purl: purl('composer', vendor, name, version), path });
  }
  return { packages };
}

export const composerCataloger: Cataloger = {
  name: 'composer',
  version: 1,
  maxBytes: 32 * 1024 * 1024,
  wants: (f) => INSTALLED.test(f.path),
  analyze: (file) => parseComposerInstalled(file.content.toString('utf8'), file.path),
};
