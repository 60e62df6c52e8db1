/**
 * The folder of a `file:` lake URL. Its own module, without the S3 client,
 * so the task launcher (launch.ts) and the start-up write check can read the
 * configuration's places without loading the AWS SDK.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";
import { redactUrl } from "../../core/secrets.ts";
import { RESOURCE_KEY } from "./_errors.ts";

/**
 * The folder a `file:` URL names (relative to the current directory unless
 * absolute), or `undefined` for any other scheme.
 */
export function localFolder(url: string, source = "LAKE_URL"): string | undefined {
  return url.startsWith("file:") ? filePath(url, source) : undefined;
}

/** The folder of a `file:` URL; throws `object_store.invalid_url` when it names none. */
export function filePath(url: string, source: string): string {
  const rest = url.slice("file:".length).replace(/^\/\//, "");
  const path = rest.startsWith("localhost/") ? rest.slice("localhost".length) : rest;
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.replace(/[?#].*$/, ""));
  } catch {
    decoded = "";
  }
  if (decoded === "") {
    throw new ConfigError(
      "object_store.invalid_url",
      `Cannot open a local object store from ${source} '${redactUrl(url)}': it names no ` +
        `folder. Use file://./data_lake (relative) or file:///absolute/path.`,
      { resourceKey: RESOURCE_KEY, input: redactUrl(url) },
    );
  }
  return decoded;
}
