/**
 * Notifier URLs carry secrets in more places than database URLs: an SMTP
 * password, a Slack webhook's path (`/services/T…/B…/<token>`), query values
 * (`?token=`, `?key=`). Descriptions show the scheme, host and port only
 * beyond what is clearly harmless, and messages are scrubbed of every secret.
 *
 * @module
 */

import { redact, redactUrl, registerSecret } from "../../core/secrets.ts";

/** Every secret a notifier URL may hold: password, path segments, query values. */
export function notifierSecrets(url: URL): string[] {
  const secrets: string[] = [];
  const add = (value: string) => {
    if (value.length >= 4) secrets.push(value, safeDecode(value));
  };
  add(url.password);
  if (url.protocol.startsWith("http") || url.protocol.includes("+http")) {
    for (const segment of url.pathname.split("/")) add(segment);
  }
  for (const [key, value] of url.searchParams) {
    if (!PUBLIC_PARAMS.has(key)) add(value);
  }
  return [...new Set(secrets.filter((s) => s.length >= 4))];
}

/** Query parameters that configure a notifier and hold nothing secret. */
const PUBLIC_PARAMS = new Set(["from", "to", "starttls", "format", "timeout_ms", "ca", "name"]);

/**
 * A notifier URL safe to print: password gone, a webhook's path and every
 * query value outside the public settings replaced by `***`.
 */
export function describeNotifierUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return redactUrl(raw).replace(/\/[^/]*$/, "/***");
  }
  const http = url.protocol.startsWith("http") || url.protocol.includes("+http");
  if (url.password) url.password = "***";
  if (http && url.pathname.length > 1) url.pathname = "/***";
  for (const key of [...url.searchParams.keys()]) {
    if (!PUBLIC_PARAMS.has(key)) url.searchParams.set(key, "***");
  }
  return decodeURI(url.href);
}

/** `text` with every secret of `url` replaced by `***`. */
export function scrubNotifier(text: string, url: URL): string {
  registerSecret(...notifierSecrets(url));
  return redact(text);
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
