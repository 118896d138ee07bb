import { PalisadeError } from '../../core/index.js';
import type { OpenImageOptions } from '../../image/index.js';

/**
 * The short-lived authorization Harbor passes with a scan request (`registry.authorization`), as
 * options for pulling the artifact. Harbor sends `Basic base64(robot$…:secret)` for a robot account
 * made for this one scan, or `Bearer JWT`; either is used for this pull only and never stored.
 *
 * Basic becomes credentials, so the registry client answers Harbor's token challenge itself (the
 * token realm must be on the registry's own host, as Harbor's is). Bearer is added to requests on
 * the registry's origin only: a blob redirect to object storage goes without it.
 */
export function harborPullOptions(registry: URL, authorization: string | undefined): Pick<OpenImageOptions, 'credentials' | 'fetch' | 'dockerConfig'> {
  // Never the server's own ~/.docker/config.json: Harbor's registry gets what Harbor gave, or nothing.
  const noDockerConfig = { dockerConfig: '/nonexistent/palisade-harbor-scan/config.json' };
  if (!authorization) return noDockerConfig;
  const match = /^(Basic|Bearer)\s+(\S+)$/i.exec(authorization.trim());
  if (!match) {
    throw new PalisadeError('harbor.scan.authorization', 'registry.authorization must be "Basic BASE64" or "Bearer TOKEN"', { kind: 'unprocessable', field: 'registry.authorization' });
  }
  const [, scheme, value] = match as unknown as [string, string, string];
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) {
      throw new PalisadeError('harbor.scan.authorization', 'registry.authorization: Basic credentials must be base64 of USER:PASSWORD', { kind: 'unprocessable', field: 'registry.authorization' });
    }
    return { ...noDockerConfig, credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
  }
  const header = `Bearer ${value}`;
  const origin = registry.origin;
  const withBearer: typeof fetch = (input, init = {}) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== origin) return fetch(input, init);
    const headers = new Headers(init.headers);
    if (!headers.has('authorization')) headers.set('authorization', header);
    return fetch(input, { ...init, headers });
  };
  return { ...noDockerConfig, fetch: withBearer };
}
