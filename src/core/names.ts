/**
 * The name of a cluster or registry as Palisade keys it everywhere: in token scopes
 * (`cluster:NAME`), URL paths, configuration and the store. One rule, so a name the
 * configuration accepts is never one a token or a route refuses: lowercase letters, digits,
 * `.`, `_`, `-`, starting and ending with a letter or digit, at most 64 characters.
 */
export const SCOPE_NAME_SOURCE = '[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?';

export const SCOPE_NAME = new RegExp(`^${SCOPE_NAME_SOURCE}$`);

/** What to tell a user whose name breaks the rule. */
export const SCOPE_NAME_HINT = 'lowercase letters, digits, . _ -, starting and ending with a letter or digit (up to 64)';
