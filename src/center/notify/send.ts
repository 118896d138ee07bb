import { createHmac } from 'node:crypto';
import { lazyModule, systemClock, type Alert } from '../../core/index.js';
import type { Channel, EmailSettings, IncomingWebhookSettings, WebhookSettings } from './channels.js';

/** The header a generic webhook receiver verifies: `sha256=` + hex HMAC-SHA256 of the raw body with the channel secret. */
export const SIGNATURE_HEADER = 'x-palisade-signature-256';
const TIMEOUT_MS = 10_000;
const nodemailer = lazyModule<typeof import('nodemailer')>('nodemailer');

export interface Message {
  alerts: Alert[];
  /** Link to the dashboard, when the server knows its public URL. */
  dashboardUrl?: string;
  /** True for the settings page's "send a test" button. */
  test?: boolean;
}

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Sends one message (one alert, or a digest of several) to a channel; throws with the reason on failure. */
export async function sendToChannel(channel: Channel, message: Message): Promise<void> {
  switch (channel.kind) {
    case 'webhook':
      return sendWebhook(channel, channel.settings as WebhookSettings, message);
    case 'slack':
      return postJson((channel.settings as IncomingWebhookSettings).url, JSON.stringify(slackBody(message)));
    case 'teams':
      return postJson((channel.settings as IncomingWebhookSettings).url, JSON.stringify(teamsBody(message)));
    case 'email':
      return sendEmail(channel.settings as EmailSettings, message);
  }
}

function subject(message: Message): string {
  if (message.test) return 'Palisade: test notification';
  const [first] = message.alerts;
  if (message.alerts.length === 1 && first) return `Palisade ${first.severity} alert: ${first.title}`;
  return `Palisade: ${message.alerts.length} new alerts`;
}

function where(alert: Alert): string {
  const r = alert.resource;
  return [r.cluster, r.namespace, `${r.kind}/${r.name}`].filter(Boolean).join(' / ');
}

function lines(message: Message): string[] {
  if (message.test) return ['This is a test message from Palisade. The channel works.'];
  return message.alerts.map((a) => `[${a.severity.toUpperCase()}] ${a.title} on ${where(a)} (${a.tactic}${a.technique ? `, ${a.technique}` : ''}; seen ${a.count}× since ${new Date(a.firstSeen).toISOString()})`);
}

async function sendWebhook(channel: Channel, settings: WebhookSettings, message: Message): Promise<void> {
  const body = JSON.stringify({
    type: message.test ? 'palisade.test' : 'palisade.alerts',
    channel: channel.name,
    sentAt: systemClock.now().toISOString(),
    alerts: message.alerts,
    ...(message.dashboardUrl ? { dashboardUrl: message.dashboardUrl } : {}),
  });
  await postJson(settings.url, body, { [SIGNATURE_HEADER]: signBody(body, settings.secret) });
}

function slackBody(message: Message) {
  const text = [subject(message), ...lines(message)].join('\n');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: subject(message).slice(0, 150) } },
      ...lines(message).slice(0, 40).map((line) => ({ type: 'section', text: { type: 'mrkdwn', text: line.slice(0, 3000) } })),
      ...(message.dashboardUrl ? [{ type: 'section', text: { type: 'mrkdwn', text: `<${message.dashboardUrl}|Open the dashboard>` } }] : []),
    ],
  };
}

/** Teams incoming webhooks (Workflows) take an Adaptive Card inside a message attachment. */
function teamsBody(message: Message) {
  return {
    type: 'message',
    attachments: [{
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: {
        $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
        type: 'AdaptiveCard',
        version: '1.4',
        body: [
          { type: 'TextBlock', size: 'Medium', weight: 'Bolder', text: subject(message), wrap: true },
          ...lines(message).slice(0, 40).map((line) => ({ type: 'TextBlock', text: line, wrap: true })),
        ],
        ...(message.dashboardUrl ? { actions: [{ type: 'Action.OpenUrl', title: 'Open the dashboard', url: message.dashboardUrl }] } : {}),
      },
    }],
  };
}

async function postJson(url: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'user-agent': 'palisade', ...headers }, body, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`POST ${new URL(url).host} failed: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
  }
  if (!response.ok) {
    const text = (await response.text().catch(() => '')).slice(0, 200);
    throw new Error(`POST ${new URL(url).host} answered ${response.status}${text ? `: ${text}` : ''}`);
  }
  await response.body?.cancel().catch(() => {});
}

async function sendEmail(settings: EmailSettings, message: Message): Promise<void> {
  const transport = nodemailer().createTransport({
    host: settings.host,
    port: settings.port,
    secure: settings.secure ?? false,
    ...(settings.user ? { auth: { user: settings.user, pass: settings.password ?? '' } } : {}),
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  try {
    const text = [...lines(message), ...(message.dashboardUrl ? ['', `Dashboard: ${message.dashboardUrl}`] : [])].join('\n');
    await transport.sendMail({ from: settings.from, to: settings.to, subject: subject(message), text });
  } finally {
    transport.close();
  }
}
