import type { Command } from 'commander';
import { PalisadeError, type Alert } from '../core/index.js';
import { withApi, withServerFlags } from './api.js';
import { collectPages, printList, type PageFlags } from './pages.js';

interface AlertFlags extends PageFlags {
  severity?: string;
  status?: string;
  source?: string;
  cluster?: string;
  namespace?: string;
  format: string;
}

type AlertView = Omit<Alert, 'firstSeen' | 'lastSeen'> & { firstSeen: string; lastSeen: string };

function resourceName(alert: AlertView): string {
  const r = alert.resource;
  return `${r.kind}/${[r.cluster, r.namespace, r.name].filter(Boolean).join('/')}`;
}

export function register(program: Command): void {
  withServerFlags(program.command('alerts'))
    .description('list security alerts, newest first (through the running server, if any)')
    .option('--severity <list>', 'critical,high,medium,low,informational')
    .option('--status <list>', 'active,dismissed,resolved (default: every status)')
    .option('--source <list>', 'audit,agent,registry,admission')
    .option('--cluster <name>')
    .option('--namespace <name>')
    .option('--limit <n>', 'at most N alerts', '50')
    .option('--all', 'every alert, page by page')
    .option('--format <format>', 'table or json', 'table')
    .action(async (flags: AlertFlags, command: Command) => {
      if (!['table', 'json'].includes(flags.format)) throw new PalisadeError('cli.format', `unknown format ${JSON.stringify(flags.format)}`, { field: '--format', hint: 'table or json' });
      await withApi(command, async (api) => {
        const list = await collectPages<AlertView>(api, '/alerts', {
          severity: flags.severity, status: flags.status, source: flags.source, cluster: flags.cluster, namespace: flags.namespace,
        }, flags);
        printList(flags.format, list, 'no alerts', (items) => [
          ['ID', 'SEVERITY', 'STATUS', 'SOURCE', 'RULE', 'RESOURCE', 'COUNT', 'LAST SEEN', 'TITLE'],
          ...items.map((a) => [a.id, a.severity, a.status, a.source, a.rule, resourceName(a), String(a.count), a.lastSeen, a.title]),
        ]);
      });
    });
}
