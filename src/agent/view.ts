/**
 * What rule conditions see of a host event: the event itself plus a few derived fields, built
 * once per event (never per rule): `process.cmdline`, `parent` (nearest ancestor),
 * `ancestors`, `container`, `inContainer`, `mainProcess`.
 */
import type { EventSchema } from '../rules/index.js';
import type { HostEvent, ProcessSummary } from './events.js';

export type HostEventView = Record<string, unknown>;

export function eventView(event: HostEvent): HostEventView {
  const view: HostEventView = { ...event };
  const process = event.process;
  if (process) view.process = withCmdline(process);
  const ancestors = event.ancestors ?? [];
  view.ancestors = ancestors.map(withCmdline);
  view.parent = (view.ancestors as unknown[])[0];
  view.container = event.container ?? process?.container;
  view.inContainer = view.container !== undefined;
  view.mainProcess = event.mainProcess ?? false;
  return view;
}

/**
 * A process with its command line, made once per process object: the kernel sensor hands the
 * same object to every event of a process and of its descendants (a parent shell under hundreds
 * of execs), so the join and the copy are not redone per event. A process object is not
 * changed once made (the tree replaces it instead), so a view cannot go stale.
 */
const cmdlineViews = new WeakMap<ProcessSummary, ProcessSummary & { cmdline: string }>();

function withCmdline(p: ProcessSummary): ProcessSummary & { cmdline: string } {
  let view = cmdlineViews.get(p);
  if (!view) {
    view = { ...p, cmdline: p.argv.join(' ') };
    cmdlineViews.set(p, view);
  }
  return view;
}

/** Host events for the rule kernel: the view's fields are the path roots; CEL sees the view as `event`. */
export const HOST_EVENT_SCHEMA: EventSchema<HostEventView> = {
  code: 'agent',
  roots: new Set(['id', 'at', 'source', 'kind', 'process', 'ancestors', 'parent', 'container', 'inContainer', 'mainProcess', 'raw',
    'program', 'protocol', 'direction', 'local', 'remote', 'inode', 'path', 'op', 'privileged', 'allCapabilities', 'hostDevices', 'call', 'args']),
  cel: (view) => ({ event: view }),
};
