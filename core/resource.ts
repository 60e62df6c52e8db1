/**
 * Resources as the definitions layer sees them: a value, or a factory opened
 * once per run on first use and disposed when the run ends.
 *
 * @module
 */

import type { Logger } from "./logger.ts";

/** What a resource factory receives when it is opened for a run. */
export interface ResourceOpenContext {
  /** Aborts when the run is canceled. */
  readonly signal: AbortSignal;
  /** Logger of the run. */
  readonly log: Logger;
}

/**
 * A resource opened lazily for a run. If the opened value implements
 * `AsyncDisposable` or `Disposable`, it is disposed when the run ends.
 */
export interface ResourceFactory<T> {
  /** Marks this object as a factory rather than a ready value. */
  readonly kind: "resource_factory";
  /** Human-readable description, shown by `doctor` and `list`. */
  readonly description: string;
  /** Opens the resource. */
  open(ctx: ResourceOpenContext): Promise<T> | T;
}

/** A resource given to the graph: a ready value or a factory. */
export type ResourceSource<T> = T | ResourceFactory<T>;

/** The resources a graph provides, as sources. */
export type ResourceSources<R> = { readonly [K in keyof R]: ResourceSource<R[K]> };

/**
 * Declares a resource opened on first use in each run.
 *
 * @example
 * ```ts
 * import { defineResource } from "./resource.ts";
 * const clock = defineResource("wall clock", () => ({ now: () => Date.now() }));
 * ```
 */
export function defineResource<T>(
  description: string,
  open: (ctx: ResourceOpenContext) => Promise<T> | T,
): ResourceFactory<T> {
  return Object.freeze({ kind: "resource_factory" as const, description, open });
}

/** Whether `source` is a factory made by {@linkcode defineResource}. */
export function isResourceFactory(source: unknown): source is ResourceFactory<unknown> {
  return typeof source === "object" && source !== null &&
    (source as { kind?: unknown }).kind === "resource_factory" &&
    typeof (source as { open?: unknown }).open === "function";
}
