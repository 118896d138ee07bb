import type { Command } from 'commander';
import { compareSeverity, PalisadeError } from '../core/index.js';
import {
  BUILTIN_POLICIES, checkManifests, formatJson, loadPolicyConfig, parseManifests, readManifestPath, toSarif, type CheckOutcome,
} from '../policy/index.js';
import { printTable } from './table.js';

type Violation = CheckOutcome['results'][number];

/**
 * One row per violated control: the same field of the same resource failing several policies
 * (a privileged container fails baseline, restricted and the recommendation alike) is one finding,
 * naming every policy that covers it, with the strongest effect and the worst severity.
 */
export function violationsByControl(results: readonly Violation[]): Array<{ resource: string; policies: string[]; effect: string; severity: string; message: string }> {
  const rows = new Map<string, { resource: string; policies: string[]; effect: string; severity: string; message: string }>();
  for (const r of results) {
    const resource = `${r.resource.kind}/${r.resource.namespace ? `${r.resource.namespace}/` : ''}${r.resource.name}`;
    const key = `${resource}\u0000${r.field ?? `${r.container ?? ''}\u0000${r.message}`}`;
    const row = rows.get(key);
    if (!row) {
      rows.set(key, { resource, policies: [r.policy], effect: r.effect, severity: r.severity, message: r.message });
      continue;
    }
    if (!row.policies.includes(r.policy)) row.policies.push(r.policy);
    if (r.effect === 'deny') row.effect = 'deny';
    if (compareSeverity(r.severity, row.severity) > 0) row.severity = r.severity;
  }
  return [...rows.values()];
}

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
      if (objects.length === 0) {
        const where = target === '-' ? 'standard input' : target;
        throw new PalisadeError('policy.no_objects', `no Kubernetes object in ${where}`, {
          field: 'path',
          hint: 'expected YAML or JSON manifests with apiVersion and kind (files, a directory of them, or helm template / kustomize build output on -)',
        });
      }
      const outcome = checkManifests(objects, set);
      if (options.format === 'json') console.log(formatJson(outcome));
      else if (options.format === 'sarif') console.log(JSON.stringify(toSarif(outcome, undefined, undefined, new Map(stdin !== undefined ? [['-', stdin]] : [])), null, 2));
      else {
        const controls = violationsByControl(outcome.results);
        if (controls.length) printTable([['RESOURCE', 'EFFECT', 'SEVERITY', 'POLICIES', 'VIOLATION'], ...controls.map((c) => [c.resource, c.effect, c.severity, c.policies.join(','), c.message])]);
        else console.log('no policy violations');
        const deny = controls.filter((c) => c.effect === 'deny').length;
        console.error(`${outcome.resources} resources, ${controls.length} violations (${deny} deny)`);
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
