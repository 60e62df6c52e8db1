// Showing URLs in messages without the secrets they may carry.

/** The URL with any `user:password@` removed, safe for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.href;
  } catch {
    return url.replace(/\/\/[^/?#]*@/, "//");
  }
}
