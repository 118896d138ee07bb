#!/usr/bin/env node
// Regenerates the deploy files that come from Palisade's own code, so they cannot drift from what
// `palisade cluster connect` prints (test/deploy checks they are current). Run after `npm run build`:
//   node deploy/generate.mjs
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { recommendedAuditPolicy, webhookKubeconfig } from '../dist/audit/index.js';
import { validatingWebhookConfiguration } from '../dist/policy/index.js';

const here = import.meta.dirname;
/** The cluster name the in-cluster manifests use (PALISADE_CLUSTERS=local=in-cluster). */
export const CLUSTER = 'local';
/** Stands in for the CA until one is set (cert-manager's CA injector, kubectl patch, or the Helm value). */
export const PLACEHOLDER_CA = '-----BEGIN CERTIFICATE-----\nplaceholder\n-----END CERTIFICATE-----\n';

export function webhookManifest() {
  const text = validatingWebhookConfiguration({
    caBundle: PLACEHOLDER_CA,
    service: { namespace: 'palisade', name: 'palisade', port: 8443, path: `/admission/validate/${CLUSTER}` },
  });
  const doc = parseDocument(text);
  // No CA in the source tree: cert-manager's CA injector fills caBundle from the palisade-tls
  // certificate; without cert-manager, patch it in (docs/deploy.md).
  doc.deleteIn(['webhooks', 0, 'clientConfig', 'caBundle']);
  doc.setIn(['metadata', 'labels', 'app.kubernetes.io/name'], 'palisade-server');
  doc.setIn(['metadata', 'labels', 'app.kubernetes.io/part-of'], 'palisade');
  doc.setIn(['metadata', 'annotations'], doc.createNode({ 'cert-manager.io/inject-ca-from': 'palisade/palisade-tls' }));
  return doc.toString({ lineWidth: 0 });
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  writeFileSync(path.join(here, 'kustomize/base/webhook.yaml'), webhookManifest());
  writeFileSync(path.join(here, 'audit/audit-policy.yaml'), recommendedAuditPolicy());
  writeFileSync(path.join(here, 'audit/audit-webhook.kubeconfig'), webhookKubeconfig({ cluster: CLUSTER, serverUrl: 'https://palisade.example.com' }));
  console.log('wrote deploy/kustomize/base/webhook.yaml, deploy/audit/audit-policy.yaml, deploy/audit/audit-webhook.kubeconfig');
}
