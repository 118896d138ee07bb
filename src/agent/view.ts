/**
 * What rule conditions see of a host event: the event itself plus a few derived fields, built
 * once per event (never per rule): `process.cmdline`, `parent` (nearest ancestor),
 * `ancestors`, `container`, `inContainer`, `mainProcess`.
 */
import type { EventSchema } from '../rules/index.js';
import type { HostEvent } from './events.js';

export type HostEventView = Record<string, unknown>;

export function eventView(event: HostEvent): HostEventView {
  const view: HostEventView = { ...event };
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

/** Host events for the rule kernel: the view's fields are the path roots; CEL sees the view as `event`. */
export const HOST_EVENT_SCHEMA: EventSchema<HostEventView> = {
  code: 'agent',
  roots: new Set(['id', 'at', 'source', 'kind', 'process', 'ancestors', 'parent', 'container', 'inContainer', 'mainProcess', 'raw',
    'program', 'protocol', 'direction', 'local', 'remote', 'inode', 'path', 'op', 'privileged', 'allCapabilities', 'hostDevices', 'call', 'args']),
  cel: (view) => ({ event: view }),
};
