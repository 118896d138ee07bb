/**
 * Runs agent rules over host events. Rules are indexed by event kind, so an event is tested
 * only against rules that can match it, and the view is built once per event.
 */
import type { Alert, ResourceRef } from '../core/index.js';
import { compileAgentRule, type AgentRuleSet, type CompiledAgentRule } from './rules.js';
import { eventId, summarize, type ContainerRef, type HostEvent, type HostEventKind, type ProcessSummary } from './events.js';
import { eventView, type HostEventView } from './view.js';

export interface AlertEvidence {
  node: string;
  container?: ContainerRef;
  pod?: { name: string; namespace?: string; uid?: string };
  process?: ProcessSummary & { uid: number };
  /** The process and its ancestors, the process first. */
  processTree: ProcessSummary[];
  /** The raw event that matched (with audit records when it came from auditd). */
  event: HostEvent;
}

/** A hit on a node, before the center folds it into an Alert (which adds source, status, count and times). */
export interface AgentAlert extends Pick<Alert, 'rule' | 'title' | 'severity' | 'tactic' | 'technique' | 'remediation' | 'resource'> {
  /** Stable per rule and event: a resent alert is recorded once. */
  id: string;
  evidence: AlertEvidence[];
  at: string;
}

export function resourceOf(node: string, container: ContainerRef | undefined): ResourceRef {
  if (!container) return { kind: 'node', id: node, name: node };
  const name = container.pod ? `${container.pod}/${container.name ?? container.id.slice(0, 12)}` : container.name ?? container.id.slice(0, 12);
  return { kind: 'container', id: container.id, name, ...(container.namespace ? { namespace: container.namespace } : {}) };
}

export function evidenceOf(node: string, event: HostEvent): AlertEvidence {
  const container = event.container ?? event.process?.container;
  const process = event.process;
  return {
    node,
    ...(container ? { container } : {}),
    ...(container?.pod ? { pod: { name: container.pod, ...(container.namespace ? { namespace: container.namespace } : {}), ...(container.podUid ? { uid: container.podUid } : {}) } } : {}),
    ...(process ? { process: { ...summarize(process), uid: process.uid } } : {}),
    processTree: [...(process ? [summarize(process)] : []), ...(event.ancestors ?? [])],
    event,
  };
}

export class AgentRuleEngine {
  private byKind = new Map<HostEventKind, CompiledAgentRule[]>();
  private readonly lists: Map<string, unknown[]>;

  constructor(private readonly ruleSet: AgentRuleSet, options: { lists?: Record<string, unknown[]> } = {}) {
    this.lists = new Map(ruleSet.lists);
    for (const [name, items] of Object.entries(options.lists ?? {})) this.lists.set(name, [...(ruleSet.lists.get(name) ?? []), ...items]);
    this.compile();
  }

  get rules(): CompiledAgentRule[] {
    return [...new Set([...this.byKind.values()].flat())];
  }

  /** Replaces a run-time list (the threat-intel list after a refresh) and recompiles. */
  setList(name: string, items: unknown[]): void {
    this.lists.set(name, [...(this.ruleSet.lists.get(name) ?? []), ...items]);
    this.compile();
  }

  private compile(): void {
    const byKind = new Map<HostEventKind, CompiledAgentRule[]>();
    for (const rule of this.ruleSet.rules) {
      if (!rule.enabled) continue;
      const compiled = compileAgentRule(rule, this.lists);
      for (const kind of rule.events) byKind.set(kind, [...(byKind.get(kind) ?? []), compiled]);
    }
    this.byKind = byKind;
  }

  /** Rules the event matches. */
  match(event: HostEvent): CompiledAgentRule[] {
    return this.matchView(event.kind, eventView(event));
  }

  private matchView(kind: HostEventKind, view: HostEventView): CompiledAgentRule[] {
    const candidates = this.byKind.get(kind);
    return candidates ? candidates.filter((r) => r.test(view)) : [];
  }

  evaluate(node: string, event: HostEvent): AgentAlert[] {
    const view = eventView(event);
    return this.matchView(event.kind, view).map((rule) => ({
      id: eventId(node, 'alert', rule.id, event.id),
      rule: rule.id,
      title: rule.render(view),
      severity: rule.severity,
      tactic: rule.tactic,
      ...(rule.technique ? { technique: rule.technique } : {}),
      remediation: rule.remediation,
      resource: resourceOf(node, event.container ?? event.process?.container),
      evidence: [evidenceOf(node, event)],
      at: event.at,
    }));
  }
}

/** Folds alerts of the same rule on the same resource into one, keeping evidence bounded. */
export function foldAlerts(alerts: AgentAlert[], maxEvidence = 5): (AgentAlert & { count: number })[] {
  const byKey = new Map<string, AgentAlert & { count: number }>();
  for (const alert of alerts) {
    const key = `${alert.rule}\u0000${alert.resource.kind}\u0000${alert.resource.id}`;
    const existing = byKey.get(key);
    if (!existing) byKey.set(key, { ...alert, evidence: [...alert.evidence], count: 1 });
    else {
      existing.count++;
      if (existing.evidence.length < maxEvidence) existing.evidence.push(...alert.evidence);
    }
  }
  return [...byKey.values()];
}
