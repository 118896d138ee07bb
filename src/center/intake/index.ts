/**
 * The center's one intake: every detected threat (audit webhook, node agents, image scans) is
 * recorded here, folded by key, written in key order, queued for notification and published to
 * the live feed, with the source's own "already received" write committed alongside.
 */
export { announceAlerts, recordInTransaction, ThreatIntake, threatIntake, type Submission, type SubmissionResult } from './threats.js';
export { ingestAgentBatch, recordAgentHeartbeat, type AgentBatchOutcome, type AgentEventTable } from './agent.js';
