import type { Command } from 'commander';
import { createToken, listTokens, parseTokenScope, recordAction, revokeToken } from '../store/index.js';
import { withStore, withStoreFlags } from './shared.js';

export function register(program: Command): void {
  const token = program.command('token').description('create, list and revoke API and ingest tokens');

  withStoreFlags(token.command('create'))
    .description('create a token; its secret is printed once')
    .requiredOption('--scope <scope>', 'admin, cluster:NAME or registry:NAME')
    .option('--name <name>', 'a label to recognise it by')
    .action(async (options: { scope: string; name?: string }, command: Command) => {
      const scope = parseTokenScope(options.scope);
      await withStore(command, async (store) => {
        const created = await createToken(store.db, scope, options.name ?? scope);
        await recordAction(store.db, { actor: 'cli', action: 'token.create', target: created.id, details: { scope }, at: new Date() });
        console.log(`${created.id}\t${created.scope}\t${created.secret}`);
      });
    });

  withStoreFlags(token.command('list'))
    .description('list tokens (never their secrets)')
    .option('--format <format>', 'table or json', 'table')
    .action(async (options: { format: string }, command: Command) => {
      await withStore(command, async (store) => {
        const tokens = await listTokens(store.db);
        if (options.format === 'json') {
          console.log(JSON.stringify({ items: tokens }, null, 2));
          return;
        }
        console.log(['ID', 'SCOPE', 'NAME', 'PREFIX', 'CREATED', 'LAST USED', 'REVOKED'].join('\t'));
        for (const t of tokens) {
          console.log([t.id, t.scope, t.name, t.prefix, t.createdAt.toISOString(), t.lastUsedAt?.toISOString() ?? '-', t.revokedAt?.toISOString() ?? '-'].join('\t'));
        }
      });
    });

  withStoreFlags(token.command('revoke'))
    .description('revoke a token by id (or its shown prefix)')
    .argument('<id>')
    .action(async (id: string, _options, command: Command) => {
      await withStore(command, async (store) => {
        const revoked = await revokeToken(store.db, id);
        await recordAction(store.db, { actor: 'cli', action: 'token.revoke', target: revoked.id, at: new Date() });
        console.log(`revoked ${revoked.id} (${revoked.scope})`);
      });
    });
}
