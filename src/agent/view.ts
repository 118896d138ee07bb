/**
 * What rule conditions see of a host event: the event itself plus a few derived fields, built
 * once per event (never per rule): `process.cmdline`, `parent` (nearest ancestor),
 * `ancestors`, `container`, `mainProcess`, `remote`, `path`.
 */
import type { HostEvent } from './events.js';

export function eventView(event: HostEvent): Record<string, unknown> {
  const view: Record<string, unknown> = { ...event };
  const process = event.process;
  if (process) {
    view.process = { ...process, cmdline: process.argv.join(' ') };
  }
  const ancestors = event.ancestors ?? [];
  view.ancestors = ancestors.map((a) => ({ ...a, cmdline: a.argv.join(' ') }));
  view.parent = (view.ancestors as unknown[])[0];
  view.container = event.container ?? process?.container;
  view.inContainer = view.container !== undefined;
  view.mainProcess = event.mainProcess ?? false;
  return view;
}
