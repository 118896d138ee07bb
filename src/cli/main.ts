#!/usr/bin/env node
import module from 'node:module';
import type { Command } from 'commander';

// Node >= 22.1 keeps compiled code on disk between runs, which the command modules loaded below
// profit from (they are imported after this line). Node 20 has no such call: it is skipped.
(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

/**
 * Each command's module, loaded only when that command runs: a command answered by a running
 * server must not pay for loading the server app, the scanner and the rule engines (seconds on a
 * loaded machine). Help and unknown commands load them all, so they list every command.
 */
const COMMANDS: Record<string, () => Promise<{ register(program: Command): void }>> = {
  server: () => import('./server.js'),
  worker: () => import('./server.js'),
  token: () => import('./token.js'),
  scan: () => import('./scan.js'),
  db: () => import('./db.js'),
  registry: () => import('./registry.js'),
  audit: () => import('./audit.js'),
  cluster: () => import('./cluster.js'),
  policy: () => import('./policy.js'),
  cost: () => import('./cost.js'),
  alerts: () => import('./alerts.js'),
  images: () => import('./images.js'),
  findings: () => import('./images.js'),
  agent: () => import('./agent.js'),
  vex: () => import('./vex.js'),
};

/** The command named on the command line: the first word that is neither an option nor its value. */
function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config') i++;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

const VERSION = '0.1.0';
const named = commandWord(process.argv.slice(2));
// `palisade --version` needs no command at all: CI scripts call it first, and it must answer as fast as
// `node -e 0` nearly, so it is answered before Commander and the core folder are even loaded (~40 ms).
if (!named && process.argv.slice(2).some((arg) => arg === '--version' || arg === '-V')) {
  process.stdout.write(`${VERSION}\n`);
  process.exit(0);
}
const { Command: CommandLine, CommanderError } = await import('commander');
const { isPalisadeError } = await import('../core/index.js');

/** `palisade`: one binary for the server, workers, the agent and the offline tools. */
const program = new CommandLine('palisade')
  .description('Threat protection for Kubernetes clusters and container registries')
  .version(VERSION)
  .option('--config <file>', 'palisade.yaml to read (PALISADE_CONFIG)')
  .showSuggestionAfterError()
  .exitOverride();

const loaders = named && COMMANDS[named] ? [COMMANDS[named]] : Object.values(COMMANDS);
const modules = new Set(await Promise.all(loaders.map((load) => load())));
for (const module of modules) module.register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed its message (unknown option, missing argument, --help).
    process.exit(error.exitCode);
  }
  if (isPalisadeError(error)) {
    console.error(`palisade: ${error.toLine()}`);
    // A CI gate that cannot judge (empty or stale advisory database) is told apart from a failed command.
    if (error.code.startsWith('scan.advisory_db.')) process.exit(2);
  } else {
    console.error(`palisade: ${(error as Error).message ?? String(error)}`);
  }
  process.exit(1);
}
