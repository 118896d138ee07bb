import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Container {
  args: string[];
  env: { name: string; value?: string }[];
  securityContext: { privileged: boolean; allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[]; add: string[] } };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}

describe('deploy/kustomize/base/agent.yaml', () => {
  type Pod = { hostPID: boolean; hostNetwork: boolean; containers: Container[]; automountServiceAccountToken: boolean };
  const docs = parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/kustomize/base/agent.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec?: { template: { spec: Pod } } });
  const daemonSet = docs.find((d) => d.kind === 'DaemonSet')!;
  const pod = daemonSet.spec!.template.spec;
  const agent = pod.containers[0]!;

  it('sees host processes without the host network, and mounts host paths read-only', () => {
    expect(pod.hostPID).toBe(true);
    expect(pod.hostNetwork).toBe(false);
    expect(pod.automountServiceAccountToken).toBe(false);
    const mounts = Object.fromEntries(agent.volumeMounts.map((m) => [m.name, m]));
    for (const name of ['proc', 'audit-log', 'cri-socket', 'os-release', 'token']) expect(mounts[name]?.readOnly, name).toBe(true);
    expect(mounts.spool?.readOnly).toBeFalsy();
  });

  it('runs unprivileged with only the capabilities /proc reading and bpftrace need', () => {
    expect(agent.securityContext).toMatchObject({ privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(agent.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(agent.securityContext.capabilities.add.sort()).toEqual(['BPF', 'DAC_READ_SEARCH', 'PERFMON', 'SYS_NICE', 'SYS_PTRACE', 'SYS_RESOURCE']);
    const mounts = Object.fromEntries(agent.volumeMounts.map((m) => [m.name, m]));
    expect(mounts.tracefs).toMatchObject({ mountPath: '/sys/kernel/tracing', readOnly: true });
    expect(mounts.cgroup).toMatchObject({ mountPath: '/host/sys/fs/cgroup', readOnly: true });
    expect(agent.args).toContain('--sensor=auto');
  });

  it('passes flags the agent command accepts', async () => {
    const { Command } = await import('commander');
    const { register } = await import('../../src/cli/agent.js');
    const program = new Command();
    register(program);
    const known = new Set(program.commands.find((c) => c.name() === 'agent')!.options.map((o) => o.long));
    expect(agent.args[0]).toBe('agent');
    for (const arg of agent.args.slice(1)) expect(known, arg).toContain(arg.split('=')[0]);
  });
});
