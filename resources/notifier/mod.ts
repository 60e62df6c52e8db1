/**
 * Notifiers for alerts, selected by URL (`NOTIFY_URLS`): webhooks (Slack or
 * generic JSON), SMTP email, a command hook, and an in-memory twin.
 *
 * @example
 * ```ts
 * import { openNotifiers } from "./mod.ts";
 * const notifiers = openNotifiers("memory:#ops");
 * notifiers[0]?.name; // "ops"
 * ```
 *
 * @module
 */

export { openNotifier, openNotifiers } from "./open.ts";
export { slackPayload, WebhookNotifier, type WebhookOptions } from "./webhook.ts";
export { SmtpNotifier, type SmtpOptions } from "./smtp.ts";
export { CommandNotifier, type CommandOptions } from "./command.ts";
export { MemoryNotifier } from "./memory.ts";
export { describeNotifierUrl } from "./_secrets.ts";
