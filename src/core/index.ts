export * from './severity.js';
export * from './resource.js';
export * from './errors.js';
export * from './clock.js';
export * from './ids.js';
export * from './vocabulary.js';
export * from './inventory.js';
export * from './config.js';
export { seal, unseal } from './seal.js';
