import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentOnce } from './collect.js';

describe('palisade agent --once', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-cli-'));
  let server: Server | undefined;
  let client: Socket | undefined;
  afterAll(() => {
    client?.destroy();
    server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints { node, alerts, events } and alerts on a connection to an address on the threat list', async () => {
    const list = path.join(dir, 'threats.txt');
    writeFileSync(list, '# test feed\n127.0.0.9\n203.0.113.0/24, scanner\nnot-an-ip\n');
    server = createServer(() => {});
    await new Promise<void>((r) => server!.listen(0, '127.0.0.9', r));
    client = connect((server.address() as { port: number }).port, '127.0.0.9');
    await new Promise((r) => client!.once('connect', r));

    // The /proc sensor: this test is about its socket snapshot (test/agent/ebpf.test.ts runs --once on eBPF).
    const result = await agentOnce(['--sensor', 'proc', '--duration', '1s', '--interval', '500ms', '--threat-intel', list, '--node', 'cli-node']) as {
      node: string; events: number; alerts: { rule: string; title: string; severity: string; tactic: string; resource: { kind: string; id: string }; evidence: { event: { kind: string; remote?: { ip: string } }; process?: { pid: number } }[] }[];
    };
    expect(result.node).toBe('cli-node');
    expect(result.events).toBeGreaterThan(0);
    const intel = result.alerts.find((a) => a.rule === 'agent.threat-intel-connection');
    expect(intel).toMatchObject({ severity: 'high', tactic: 'Command and Control', resource: { kind: 'node', id: 'cli-node' } });
    expect(intel!.evidence.some((e) => e.event.kind === 'network' && e.event.remote?.ip === '127.0.0.9' && e.process?.pid === process.pid)).toBe(true);
  }, 30_000);

  it('rejects a bad interval or sensor with the flag named', async () => {
    await expect(agentOnce(['--interval', 'soon'])).rejects.toThrow(/--interval must be a duration/);
    await expect(agentOnce(['--sensor', 'kprobe'])).rejects.toThrow(/unknown sensor "kprobe"/);
  });
});
