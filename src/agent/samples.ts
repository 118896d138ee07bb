/**
 * Turns a rule sample (a partial event in YAML) into a complete host event, filling what the
 * sample does not care about. Used by the rule tests and `palisade agent` rule checks.
 */
import { basename, type HostEvent, type ProcessInfo } from './events.js';

let counter = 0;

export function sampleEvent(partial: Record<string, unknown>): HostEvent {
  const n = ++counter;
  const event: Record<string, unknown> = { id: `sample-${n}`, at: '2026-01-01T00:00:00.000Z', source: 'proc', ...partial };
  const process = partial.process as Partial<ProcessInfo> | undefined;
  if (process) {
    const exe = process.exe ?? '';
    event.process = {
      pid: 1000 + n, ppid: 1, startTime: n, uid: 0, comm: (process.name ?? basename(exe)).slice(0, 15), argv: [], exe,
      name: process.name ?? basename(exe),
      ...process,
    };
  }
  return event as unknown as HostEvent;
}
