import type { Command } from 'commander';
import { compareSeverity, PalisadeError, type Finding } from '../core/index.js';
import { withApi, withServerFlags, type Api } from './api.js';
import { collectPages, printList, type PageFlags } from './pages.js';

interface ImageView {
  id: string;
  digest: string;
  registry: string;
  repository: string;
  tags: string[];
  lastScanned: string | null;
  counts: { critical: number; high: number; medium: number; low: number; unknown: number };
}

const DIGEST = /sha256:[a-f0-9]{64}/;

function checkFormat(format: string): void {
  if (!['table', 'json'].includes(format)) throw new PalisadeError('cli.format', `unknown format ${JSON.stringify(format)}`, { field: '--format', hint: 'table or json' });
}

/** "1 critical, 7 high": each severity's own count, worst first. */
export function severityCounts(counts: ImageView['counts']): string {
  const parts = (['critical', 'high', 'medium', 'low', 'unknown'] as const).filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** A digest, REPOSITORY@DIGEST, or [REGISTRY/]REPOSITORY:TAG of a scanned image → its digest. */
async function resolveDigest(api: Api, image: string): Promise<string> {
  const digest = DIGEST.exec(image)?.[0];
  if (digest) return digest;
  const colon = image.lastIndexOf(':');
  const tag = colon > image.lastIndexOf('/') ? image.slice(colon + 1) : 'latest';
  const name = colon > image.lastIndexOf('/') ? image.slice(0, colon) : image;
  const { items } = await collectPages<ImageView>(api, '/images', {}, { limit: '0', all: true });
  const match = items.find((i) => (i.repository === name || `${i.registry}/${i.repository}` === name) && i.tags.includes(tag));
  if (!match) {
    throw new PalisadeError('cli.image_unknown', `no scanned image ${image}`, { kind: 'not-found', field: 'image', hint: '`palisade images` lists them; pass a digest, REPOSITORY:TAG or REGISTRY/REPOSITORY:TAG' });
  }
  return match.digest;
}

export function register(program: Command): void {
  withServerFlags(program.command('images'))
    .description('list scanned images with their findings per severity (through the running server, if any)')
    .option('--registry <name>')
    .option('--repository <name>')
    .option('--limit <n>', 'at most N images', '50')
    .option('--all', 'every image, page by page')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: PageFlags & { registry?: string; repository?: string; format: string }, command: Command) => {
      checkFormat(flags.format);
      await withApi(command, async (api) => {
        const list = await collectPages<ImageView>(api, '/images', { registry: flags.registry, repository: flags.repository }, flags);
        printList(flags.format, list, 'no images scanned yet', (items) => [
          ['REGISTRY', 'REPOSITORY', 'TAGS', 'DIGEST', 'FINDINGS', 'LAST SCANNED'],
          ...items.map((i) => [i.registry, i.repository, i.tags.join(',') || '-', i.digest, severityCounts(i.counts), i.lastScanned ?? 'not yet']),
        ]);
      });
    });

  withServerFlags(program.command('findings'))
    .description('list the vulnerabilities found in one image, worst first (through the running server, if any)')
    .argument('<image>', 'digest, REPOSITORY@DIGEST or [REGISTRY/]REPOSITORY:TAG')
    .option('--severity <list>', 'only these severities, e.g. critical,high')
    .option('--limit <n>', 'at most N findings', '100')
    .option('--all', 'every finding, page by page')
    .option('--format <format>', 'table or json', 'table')
    .action(async (image: string, flags: PageFlags & { severity?: string; format: string }, command: Command) => {
      checkFormat(flags.format);
      const only = flags.severity?.split(',').map((s) => s.trim().toLowerCase());
      await withApi(command, async (api) => {
        const digest = await resolveDigest(api, image);
        const { items, more } = await collectPages<Finding>(api, `/images/${digest}/findings`, {}, flags);
        const shown = items
          .filter((f) => !only || only.includes(f.severity))
          .sort((a, b) => compareSeverity(b.severity, a.severity) || a.package.name.localeCompare(b.package.name));
        printList(flags.format, { items: shown, more }, `no findings for ${digest}`, (rows) => [
          ['SEVERITY', 'ID', 'ALIASES', 'PACKAGE', 'INSTALLED', 'FIXED', 'REMEDIATION'],
          ...rows.map((f) => [f.severity, f.id, f.aliases.join(',') || '-', f.package.name, f.installedVersion, f.fixedVersion ?? '-', f.command ?? f.remediation]),
        ], { digest });
      });
    });
}
