export * from './alerts.js';
export * from './plans.js';
export * from './findings.js';
