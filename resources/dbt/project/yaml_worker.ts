/**
 * The parse worker of {@linkcode YamlWorker} (project/yaml_pool.ts): reads
 * property files and parses their YAML on a thread of its own, so a big
 * project's YAML is parsed while the main thread reads and parses its SQL.
 *
 * Messages in: `{ id, files: [{ path, file }] }`; out: `{ id, results }`,
 * one {@linkcode YamlRead} per file in the same order. A file that cannot be
 * read or parsed is answered without a value: the main thread reads and
 * parses it again itself, which throws the same typed error naming the file
 * and line that a load without the worker throws.
 *
 * @module
 */

import type { YamlRead, YamlRequest } from "./yaml_pool.ts";
import { yamlValue } from "./yaml_value.ts";

const port = self as unknown as {
  onmessage: ((event: MessageEvent<YamlRequest>) => void) | null;
  postMessage(message: unknown): void;
};

port.onmessage = (event) => {
  const { id, files } = event.data;
  const results = files.map(({ path, file }): YamlRead => {
    const readAt = Date.now();
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch {
      return { kind: "unread" }; // the main thread's own read reports it
    }
    try {
      return { kind: "parsed", text, readAt, value: yamlValue(text, file) };
    } catch {
      return { kind: "invalid", text, readAt }; // the main thread's own parse reports it
    }
  });
  port.postMessage({ id, results });
};
