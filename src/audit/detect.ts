import { randomIds, systemClock, type Alert, type Clock, type IdSource } from '../core/index.js';
import { AuditRuleEngine } from './engine.js';
import { eventTime, type AuditEvent } from './event.js';
import { compileFirst, compileValues } from '../rules/index.js';
import { AUDIT_SCHEMA } from './view.js';
import { loadAuditRules } from './load.js';
import { alertResource } from './resource.js';
import type { CompiledRule, RuleSet } from './rules.js';
import { MemoryDetectionState, type DetectionState } from './state.js';

/**
 * From matched events to alerts: stateful rules consult the detection state, then each hit is
 * folded into one alert per (rule, resource) and window. An alert keeps its first few events as
 * evidence, counts the rest, and moves lastSeen; a hit after the window has passed opens a new alert.
 */
export interface AuditAlert extends Alert {
  source: 'audit';
  /** Technique in Microsoft's threat matrix for Kubernetes. */
  matrix: string;
  /** rule + resource + window start, the center's dedupe key. */
  dedupeKey: string;
}

/** A batch's hits of one rule on one resource, shaped like the center's DetectedThreat. */
export interface AuditThreat {
  rule: string;
  title: string;
  severity: Alert['severity'];
  tactic: string;
  technique: string;
  matrix: string;
  resource: Alert['resource'];
  evidence: AuditEvent[];
  remediation: string;
  source: 'audit';
  /** First hit in the batch (event time). */
  at: Date;
  lastSeen: Date;
  count: number;
}

/** Rules that hit a request at an early stage, by cluster + auditID (see AuditDetector.remember). */
export type Judged = Map<string, Set<string>>;

export interface DetectorOptions {
  rules: RuleSet | AuditRuleEngine;
  state?: DetectionState;
  /** Cluster for events whose source names none (files read by the CLI). */
  cluster?: string;
  /** Hits of one rule on one resource within this window update one alert (default 1 h). */
  windowMs?: number;
  /** Events kept as evidence per alert (default 5). */
  maxEvidence?: number;
  /** Alerts kept open in memory; the least recently updated are let go first (default 10,000). */
  maxOpenAlerts?: number;
  /**
   * Requests remembered to alert once per auditID and rule across stages (default 100,000; a
   * request's stages arrive within its duration, so the most recent ones are what matter).
   */
  maxRememberedRequests?: number;
  clock?: Clock;
  ids?: IdSource;
}

interface StatefulRule {
  /** The rule and its scope's values, joined: the key state is kept under. */
  scope: (e: AuditEvent) => string;
  /** The values to look up in the scope: one string per combination of the value paths' values. */
  values: (e: AuditEvent) => string[];
  learning: { events: number; periodMs: number };
}

/** Joins the parts of a state, request or alert key. */
const SEP = '\u001f';

function text(value: unknown): string {
  return value === undefined ? '' : typeof value === 'string' ? value : String(value);
}

function product(lists: unknown[][]): string[] {
  let out = [''];
  lists.forEach((list, i) => {
    const next: string[] = [];
    for (const prefix of out) for (const v of list.length ? list : ['']) next.push(i === 0 ? String(v) : prefix + SEP + String(v));
    out = next;
  });
  return out;
}

export class AuditDetector {
  readonly engine: AuditRuleEngine;
  readonly state: DetectionState;
  private readonly cluster: string;
  private readonly windowMs: number;
  private readonly maxEvidence: number;
  private readonly maxOpen: number;
  private readonly ids: IdSource;
  private readonly clock: Clock;
  private readonly open = new Map<string, AuditAlert>();
  private readonly stateful = new Map<string, StatefulRule>();
  /**
   * Rules that alerted on a request at a stage before its last (RequestReceived, ResponseStarted),
   * by cluster + auditID, oldest first: the only ones a later stage of the same request must not
   * repeat. A request seen first at its last stage costs nothing here.
   */
  private readonly alerted = new Map<string, Set<string>>();
  private readonly maxRemembered: number;
  private processed = 0;

  constructor(options: DetectorOptions) {
    this.engine = options.rules instanceof AuditRuleEngine ? options.rules : new AuditRuleEngine(options.rules);
    this.state = options.state ?? new MemoryDetectionState();
    this.cluster = options.cluster ?? 'default';
    this.windowMs = options.windowMs ?? 3_600_000;
    this.maxEvidence = options.maxEvidence ?? 5;
    this.maxOpen = options.maxOpenAlerts ?? 10_000;
    this.maxRemembered = options.maxRememberedRequests ?? 100_000;
    this.ids = options.ids ?? randomIds;
    this.clock = options.clock ?? systemClock;
  }

  get eventCount(): number {
    return this.processed;
  }

  /** Runs one batch; returns the alerts it opened or updated, each once. */
  process(events: Iterable<AuditEvent>): AuditAlert[] {
    const touched = new Set<AuditAlert>();
    const judged: Judged = new Map();
    this.each(events, judged, (hit, event) => touched.add(this.record(hit, event)));
    this.remember(judged);
    return [...touched];
  }

  /**
   * Runs one batch for a caller that folds alerts itself (the server, through the center): the
   * hits of each rule on each resource in this batch, as one threat with its count and evidence.
   * The requests judged are remembered only when the caller calls `remember(judged)` after it
   * stored the threats: a batch the apiserver sends again after a failure is detected again.
   */
  threats(events: Iterable<AuditEvent>, judged: Judged = new Map()): AuditThreat[] {
    const byKey = new Map<string, AuditThreat>();
    this.each(events, judged, (hit, event) => {
      const resource = alertResource(event, this.cluster);
      const key = hit.rule.id + SEP + resource.id;
      const at = eventTime(event) || this.clock.now().getTime();
      const threat = byKey.get(key);
      if (threat) {
        threat.count++;
        if (at < threat.at.getTime()) threat.at = new Date(at);
        if (at > threat.lastSeen.getTime()) threat.lastSeen = new Date(at);
        if (threat.evidence.length < this.maxEvidence) threat.evidence.push(event);
        return;
      }
      const rule = hit.rule;
      byKey.set(key, {
        rule: rule.id, title: hit.title(event), severity: rule.severity, tactic: rule.tactic, technique: rule.technique, matrix: rule.matrix,
        resource, evidence: [event], remediation: rule.remediation, source: 'audit', at: new Date(at), lastSeen: new Date(at), count: 1,
      });
    });
    return [...byKey.values()];
  }

  /** Marks requests as alerted (see threats); bounded, oldest forgotten first. */
  remember(judged: Judged): void {
    for (const [request, rules] of judged) {
      const known = this.alerted.get(request);
      this.alerted.delete(request);
      this.alerted.set(request, known ? new Set([...known, ...rules]) : rules);
    }
    while (this.alerted.size > this.maxRemembered) this.alerted.delete(this.alerted.keys().next().value as string);
  }

  private each(events: Iterable<AuditEvent>, judged: Judged, onHit: (hit: CompiledRule, event: AuditEvent) => void): void {
    for (const event of events) {
      this.processed++;
      const hits = this.engine.match(event);
      for (let i = 0; i < hits.length; i++) {
        const hit = hits[i]!;
        // A first-seen rule looks at one stage of a request only (rules.ts), so it needs no memory here.
        if (hit.rule.firstSeen) {
          if (this.firstSeen(hit, event)) onHit(hit, event);
          continue;
        }
        // One alert per request and rule, whichever of its stages (RequestReceived, ResponseStarted,
        // ResponseComplete) matched first. The cluster is part of the key: one cluster's auditIDs
        // cannot hide another's alerts.
        const early = event.stage === 'RequestReceived' || event.stage === 'ResponseStarted';
        if (early || judged.size > 0 || this.alerted.size > 0) {
          const request = (event.cluster ?? this.cluster) + SEP + event.auditID;
          const id = hit.rule.id;
          if (judged.get(request)?.has(id) || this.alerted.get(request)?.has(id)) continue;
          if (early) {
            const rules = judged.get(request);
            if (rules) rules.add(id);
            else judged.set(request, new Set([id]));
          }
        }
        onHit(hit, event);
      }
    }
  }

  /** Alerts still open (within their window), most severe and most recent first. */
  alerts(): AuditAlert[] {
    return [...this.open.values()];
  }

  private firstSeen(hit: CompiledRule, event: AuditEvent): boolean {
    const spec = hit.rule.firstSeen!;
    let compiled = this.stateful.get(hit.rule.id);
    if (!compiled) {
      compiled = this.compileFirstSeen(hit.rule.id, spec);
      this.stateful.set(hit.rule.id, compiled);
    }
    const scope = compiled.scope(event);
    const at = eventTime(event);
    let fire = false;
    for (const value of compiled.values(event)) {
      const seen = this.state.observe(scope, value, at);
      if (seen.isNew && seen.scopeEvents >= compiled.learning.events && at - seen.scopeFirstSeen >= compiled.learning.periodMs) fire = true;
    }
    return fire;
  }

  /**
   * Key builders for a first-seen rule. Every service-account request meets one, so the common
   * case (no `[]` in any path) builds its two strings without intermediate arrays.
   */
  private compileFirstSeen(id: string, spec: NonNullable<CompiledRule['rule']['firstSeen']>): StatefulRule {
    const first = (p: string, kind: string) => p === 'cluster'
      ? (e: AuditEvent) => e.cluster ?? this.cluster
      : compileFirst(p, AUDIT_SCHEMA, `${id}.firstSeen.${kind}`);
    const scopeParts = spec.scope.map((p) => first(p, 'scope'));
    const scope = (e: AuditEvent) => {
      let key = id;
      for (const part of scopeParts) key += SEP + text(part(e));
      return key;
    };
    if (!spec.value.some((p) => p.includes('[]'))) {
      const valueParts = spec.value.map((p) => first(p, 'value'));
      return {
        scope,
        values: (e) => {
          let key = text(valueParts[0]!(e));
          for (let i = 1; i < valueParts.length; i++) key += SEP + text(valueParts[i]!(e));
          return [key];
        },
        learning: spec.learning,
      };
    }
    const lists = spec.value.map((p) => p === 'cluster' ? (e: AuditEvent) => [e.cluster ?? this.cluster] : compileValues(p, AUDIT_SCHEMA, `${id}.firstSeen.value`));
    return { scope, values: (e) => product(lists.map((f) => f(e))), learning: spec.learning };
  }

  private record(hit: CompiledRule, event: AuditEvent): AuditAlert {
    const rule = hit.rule;
    const resource = alertResource(event, this.cluster);
    const key = rule.id + SEP + resource.id;
    const at = eventTime(event) || this.clock.now().getTime();
    const current = this.open.get(key);
    if (current && at - current.lastSeen.getTime() <= this.windowMs && current.firstSeen.getTime() - at <= this.windowMs) {
      current.count++;
      if (at > current.lastSeen.getTime()) current.lastSeen = new Date(at);
      if (at < current.firstSeen.getTime()) current.firstSeen = new Date(at);
      if (current.evidence.length < this.maxEvidence) current.evidence.push(event);
      this.open.delete(key);
      this.open.set(key, current);
      return current;
    }
    const first = new Date(at);
    const alert: AuditAlert = {
      id: this.ids.next('alert-'),
      rule: rule.id,
      title: hit.title(event),
      severity: rule.severity,
      tactic: rule.tactic,
      technique: rule.technique,
      matrix: rule.matrix,
      resource,
      evidence: [event],
      remediation: rule.remediation,
      source: 'audit',
      firstSeen: first,
      lastSeen: new Date(at),
      count: 1,
      status: 'active',
      dedupeKey: `${rule.id}|${resource.id}|${first.toISOString()}`,
    };
    this.open.delete(key);
    this.open.set(key, alert);
    if (this.open.size > this.maxOpen) this.open.delete(this.open.keys().next().value as string);
    return alert;
  }
}

export interface AnalyzeOptions extends Omit<DetectorOptions, 'rules'> {
  /** Compiled rules; the built-ins plus PALISADE_RULES_DIR when absent. */
  rules?: RuleSet | AuditRuleEngine;
}

export interface AnalyzeResult {
  alerts: AuditAlert[];
  events: number;
}

/** One pass over a finite set of events (the CLI, tests): every alert, deduplicated. */
export function analyzeAuditEvents(events: Iterable<AuditEvent>, options: AnalyzeOptions = {}): AnalyzeResult {
  const detector = new AuditDetector({ ...options, rules: options.rules ?? loadAuditRules() });
  const alerts = new Map<string, AuditAlert>();
  for (const alert of detector.process(events)) alerts.set(alert.id, alert);
  return { alerts: [...alerts.values()], events: detector.eventCount };
}
