/**
 * The threat-intelligence list: IPs and CIDRs, one per line (`#` comments, and the first field
 * of CSV lines, as feeds such as FireHOL and abuse.ch publish them), from a file or a URL,
 * re-read on an interval so feed updates reach running agents.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { PalisadeError } from '../core/index.js';

export function parseThreatList(text: string): { entries: string[]; skipped: number } {
  const entries: string[] = [];
  let skipped = 0;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (!line) continue;
    const first = line.split(/[\s,]+/)[0]!;
    const [address, prefix] = first.split('/') as [string, string | undefined];
    const family = isIP(address);
    const bits = prefix === undefined ? undefined : Number(prefix);
    if (!family || (bits !== undefined && (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)))) {
      skipped++;
      continue;
    }
    entries.push(first);
  }
  return { entries, skipped };
}

export async function loadThreatList(source: string): Promise<{ entries: string[]; skipped: number }> {
  if (/^https?:\/\//.test(source)) {
    const response = await fetch(source, { signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new PalisadeError('agent.threat-intel', `threat list ${source} answered ${response.status}`, { kind: 'unavailable', field: 'threat-intel' });
    return parseThreatList(await response.text());
  }
  try {
    return parseThreatList(readFileSync(source, 'utf8'));
  } catch (error) {
    throw new PalisadeError('agent.threat-intel', `cannot read threat list ${source}: ${(error as Error).message}`, { field: 'threat-intel', hint: 'a file of IPs and CIDRs, one per line, or an http(s) URL' });
  }
}
