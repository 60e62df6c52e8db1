import { toError } from "../../core/errors.ts";
/**
 * Classifies what `fetch` threw, so the client knows whether the host was
 * never reached (fail fast) or the connection broke later (retry).
 *
 * @module
 */

/** What a failed `fetch` call means. */
export interface NetworkFailure {
  /** `connect`: no connection was made; `broken`: it was made, then failed. */
  readonly kind: "connect" | "broken";
  /** A short reason without the URL, e.g. `connection refused`. */
  readonly detail: string;
}

// Deno: "client error (Connect): tcp connect error: Connection refused (os error 111)";
// Node/undici: a cause with code ECONNREFUSED, ENOTFOUND...
const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
  "EADDRNOTAVAIL",
]);

const REASONS: readonly [RegExp, string][] = [
  [
    /dns error|failed to lookup|ENOTFOUND|EAI_AGAIN|Name or service not known/i,
    "DNS lookup failed",
  ],
  [/Connection refused|ECONNREFUSED/i, "connection refused"],
  [/Network is unreachable|ENETUNREACH/i, "network is unreachable"],
  [/No route to host|EHOSTUNREACH/i, "no route to host"],
  [/Connection reset|ECONNRESET/i, "connection reset"],
  [/certificate|tls|ssl/i, "TLS handshake failed"],
];

/** Classifies `thrown` (the rejection of `fetch` or of reading its body). */
export function classifyNetworkError(thrown: unknown): NetworkFailure {
  const texts = messages(thrown);
  const all = texts.join(" | ");
  const codes = codesOf(thrown);
  const connect = /\(Connect\)|tcp connect error|dns error/i.test(all) ||
    codes.some((code) => CONNECT_CODES.has(code));
  const reason = REASONS.find(([pattern]) =>
    pattern.test(all) || codes.some((c) => pattern.test(c))
  );
  return { kind: connect ? "connect" : "broken", detail: reason?.[1] ?? "the connection failed" };
}

function messages(thrown: unknown): string[] {
  const out: string[] = [];
  let current: unknown = thrown;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    out.push(toError(current).message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return out;
}

function codesOf(thrown: unknown): string[] {
  const out: string[] = [];
  let current: unknown = thrown;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") out.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return out;
}
