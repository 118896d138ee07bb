import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import pino from 'pino';
import { PalisadeError } from '../core/index.js';
import { collectOnce, CrictlMetadata, detectRuntimeSocket, KubeletMetadata, loadAgentRules, runAgent, type ContainerMetadataSource } from '../agent/index.js';

interface AgentFlags {
  server?: string;
  tokenFile?: string;
  interval: string;
  threatIntel?: string;
  once?: boolean;
  duration: string;
  format: string;
  node?: string;
  proc: string;
  auditLog?: string;
  spoolDir: string;
  spoolMaxMb: string;
  rulesDir?: string;
  kubeletUrl?: string;
  criEndpoint?: string;
  heartbeat: string;
  sensor: string;
  bpftrace?: string;
  statusAddr?: string;
  spoolMemoryMb: string;
  cgroupRoot: string;
}

/** `1s`, `500ms`, `2m`, or plain milliseconds. */
function duration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!match) throw new PalisadeError('cli.bad_duration', `${flag} must be a duration like 1s, 500ms or 2m`, { field: flag });
  const n = Number(match[1]);
  const ms = match[2] === 'ms' ? n : match[2] === 'm' ? n * 60_000 : match[2] === 'h' ? n * 3_600_000 : match[2] === 's' ? n * 1000 : n;
  if (ms < 100) throw new PalisadeError('cli.bad_duration', `${flag} must be at least 100ms`, { field: flag });
  return ms;
}

function metadataSource(flags: AgentFlags): ContainerMetadataSource | undefined {
  if (flags.kubeletUrl) {
    return new KubeletMetadata({ url: flags.kubeletUrl, tokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token', caFile: undefined });
  }
  const endpoint = flags.criEndpoint ?? detectRuntimeSocket();
  return endpoint ? new CrictlMetadata({ endpoint: endpoint.startsWith('unix://') ? endpoint : `unix://${endpoint}` }) : undefined;
}

/** `palisade agent`: the node agent (DaemonSet), or `--once` for a local one-shot check. */
export function register(program: Command): void {
  program.command('agent')
    .description('node agent: watch processes, sockets and the audit log for threats; ship batches to the server')
    .option('--server <url>', 'Palisade server URL to send batches to (PALISADE_SERVER)')
    .option('--token-file <file>', "file holding the cluster's token (PALISADE_TOKEN_FILE)")
    .option('--interval <duration>', 'collection interval', '1s')
    .option('--threat-intel <file|url>', 'IPs and CIDRs to alert on, one per line (a URL is re-read hourly)')
    .option('--once', 'collect for --duration, print what was found and exit')
    .option('--duration <duration>', 'how long --once collects', '3s')
    .option('--format <format>', 'output of --once: json or table', 'json')
    .option('--node <name>', 'node name (NODE_NAME, else the hostname)')
    .option('--proc <dir>', "the host's /proc", '/proc')
    .option('--audit-log <file>', 'follow this auditd log (e.g. /var/log/audit/audit.log)')
    .option('--spool-dir <dir>', 'where batches wait while the server is unreachable', '/var/lib/palisade/agent-spool')
    .option('--spool-max-mb <n>', 'spool bound; oldest batches are dropped beyond it', '64')
    .option('--rules-dir <dir>', 'extra agent rules (YAML)')
    .option('--kubelet-url <url>', 'kubelet API for pod names (https://NODE_IP:10250)')
    .option('--cri-endpoint <socket>', 'CRI socket for container metadata through crictl')
    .option('--heartbeat <duration>', 'heartbeat (node inventory) period', '60s')
    .option('--sensor <kind>', 'auto (eBPF through bpftrace, else /proc + auditd), ebpf (fail without it) or proc', 'auto')
    .option('--bpftrace <path>', 'the bpftrace binary', 'bpftrace')
    .option('--cgroup-root <dir>', "the host's cgroup file system (cgroup id → container for the eBPF sensor)", '/sys/fs/cgroup')
    .option('--status-addr <host:port>', 'serve /readyz and /metrics (sensor, lost and dropped events) here')
    .option('--spool-memory-mb <n>', 'memory for batches the spool disk refuses (full, failing) until it takes them again', '16')
    .action(async (flags: AgentFlags) => {
      if (!['json', 'table'].includes(flags.format)) throw new PalisadeError('cli.bad_format', `unknown format ${JSON.stringify(flags.format)}`, { field: '--format', hint: 'use json or table' });
      if (!['auto', 'ebpf', 'proc'].includes(flags.sensor)) throw new PalisadeError('cli.bad_sensor', `unknown sensor ${JSON.stringify(flags.sensor)}`, { field: '--sensor', hint: 'use auto, ebpf or proc' });
      const intervalMs = duration(flags.interval, '--interval');
      const rules = loadAgentRules(flags.rulesDir ? { dir: flags.rulesDir } : {});
      const metadata = metadataSource(flags);
      const common = {
        intervalMs,
        rules,
        procRoot: flags.proc,
        sensor: flags.sensor as 'auto' | 'ebpf' | 'proc',
        bpftrace: flags.bpftrace,
        cgroupRoot: flags.cgroupRoot,
        ...(flags.node ? { node: flags.node } : {}),
        ...(flags.auditLog ? { auditLog: flags.auditLog } : {}),
        ...(flags.threatIntel ? { threatIntel: flags.threatIntel } : {}),
        ...(metadata ? { metadata } : {}),
      };
      const controller = new AbortController();
      process.once('SIGINT', () => controller.abort());
      process.once('SIGTERM', () => controller.abort());

      if (flags.once) {
        const result = await collectOnce({ ...common, durationMs: duration(flags.duration, '--duration'), signal: controller.signal });
        if (flags.format === 'json') console.log(JSON.stringify(result, null, 2));
        else {
          for (const a of result.alerts) console.log(`${a.severity.padEnd(8)} ${a.rule.padEnd(40)} ${a.resource.kind}/${a.resource.name} x${a.count}`);
          console.error(`${result.events} events, ${result.alerts.length} alerts on ${result.node} (sensor ${result.sensor.sensor}${result.sensor.lostEvents ? `, ${result.sensor.lostEvents} kernel events lost` : ''})`);
        }
        return;
      }

      const server = flags.server ?? process.env.PALISADE_SERVER;
      const tokenFile = flags.tokenFile ?? process.env.PALISADE_TOKEN_FILE;
      if (server && !tokenFile) throw new PalisadeError('cli.missing_token', '--server needs --token-file', { field: '--token-file', hint: 'create one with `palisade token create --scope cluster:NAME`' });
      let token: string | undefined;
      if (tokenFile) {
        try {
          token = readFileSync(tokenFile, 'utf8').trim();
        } catch (error) {
          throw new PalisadeError('cli.token_file', `cannot read ${tokenFile}: ${(error as Error).message}`, { field: '--token-file' });
        }
      }
      const logger = pino({ base: undefined });
      await runAgent({
        ...common,
        ...(server ? { server } : {}),
        ...(token ? { token } : {}),
        spoolDir: flags.spoolDir,
        spoolMaxBytes: Number(flags.spoolMaxMb) * 1024 * 1024,
        spoolMemoryMaxBytes: Number(flags.spoolMemoryMb) * 1024 * 1024,
        ...(flags.statusAddr ? { statusAddr: flags.statusAddr } : {}),
        heartbeatMs: duration(flags.heartbeat, '--heartbeat'),
        signal: controller.signal,
        log: (level, message, details) => logger[level](details ?? {}, message),
      });
    });
}
