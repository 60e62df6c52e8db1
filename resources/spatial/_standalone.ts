/**
 * What the native GDAL engine cannot do in a `deno compile` binary: its host
 * processes are `deno run _gdal_host.ts`, and there `Deno.execPath()` is the
 * binary itself (the platform's CLI), not deno, so a host would run a
 * platform command instead of loading libgdal.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";

/** The one line saying why a binary's `GDAL_ENGINE=auto` picked the embedded GDAL. */
export const WASM_IN_BINARY_NOTE = "GDAL_ENGINE=auto: this compiled binary uses its embedded " +
  "GDAL (gdal3.js); the native engine (the machine's gdal-bin) needs 'deno task ...'/'deno run' " +
  "or the Docker image.";

/** The configuration error of `GDAL_ENGINE=native` in a compiled binary (exit 2). */
export function nativeGdalInBinaryError(): ConfigError {
  return new ConfigError(
    "config.native_gdal_in_binary",
    "GDAL_ENGINE=native cannot run in a compiled binary (deno task compile): the native engine " +
      "starts GDAL host processes with deno, which the binary does not carry. Run the platform " +
      "with 'deno task ...'/'deno run' (or the Docker image) to use the machine's GDAL, or unset " +
      "GDAL_ENGINE (or set it to wasm): the binary carries the embedded GDAL (gdal3.js).",
    { input: "GDAL_ENGINE" },
  );
}
