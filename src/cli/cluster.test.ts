import { parseAllDocuments } from 'yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from './cluster.js';
import { runCommands, type CommandRun } from './testing/run.js';

function run(args: string[]): Promise<CommandRun> {
  return runCommands([register], args);
}

describe('palisade cluster connect without --server-url', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('uses the one placeholder registry webhook snippets use, and says to replace it', async () => {
    vi.stubEnv('PALISADE_PUBLIC_URL', '');
    delete process.env.PALISADE_PUBLIC_URL;
    const { out, err } = await run(['cluster', 'connect', 'dev', '--data-dir', '/nonexistent/palisade']);
    const [kubeconfig] = parseAllDocuments(out).map((d) => d.toJS());
    expect(kubeconfig.clusters[0].cluster.server).toBe('https://PALISADE_HOST/ingest/audit');
    expect(err).toMatch(/replace https:\/\/PALISADE_HOST .*--server-url/);
  });

  it('takes the public URL from the configuration when set', async () => {
    vi.stubEnv('PALISADE_PUBLIC_URL', 'https://palisade.example.com');
    const { out, err } = await run(['cluster', 'connect', 'dev', '--data-dir', '/nonexistent/palisade']);
    expect(parseAllDocuments(out)[0]!.toJS().clusters[0].cluster.server).toBe('https://palisade.example.com/ingest/audit');
    expect(err).not.toMatch(/PALISADE_HOST/);
  });
});
