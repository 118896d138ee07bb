import { Command } from 'commander';
import { vi } from 'vitest';
import type { AgentAlert, NodeAgent } from '../../src/agent/index.js';
import { register } from '../../src/cli/agent.js';

/** Collects until `until` holds for the alerts of one container, or the time is up. */
export async function containerAlerts(
  agent: NodeAgent, name: string, until: (alerts: AgentAlert[]) => boolean, timeoutMs: number, pollMs: number,
): Promise<AgentAlert[]> {
  const found: AgentAlert[] = [];
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { alerts } = await agent.collect();
    found.push(...alerts.filter((a) => a.resource.kind === 'container' && a.resource.id === name));
    if (until(found)) break;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return found;
}

/** `palisade agent --once --format json`, run in-process through the command's own registration. */
export async function agentOnce(args: string[]): Promise<unknown> {
  const program = new Command().exitOverride();
  register(program);
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => { lines.push(String(line)); });
  try {
    await program.parseAsync(['node', 'palisade', 'agent', '--once', '--format', 'json', ...args]);
  } finally {
    spy.mockRestore();
  }
  return JSON.parse(lines.join('\n'));
}
