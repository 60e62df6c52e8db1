/**
 * `openObjectStore`: picks the object store implementation from one URL (the
 * `LAKE_URL` setting), so switching from the local folder to MinIO is a
 * configuration change, not a code change.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";
import { RESOURCE_KEY } from "./_errors.ts";
import { redactUrl } from "../../core/secrets.ts";
import { LocalObjectStore } from "./local.ts";
import { filePath } from "./_local_url.ts";
export { localFolder } from "./_local_url.ts";
import { MemoryObjectStore } from "./memory.ts";
import { type S3Credentials, S3ObjectStore, type S3ObjectStoreOptions } from "./s3.ts";
import type { ObjectStore } from "./types.ts";

/** Options of {@linkcode openObjectStore}; each applies only to the backend it names. */
export interface OpenObjectStoreOptions extends Omit<S3ObjectStoreOptions, "endpoint"> {
  /**
   * S3: access keys; when absent, `user:password@` in the URL is used, then
   * the AWS SDK chain (AWS_ACCESS_KEY_ID...).
   */
  credentials?: S3Credentials;
  /**
   * Local: flush bytes to disk before an object becomes visible.
   *
   * @default {true}
   */
  durable?: boolean;
  /**
   * Name of the setting the URL came from, used in error messages.
   *
   * @default {"the object store URL"}
   */
  source?: string;
}

/**
 * Opens the object store a URL names:
 *
 * - `file://./data_lake` or `file://data_lake` (relative to the current
 *   directory), `file:///srv/lake` (absolute): {@linkcode LocalObjectStore}
 * - `http://host:port`, `https://host`: {@linkcode S3ObjectStore} on that
 *   endpoint, path-style (MinIO); credentials from options or `user:pass@`
 * - `s3://` (AWS for the region) or `s3://host[:port]` (HTTPS endpoint):
 *   {@linkcode S3ObjectStore}; `?region=eu-west-1` sets the region
 * - `memory:`: a new, empty {@linkcode MemoryObjectStore}
 *
 * Throws a `ConfigError` naming the scheme for any other URL; the password
 * part of a URL never appears in a message.
 *
 * @example
 * ```ts
 * import { openObjectStore } from "./mod.ts";
 * await using store = openObjectStore(Deno.env.get("LAKE_URL") ?? "file://./data_lake", {
 *   source: "LAKE_URL",
 * });
 * console.log(store.backend);
 * ```
 */
export function openObjectStore(url: string, options: OpenObjectStoreOptions = {}): ObjectStore {
  if (typeof url !== "string") throw new TypeError("Object store URL must be a string");
  const source = options.source ?? "the object store URL";
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  switch (scheme) {
    case "memory":
      return new MemoryObjectStore();
    case "file":
      return new LocalObjectStore({
        root: filePath(trimmed, source),
        durable: options.durable ?? true,
      });
    case "http":
    case "https":
    case "s3":
      return new S3ObjectStore(s3Options(trimmed, options, source));
    default:
      throw configError(
        "object_store.unsupported_url",
        `Cannot open an object store from ${source} '${redactUrl(trimmed)}': ` +
          `${
            scheme === undefined ? "it has no scheme" : `scheme '${scheme}:' is not supported`
          }. ` +
          `Use file://./data_lake, s3://, http(s)://host:port or memory:.`,
        redactUrl(trimmed),
      );
  }
}

function s3Options(
  url: string,
  options: OpenObjectStoreOptions,
  source: string,
): S3ObjectStoreOptions {
  const parsed = parseUrl(url, source);
  const { credentials: _c, durable: _d, source: _s, ...shared } = options;
  const result: S3ObjectStoreOptions = { ...shared };
  const region = options.region ?? parsed.searchParams.get("region") ?? undefined;
  if (region !== undefined) result.region = region;
  const credentials = options.credentials ?? credentialsFrom(parsed);
  if (credentials !== undefined) result.credentials = credentials;
  if (parsed.protocol !== "s3:" || parsed.host !== "") {
    const protocol = parsed.protocol === "s3:" ? "https:" : parsed.protocol;
    result.endpoint = `${protocol}//${parsed.host}`;
  }
  return result;
}

function parseUrl(url: string, source: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // The parser's own message repeats the URL, password included: leave it out.
    throw configError(
      "object_store.invalid_url",
      `Cannot open an S3 object store from ${source} '${redactUrl(url)}': it is not a valid URL.`,
      redactUrl(url),
    );
  }
  if (parsed.pathname !== "" && parsed.pathname !== "/") {
    throw configError(
      "object_store.invalid_url",
      `Cannot open an S3 object store from ${source} '${redactUrl(url)}': the URL must not have ` +
        `a path (buckets are chosen per call). Use only scheme, host and port.`,
      redactUrl(url),
    );
  }
  return parsed;
}

function credentialsFrom(parsed: URL): S3Credentials | undefined {
  if (parsed.username === "") return undefined;
  return {
    accessKeyId: decodeURIComponent(parsed.username),
    secretAccessKey: decodeURIComponent(parsed.password),
  };
}

function configError(code: string, message: string, input: string): ConfigError {
  return new ConfigError(code, message, { resourceKey: RESOURCE_KEY, input });
}
