/** The node agent's public face: collection, rules, shipping, and the server-side ingest helpers. */
export { NodeAgent, type Collection, type NodeAgentOptions } from './agent.js';
export { collectOnce, createAgent, runAgent, type AgentRunOptions, type OnceResult } from './runner.js';
export { AgentRuleEngine, foldAlerts, evidenceOf, resourceOf, type AgentAlert, type AlertEvidence } from './engine.js';
export { loadAgentRules, BUILTIN_AGENT_RULES_DIR, type AgentRule, type AgentRuleSet } from './rules.js';
export { sampleEvent } from './samples.js';
export type { ContainerEvent, ContainerRef, Endpoint, ExecEvent, FileEvent, HostEvent, HostEventKind, NetworkEvent, ProcessInfo, ProcessSummary } from './events.js';
export { containerFromCgroup, parseKubeletPods, parseCrictlPs, KubeletMetadata, CrictlMetadata, detectRuntimeSocket, type ContainerMetadataSource } from './containers.js';
export { AuditAssembler, AuditLogTail, decodeAuditEvent, parseAuditLine, parseAuditText, type AuditRecord, type AuditEvent, type DecodedAuditEvent } from './collectors/auditd.js';
export { ProcessTable, readProcess } from './collectors/proc.js';
export { parseProcNet, readNamespaceSockets } from './collectors/net.js';
export { Spool, type SpoolStats } from './spool.js';
export { Shipper, splitBatch } from './shipper.js';
export { loadThreatList, parseThreatList } from './threat-intel.js';
export { nodeInventory, AGENT_VERSION } from './inventory.js';
export { AGENT_BATCH_MAX_ALERTS, AGENT_BATCH_MAX_BYTES, AGENT_BATCH_MAX_EVENTS, type AgentBatch, type NodeInventory } from './wire.js';
export { CORE_HOURS_METER, filterNew, inCluster, recordHeartbeat, type AgentEventTable } from './ingest.js';
