import { createServer, request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** One request a loopback stand-in received. */
export interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Loopback {
  url: string;
  host: string;
  requests: Recorded[];
  close(): Promise<void>;
}

/**
 * A loopback HTTP server standing in for a cloud service (an identity provider, a registry's token
 * endpoints): it records every request and lets `handle` answer it; `proxy` passes it on to a real
 * server (the docker-registry the images are in), at the same path or another.
 */
export async function startLoopback(handle: (request: Recorded, response: ServerResponse, proxy: (target: string, path?: string) => void) => void): Promise<Loopback> {
  const requests: Recorded[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      const proxy = (target: string, path = recorded.url) => {
        const to = new URL(path, target);
        const headers = { ...req.headers, host: to.host };
        delete headers.authorization;
        const forward = httpRequest(to, { method: req.method, headers }, (upstream) => {
          res.writeHead(upstream.statusCode ?? 502, upstream.headers);
          upstream.pipe(res);
        });
        forward.on('error', () => res.writeHead(502).end());
        forward.end(Buffer.concat(chunks));
      };
      handle(recorded, res, proxy);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function json(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
}
