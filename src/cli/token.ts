import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import { withApi, withServerFlags } from './api.js';
import { printTable } from './table.js';

/** A token as the API returns it (never its secret, except once at creation). */
interface TokenView {
  id: string;
  name: string;
  scope: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  secret?: string;
}

function checkFormat(format: string, allowed: string[]): void {
  if (!allowed.includes(format)) throw new PalisadeError('cli.format', `unknown format ${JSON.stringify(format)}`, { field: '--format', hint: `use ${allowed.join(' or ')}` });
}

export function register(program: Command): void {
  const token = program.command('token').description('create, list and revoke API and ingest tokens (through the running server, if any)');

  withServerFlags(token.command('create'))
    .description('create a token; its secret is printed once')
    .requiredOption('--scope <scope>', 'admin, cluster:NAME or registry:NAME')
    .option('--name <name>', 'a label to recognise it by')
    .option('--format <format>', 'text or json', 'text')
    .action(async (options: { scope: string; name?: string; format: string }, command: Command) => {
      checkFormat(options.format, ['text', 'json']);
      // Checked here too, so a bad scope is named before any server is contacted.
      // The store is loaded for this check alone (lazily: the command itself only speaks the API).
      const { parseTokenScope } = await import('../store/index.js');
      const scope = parseTokenScope(options.scope);
      await withApi(command, async (api) => {
        const created = await api.request<TokenView>('POST', '/tokens', { scope, ...(options.name ? { name: options.name } : {}) });
        if (options.format === 'json') {
          console.log(JSON.stringify(created, null, 2));
          return;
        }
        console.log(`Token created. The secret is shown once: store it now (only its hash is kept).`);
        console.log(`id:     ${created.id}`);
        console.log(`name:   ${created.name}`);
        console.log(`scope:  ${created.scope}`);
        console.log(`secret: ${created.secret}`);
      });
    });

  withServerFlags(token.command('list'))
    .description('list tokens in force (never their secrets)')
    .option('--revoked', 'include revoked tokens')
    .option('--format <format>', 'table or json', 'table')
    .action(async (options: { format: string; revoked?: boolean }, command: Command) => {
      checkFormat(options.format, ['table', 'json']);
      await withApi(command, async (api) => {
        const all = (await api.request<{ items: TokenView[] }>('GET', '/tokens')).items;
        // Every server run and every command without a server revokes its own short-lived admin token: keep them out of the way.
        const items = options.revoked ? all : all.filter((t) => !t.revokedAt);
        if (options.format === 'json') {
          console.log(JSON.stringify({ items }, null, 2));
          return;
        }
        printTable([
          ['ID', 'SCOPE', 'NAME', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'],
          ...items.map((t) => [t.id, t.scope, t.name, t.prefix, t.createdAt, t.lastUsedAt ?? '-', t.revokedAt ?? '-']),
        ]);
        const hidden = all.length - items.length;
        if (hidden) console.error(`${hidden} revoked token(s) not shown; --revoked shows them`);
      });
    });

  withServerFlags(token.command('revoke'))
    .description('revoke a token by id (or its shown prefix)')
    .argument('<id>')
    .action(async (id: string, _options, command: Command) => {
      await withApi(command, async (api) => {
        const revoked = await api.request<TokenView>('DELETE', `/tokens/${encodeURIComponent(id)}`);
        console.log(`revoked ${revoked.id} (${revoked.scope}, ${revoked.name})`);
      });
    });
}
