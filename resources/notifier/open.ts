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
  const bare = parsed.hash ? url.slice(0, url.lastIndexOf("#")) : url;
  const named = name ? { name } : {};
  switch (parsed.protocol) {
    case "slack+https:":
    case "slack+http:":
      return new WebhookNotifier(bare.slice("slack+".length), { format: "slack", ...named });
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

function invalid(url: string, what: string): ResourceError {
  return new ResourceError(
    "notify.invalid_url",
    `Cannot use notifier '${describeNotifierUrl(url)}' (NOTIFY_URLS): ${what}`,
    { input: "NOTIFY_URLS" },
  );
}
