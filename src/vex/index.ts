/**
 * VEX (Vulnerability Exploitability eXchange) in OpenVEX form: parsing and validating documents,
 * deciding which statement speaks for a finding, and storing uploaded documents. The center
 * applies statements to stored findings (center/findings.ts); `scan --vex` applies them to one
 * report (image/report.ts). See docs/vex.md.
 */
export { MAX_VEX_DOCUMENT_BYTES, MAX_VEX_STATEMENTS, parseVexDocument, parseVexText, VEX_STATUSES, type VexDocument, type VexProduct, type VexStatement, type VexStatus } from './document.js';
export { assessmentOf, effectiveStatement, isSuppressing, normalizeRepository, type AttributedStatement, type ImageIdentity, type VexAssessment } from './match.js';
export { addVexDocument, getVexDocument, hasVexDocuments, listVexDocuments, removeVexDocument, statementsAbout, vulnerabilitiesOf, type VexDocumentSummary } from './store.js';
