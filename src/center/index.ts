export * from './alerts.js';
export * from './plans.js';
