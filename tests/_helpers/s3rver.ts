/**
 * Starts s3rver (an S3 fake that runs inside Deno) on a free loopback port in a
 * temporary folder, for tests and benchmarks of the S3 object store.
 *
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES
 * (`createCipheriv("des", ...)`, chosen for its 8-byte block), and Deno's
 * `node:crypto` implements only `des-ede3-cbc`. Triple DES with its three
 * keys equal is exactly single DES (encrypt, decrypt, encrypt with one key),
 * so {@linkcode installDesShim} maps `des`/`des-cbc` to `des-ede3-cbc` with
 * the key repeated three times; paginated listing then works unchanged.
 *
 * Known gaps of s3rver's listing, independent of Deno (real S3 and MinIO do
 * not have them): it walks folders, so keys like `a-b` and `a/b` come back
 * out of S3 order; with a delimiter it misses common prefixes whose keys sit
 * two or more levels below the prefix; and common prefixes do not count
 * toward `max-keys`.
 *
 * @example
 * ```ts ignore
 * import { startS3rver } from "./s3rver.ts";
 * await using server = await startS3rver();
 * console.log(server.endpoint); // http://127.0.0.1:40123
 * ```
 *
 * @module
 */

import crypto from "node:crypto";
import { Buffer } from "node:buffer";
import S3rver from "s3rver";

/** Access key id s3rver accepts (hard-coded in s3rver). */
export const S3RVER_ACCESS_KEY_ID = "S3RVER";
/** Secret access key s3rver accepts (hard-coded in s3rver). */
export const S3RVER_SECRET_ACCESS_KEY = "S3RVER";

/** A running s3rver; stop it (or dispose it) before the test ends. */
export interface S3rverHandle extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  endpoint: string;
  /** Credentials s3rver accepts. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Folder where s3rver keeps its buckets; removed by `stop`. */
  directory: string;
  /** Every request received, as `METHOD /path?query`, for asserting what a client sent. */
  requests: string[];
  /** Closes every connection, stops the server and removes its folder. */
  stop(): Promise<void>;
}

type CipherFactory = typeof crypto.createCipheriv;
type DecipherFactory = typeof crypto.createDecipheriv;
let shimInstalled = false;

/**
 * Makes `crypto.createCipheriv("des", key, iv)` (and the decipher) work on
 * Deno by running 3DES with K1 = K2 = K3 = key. Idempotent; a no-op where
 * single DES is available.
 */
export function installDesShim(): void {
  if (shimInstalled || singleDesWorks()) return;
  const createCipheriv = crypto.createCipheriv as CipherFactory;
  const createDecipheriv = crypto.createDecipheriv as DecipherFactory;
  const map = (algorithm: string, key: crypto.CipherKey): [string, crypto.CipherKey] => {
    if (!/^des(-cbc)?$/i.test(algorithm)) return [algorithm, key];
    const single = Buffer.from(key as Uint8Array);
    return ["des-ede3-cbc", Buffer.concat([single, single, single])];
  };
  const mutable = crypto as unknown as Record<string, unknown>;
  mutable.createCipheriv = (algorithm: string, key: crypto.CipherKey, ...rest: unknown[]) =>
    (createCipheriv as (...args: unknown[]) => unknown)(...map(algorithm, key), ...rest);
  mutable.createDecipheriv = (algorithm: string, key: crypto.CipherKey, ...rest: unknown[]) =>
    (createDecipheriv as (...args: unknown[]) => unknown)(...map(algorithm, key), ...rest);
  shimInstalled = true;
}

function singleDesWorks(): boolean {
  try {
    crypto.createCipheriv("des", Buffer.alloc(8), Buffer.alloc(8));
    return true;
  } catch {
    return false;
  }
}

interface KoaContextLike {
  method: string;
  url: string;
}

// s3rver is a Koa app; its middleware list is composed when it starts listening,
// so a recorder put first now sees every request.
function recordRequests(server: unknown, requests: string[]): void {
  const app = server as { middleware: unknown[] };
  app.middleware.unshift((ctx: KoaContextLike, next: () => Promise<void>) => {
    requests.push(`${ctx.method} ${ctx.url}`);
    return next();
  });
}

/**
 * Removes s3rver's access log (koa-logger). It colours every line with
 * chalk 2, which assigns `__proto__`; Deno disables that accessor and then
 * notes the assignment under every error the test process prints (issue 16
 * item 4). `silent: true` does not skip it: the logger formats, then drops.
 * The request log of each test (`requests`) is ours and unaffected.
 */
function dropAccessLog(server: unknown): void {
  const app = server as { middleware: { name?: string }[] };
  const at = app.middleware.findIndex((m) => m.name === "logger");
  if (at < 0) throw new Error("s3rver: its access log middleware ('logger') was not found");
  app.middleware.splice(at, 1);
}

interface HttpServerLike {
  closeAllConnections?: () => void;
}

/** Starts s3rver on 127.0.0.1 with a free port and a fresh temporary folder. */
export async function startS3rver(): Promise<S3rverHandle> {
  installDesShim();
  const directory = await Deno.makeTempDir({ prefix: "s3rver-" });
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
  const requests: string[] = [];
  dropAccessLog(server);
  recordRequests(server, requests);
  let port: number;
  try {
    ({ port } = await server.run());
  } catch (error) {
    await Deno.remove(directory, { recursive: true });
    throw error;
  }
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Idle keep-alive sockets would otherwise hold close() open.
    (server as unknown as { httpServer?: HttpServerLike }).httpServer?.closeAllConnections?.();
    await server.close();
    await Deno.remove(directory, { recursive: true });
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY },
    directory,
    requests,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
