/**
 * The embedded warehouse (PGlite) on a full disk (its own tmpfs): the failed
 * statement is `disk_full` naming the warehouse and the statement, never
 * retried, rolled back whole, and the same write after freeing space lands once.
 */

import assert from "node:assert/strict";
import { DiskFullError, lastingFailure } from "../../../core/mod.ts";
import { PgliteWarehouse } from "../../../resources/warehouse/mod.ts";
import { rejected } from "../../_helpers/assert_errors.ts";
import { mountTmpfs, tmpfsSkip } from "../../_helpers/tmpfs.ts";

const NO_TMPFS = await tmpfsSkip();

Deno.test(
  "PGlite on a full disk: disk_full naming the warehouse, nothing half-written, written once after",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(96 * 1024 * 1024);
    const dataDir = `${disk.path}/state/warehouse`;
    const warehouse = await PgliteWarehouse.open(dataDir);
    try {
      await warehouse.execute("CREATE TABLE t (x text)");
      await disk.fill(0);
      const load = "INSERT INTO t SELECT repeat('x', 1000) || g FROM generate_series(1, 20000) g";
      const error = await rejected(() => warehouse.execute(load), DiskFullError);
      assert.equal(error.code, "disk_full");
      assert.equal(lastingFailure(error), "disk_full");
      assert.match(
        error.message,
        /^no space left on device writing the warehouse .*\/state\/warehouse \(running "INSERT INTO t/,
      );
      assert.match(error.message, /free space on the disk holding '.*\/state\/warehouse'/);
      assert.deepEqual(await warehouse.query("SELECT count(*)::int AS n FROM t"), [{ n: 0 }]);
      await disk.free();
      await warehouse.execute(load);
      assert.deepEqual(await warehouse.query("SELECT count(*)::int AS n FROM t"), [{ n: 20000 }]);
    } finally {
      await warehouse.close();
    }
  },
);
