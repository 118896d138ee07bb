import { purl } from './purl.js';
import type { Cataloger, FileAnalysis } from './types.js';

/**
 * RubyGems: installed gems' specifications (`…/specifications/NAME-VERSION.gemspec`, default gems
 * under `specifications/default/`). They are Ruby source: read the literal name and version
 * assignments rather than evaluate anything.
 */
const GEMSPEC = /(?:^|\/)specifications\/(?:default\/)?[^/]+\.gemspec$/;

export function parseGemspec(text: string, path: string): FileAnalysis {
  const literal = (field: string) => new RegExp(`\\.${field}\\s*=\\s*(?:Gem::Version\\.new\\()?["']([^"']+)["']`).exec(text)?.[1];
  const name = literal('name');
  const version = literal('version');
  if (!name || !version) return {};
  return { packages: [{ name, version, ecosystem: 'RubyGems', purl: purl('gem', undefined, name, version), path }] };
}

export const rubyCataloger: Cataloger = {
  name: 'ruby',
  version: 1,
  maxBytes: 1024 * 1024,
  wants: (f) => GEMSPEC.test(f.path),
  analyze: (file) => parseGemspec(file.content.toString('utf8'), file.path),
};
