/**
 * Agentless Kubernetes threat detection from API-server audit logs: sources turn wire formats into
 * AuditEvents, rules (YAML data) are compiled and indexed, the detector folds hits into alerts.
 */

export type { AuditEvent, AuditInputError, AuditUser, AuditObjectRef } from './event.js';
export { eventTime } from './event.js';
export { normalizeEvent, AUDIT_API_VERSIONS } from './sources/event.js';
export { AuditBatch, AuditLineDecoder, decodeAuditText, decodeAuditValue, type AuditSink, type DecodeContext } from './sources/decode.js';
export { readAuditFile, followAuditFile, type FollowOptions } from './sources/file.js';
export { decodeWebhookBody, WEBHOOK_MAX_EVENTS, WEBHOOK_MAX_BYTES } from './sources/webhook.js';
export { gkeEntryToEvent } from './sources/gke.js';
export { aksRecordToEvent } from './sources/aks.js';
export type { AuditRule, CompiledRule, RuleSet, RuleOverride, RuleExceptions, RuleSample } from './rules.js';
export { BUILTIN_RULES_DIR } from './rules.js';
export { loadAuditRules, type LoadAuditRulesOptions } from './load.js';
export { AuditRuleEngine } from './engine.js';
export { AuditDetector, analyzeAuditEvents, type AuditAlert, type AnalyzeOptions, type AnalyzeResult, type DetectorOptions } from './detect.js';
export { MemoryDetectionState, type DetectionState, type Observation, type StateLimits } from './state.js';
export { StoreDetectionState } from './state-store.js';
export { alertResource } from './resource.js';
export { recommendedAuditPolicy, webhookKubeconfig, type WebhookKubeconfigOptions } from './cluster.js';

export { auditReport, alertJson, alertTable, alertRow, errorLine, isActivity, sortAlerts, type AuditReport } from './report.js';
export { lastAuditEventAt, storeAuditEvents, pruneAuditEvents, type AuditEventTable } from './events-store.js';
export { createAuditIngest, type AuditIngest, type AuditIngestResult, type PreparedAuditBatch } from './ingest.js';
export type { AuditThreat } from './detect.js';
