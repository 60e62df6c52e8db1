/**
 * URL redaction for logs, errors and ledger documents.
 *
 * @module
 */

// Query parameter names whose values are credentials. Open-Meteo's commercial
// endpoints take `apikey=`; the rest are the usual suspects of other APIs.
const SECRET_PARAM =
  /^(?:api[-_]?key|apikey|key|token|access[-_]?token|auth|secret|password|passwd|signature|sig|x-amz-signature|x-amz-credential|x-amz-security-token)$/i;

/**
 * `url` with the userinfo password and every secret query value replaced by
 * `***`. Input that is not a URL comes back with only its query redacted.
 *
 * @example
 * ```ts
 * import { redactSecrets } from "./redact.ts";
 * redactSecrets("https://u:p@api.example/v1?apikey=abc&x=1"); // "https://u:***@api.example/v1?apikey=***&x=1"
 * ```
 */
export function redactSecrets(url: string | URL): string {
  const text = String(url);
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return text.replace(
      /([?&])([^=&#]+)=([^&#]*)/g,
      (all, sep: string, name: string) =>
        SECRET_PARAM.test(decodeURIComponent(name)) ? `${sep}${name}=***` : all,
    );
  }
  if (parsed.password) parsed.password = "***";
  // Rebuild the query by hand: URLSearchParams.toString() would re-encode
  // every value, and the URL should read as the one that was requested.
  const query = parsed.search.slice(1).split("&").filter((part) => part !== "").map((part) => {
    const at = part.indexOf("=");
    const name = at < 0 ? part : part.slice(0, at);
    return at >= 0 && SECRET_PARAM.test(safeDecode(name)) ? `${name}=***` : part;
  });
  parsed.search = query.length ? `?${query.join("&")}` : "";
  return parsed.toString();
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
