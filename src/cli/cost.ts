import type { Command } from 'commander';
import { estimateCost, priceTable, type CostEstimate } from '../center/index.js';
import { PalisadeError } from '../core/index.js';

function number(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new PalisadeError('cost.input', `--${flag} must be a number >= 0 (got '${value}')`, { field: flag });
    return n;
  };
}

/** `palisade cost estimate`: the price calculator, offline (no store needed). */
export function register(program: Command): void {
  const cost = program.command('cost').description('estimate what protection costs at Defender list prices');
  cost.command('estimate')
    .description('monthly estimate for N vCores and M image scans (list-price estimates)')
    .requiredOption('--cores <n>', 'vCores protected', number('cores'))
    .option('--images <m>', 'image scans in the month', number('images'), 0)
    .option('--hours <h>', 'hours the cores run (default: a full month, 730)', number('hours'))
    .option('--format <format>', 'table or json', 'table')
    .action((options: { cores: number; images: number; hours?: number; format: string }) => {
      const estimate = estimateCost({ cores: options.cores, images: options.images, hours: options.hours }, priceTable());
      if (options.format === 'json') {
        console.log(JSON.stringify(estimate, null, 2));
        return;
      }
      if (options.format !== 'table') throw new PalisadeError('cost.format', `unknown format '${options.format}'`, { field: 'format', hint: 'use table or json' });
      console.log(formatEstimate(estimate));
    });
}

export function formatEstimate(e: CostEstimate): string {
  const money = (n: number) => `${n.toFixed(2)} ${e.currency}`;
  const out = ['PLAN\tITEM\tQUANTITY\tUNIT PRICE\tAMOUNT'];
  for (const l of [...e.containers.lines, ...e.legacy.lines]) out.push([l.plan, l.description, `${l.quantity} ${l.unit}`, money(l.unitPrice), money(l.amount)].join('\t'));
  out.push('', `Defender for Containers: ${money(e.containers.total)} per month`, `Older plans (Kubernetes + registries): ${money(e.legacy.total)} per month`);
  out.push(`Estimates from list prices (${e.source}); set prices in palisade.yaml for your agreement.`);
  return out.join('\n');
}
