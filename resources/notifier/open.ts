/**
 * Notifiers by URL (`NOTIFY_URLS`, separated by spaces): the scheme picks the
 * kind, a URL fragment (`#ops`) names it.
 *
 * | URL | notifier |
 * |---|---|
 * | `slack+https://hooks.slack.com/services/...` | Slack-compatible webhook |
 * | `https://...`, `http://...`, `webhook+https://...` | generic JSON webhook |
 * | `smtp://user:pass@host:587?from=..&to=..`, `smtps://...` | email |
 * | `exec:///path/to/hook?arg=...` | command hook |
 * | `memory:` | in-memory twin (tests) |
 *
 * Every kind takes `timeout_ms=N` in its query (removed before the URL is
 * used): the longest wait for an answer (webhook, SMTP connect/greeting/
 * socket) or for the hook to exit; a notifier that takes longer is a failed
 * attempt (`notify.timeout` / `notify.unreachable`), retried like any other.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";
import type { Notifier } from "../../core/automation/notification.ts";
import { CommandNotifier } from "./command.ts";
import { MemoryNotifier } from "./memory.ts";
import { SmtpNotifier } from "./smtp.ts";
import { WebhookNotifier } from "./webhook.ts";
import { describeNotifierUrl } from "./_secrets.ts";

/**
 * The notifier `url` selects.
 *
 * @throws {ResourceError} `notify.invalid_url` naming NOTIFY_URLS (secrets redacted) for an unknown scheme or a bad URL.
 *
 * @example
 * ```ts
 * import { openNotifier } from "./open.ts";
 * const hook = openNotifier("https://hooks.example.com/x#ops");
 * hook.name; // "ops"
 * ```
 */
export function openNotifier(url: string): Notifier {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalid(url, "not a URL");
  }
  const name = parsed.hash ? decodeURIComponent(parsed.hash.slice(1)) : undefined;
  let bare = parsed.hash ? url.slice(0, url.lastIndexOf("#")) : url;
  const timeout = parsed.searchParams.get("timeout_ms");
  let timeoutMs: number | undefined;
  if (timeout !== null) {
    timeoutMs = Number(timeout);
    if (!/^\d+$/.test(timeout) || timeoutMs < 1 || timeoutMs > 600_000) {
      throw invalid(
        url,
        `timeout_ms must be a whole number of milliseconds from 1 to 600000, got '${timeout}'`,
      );
    }
    bare = withoutParam(bare, "timeout_ms");
  }
  const named = { ...(name ? { name } : {}), ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  switch (parsed.protocol) {
    case "slack+https:":
    case "slack+http:":
      return new WebhookNotifier(bare.slice("slack+".length), { ...named, format: "slack" });
    case "webhook+https:":
    case "webhook+http:":
      return new WebhookNotifier(bare.slice("webhook+".length), named);
    case "https:":
    case "http:":
      return new WebhookNotifier(bare, named);
    case "smtp:":
    case "smtps:":
      return new SmtpNotifier(bare, named);
    case "exec:":
      return new CommandNotifier(bare, named);
    case "memory:":
      if (timeoutMs !== undefined) throw invalid(url, "a memory notifier takes no timeout_ms");
      return new MemoryNotifier(name ?? "memory");
    default:
      throw invalid(
        url,
        `unknown scheme '${parsed.protocol}' (use slack+https, https, smtp, smtps or exec)`,
      );
  }
}

/**
 * The notifiers of `urls` (separated by whitespace); names made unique
 * (`email`, `email-2`).
 */
export function openNotifiers(urls: string | undefined): Notifier[] {
  const notifiers: Notifier[] = [];
  const names = new Map<string, number>();
  for (const url of (urls ?? "").split(/\s+/).filter(Boolean)) {
    const notifier = openNotifier(url);
    const seen = (names.get(notifier.name) ?? 0) + 1;
    names.set(notifier.name, seen);
    notifiers.push(
      seen === 1 ? notifier : {
        name: `${notifier.name}-${seen}`,
        description: notifier.description,
        send: (n, signal) => notifier.send(n, signal),
      },
    );
  }
  return notifiers;
}

/** `url` without every `param=` of its query, the rest of it byte for byte. */
function withoutParam(url: string, param: string): string {
  const q = url.indexOf("?");
  if (q < 0) return url;
  const kept = url.slice(q + 1).split("&").filter((pair) =>
    decodeURIComponent(pair.split("=")[0] ?? "") !== param
  );
  return kept.length ? `${url.slice(0, q)}?${kept.join("&")}` : url.slice(0, q);
}

function invalid(url: string, what: string): ResourceError {
  return new ResourceError(
    "notify.invalid_url",
    `Cannot use notifier '${describeNotifierUrl(url)}' (NOTIFY_URLS): ${what}`,
    { input: "NOTIFY_URLS" },
  );
}
