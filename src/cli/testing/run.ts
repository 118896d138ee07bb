import { Command } from 'commander';
import { vi } from 'vitest';

export interface CommandRun {
  out: string;
  err: string;
  exitCode: number | undefined;
}

/**
 * Runs `palisade ARGS…` in this process with the given command groups registered,
 * capturing console.log and console.error and the exit code it set (reset before and after).
 */
export async function runCommands(registers: Array<(program: Command) => void>, args: string[]): Promise<CommandRun> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => { out.push(String(s)); });
  const error = vi.spyOn(console, 'error').mockImplementation((s: unknown) => { err.push(String(s)); });
  const program = new Command('palisade').exitOverride();
  for (const register of registers) register(program);
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'palisade', ...args]);
    return { out: out.join('\n'), err: err.join('\n'), exitCode: process.exitCode as number | undefined };
  } finally {
    log.mockRestore();
    error.mockRestore();
    process.exitCode = undefined;
  }
}
