import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import {
  BUILTIN_POLICIES, checkManifests, formatJson, formatTable, loadPolicyConfig, parseManifests, readManifestPath, toSarif,
} from '../policy/index.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function register(program: Command): void {
  const policy = program.command('policy').description('evaluate workload policies and Pod Security Standards');

  policy.command('check')
    .description('check Kubernetes manifests (files, directories, helm template / kustomize output on -) against the policies')
    .argument('<path>', 'manifest file, directory, or - for standard input')
    .option('--format <format>', 'table, json or sarif', 'table')
    .option('--exit-code <n>', 'exit with N when a deny-effect violation exists', '0')
    .option('--policies <file>', 'policy configuration (effects, parameters, excluded namespaces, exceptions)')
    .action(async (target: string, options: { format: string; exitCode: string; policies?: string }) => {
      if (!['table', 'json', 'sarif'].includes(options.format)) {
        throw new PalisadeError('cli.bad_format', `unknown format ${JSON.stringify(options.format)}`, { field: '--format', hint: 'use table, json or sarif' });
      }
      const exitCode = Number(options.exitCode);
      if (!Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) {
        throw new PalisadeError('cli.bad_exit_code', `--exit-code must be an integer 0-255`, { field: '--exit-code' });
      }
      const set = loadPolicyConfig(options.policies);
      const stdin = target === '-' ? await readStdin() : undefined;
      const objects = stdin !== undefined ? parseManifests(stdin, '-') : readManifestPath(target);
      const outcome = checkManifests(objects, set);
      if (options.format === 'json') console.log(formatJson(outcome));
      else if (options.format === 'sarif') console.log(JSON.stringify(toSarif(outcome, undefined, undefined, new Map(stdin !== undefined ? [['-', stdin]] : [])), null, 2));
      else {
        console.log(formatTable(outcome));
        const deny = outcome.results.filter((r) => r.effect === 'deny').length;
        console.error(`${outcome.resources} resources, ${outcome.results.length} violations (${deny} deny)`);
      }
      if (exitCode && outcome.results.some((r) => r.effect === 'deny')) process.exitCode = exitCode;
    });

  policy.command('list')
    .description('list the built-in policies with their default effect and parameters')
    .option('--format <format>', 'table or json', 'table')
    .action((options: { format: string }) => {
      if (options.format === 'json') {
        console.log(JSON.stringify({ items: BUILTIN_POLICIES.map((p) => ({ id: p.id, title: p.title, severity: p.severity, control: p.control, effect: p.defaults.effect, parameters: p.defaults.parameters, remediation: p.remediation })) }, null, 2));
        return;
      }
      const rows = BUILTIN_POLICIES.map((p) => [p.id, p.defaults.effect, p.severity, p.title]);
      const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
      for (const r of [['ID', 'EFFECT', 'SEVERITY', 'TITLE'], ...rows]) console.log(`${r[0]!.padEnd(width(0))}  ${r[1]!.padEnd(8)}  ${r[2]!.padEnd(13)}  ${r[3]}`);
    });
}
