/**
 * Notifications and the notifier interface the alert sensors deliver
 * through. Implementations (webhook, SMTP email, command hook, a memory
 * twin) live in `resources/notifier/`, selected by URL.
 *
 * @module
 */

/** What happened. */
export type NotificationEvent =
  | "run_failure"
  | "run_success"
  | "check_failure"
  | "freshness_breach";

/** One notification: what failed, why, and where to look. */
export interface Notification {
  /** Stable id (sensor, event, notifier): a retry or a redelivery after a crash keeps it. */
  readonly id: string;
  /** What happened. */
  readonly event: NotificationEvent;
  /** One line, e.g. `Run 1a2b3c4d failed: fct_weather_daily`. */
  readonly title: string;
  /** The error summary, or the check's or freshness policy's description. */
  readonly summary: string;
  /** The run concerned, or `null` (freshness). */
  readonly runId: string | null;
  /** Assets concerned (failed steps, the checked asset, the stale asset). */
  readonly assetKeys: readonly string[];
  /** Where to look: the CLI command and, when a UI address is configured, its page. */
  readonly links: { readonly cli: string; readonly ui: string | null };
  /** When it happened, ms. */
  readonly time: number;
  /** More facts (failed steps with their errors, check metadata, lag...). */
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

/** Delivers notifications to one destination. */
export interface Notifier {
  /** Short name for records, e.g. `slack`, `email`, `hook`. */
  readonly name: string;
  /** Where it delivers, secrets redacted: safe to print. */
  readonly description: string;
  /**
   * Delivers one notification; rejects (with a message free of secrets)
   * when the destination did not accept it.
   */
  send(notification: Notification, signal?: AbortSignal): Promise<void>;
}

/** The notification as plain text (email bodies, command hooks, logs). */
export function notificationText(n: Notification): string {
  const lines = [n.title, "", n.summary];
  const details = Object.entries(n.details).filter(([, v]) => v !== null && v !== "");
  if (details.length > 0) {
    lines.push("");
    for (const [key, value] of details) lines.push(`${key}: ${value}`);
  }
  lines.push("", `CLI: ${n.links.cli}`);
  if (n.links.ui) lines.push(`UI:  ${n.links.ui}`);
  lines.push(`Time: ${new Date(n.time).toISOString()}`);
  return lines.join("\n") + "\n";
}

/** The notification as JSON (generic webhooks, command hooks). */
export function notificationJson(n: Notification): Record<string, unknown> {
  return {
    id: n.id,
    event: n.event,
    title: n.title,
    summary: n.summary,
    run_id: n.runId,
    assets: [...n.assetKeys],
    links: { ...n.links },
    time: new Date(n.time).toISOString(),
    details: { ...n.details },
  };
}
