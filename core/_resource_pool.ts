/**
 * Opens each resource of a run on first use and disposes them at the end, in
 * reverse order of opening.
 *
 * @module
 */

import { ConfigError, ResourceError, toError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { isResourceFactory } from "./resource.ts";

/** Resources of one run. */
export class ResourcePool {
  #sources: Readonly<Record<string, unknown>>;
  #opened = new Map<string, Promise<unknown>>();
  #owned: unknown[] = [];
  #signal: AbortSignal;
  #log: Logger;

  constructor(sources: Readonly<Record<string, unknown>>, signal: AbortSignal, log: Logger) {
    this.#sources = sources;
    this.#signal = signal;
    this.#log = log;
  }

  /** The resources named by `keys`, opening those not yet open. */
  async pick(keys: readonly string[], user: string): Promise<Record<string, unknown>> {
    const values = await Promise.all(keys.map((key) => this.#get(key, user)));
    return Object.fromEntries(keys.map((key, i) => [key, values[i]]));
  }

  async #get(key: string, user: string): Promise<unknown> {
    let opened = this.#opened.get(key);
    if (!opened) {
      opened = this.#open(key, user);
      this.#opened.set(key, opened);
      // A failed open is retried by the next user rather than cached.
      opened.catch(() => this.#opened.delete(key));
    }
    try {
      return await opened;
    } catch (error) {
      // Users waiting on one open share its failure; each is told in its own name, not the
      // name of whichever asset happened to open it first.
      throw this.#failure(key, user, error);
    }
  }

  async #open(key: string, user: string): Promise<unknown> {
    if (!(key in this.#sources)) {
      throw new ResourceError(
        "resource.missing",
        `Resource '${key}' used by ${user} is not provided`,
        {
          resourceKey: key,
        },
      );
    }
    const source = this.#sources[key];
    if (!isResourceFactory(source)) return source;
    const value = await source.open({ signal: this.#signal, log: this.#log });
    this.#owned.push(value);
    return value;
  }

  /** `error`, met opening `key`, as `user` is told it. */
  #failure(key: string, user: string, error: unknown): unknown {
    if (error instanceof ResourceError && error.code === "resource.missing") {
      return new ResourceError(
        "resource.missing",
        `Resource '${key}' used by ${user} is not provided`,
        { resourceKey: key },
      );
    }
    const why = toError(error).message;
    const failure = new ResourceError(
      "resource.open_failed",
      `Cannot open resource '${key}' for ${user}: ${why}`,
      {
        resourceKey: key,
        cause: error,
      },
    );
    // A bad setting does not fix itself: asset retries would only wait.
    if (error instanceof ConfigError || (error as { retryable?: unknown })?.retryable === false) {
      Object.defineProperty(failure, "retryable", { value: false });
    }
    return failure;
  }

  /** Disposes every resource this pool opened; returns the errors met. */
  async close(): Promise<Error[]> {
    const errors: Error[] = [];
    for (const value of this.#owned.reverse()) {
      try {
        await dispose(value);
      } catch (error) {
        errors.push(toError(error));
      }
    }
    this.#owned = [];
    this.#opened.clear();
    return errors;
  }
}

async function dispose(value: unknown): Promise<void> {
  if (typeof value !== "object" || value === null) return;
  const asyncDispose =
    (value as { [Symbol.asyncDispose]?: () => Promise<void> })[Symbol.asyncDispose];
  if (typeof asyncDispose === "function") return await asyncDispose.call(value);
  const syncDispose = (value as { [Symbol.dispose]?: () => void })[Symbol.dispose];
  if (typeof syncDispose === "function") syncDispose.call(value);
}
