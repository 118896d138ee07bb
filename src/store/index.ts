export { openStore, redactUrl, type Store, type StoreLocation, type OpenOptions, type SqlExecutor } from './open.js';
export { migrateToLatest, isMigrated, knownMigrations } from './migrate.js';
export type { Database } from './schema.js';
export * from './tokens.js';
export * from './audit-trail.js';
export * from './registries.js';
export * from './images.js';
export * from './transaction.js';
export * from './nodes.js';
