import type { Command } from 'commander';
import { PalisadeError, isPalisadeError, loadConfig, readDiscovery, storeLocation, type Config } from '../core/index.js';
import type { Store } from '../store/index.js';

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
  // Loaded here, not at the top: commands that never open the store (answered by a server) skip it.
  const { openStore } = await import('../store/index.js');
  const store = await openStore(storeLocation(config)).catch((error: unknown) => {
    // The embedded database serves one process: name the running server and what to do instead.
    const server = isPalisadeError(error) && error.code === 'store.data_dir_in_use' ? readDiscovery(config.dataDir) : undefined;
    if (!server) throw error;
    throw new PalisadeError('store.data_dir_in_use', `${error instanceof Error ? error.message : String(error)}: the Palisade server at ${server.url}`, {
      kind: 'conflict',
      field: 'dataDir',
      hint: `\`palisade ${command.parent?.name() === 'palisade' ? '' : `${command.parent?.name() ?? ''} `}${command.name()}\` needs the data directory to itself: stop the server (Ctrl-C) and run it again, or run it against PostgreSQL`,
    });
  });
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}
