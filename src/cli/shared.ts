import type { Command } from 'commander';
import { loadConfig, storeLocation, type Config } from '../core/index.js';
import { openStore, type Store } from '../store/index.js';

/** Flags every command that touches the database accepts; they rank above environment and palisade.yaml. */
export function withStoreFlags(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'embedded database directory (PALISADE_DATA_DIR)')
    .option('--database-url <url>', 'PostgreSQL URL instead of the embedded database (PALISADE_DATABASE_URL)');
}

/** Configuration for a command: its flags (named like Config keys in camelCase) over the environment. */
export function configFor(command: Command): Config {
  const options = command.optsWithGlobals() as Record<string, unknown>;
  const flags: Partial<Record<keyof Config, unknown>> = {};
  for (const key of ['dataDir', 'databaseUrl', 'host', 'port', 'logLevel'] as const) {
    if (options[key] !== undefined) flags[key] = options[key];
  }
  return loadConfig({ flags, file: options.config as string | undefined });
}

/** Opens the configured store for the length of `work`. */
export async function withStore<T>(command: Command, work: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = configFor(command);
  const store = await openStore(storeLocation(config));
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}
