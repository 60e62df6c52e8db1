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
 * A worker that crashes costs speed, not the load: every file it claimed and
 * did not answer, and every file nobody claimed yet, is read on the main
 * thread (the same reads, so the same project), and the crash is kept as a
 * typed error ({@linkcode YamlWorker.crash}) for the load to report.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import { readYamlFile, reviveFloats, type YamlRead } from "./yaml_value.ts";

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

/** A request the worker has not finished. */
interface Pending {
  readonly files: readonly YamlRequestFile[];
  readonly next: Int32Array;
  readonly reads: YamlRead[];
  readonly resolve: (reads: YamlRead[]) => void;
}

/**
 * Reads on this thread what the worker never answered: files nobody claimed
 * (claimed here first, so the main thread's `readRest` does not read them
 * again) and files the worker claimed before it stopped.
 */
function readLeft(pending: Pending): YamlRead[] {
  while (Atomics.add(pending.next, 0, 1) < pending.files.length) { /* claim the rest */ }
  pending.files.forEach(({ path, file }, i) => {
    pending.reads[i] ??= readYamlFile(path, file);
  });
  return pending.reads;
}

let started = 0;

/** How many worker threads this process has started (tests check the worker did the work). */
export function workerThreadsStarted(): number {
  return started;
}

/** A parse worker; {@linkcode close} (or `using`) ends its thread. */
export class YamlWorker implements Disposable {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 0;
  #crash: DbtError | undefined;

  /**
   * Starts the thread (it inherits this process's permissions: it only reads
   * files). `workerUrl` replaces the worker script (tests inject a crash).
   */
  constructor(options: { readonly workerUrl?: URL } = {}) {
    started++;
    this.#worker = new Worker(options.workerUrl ?? new URL("./yaml_worker.ts", import.meta.url), {
      type: "module",
    });
    this.#worker.onmessage = (
      event: MessageEvent<{ id: number; index?: number; read?: YamlRead; done?: boolean }>,
    ) => {
      const { id, index, read, done } = event.data;
      const pending = this.#pending.get(id);
      if (!pending) return;
      if (index !== undefined && read !== undefined) pending.reads[index] = reviveFloats(read);
      if (done) {
        this.#pending.delete(id);
        pending.resolve(pending.reads);
      }
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      const files = [...this.#pending.values()].flatMap((p) =>
        p.files.filter((_, i) => p.reads[i] === undefined).map((f) => f.file)
      );
      this.#crash = new DbtError(
        DbtErrorCode.workerCrashed,
        `the YAML parse worker crashed (${event.message}); ${
          files.length > 0 ? files.join(", ") : "its files"
        } were parsed on the main thread instead`,
        { file: files[0] ?? "<yaml worker>" },
      );
      this.#worker.terminate();
      for (const pending of this.#pending.values()) pending.resolve(readLeft(pending));
      this.#pending.clear();
    };
  }

  /** Why the worker stopped, when it crashed (its files were read on the main thread). */
  get crash(): DbtError | undefined {
    return this.#crash;
  }

  /**
   * Reads and parses `files` on the worker's thread, and on this one from
   * {@linkcode YamlJob.readRest}: each file once, whichever thread claims it.
   */
  read(files: readonly YamlRequestFile[]): YamlJob {
    const claims = new SharedArrayBuffer(4);
    const next = new Int32Array(claims);
    const reads: YamlRead[] = [];
    const done = new Promise<YamlRead[]>((resolve) => {
      const pending = { files, next, reads, resolve };
      if (this.#crash) return resolve(readLeft(pending));
      const id = this.#next++;
      this.#pending.set(id, pending);
      this.#worker.postMessage({ id, files, claims } satisfies YamlRequest);
    });
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
