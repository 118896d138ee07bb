import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { lazySchemaCompilers } from './schema-compilers.js';

/** Route validators and response serializers compiled on first use keep Fastify's answers, and a schema that cannot compile is reported once the server listens. */
let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function appWith(compilers: ReturnType<typeof lazySchemaCompilers>): FastifyInstance {
  const built = Fastify({ ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false } }, schemaController: { compilersFactory: { buildValidator: compilers.buildValidator as never, buildSerializer: compilers.buildSerializer as never } } });
  built.post('/items', {
    schema: {
      querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1 } }, additionalProperties: false },
      body: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, enabled: { type: 'boolean' } }, additionalProperties: false },
    },
  }, async (request) => ({ query: request.query, body: request.body }));
  return built;
}

describe('route validators compiled on first use', () => {
  it('coerce query strings, never bodies, and answer 400 naming what was wrong', async () => {
    app = appWith(lazySchemaCompilers());
    const ok = await app.inject({ method: 'POST', url: '/items?limit=5', payload: { name: 'web', enabled: true } });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ query: { limit: 5 }, body: { name: 'web', enabled: true } });
    const retyped = await app.inject({ method: 'POST', url: '/items', payload: { name: 'web', enabled: 'false' } });
    expect(retyped.statusCode).toBe(400);
    expect(retyped.json().message).toBe('body/enabled must be boolean');
    const badQuery = await app.inject({ method: 'POST', url: '/items?limit=0', payload: { name: 'web' } });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json().message).toBe('querystring/limit must be >= 1');
    // Every later request of the route is checked by the same compiled function.
    expect((await app.inject({ method: 'POST', url: '/items', payload: { name: 7 } })).json().message).toBe('body/name must be string');
  });

  it('start without compiling, and compile what no request used once the server listens, reporting a schema that cannot compile', async () => {
    const compilers = lazySchemaCompilers();
    app = appWith(compilers);
    app.get('/broken', { schema: { querystring: { type: 'object', properties: { x: { type: 'no-such-type' } } } } }, async () => ({}));
    const failures: string[] = [];
    app.addHook('onListen', async () => compilers.compileRemaining((error, route) => failures.push(`${route}: ${(error as Error).message}`)));
    await app.ready(); // Fastify's default compiles here and would refuse to start
    await app.listen({ port: 0, host: '127.0.0.1' });
    // Fastify adds a HEAD route beside each GET, with the same schema.
    await expect.poll(() => failures.length, { timeout: 10_000 }).toBe(2);
    expect(failures.sort()).toEqual([expect.stringMatching(/^GET \/broken querystring: schema is invalid: data\/properties\/x\/type/), expect.stringMatching(/^HEAD \/broken querystring: .*no-such-type/)]);
  });

  it('serialize responses by their schema on first use: only the fields it names, in its types', async () => {
    app = appWith(lazySchemaCompilers());
    app.get('/token', {
      schema: { response: { 200: { type: 'object', properties: { name: { type: 'string' }, uses: { type: 'integer' } } } } },
    }, async () => ({ name: 'ci', uses: '3', secret: 'never sent' }));
    const first = await app.inject({ method: 'GET', url: '/token' });
    expect(first.statusCode).toBe(200);
    expect(first.body).toBe('{"name":"ci","uses":3}');
    expect((await app.inject({ method: 'GET', url: '/token' })).body).toBe(first.body);
  });

  it('start with a response schema that cannot compile, and report it once the server listens', async () => {
    const compilers = lazySchemaCompilers();
    app = appWith(compilers);
    app.get('/broken-response', { schema: { response: { 200: { type: 'object', properties: { x: { $ref: '#/definitions/missing' } } } } } }, async () => ({}));
    const failures: string[] = [];
    app.addHook('onListen', async () => compilers.compileRemaining((error, route) => failures.push(`${route}: ${(error as Error).message}`)));
    await app.ready(); // Fastify's default compiles here and would refuse to start
    await app.listen({ port: 0, host: '127.0.0.1' });
    await expect.poll(() => failures.length, { timeout: 10_000 }).toBeGreaterThanOrEqual(1);
    expect(failures[0]).toMatch(/^(GET|HEAD) \/broken-response response 200: .*missing/);
  });

  it('compile the remaining routes while the server is idle, with nothing else waking it', async () => {
    const compilers = lazySchemaCompilers();
    app = appWith(compilers);
    app.get('/broken-idle', { schema: { querystring: { type: 'object', properties: { x: { type: 'no-such-type' } } } } }, async () => ({}));
    const failures: string[] = [];
    app.addHook('onListen', async () => compilers.compileRemaining((error, route) => failures.push(route)));
    await app.listen({ port: 0, host: '127.0.0.1' });
    // One timer and nothing else: no request, no polling. The routes compile in the second after the 2 s wait all the same.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(failures.sort()).toEqual(['GET /broken-idle querystring', 'HEAD /broken-idle querystring']);
  });
});
