export * from './alerts.js';
export * from './plans.js';
export * from './findings.js';
export * from './score.js';
export * from './recommendations.js';
export * from './live.js';
export * from './costs.js';
export { queueNotifications } from './notify/queue.js';
export { refreshSecureScore } from './score-refresh.js';
export { alertEntities, getIncident, incidentKeys, listIncidents, TACTIC_ORDER, type Incident, type IncidentAlert, type IncidentDetail, type IncidentEntity, type IncidentFilter } from './incidents.js';
export { announceAlerts, ingestAgentBatch, recordAgentHeartbeat, recordInTransaction, ThreatIntake, threatIntake, type AgentBatchOutcome, type AgentEventTable, type Submission, type SubmissionResult } from './intake/index.js';
export { meterImageScan, recordListedNodes } from './usage/index.js';
export {
  createChannel, deleteChannel, deliveryStats, getChannel, listChannels, listDeliveries, NotificationDispatcher, openChannel, redactSettings, sendToChannel, updateChannel,
  type Channel, type ChannelInput,
} from './notify.js';
export { endSession, resolveSession, signIn, SESSION_TTL_MS, SignInSlowedDown, type Credentials, type Session } from './sessions.js';
export { createExemption, listExemptions, removeExemption, MAX_EXEMPTION_REASON, type Exemption } from './exemptions.js';
export { overview, type Overview } from './overview.js';
export { scoreView, type ScoreView } from './score-history.js';
export { createUser, deleteUser, findUser, listUsers, parseRole, updateUser, type Role, type User } from './users.js';
export { imagesWithPackage, imagesWithVulnerability, listImagesWithCounts, type ImageWithCounts, type ImageWithPackage, type ImageWithVulnerability } from './image-findings.js';
export { findingsPage, isFindingsPosition, SUPPRESSION_MODES, type FindingsPage, type FindingsPageFilter, type FindingsPosition, type SuppressionMode } from './findings-page.js';
