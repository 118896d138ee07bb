import { purl } from './purl.js';
import type { Cataloger, FileAnalysis, FoundPackage } from './types.js';

/** .NET: `*.deps.json` beside an application lists the NuGet packages it was built with (`libraries`, type `package`). */
const DEPS = /\.deps\.json$/;

export function parseDepsJson(text: string, path: string): FileAnalysis {
  let doc: { libraries?: Record<string, { type?: string }> };
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, '')) as typeof doc;
  } catch {
    return { warnings: [`dotnet: ${path} is not valid JSON`] };
  }
  const packages: FoundPackage[] = [];
  for (const [key, lib] of Object.entries(doc.libraries ?? {})) {
    if (lib?.type !== 'package') continue;
    const slash = key.lastIndexOf('/');
    if (slash <= 0) continue;
    const name = key.slice(0, slash);
    const version = key.slice(slash + 1);
    packages.push({ name, version, ecosystem: 'NuGet', purl: purl('nuget', undefined, name, version), path });
  }
  return { packages };
}

export const dotnetCataloger: Cataloger = {
  name: 'dotnet',
  version: 1,
  maxBytes: 16 * 1024 * 1024,
  wants: (f) => DEPS.test(f.path),
  analyze: (file) => parseDepsJson(file.content.toString('utf8'), file.path),
};
