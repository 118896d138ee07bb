export * from './alerts.js';
export * from './plans.js';
export * from './findings.js';
export * from './score.js';
export * from './recommendations.js';
export * from './live.js';
export * from './costs.js';
export { queueNotifications } from './notify/queue.js';
export { refreshSecureScore } from './score-refresh.js';
