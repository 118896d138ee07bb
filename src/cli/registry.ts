import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { RegistryConnection } from '../registry/index.js';
import { withApi, withServerFlags } from './api.js';

interface AddFlags {
  url: string;
  kind: string;
  username?: string;
  passwordStdin?: boolean;
  poll?: boolean;
  authority?: string;
  repository?: string[];
  format?: string;
  serverUrl?: string;
}

export function register(program: Command): void {
  const registry = program.command('registry').description('connect container registries and copy images between them');

  withServerFlags(registry.command('add'))
    .description('connect a registry: prints its ingest token (once) and the webhook configuration to paste')
    .argument('<name>', 'a short name (lowercase letters, digits, . _ -)')
    .requiredOption('--url <url>', 'registry URL, e.g. https://registry.example.com or http://127.0.0.1:5000')
    .option('--kind <kind>', 'distribution, harbor, acr, dockerhub, generic, ecr, ghcr, quay, artifact-registry, artifactory or nexus', 'distribution')
    .option('--username <user>', 'pull credentials, sealed with PALISADE_SECRET_KEY')
    .option('--password-stdin', 'read the password from standard input')
    .option('--poll', 'no webhooks: list the catalog and tags every 15 minutes and scan new digests')
    .option('--authority <url>', 'where the login is exchanged: ACR\'s Azure AD authority (https://login.microsoftonline.com/TENANT_ID), or the token endpoint for a Google service-account key')
    .option('--repository <name>', 'a repository to poll instead of the catalog (repeat for several)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--server-url <url>', 'URL the registry reaches Palisade at, for the webhook (PALISADE_PUBLIC_URL; default: the server\'s, else a PALISADE_HOST placeholder)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (name: string, flags: AddFlags, command: Command) => {
      const password = flags.passwordStdin ? readFileSync(0, 'utf8').replace(/\r?\n$/, '') : undefined;
      // Loaded in the action, not at the top: the registry capability (image client, scanners) is heavy.
      const { parseRegistryKind } = await import('../registry/index.js');
      const kind = parseRegistryKind(flags.kind);
      await withApi(command, async (api) => {
        const connection = await api.request<RegistryConnection>('POST', '/registries', {
          name,
          url: flags.url,
          kind,
          ...(flags.username ? { username: flags.username, password: password ?? '' } : {}),
          poll: flags.poll ?? false,
          ...(flags.authority ? { authority: flags.authority } : {}),
          ...(flags.repository?.length ? { repositories: flags.repository } : {}),
          ...(flags.serverUrl ? { publicUrl: flags.serverUrl } : {}),
        });
        if (flags.format === 'json') {
          console.log(JSON.stringify(connection, null, 2));
          return;
        }
        console.log(`connected registry ${connection.registry.name} (${connection.registry.kind}, ${connection.registry.url})`);
        console.log(`ingest token (shown once): ${connection.token}`);
        console.log(`webhook URL: ${connection.webhookUrl}\n`);
        console.log(connection.snippet);
      });
    });

  registry.command('import')
    .description('copy an image (every platform) between registries; the destination\'s webhook marks it as an import and Palisade scans it')
    .argument('<source>', 'REF or docker://REF, e.g. 127.0.0.1:5000/team/app:1')
    .argument('<destination>', 'REF with a tag')
    .option('--insecure', 'plain HTTP for both registries (loopback and private networks)')
    .option('--format <format>', 'text or json', 'text')
    .action(async (source: string, destination: string, flags: { insecure?: boolean; format?: string }) => {
      // Credentials come from ~/.docker/config.json (docker login / skopeo login), never from flags.
      const { importImage } = await import('../registry/index.js');
      const report = await importImage(source, destination, { ...(flags.insecure ? { insecure: true } : {}) });
      if (flags.format === 'json') {
        console.log(JSON.stringify(report, null, 2));
        return;
      }
      console.log(`imported ${report.source} → ${report.destination} (${report.digest})`);
      console.log(`${report.manifests} manifest(s); blobs: ${report.blobsCopied} copied (${report.bytesCopied} bytes), ${report.blobsMounted} mounted, ${report.blobsPresent} already there`);
    });
}
