/** Notifications: channels, the delivery queue and its dispatcher (see notify/). */
export * from './notify/channels.js';
export * from './notify/queue.js';
export * from './notify/send.js';
export * from './notify/dispatch.js';
export { isSealed } from './notify/secrets.js';
