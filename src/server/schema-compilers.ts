import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';

/** An Ajv validator as Fastify calls it: `errors` is read after a `false`. */
interface ValidateFunction {
  (data: unknown, context?: unknown): unknown;
  errors?: unknown;
  schemaEnv?: unknown;
}

type Schemas = Parameters<ReturnType<typeof AjvCompiler>>[0];
type CompilerOptions = { customOptions?: Record<string, unknown> };
interface RouteSchema {
  httpPart?: string;
  schema: unknown;
  method: string;
  url: string;
}
type Serialize = (payload: unknown) => string;
type SerializerOptions = Parameters<ReturnType<typeof SerializerSelector>>[1];
interface ResponseSchema {
  schema?: unknown;
  method: string;
  url: string;
  httpStatus: string;
}

/**
 * Fastify's schema compilers, two changes from its default:
 * - Query strings, params and headers arrive as text, so their schemas coerce (`?limit=5`); a JSON
 *   body never does: `{"password": 123}` or `{"enabled": "false"}` is a 400, not silently retyped.
 * - Each route's validators and response serializers are compiled on its first request, or in idle
 *   turns shortly after the server listens (`compileRemaining`), not while the server starts:
 *   compiling every route's request schemas (and building the Ajv instances) took ~130 ms of a warm
 *   start, its response schemas (fast-json-stringify) ~20 ms more, and an app built for one request
 *   or test compiles only what it uses.
 */
export interface LazySchemaCompilers {
  buildValidator: (externalSchemas: Schemas, options: CompilerOptions) => (route: RouteSchema) => ValidateFunction;
  buildSerializer: (externalSchemas: unknown, options: SerializerOptions) => (route: ResponseSchema) => Serialize;
  compileRemaining(onError: (error: unknown, route: string) => void, afterMs?: number): void;
  stop(): void;
}

export function lazySchemaCompilers(): LazySchemaCompilers {
  const coercing = AjvCompiler();
  const strict = AjvCompiler();
  const serializers = SerializerSelector();
  const pending: Array<{ route: string; compile: () => void }> = [];
  let stopped = false;
  /** The route's compiled function, made on its first call; `compileRemaining` makes it otherwise. */
  const onFirstUse = <F>(route: string, compile: () => F): (() => F) => {
    let compiled: F | undefined;
    const get = () => (compiled ??= compile());
    pending.push({ route, compile: get });
    return get;
  };
  return {
    buildValidator(externalSchemas, options) {
      let forText: ((route: never) => ValidateFunction) | undefined;
      let forBody: ((route: never) => ValidateFunction) | undefined;
      const compilerFor = (httpPart: string | undefined) =>
        httpPart === 'body'
          ? (forBody ??= strict(externalSchemas, { ...options, customOptions: { ...options.customOptions, coerceTypes: false } } as never) as never)
          : (forText ??= coercing(externalSchemas, { ...options, customOptions: { ...options.customOptions } } as never) as never);
      return (route) => validatorCalling(onFirstUse(`${route.method} ${route.url} ${route.httpPart ?? ''}`, () => compilerFor(route.httpPart)(route as never)));
    },
    buildSerializer(externalSchemas, options) {
      let compiler: ((route: ResponseSchema) => Serialize) | undefined;
      return (route) => {
        const serializer = onFirstUse(`${route.method} ${route.url} response ${route.httpStatus}`, () => (compiler ??= serializers(externalSchemas, options) as (route: ResponseSchema) => Serialize)(route));
        return (payload) => serializer()(payload);
      };
    },
    compileRemaining(onError, afterMs = 2000) {
      // A moment after listening, so the first requests (readiness probes, a dashboard's first
      // load) are not served behind compilations; then one per turn, so later ones are served
      // between them. The turns are referenced: an unreferenced immediate runs only when something
      // else wakes the event loop, so an idle server compiled one route per wake. The chain ends
      // with the list, or when the app closes (`stop`).
      const next = () => {
        const item = pending.shift();
        if (!item || stopped) return;
        try {
          item.compile();
        } catch (error) {
          onError(error, item.route);
        }
        setImmediate(next);
      };
      setTimeout(next, afterMs).unref();
    },
    stop() {
      stopped = true;
    },
  };
}

/** A validator as Fastify calls it, over an Ajv function compiled on first use. */
function validatorCalling(compiled: () => ValidateFunction): ValidateFunction {
  const validate: ValidateFunction = (data: unknown, context?: unknown) => {
    const ajv = compiled();
    const valid = ajv(data, context);
    validate.errors = ajv.errors;
    return valid;
  };
  // Fastify passes the request as the root's parent only to functions carrying Ajv's schemaEnv (so
  // coercion can replace a root value); this one forwards it to the Ajv function it wraps.
  validate.schemaEnv = true;
  return validate;
}
