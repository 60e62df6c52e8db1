/**
 * A worker thread that reads and parses property YAML files
 * (project/yaml_worker.ts) while the main thread reads and parses the
 * project's SQL: on a 2-core machine the biggest cold-load cost after the
 * SQL files themselves is js-yaml on the property files (10k generated
 * models: 2.5 MB of schema.yml, about a fifth of a cold load), and it needs
 * nothing the SQL side makes. Values come back by structured clone (plain
 * YAML values: objects, arrays, strings, numbers, booleans, null), and the
 * main thread validates them in file order, so a load gives the same project
 * and the same first error with or without the worker.
 *
 * @module
 */

/** One file to read: the path to open and the project-relative name errors use. */
export interface YamlRequestFile {
  /** Path to read. */
  readonly path: string;
  /** File name relative to the project (js-yaml names it in its messages). */
  readonly file: string;
}

/** A request to the worker. */
export interface YamlRequest {
  /** Request id. */
  readonly id: number;
  /** Files, answered in this order. */
  readonly files: readonly YamlRequestFile[];
}

/** What the worker read of one file. */
export type YamlRead =
  | {
    /** Read and parsed. */
    readonly kind: "parsed";
    /** Its text. */
    readonly text: string;
    /** Wall time (ms) just before it was read. */
    readonly readAt: number;
    /** js-yaml's value. */
    readonly value: unknown;
  }
  | {
    /** Read, but not YAML: the main thread parses it again for the error. */
    readonly kind: "invalid";
    /** Its text. */
    readonly text: string;
    /** Wall time (ms) just before it was read. */
    readonly readAt: number;
  }
  | {
    /** Not read (gone, unreadable): the main thread reads it again for the error. */
    readonly kind: "unread";
  };

let started = 0;

/** How many worker threads this process has started (tests check the worker did the work). */
export function workerThreadsStarted(): number {
  return started;
}

/** A parse worker; {@linkcode close} (or `using`) ends its thread. */
export class YamlWorker implements Disposable {
  readonly #worker: Worker;
  readonly #pending = new Map<
    number,
    { resolve: (results: YamlRead[]) => void; reject: (error: Error) => void }
  >();
  #next = 0;
  #failed: Error | undefined;

  /** Starts the thread (it inherits this process's permissions: it only reads files). */
  constructor() {
    started++;
    this.#worker = new Worker(new URL("./yaml_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (event: MessageEvent<{ id: number; results: YamlRead[] }>) => {
      const { id, results } = event.data;
      this.#pending.get(id)?.resolve(results);
      this.#pending.delete(id);
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#failed = new Error(`the YAML parse worker failed: ${event.message}`);
      for (const { reject } of this.#pending.values()) reject(this.#failed);
      this.#pending.clear();
    };
  }

  /** Reads and parses `files` on the worker's thread; one result per file, in order. */
  read(files: readonly YamlRequestFile[]): Promise<YamlRead[]> {
    if (this.#failed) return Promise.reject(this.#failed);
    const id = this.#next++;
    const results = new Promise<YamlRead[]>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, files } satisfies YamlRequest);
    });
    // The caller awaits it after its own work; if that work throws first, a failure here must
    // not also surface as an unhandled rejection (the caller's await still sees it).
    results.catch(() => {});
    return results;
  }

  /** Ends the thread; pending reads never settle. */
  close(): void {
    this.#worker.terminate();
    this.#pending.clear();
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
