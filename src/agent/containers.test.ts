import { describe, expect, it } from 'vitest';
import { containerFromCgroup, parseCrictlPs, parseKubeletPods } from './containers.js';

const ID = '3f1d3bd4a0f2b1c1e9e3b3b0b7e4b1d9c2f6a1e7d0c3b8a5f4e2d1c0b9a8f7e6';
const POD = '1b2c3d4e-5f60-4718-9a2b-3c4d5e6f7081';

describe('container attribution from /proc/PID/cgroup', () => {
  it.each([
    ['containerd, kubepods v2 with the systemd driver', `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD.replaceAll('-', '_')}.slice/cri-containerd-${ID}.scope\n`, 'containerd', POD],
    ['CRI-O, kubepods v2', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${POD.replaceAll('-', '_')}.slice/crio-${ID}.scope\n`, 'cri-o', POD],
    ['kubepods v1 with the cgroupfs driver', `12:pids:/kubepods/besteffort/pod${POD}/${ID}\n11:memory:/kubepods/besteffort/pod${POD}/${ID}\n`, 'unknown', POD],
    ['Docker with cgroupfs', `12:cpu,cpuacct:/docker/${ID}\n0::/\n`, 'docker', undefined],
    ['Docker with systemd scopes', `0::/system.slice/docker-${ID}.scope\n`, 'docker', undefined],
    ['Podman', `0::/machine.slice/libpod-${ID}.scope/container\n`, 'podman', undefined],
  ])('%s', (_name, text, runtime, podUid) => {
    const ref = containerFromCgroup(text);
    expect(ref?.id).toBe(ID);
    expect(ref?.runtime).toBe(runtime);
    expect(ref?.podUid).toBe(podUid);
  });

  it("recognises runc's /NAME paths (hybrid v1 hierarchy, as on the test machines)", () => {
    const text = '9:name=systemd:/web1\n8:pids:/web1\n4:memory:/process_api/ae3fd9572ecfecec1a290fec5de34118/web1\n0::/web1\n';
    expect(containerFromCgroup(text)).toEqual({ id: 'web1', runtime: 'runc' });
  });

  it('leaves host processes and systemd services unattributed', () => {
    expect(containerFromCgroup('9:name=systemd:/\n4:memory:/process_api/ae3fd9572ecfecec1a290fec5de34118\n0::/\n')).toBeUndefined();
    expect(containerFromCgroup('0::/system.slice/ssh.service\n')).toBeUndefined();
    expect(containerFromCgroup('0::/init.scope\n')).toBeUndefined();
    expect(containerFromCgroup('0::/user.slice/user-1000.slice/session-3.scope\n')).toBeUndefined();
  });
});

describe('pod metadata', () => {
  it('maps kubelet container ids to pod, namespace, container name and image', () => {
    const table = parseKubeletPods({ items: [{ metadata: { name: 'web-7d9', namespace: 'shop', uid: POD }, status: { containerStatuses: [{ name: 'web', containerID: `containerd://${ID}`, image: 'registry.example/shop/web:1.2' }] } }] });
    expect(table.get(ID)).toEqual({ name: 'web', pod: 'web-7d9', namespace: 'shop', podUid: POD, image: 'registry.example/shop/web:1.2' });
  });

  it('reads crictl ps output with the kubelet labels', () => {
    const table = parseCrictlPs({ containers: [{ id: ID, metadata: { name: 'web' }, image: { image: 'nginx:1.27' }, labels: { 'io.kubernetes.pod.name': 'web-7d9', 'io.kubernetes.pod.namespace': 'shop' } }] });
    expect(table.get(ID)).toMatchObject({ name: 'web', pod: 'web-7d9', namespace: 'shop', image: 'nginx:1.27' });
  });
});
