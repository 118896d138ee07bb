import type { RegistryEvent } from '../events.js';

/** What a connector makes of one webhook request. */
export interface WebhookResult {
  events: RegistryEvent[];
  /** Events the request carried that Palisade does not act on (blob pushes, pings, other packages). */
  ignored: number;
  /** A body to answer with 200 instead of the usual 202: a sender's handshake (Event Grid's subscription validation). */
  answer?: Record<string, string>;
}

/** What a connector may need besides the body: the registry's URL (its API path), the request's headers, when it arrived. */
export interface WebhookContext {
  url?: string;
  headers?: Record<string, string | string[] | undefined>;
  receivedAt?: Date;
}
