/**
 * The OASIS SARIF 2.1.0 JSON schema (test/support/testdata/sarif-schema-2.1.0.json, from
 * oasis-tcs/sarif-spec@a560296ca8c921f3bdb8d4a8db57ab83dae968a7 sarif-2.1/schema/sarif-schema-2.1.0.json)
 * as a validator, so the SARIF writer is held to the standard code-scanning UIs read rather than
 * only to our own expectations. The schema is draft-04, hence ajv-draft-04.
 */
import { readFileSync } from 'node:fs';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import type { ValidateFunction } from 'ajv';

const schema = JSON.parse(readFileSync(new URL('./testdata/sarif-schema-2.1.0.json', import.meta.url), 'utf8')) as object;

let validate: ValidateFunction | undefined;

/** Schema violations of a SARIF log, as `path: message` lines; empty when it is valid SARIF 2.1.0. */
export function sarifSchemaErrors(log: unknown): string[] {
  if (!validate) {
    // Both packages are CommonJS: under ESM the class and the plugin arrive as `.default`.
    const ajv = new ajvDraft04.default({ allErrors: true, strict: false });
    ajvFormats.default(ajv);
    validate = ajv.compile(schema);
  }
  return validate(log) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
}
