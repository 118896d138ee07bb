import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';

export interface Exchange {
  status: number;
  text: string;
}

/**
 * One HTTP request and its whole answer, over node:http(s). Not fetch: a process's first fetch
 * loads undici and compiles its WebAssembly HTTP parser, about 100 ms of a management command
 * that otherwise answers in ~200 ms (issue 20: a CLI command through the API < 300 ms).
 * A body that is a stream is sent chunked, never read whole.
 */
export function exchange(url: string, options: { method: string; headers: Record<string, string>; body?: string | Readable }): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : target.protocol === 'http:' ? httpRequest : undefined;
    if (!send) {
      reject(new Error(`${target.protocol} is not http: or https:`));
      return;
    }
    const request = send(target, { method: options.method, headers: options.headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      response.on('error', reject);
    });
    request.on('error', reject);
    const { body } = options;
    if (body === undefined || typeof body === 'string') request.end(body);
    else body.on('error', (error) => request.destroy(error)).pipe(request);
  });
}
