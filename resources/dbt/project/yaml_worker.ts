/**
 * The parse worker of {@linkcode YamlWorker} (project/yaml_pool.ts): reads
 * property files and parses their YAML on a thread of its own, so a big
 * project's YAML is parsed while the main thread reads and parses its SQL.
 *
 * Messages in: {@linkcode YamlRequest}. The worker claims files one at a
 * time from the request's shared counter (the main thread claims from the
 * same counter when its own work is done, so neither waits while files are
 * left), and answers each claimed file with `{ id, index, read }`, then
 * `{ id, done: true }`. A file that cannot be read or parsed is answered
 * without a value (project/yaml_value.ts).
 *
 * @module
 */

import type { YamlRequest } from "./yaml_pool.ts";
import { readYamlFile } from "./yaml_value.ts";

const port = self as unknown as {
  onmessage: ((event: MessageEvent<YamlRequest>) => void) | null;
  postMessage(message: unknown): void;
};

port.onmessage = (event) => {
  const { id, files, claims } = event.data;
  const next = new Int32Array(claims);
  for (let index = Atomics.add(next, 0, 1); index < files.length; index = Atomics.add(next, 0, 1)) {
    const { path, file } = files[index] as { path: string; file: string };
    port.postMessage({ id, index, read: readYamlFile(path, file) });
  }
  port.postMessage({ id, done: true });
};
