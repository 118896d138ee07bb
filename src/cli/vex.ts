import { readFile, stat } from 'node:fs/promises';
import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import { MAX_VEX_DOCUMENT_BYTES, type VexDocumentSummary } from '../vex/index.js';
import { withApi, withServerFlags } from './api.js';
import { collectPages, printList, type PageFlags } from './pages.js';
import { printable } from './table.js';

/** `palisade vex add|list|remove`: OpenVEX documents the center applies to stored findings (docs/vex.md). */

async function readDocument(file: string): Promise<unknown> {
  let text: string;
  try {
    const size = (await stat(file)).size;
    if (size > MAX_VEX_DOCUMENT_BYTES) throw new PalisadeError('vex.too_large', `${file} is ${size} bytes; a VEX document may have at most ${MAX_VEX_DOCUMENT_BYTES}`, { field: 'FILE', kind: 'too-large' });
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof PalisadeError) throw error;
    throw new PalisadeError('vex.unreadable', `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { field: 'FILE' });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PalisadeError('vex.invalid', `${file} is not JSON: ${(error as Error).message}`, { field: 'FILE', hint: 'give an OpenVEX JSON document (https://github.com/openvex/spec)' });
  }
}

export function register(program: Command): void {
  const vex = program.command('vex').description('OpenVEX documents: statements that findings do (not) affect an image, applied to stored findings');

  withServerFlags(vex.command('add').argument('<file>', 'OpenVEX JSON document'))
    .description('upload an OpenVEX document (through the running server, if any); admin token')
    .option('--format <format>', 'text or json', 'text')
    .action(async (file: string, flags: { format: string }, command: Command) => {
      if (!['text', 'json'].includes(flags.format)) throw new PalisadeError('cli.format', `unknown format ${JSON.stringify(flags.format)}`, { field: '--format', hint: 'text or json' });
      const document = await readDocument(file);
      await withApi(command, async (api) => {
        const added = await api.request<VexDocumentSummary & { applied: { images: number; findings: number } }>('POST', '/vex', document);
        if (flags.format === 'json') {
          console.log(JSON.stringify(added, null, 2));
          return;
        }
        console.log(`added ${added.id}: ${added.statements} statement${added.statements === 1 ? '' : 's'} by ${printable(added.author)}; ${added.applied.findings} stored finding${added.applied.findings === 1 ? '' : 's'} changed`);
      });
    });

  withServerFlags(vex.command('list'))
    .description('list uploaded OpenVEX documents, oldest upload first')
    .option('--format <format>', 'table or json', 'table')
    .option('--limit <n>', 'at most this many documents', '100')
    .option('--all', 'every document')
    .action(async (flags: PageFlags & { format: string }, command: Command) => {
      if (!['table', 'json'].includes(flags.format)) throw new PalisadeError('cli.format', `unknown format ${JSON.stringify(flags.format)}`, { field: '--format', hint: 'table or json' });
      await withApi(command, async (api) => {
        const list = await collectPages<VexDocumentSummary>(api, '/vex', {}, flags);
        printList(flags.format, list, 'no VEX documents', (rows) => [
          ['ID', 'AUTHOR', 'TIMESTAMP', 'STATEMENTS', 'UPLOADED BY', 'UPLOADED AT'],
          ...rows.map((d) => [d.id, d.author, d.timestamp ?? '-', String(d.statements), d.uploadedBy, d.uploadedAt]),
        ]);
      });
    });

  withServerFlags(vex.command('remove').argument('<id>', 'document id (vex_…) from `palisade vex list`'))
    .description('remove an uploaded document; its findings fall back to the remaining statements')
    .action(async (id: string, _flags: unknown, command: Command) => {
      await withApi(command, async (api) => {
        await api.request('DELETE', `/vex/${encodeURIComponent(id)}`);
        console.log(`removed ${id}`);
      });
    });
}
