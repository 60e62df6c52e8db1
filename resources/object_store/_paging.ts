/**
 * S3-style pagination for the backends that list keys themselves (local,
 * memory): pages of at most `pageSize` entries in UTF-8 key order, common
 * prefixes counted as entries, and an opaque token that resumes after the last
 * entry returned.
 *
 * @module
 */

import { storeError } from "./_errors.ts";
import type { ListOptions } from "./types.ts";

/** Largest page S3 returns; also the default. */
export const MAX_PAGE_SIZE = 1000;

/**
 * Where a listing resumes: keys must sort after `after` and must not start
 * with `skip` (the common prefix just returned). Walkers read it live, so the
 * page builder can skip a whole prefix as soon as it has emitted it.
 */
export interface Cursor {
  after: string;
  skip?: string;
}

/** Yields keys under a prefix in ascending UTF-8 order, honouring the live cursor. */
export type KeyWalker = (prefix: string, cursor: Cursor) => AsyncIterable<string>;

/** One page of keys and common prefixes, before the backend adds sizes and etags. */
export interface KeyPage {
  keys: string[];
  prefixes: string[];
  nextContinuationToken?: string;
}

/** Throws a `RangeError` unless the page size is an integer from 1 to 1000. */
export function resolvePageSize(pageSize: number | undefined): number {
  const size = pageSize ?? MAX_PAGE_SIZE;
  if (!Number.isSafeInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new RangeError(`pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}, got ${size}`);
  }
  return size;
}

/** Builds one page by walking keys from the continuation point. */
export async function buildKeyPage(
  bucket: string,
  walk: KeyWalker,
  options: ListOptions,
): Promise<KeyPage> {
  const prefix = options.prefix ?? "";
  const pageSize = resolvePageSize(options.pageSize);
  const cursor = decodeToken(bucket, options.continuationToken);
  const page: KeyPage = { keys: [], prefixes: [] };
  let last: TokenState | undefined;
  for await (const key of walk(prefix, cursor)) {
    if (last !== undefined && page.keys.length + page.prefixes.length >= pageSize) {
      page.nextContinuationToken = encodeToken(last);
      break;
    }
    const common = commonPrefix(key, prefix, options.delimiter);
    if (common === undefined) {
      page.keys.push(key);
      last = { a: key, p: false };
    } else {
      page.prefixes.push(common);
      cursor.skip = common;
      last = { a: common, p: true };
    }
  }
  return page;
}

/** The common prefix `key` rolls up into, if the delimiter occurs after the prefix. */
export function commonPrefix(
  key: string,
  prefix: string,
  delimiter: string | undefined,
): string | undefined {
  if (!delimiter) return undefined;
  const at = key.indexOf(delimiter, prefix.length);
  return at < 0 ? undefined : key.slice(0, at + delimiter.length);
}

interface TokenState {
  a: string;
  p: boolean;
}

function encodeToken(state: TokenState): string {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

function decodeToken(bucket: string, token: string | undefined): Cursor {
  if (token === undefined) return { after: "" };
  try {
    const binary = atob(token.replaceAll("-", "+").replaceAll("_", "/"));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const state: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (isTokenState(state)) {
      return state.p ? { after: state.a, skip: state.a } : { after: state.a };
    }
  } catch {
    // Falls through to the typed error below.
  }
  throw storeError(
    "invalid_continuation_token",
    `Cannot list bucket '${bucket}': the continuation token was not returned by this store's list(). ` +
      `Pass back nextContinuationToken unchanged, or start again without a token.`,
    bucket,
  );
}

function isTokenState(value: unknown): value is TokenState {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.a === "string" && typeof record.p === "boolean";
}
