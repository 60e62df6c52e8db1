/**
 * Child process for the DuckDB file tests. `Deno.args`: mode, database URL,
 * then per mode:
 *
 * - `open <url> <timeoutMs>`: opens (waiting up to timeoutMs), prints
 *   `opened`, closes; on failure prints the error code and exits 2.
 * - `hold <url>`: opens, commits one row to `main.t`, prints `committed`,
 *   then loads rows inside a transaction that never ends, prints `loading`
 *   and waits to be killed.
 * - `read <url>`: opens, prints `rows <n>` of `main.t`, then waits for its
 *   stdin to close.
 *
 * @module
 */

import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { PlatformError } from "../../../core/errors.ts";

const [mode = "", url = "", timeout = "30000"] = Deno.args;
try {
  const warehouse = await openWarehouse(url, {
    lockTimeoutMs: Number(timeout),
    lockPollMs: 50,
    onNotice: () => {},
  });
  if (mode === "open") {
    await warehouse.query("SELECT 1");
    console.log("opened");
    await warehouse.close();
  } else if (mode === "hold") {
    await warehouse.exec("CREATE TABLE IF NOT EXISTS main.t (id int PRIMARY KEY, v text)");
    await warehouse.execute("INSERT INTO main.t VALUES ($1, $2)", [1, "committed"]);
    console.log("committed");
    await warehouse.transaction(async (tx) => {
      const rows = Array.from({ length: 50_000 }, (_, i) => [i + 2, `uncommitted ${i}`]);
      await tx.bulkLoad({ schema: "main", name: "t" }, ["id", "v"], rows);
      console.log("loading");
      // Killed here, mid-transaction (the timer keeps the process alive).
      await new Promise(() => setInterval(() => {}, 1_000));
    });
  } else if (mode === "read") {
    const [row] = await warehouse.query<{ n: bigint }>("SELECT count(*) AS n FROM main.t");
    console.log(`rows ${row?.n}`);
    for await (const _ of Deno.stdin.readable) { /* wait for the parent */ }
    await warehouse.close();
  }
} catch (error) {
  console.log(error instanceof PlatformError ? error.code : String(error));
  Deno.exit(2);
}
