import type { AnyJobDefinition } from '../jobs/index.js';
import type { ServerContext } from './context.js';

/**
 * Every capability's job handlers, for `palisade server` (embedded) and `palisade worker`.
 * Capabilities export factories taking the context; they are listed here as they land.
 */
export function jobDefinitions(_context: Omit<ServerContext, 'jobs'>): AnyJobDefinition[] {
  return [];
}
