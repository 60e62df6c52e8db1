/**
 * Opens the spatial resources the configuration names: the SQL engine
 * (`SPATIAL_URL`) and the GDAL build (`GDAL_ENGINE`).
 *
 * @module
 */

import type { GdalEngine } from "./gdal.ts";
import { detectNativeGdal, MIN_NATIVE_VERSION, nativeGdalVersion } from "./gdal_native.ts";
import { wasmGdal } from "./gdal_wasm.ts";
import type { SpatialEngine } from "./engine.ts";
import type { PostgisEngineOptions } from "./postgis.ts";
import { SpatialiteEngine } from "./spatialite.ts";
import { SpatialEngineError } from "./engine.ts";
import { nativeGdalInBinaryError, WASM_IN_BINARY_NOTE } from "./_standalone.ts";

/** Options of {@linkcode openSpatialEngine}. */
export interface OpenSpatialEngineOptions extends PostgisEngineOptions {
  /**
   * GDAL build the SpatiaLite engine runs its SQL in.
   *
   * @default {the gdal3.js build, which always carries SpatiaLite}
   */
  gdal?: GdalEngine;
}

/**
 * Opens the engine of `url`: `spatialite:` (embedded, the default) or
 * `postgres://...` / `postgresql://...` (PostGIS, janitor run at open).
 *
 * @throws {RangeError} for any other scheme.
 */
export async function openSpatialEngine(
  url: string,
  options: OpenSpatialEngineOptions = {},
): Promise<SpatialEngine> {
  const { gdal, ...postgis } = options;
  if (url.startsWith("spatialite:")) return new SpatialiteEngine(gdal);
  if (url.startsWith("postgres:") || url.startsWith("postgresql:")) {
    // postgres.js is loaded only when SPATIAL_URL names a PostGIS server.
    return await (await import("./postgis.ts")).PostgisEngine.open(url, postgis);
  }
  throw new RangeError(
    `SPATIAL_URL must start with 'spatialite:' or 'postgres://', got '${url.split(":")[0]}:'`,
  );
}

/** What `GDAL_ENGINE` may say. */
export type GdalEngineSetting = "auto" | "native" | "wasm";

/** Options of {@linkcode openGdal}. */
export interface OpenGdalOptions {
  /**
   * Whether this process is a `deno compile` binary, where no native GDAL
   * host can be started (see `_standalone.ts`).
   *
   * @default {Deno.build.standalone}
   */
  standalone?: boolean;
  /** Where the binary's one note about picking the embedded GDAL goes. @default {console.error} */
  onNote?: (message: string) => void;
}

/** Whether this process has said why its automatic choice is the embedded GDAL. */
let notedWasmInBinary = false;

/**
 * Opens the GDAL build `setting` names: `native` (the machine's gdal-bin,
 * >= 3.6, or a `spatial.native_gdal_missing` error saying how to install
 * it), `wasm` (gdal3.js), or `auto`: native when a supported GDAL is
 * installed, else wasm. In a compiled binary `auto` is always wasm (said
 * once) and `native` a `config.native_gdal_in_binary` {@linkcode ConfigError}.
 */
export async function openGdal(
  setting: GdalEngineSetting = "auto",
  options: OpenGdalOptions = {},
): Promise<GdalEngine> {
  if (setting === "wasm") return wasmGdal;
  if (options.standalone ?? Deno.build.standalone) {
    if (setting === "native") throw nativeGdalInBinaryError();
    if (!notedWasmInBinary) {
      notedWasmInBinary = true;
      (options.onNote ?? ((message: string) => console.error(message)))(WASM_IN_BINARY_NOTE);
    }
    return wasmGdal;
  }
  const native = await detectNativeGdal();
  if (native !== undefined) return native;
  if (setting === "auto") return wasmGdal;
  const found = await nativeGdalVersion();
  throw new SpatialEngineError(
    "spatial.native_gdal_missing",
    `GDAL_ENGINE=native needs libgdal >= ${MIN_NATIVE_VERSION.join(".")}, but ` +
      (found === undefined ? "no libgdal could be loaded" : `GDAL ${found} is installed`) +
      "; install it (Debian: apt-get install gdal-bin) or set GDAL_ENGINE=wasm.",
    { input: "GDAL_ENGINE" },
  );
}
