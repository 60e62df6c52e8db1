/**
 * Child process for the lock tests: opens the PGlite warehouse at `Deno.args[0]`
 * (waiting up to `Deno.args[1]` ms), prints `opened`, then closes it.
 * On failure prints the error code and exits 2.
 *
 * @module
 */

import { PgliteWarehouse } from "../../../resources/warehouse/mod.ts";
import { PlatformError } from "../../../core/errors.ts";

const [dataDir = "", timeout = "30000"] = Deno.args;
try {
  await using warehouse = await PgliteWarehouse.open(dataDir, { lockTimeoutMs: Number(timeout) });
  await warehouse.query("SELECT 1");
  console.log("opened");
} catch (error) {
  console.log(error instanceof PlatformError ? error.code : String(error));
  Deno.exit(2);
}
