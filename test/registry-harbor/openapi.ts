import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse } from 'yaml';

// ajv-formats is CommonJS: its default export arrives as the module object under ESM.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (ajv: Ajv) => Ajv;

interface OpenApiResponse {
  headers?: Record<string, { schema?: { type?: string } }>;
  content?: Record<string, { schema?: Record<string, unknown> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, OpenApiResponse>; requestBody?: { content: Record<string, { schema: Record<string, unknown> }> } }>>;
}

export interface ResponseUnderTest {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  body: string;
}

/**
 * Checks HTTP exchanges against an OpenAPI 3.0 document with Ajv: the status must be declared for
 * the operation, the Content-Type must be one the document lists for that status (parameters
 * included, as Harbor compares them), declared headers must match their schemas, and the body must
 * validate against the schema of that media type. Refs resolve inside the document.
 */
export function openApiChecker(file: string) {
  const document = parse(readFileSync(file, 'utf8')) as OpenApiDocument;
  // OpenAPI 3.0 schema objects are JSON Schema plus a few keywords (example, nullable): not strict.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // `format: url` is not a JSON Schema format; ajv-formats' legacy `url` regex refuses private and
  // loopback hosts (127.0.0.1), which Harbor's own internal registry address often is. Read it as
  // "an absolute http(s) URL" by the WHATWG parser, as Harbor's Go client would accept it.
  ajv.addFormat('url', { type: 'string', validate: (value: string) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol) });
  ajv.addSchema(withNullable(document) as object, 'spec');
  const compiled = new Map<string, ValidateFunction>();

  function validatorFor(key: string, schema: Record<string, unknown>): ValidateFunction {
    let validate = compiled.get(key);
    if (!validate) {
      const ref = typeof schema.$ref === 'string' ? schema.$ref : undefined;
      validate = ajv.compile(ref ? { $ref: `spec${ref}` } : schema);
      compiled.set(key, validate);
    }
    return validate;
  }

  function operation(path: string, method: string) {
    const op = document.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`the document has no ${method} ${path}`);
    return op;
  }

  return {
    /** Throws with every problem found; returns the parsed body. */
    checkResponse(path: string, method: string, response: ResponseUnderTest): unknown {
      const declared = operation(path, method).responses[String(response.status)];
      if (!declared) throw new Error(`${method} ${path}: status ${response.status} is not declared (body: ${response.body.slice(0, 300)})`);
      for (const [name, header] of Object.entries(declared.headers ?? {})) {
        const value = response.headers[name.toLowerCase()];
        if (value === undefined) throw new Error(`${method} ${path} ${response.status}: header ${name} missing`);
        if (header.schema?.type === 'integer' && !/^\d+$/.test(String(value))) throw new Error(`${method} ${path} ${response.status}: header ${name}=${String(value)} is not an integer`);
      }
      if (!declared.content) {
        return undefined;
      }
      const contentType = String(response.headers['content-type'] ?? '');
      const mediaType = Object.keys(declared.content).find((type) => normalize(type) === normalize(contentType));
      if (!mediaType) throw new Error(`${method} ${path} ${response.status}: Content-Type ${contentType} is not one of ${Object.keys(declared.content).join(' | ')}`);
      const schema = declared.content[mediaType]!.schema ?? {};
      const body = schema.type === 'string' ? response.body : JSON.parse(response.body);
      const validate = validatorFor(`${method} ${path} ${response.status} ${mediaType}`, schema);
      if (!validate(body)) throw new Error(`${method} ${path} ${response.status} ${mediaType}: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);
      return body;
    },
    /** The request bodies a test sends are checked too, so the test speaks the spec and not our reading of it. */
    checkRequest(path: string, method: string, mediaType: string, body: unknown): void {
      const content = operation(path, method).requestBody?.content ?? {};
      const declared = Object.keys(content).find((type) => normalize(type) === normalize(mediaType));
      if (!declared) throw new Error(`${method} ${path}: request media type ${mediaType} is not declared`);
      const validate = validatorFor(`request ${method} ${path} ${declared}`, content[declared]!.schema);
      if (!validate(body)) throw new Error(`request ${method} ${path}: ${ajv.errorsText(validate.errors)}`);
    },
  };
}

/** Media types compare case-insensitively, with parameters and without optional spaces. */
function normalize(type: string): string {
  return type.toLowerCase().split(';').map((part) => part.trim()).join(';');
}

/**
 * OpenAPI 3.0's `nullable: true` (also allowed without `type`, as the Harbor spec has it on
 * `enabled_capabilities[].parameters`) in JSON Schema terms: the schema, or null.
 */
function withNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withNullable);
  if (!node || typeof node !== 'object') return node;
  const entries = Object.entries(node as Record<string, unknown>).map(([key, value]) => [key, withNullable(value)] as const);
  const schema = Object.fromEntries(entries) as Record<string, unknown>;
  if (schema.nullable !== true) return schema;
  const { nullable: _nullable, ...rest } = schema;
  return { anyOf: [rest, { type: 'null' }] };
}
