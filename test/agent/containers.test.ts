import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAgent, type AgentAlert } from '../../src/agent/index.js';
import { containerAlerts } from './collect.js';
import { containerName, REVERSE_SHELL, RuncLab, runcAvailable } from './runc.js';

/**
 * The agent against real runc containers from the debian12 minbase image. minbase has no
 * python or netcat; listeners and clients are perl-base one-liners (IO::Socket::INET is in
 * perl-base); writable places are tmpfs mounts over the shared read-only rootfs. The web-shell container binds the host's /usr read-only for python3 (same
 * Debian release), as the issue allows; its own /etc and root filesystem stay the image's.
 */
describe.skipIf(!runcAvailable())('node agent on real containers (runc)', () => {
  let lab: RuncLab;
  let agent: NodeAgent;

  beforeAll(() => {
    lab = RuncLab.create();
    agent = new NodeAgent({ node: 'test-node', threatIntel: ['127.0.0.3/32'], statEvery: 1 });
  }, 90_000);

  afterAll(() => lab?.cleanup(), 60_000);

  const alertsFor = (name: string, until: (alerts: AgentAlert[]) => boolean, timeoutMs = 8000): Promise<AgentAlert[]> =>
    containerAlerts(agent, name, until, timeoutMs, 200);

  it('raises the SSH alert for a container listening on port 22', async () => {
    const name = containerName('ssh');
    try {
      await lab.run(name, { args: ['/usr/bin/perl', '-MIO::Socket::INET', '-e', 'my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 22, Listen => 5, ReuseAddr => 1) or die "listen: $!"; sleep 60;'] });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.ssh-server-in-container'));
      const ssh = alerts.find((a) => a.rule === 'agent.ssh-server-in-container');
      expect(ssh, JSON.stringify(alerts.map((a) => a.rule))).toBeDefined();
      expect(ssh!.evidence[0]!.event).toMatchObject({ kind: 'network', direction: 'listen', local: { port: 22 } });
      expect(ssh!.evidence[0]!.processTree[0]!.name).toBe('perl');
      expect(ssh!.evidence[0]!.container).toMatchObject({ id: name, runtime: 'runc' });
    } finally {
      lab.kill(name);
    }
  }, 40_000);

  it('raises the privileged alert for a container with every capability the host grants and all devices', async () => {
    const name = containerName('priv');
    try {
      await lab.run(name, { args: ['/bin/sleep', '60'], privileged: true });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.privileged-container'));
      const privileged = alerts.find((a) => a.rule === 'agent.privileged-container');
      expect(privileged, JSON.stringify(alerts.map((a) => a.rule))).toBeDefined();
      expect(privileged!.evidence[0]!.event).toMatchObject({ kind: 'container', privileged: true, allCapabilities: true, hostDevices: true });
    } finally {
      lab.kill(name);
    }
  }, 40_000);

  it('raises the web-shell alert when a Python HTTP server spawns sh -c id', async () => {
    const name = containerName('web');
    // The server requests itself once: the handler runs a shell command, as a web shell would.
    const server = [
      'import http.server, subprocess, threading, urllib.request',
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        out = subprocess.run("id; sleep 4", shell=True, capture_output=True).stdout',
      '        self.send_response(200); self.end_headers(); self.wfile.write(out)',
      's = http.server.HTTPServer(("127.0.0.1", 8080), H)',
      'threading.Thread(target=s.serve_forever, daemon=True).start()',
      'import time; time.sleep(1.5)',
      'print(urllib.request.urlopen("http://127.0.0.1:8080/cmd").read(), flush=True)',
      'time.sleep(60)',
    ].join('\n');
    try {
      await lab.run(name, { args: ['/usr/bin/python3', '-c', server], binds: [{ source: '/usr', destination: '/usr' }] });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.web-shell'), 12_000);
      const shell = alerts.find((a) => a.rule === 'agent.web-shell');
      expect(shell, JSON.stringify(alerts.map((a) => a.rule))).toBeDefined();
      const tree = shell!.evidence[0]!.processTree;
      expect(tree[0]!.argv).toEqual(['/bin/sh', '-c', 'id; sleep 4']);
      expect(tree[1]!.name).toMatch(/^python3/);
    } finally {
      lab.kill(name);
    }
  }, 40_000);

  it('raises the threat-intel alert for a connection to a listed loopback address', async () => {
    const name = containerName('intel');
    try {
      await lab.run(name, { args: ['/usr/bin/perl', '-MIO::Socket::INET', '-e', 'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.3", LocalPort => 8443, Listen => 5, ReuseAddr => 1) or die "listen: $!"; my $c = IO::Socket::INET->new(PeerAddr => "127.0.0.3", PeerPort => 8443) or die "connect: $!"; my $a = $s->accept; sleep 60;'] });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.threat-intel-connection'));
      const intel = alerts.filter((a) => a.rule === 'agent.threat-intel-connection');
      expect(intel.length, JSON.stringify(alerts.map((a) => a.rule))).toBeGreaterThan(0);
      expect(intel.map((a) => a.evidence[0]!.event)).toContainEqual(expect.objectContaining({ kind: 'network', direction: 'connect', remote: { ip: '127.0.0.3', port: 8443 } }));
    } finally {
      lab.kill(name);
    }
  }, 40_000);

  it('raises the reverse-shell alert for bash -i with its stdin on a TCP socket', async () => {
    const name = containerName('revshell');
    try {
      await lab.run(name, { args: ['/bin/bash', '-c', REVERSE_SHELL] });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.reverse-shell' && x.evidence[0]!.event.process?.stdin?.type === 'socket'));
      const shells = alerts.filter((a) => a.rule === 'agent.reverse-shell');
      expect(shells.length, JSON.stringify(alerts.map((a) => a.rule))).toBeGreaterThan(0);
      const bySocket = shells.find((a) => a.evidence[0]!.event.process?.stdin?.type === 'socket');
      expect(bySocket!.evidence[0]!.event.process).toMatchObject({ name: 'bash', argv: ['bash', '-i'], stdin: { type: 'socket', remote: '127.0.0.1:4444' } });
    } finally {
      lab.kill(name);
    }
  }, 40_000);

  it('raises history-cleared and account-files alerts for changes inside a container', async () => {
    const name = containerName('files');
    const script = 'echo "ls -la" >> /root/.bash_history; mkdir -p /root/.ssh; sleep 2; : > /root/.bash_history; echo "ssh-ed25519 AAAA attacker" > /root/.ssh/authorized_keys; sleep 60';
    const files = new NodeAgent({ node: 'test-node', statEvery: 1 });
    const found: AgentAlert[] = [];
    try {
      await lab.run(name, { args: ['/bin/bash', '-c', script], tmpfs: ['/root'] });
      const deadline = Date.now() + 10_000;
      const fileAlert = (rule: string) => found.find((a) => a.rule === rule && a.evidence[0]!.event.kind === 'file');
      while (Date.now() < deadline && !(fileAlert('agent.history-cleared') && fileAlert('agent.account-files-changed'))) {
        found.push(...(await files.collect()).alerts.filter((a) => a.resource.id === name));
        await new Promise((r) => setTimeout(r, 250));
      }
      const history = fileAlert('agent.history-cleared');
      expect(history, JSON.stringify(found.map((a) => a.rule))).toBeDefined();
      expect(history!.evidence[0]!.event).toMatchObject({ kind: 'file', path: '/root/.bash_history', op: 'truncate' });
      const keys = fileAlert('agent.account-files-changed');
      expect(keys!.evidence[0]!.event).toMatchObject({ kind: 'file', path: '/root/.ssh/authorized_keys', op: 'create' });
    } finally {
      lab.kill(name);
    }
  }, 40_000);

  it('raises nothing for an ordinary container', async () => {
    const name = containerName('plain');
    try {
      await lab.run(name, { args: ['/bin/bash', '-c', 'while true; do sleep 1; done'] });
      // Collect long enough to see the container, its children and a few loop iterations.
      const deadline = Date.now() + 3000;
      const alerts: AgentAlert[] = [];
      let sawContainer = false;
      while (Date.now() < deadline) {
        const c = await agent.collect();
        sawContainer ||= c.events.some((e) => e.kind === 'container' && e.container.id === name);
        alerts.push(...c.alerts.filter((a) => a.resource.id === name));
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(sawContainer).toBe(true);
      expect(alerts.map((a) => a.rule)).toEqual([]);
    } finally {
      lab.kill(name);
    }
  }, 30_000);
});
