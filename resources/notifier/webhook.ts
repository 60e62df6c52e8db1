/**
 * Webhook notifiers: a Slack-compatible payload (`slack+https://...`, also
 * accepted by Mattermost and Rocket.Chat incoming webhooks) or the
 * notification as generic JSON (`https://...`, `webhook+https://...`).
 * One POST per notification, bounded in time; any answer but 2xx rejects.
 *
 * @module
 */

import { ResourceError, toError } from "../../core/errors.ts";
import {
  type Notification,
  notificationJson,
  type Notifier,
} from "../../core/automation/notification.ts";
import { describeNotifierUrl, scrubNotifier } from "./_secrets.ts";

/** Options of {@linkcode WebhookNotifier}. */
export interface WebhookOptions {
  /**
   * Payload shape.
   * @default {"json"}
   */
  readonly format?: "slack" | "json";
  /**
   * Name in records.
   * @default {"slack" or "webhook"}
   */
  readonly name?: string;
  /**
   * Longest wait for an answer (milliseconds).
   * @default {10000}
   */
  readonly timeoutMs?: number;
  /** The fetch to use (tests). @default {globalThis.fetch} */
  readonly fetch?: typeof fetch;
}

/** Posts notifications to an HTTP(S) endpoint. */
export class WebhookNotifier implements Notifier {
  /** Name in records. */
  readonly name: string;
  /** The endpoint, secrets redacted. */
  readonly description: string;
  readonly #url: URL;
  readonly #format: "slack" | "json";
  readonly #timeoutMs: number;
  readonly #fetch: typeof fetch;

  /** A notifier posting to `url` (http or https). */
  constructor(url: string, options: WebhookOptions = {}) {
    this.#url = new URL(url);
    if (this.#url.protocol !== "https:" && this.#url.protocol !== "http:") {
      throw new TypeError(
        `Cannot post notifications to '${describeNotifierUrl(url)}': not http(s)`,
      );
    }
    this.#format = options.format ?? "json";
    this.name = options.name ?? (this.#format === "slack" ? "slack" : "webhook");
    this.description = `${this.#format === "slack" ? "slack " : ""}webhook ${
      describeNotifierUrl(url)
    }`;
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#fetch = options.fetch ?? fetch;
  }

  /** Posts one notification. */
  async send(n: Notification, signal?: AbortSignal): Promise<void> {
    const body = this.#format === "slack" ? slackPayload(n) : notificationJson(n);
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(this.#url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": "platform-notifier",
          // The same for a notification sent again after a daemon handover: receivers can drop repeats.
          "idempotency-key": n.id,
        },
        body: JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      const timedOut = timeout.aborted;
      throw new ResourceError(
        timedOut ? "notify.timeout" : "notify.unreachable",
        this.#scrub(
          timedOut
            ? `Cannot notify ${this.description}: no answer within ${this.#timeoutMs} ms`
            : `Cannot notify ${this.description}: ${toError(error).message}`,
        ),
      );
    }
    const text = await response.text().catch(() => "");
    if (!response.ok) {
      throw new ResourceError(
        "notify.rejected",
        this.#scrub(
          `Cannot notify ${this.description}: HTTP ${response.status} ${response.statusText}` +
            (text ? `: ${text.slice(0, 200)}` : ""),
        ),
      );
    }
  }

  #scrub(text: string): string {
    return scrubNotifier(text, this.#url);
  }
}

/** Slack's incoming-webhook payload: `text` for notifications, blocks for the message. */
export function slackPayload(n: Notification): Record<string, unknown> {
  const icon = n.event === "run_success" ? ":white_check_mark:" : ":rotating_light:";
  const links = [
    `CLI: \`${n.links.cli}\``,
    ...(n.links.ui ? [`<${n.links.ui}|Open in the UI>`] : []),
  ];
  const details = Object.entries(n.details)
    .filter(([, v]) => v !== null && v !== "")
    .slice(0, 10)
    .map(([k, v]) => `*${k}*: ${String(v).slice(0, 300)}`);
  return {
    text: `${icon} ${n.title}`,
    blocks: [
      { type: "header", text: { type: "plain_text", text: n.title.slice(0, 150) } },
      { type: "section", text: { type: "mrkdwn", text: n.summary.slice(0, 2900) || "-" } },
      ...(details.length
        ? [{ type: "section", text: { type: "mrkdwn", text: details.join("\n").slice(0, 2900) } }]
        : []),
      { type: "context", elements: [{ type: "mrkdwn", text: links.join("  |  ") }] },
    ],
  };
}
