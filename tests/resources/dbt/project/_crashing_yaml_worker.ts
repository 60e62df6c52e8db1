/**
 * A YAML parse worker that crashes the way a real one can (an uncaught
 * exception, e.g. out of memory on a huge file): it claims the first file
 * of each request from the shared counter, answers nothing, and throws.
 *
 * @module
 */

import type { YamlRequest } from "../../../../resources/dbt/project/yaml_pool.ts";

const port = self as unknown as {
  onmessage: ((event: MessageEvent<YamlRequest>) => void) | null;
};

port.onmessage = (event) => {
  Atomics.add(new Int32Array(event.data.claims), 0, 1);
  throw new RangeError("injected crash after claiming a file");
};
