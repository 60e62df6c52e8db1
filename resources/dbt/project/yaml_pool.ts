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
 * The two threads share the files: the worker claims them one at a time
 * from a shared counter, and the main thread, once its own work is done,
 * claims the rest from the same counter instead of waiting for the worker
 * to reach them.
 *
 * @module
 */

import { readYamlFile, type YamlRead } from "./yaml_value.ts";

export type { YamlRead };

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
  /** Files, claimed by index. */
  readonly files: readonly YamlRequestFile[];
  /** An Int32 holding the index of the next unclaimed file, shared by both threads. */
  readonly claims: SharedArrayBuffer;
}

/** A request in flight. */
export interface YamlJob {
  /**
   * Claims every file the worker has not started and reads it on this
   * thread (call it when this thread has nothing else to do). When that was
   * every file (the worker had not started yet), gives them all: no need to
   * wait for the worker.
   */
  readRest(): YamlRead[] | undefined;
  /** Every file's read, by index, once the worker has answered all it claimed. */
  readonly done: Promise<YamlRead[]>;
}

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
    { reads: YamlRead[]; resolve: (reads: YamlRead[]) => void; reject: (error: Error) => void }
  >();
  #next = 0;
  #failed: Error | undefined;

  /** Starts the thread (it inherits this process's permissions: it only reads files). */
  constructor() {
    started++;
    this.#worker = new Worker(new URL("./yaml_worker.ts", import.meta.url), { type: "module" });
    this.#worker.onmessage = (
      event: MessageEvent<{ id: number; index?: number; read?: YamlRead; done?: boolean }>,
    ) => {
      const { id, index, read, done } = event.data;
      const pending = this.#pending.get(id);
      if (!pending) return;
      if (index !== undefined && read !== undefined) pending.reads[index] = read;
      if (done) {
        this.#pending.delete(id);
        pending.resolve(pending.reads);
      }
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      this.#failed = new Error(`the YAML parse worker failed: ${event.message}`);
      for (const { reject } of this.#pending.values()) reject(this.#failed);
      this.#pending.clear();
    };
  }

  /**
   * Reads and parses `files` on the worker's thread, and on this one from
   * {@linkcode YamlJob.readRest}: each file once, whichever thread claims it.
   */
  read(files: readonly YamlRequestFile[]): YamlJob {
    const claims = new SharedArrayBuffer(4);
    const next = new Int32Array(claims);
    const reads: YamlRead[] = [];
    const done = new Promise<YamlRead[]>((resolve, reject) => {
      if (this.#failed) return reject(this.#failed);
      const id = this.#next++;
      this.#pending.set(id, { reads, resolve, reject });
      this.#worker.postMessage({ id, files, claims } satisfies YamlRequest);
    });
    // The caller awaits it after its own work; if that work throws first, a failure here must
    // not also surface as an unhandled rejection (the caller's await still sees it).
    done.catch(() => {});
    return {
      readRest: () => {
        const first = Atomics.add(next, 0, 1);
        for (let i = first; i < files.length; i = Atomics.add(next, 0, 1)) {
          const { path, file } = files[i] as YamlRequestFile;
          reads[i] = readYamlFile(path, file);
        }
        return first === 0 ? reads : undefined;
      },
      done,
    };
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
