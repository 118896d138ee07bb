import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { PalisadeError } from '../core/index.js';
import { recommendedAuditPolicy, webhookKubeconfig } from '../audit/index.js';
import { parseTokenScope } from '../store/index.js';
import { admissionCredentials, validatingWebhookConfiguration } from '../policy/index.js';
import { withApi, withServerFlags } from './api.js';
import { configFor } from './shared.js';

/** The one placeholder for "where clusters and registries reach Palisade" (registry webhook snippets use it too). */
const SERVER_URL_PLACEHOLDER = 'https://PALISADE_HOST';

interface ConnectFlags {
  serverUrl?: string;
  token?: string;
  createToken?: boolean;
  caFile?: string;
  insecureSkipTlsVerify?: boolean;
  outputDir?: string;
  admissionUrl?: string;
}

/** Where the API server reaches the admission webhook: `--admission-url`, or the palisade Service. */
function admissionTarget(cluster: string, flags: ConnectFlags): { url: string } | { service: { namespace: string; name: string; port: number; path: string } } {
  return flags.admissionUrl
    ? { url: `${flags.admissionUrl.replace(/\/$/, '')}/admission/validate/${cluster}` }
    : { service: { namespace: 'palisade', name: 'palisade', port: 8443, path: `/admission/validate/${cluster}` } };
}

/**
 * The ValidatingWebhookConfiguration for this cluster, when the admission webhook's CA is known:
 * `--ca-file`, or the certificate the server generated in its data directory.
 */
async function admissionWebhook(command: Command, cluster: string, flags: ConnectFlags): Promise<string | undefined> {
  const config = configFor(command);
  const caPath = flags.caFile ?? path.join(config.dataDir, 'tls', 'admission.crt');
  let caBundle: string;
  try {
    caBundle = readFileSync(caPath, 'utf8');
  } catch {
    console.error(`# no admission webhook CA at ${caPath}: start the server with PALISADE_ADMISSION_PORT (it generates one), or pass --ca-file`);
    return undefined;
  }
  return validatingWebhookConfiguration({ caBundle, ...admissionTarget(cluster, flags) });
}

export function register(program: Command): void {
  const cluster = program.command('cluster').description('connect Kubernetes clusters');

  withServerFlags(cluster.command('connect'))
    .description('print the audit webhook kubeconfig and the recommended audit Policy for a cluster')
    .argument('<name>', 'cluster name (lowercase letters, digits, . _ -)')
    .option('--server-url <url>', `URL the API server reaches Palisade at (PALISADE_PUBLIC_URL; default: a ${SERVER_URL_PLACEHOLDER} placeholder to replace)`)
    .option('--token <token>', 'the cluster token to put in the kubeconfig (default: a ${PALISADE_CLUSTER_TOKEN} placeholder)')
    .option('--create-token', 'create a cluster:NAME token (through the running server, if any) and put it in the kubeconfig')
    .option('--ca-file <file>', 'PEM CA bundle that signed the server certificate')
    .option('--insecure-skip-tls-verify', 'do not verify the server certificate (testing only)')
    .option('--admission-url <url>', 'https URL the API server reaches the admission webhook at (default: the palisade Service in namespace palisade)')
    .option('--output-dir <dir>', 'write audit-webhook.kubeconfig and audit-policy.yaml there instead of printing')
    .action(async (name: string, flags: ConnectFlags, command: Command) => {
      const scope = parseTokenScope(`cluster:${name}`);
      if (flags.token && flags.createToken) {
        throw new PalisadeError('cli.conflicting_flags', '--token and --create-token exclude each other', { field: '--token' });
      }
      let token = flags.token;
      if (flags.createToken) {
        token = await withApi(command, async (api) => (await api.request<{ secret: string }>('POST', '/tokens', { scope, name: `audit webhook ${name}` })).secret);
      }
      const serverUrl = flags.serverUrl ?? configFor(command).publicUrl ?? SERVER_URL_PLACEHOLDER;
      if (serverUrl === SERVER_URL_PLACEHOLDER) console.error(`# replace ${SERVER_URL_PLACEHOLDER} with the URL the API server reaches Palisade at, or pass --server-url`);
      const kubeconfig = webhookKubeconfig({
        cluster: name,
        serverUrl,
        ...(token ? { token } : {}),
        ...(flags.caFile ? { caData: readFileSync(flags.caFile).toString('base64') } : {}),
        ...(flags.insecureSkipTlsVerify ? { insecureSkipTLSVerify: true } : {}),
      });
      const policy = recommendedAuditPolicy();
      if (flags.outputDir) {
        mkdirSync(flags.outputDir, { recursive: true });
        writeFileSync(path.join(flags.outputDir, 'audit-webhook.kubeconfig'), kubeconfig, { mode: 0o600 });
        writeFileSync(path.join(flags.outputDir, 'audit-policy.yaml'), policy);
        console.log(`wrote ${path.join(flags.outputDir, 'audit-webhook.kubeconfig')} and ${path.join(flags.outputDir, 'audit-policy.yaml')}`);
        console.log('kube-apiserver flags: --audit-policy-file=audit-policy.yaml --audit-webhook-config-file=audit-webhook.kubeconfig --audit-webhook-batch-max-size=400');
        if (token) {
          const credentials = admissionCredentials({ token, ...admissionTarget(name, flags), kubeconfigPath: 'admission-webhook.kubeconfig' });
          writeFileSync(path.join(flags.outputDir, 'admission-config.yaml'), credentials.admissionConfiguration);
          writeFileSync(path.join(flags.outputDir, 'admission-webhook.kubeconfig'), credentials.kubeconfig, { mode: 0o600 });
          console.log('admission webhook credentials: --admission-control-config-file=admission-config.yaml (reads admission-webhook.kubeconfig)');
        }
        return;
      }
      console.log(kubeconfig.trimEnd());
      console.log('---');
      console.log('# kube-apiserver --audit-policy-file');
      console.log(policy.trimEnd());
      const webhook = await admissionWebhook(command, name, flags);
      if (webhook) {
        console.log('---');
        console.log('# kubectl apply -f -   (admission control: Pod Security Standards and workload policies)');
        console.log(webhook.trimEnd());
      }
      if (token) {
        // Lets the API server authenticate to the webhook (required with PALISADE_ADMISSION_AUTH=required).
        const credentials = admissionCredentials({ token, ...admissionTarget(name, flags) });
        console.log('---');
        console.log(credentials.admissionConfiguration.trimEnd());
        console.log('---');
        console.log(credentials.kubeconfig.trimEnd());
      }
    });
}
