/**
 * The SQLite ledger on a full disk (its own small tmpfs): the error names the
 * ledger file and says to free space, is never retried, leaves no half
 * document, and the same write after freeing space records it once.
 */

import assert from "node:assert/strict";
import { DiskFullError, lastingFailure } from "../../../core/mod.ts";
import { SqliteLedger } from "../../../resources/ledger/mod.ts";
import { caught, rejected } from "../../_helpers/assert_errors.ts";
import { mountTmpfs, tmpfsSkip } from "../../_helpers/tmpfs.ts";
import { sampleInput } from "./_docs.ts";

const NO_TMPFS = await tmpfsSkip();

Deno.test(
  "SqliteLedger on a full disk: disk_full naming the ledger, nothing half-written, written once after",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(4 * 1024 * 1024);
    const path = `${disk.path}/state/ledger.db`;
    {
      await using ledger = new SqliteLedger(path);
      await ledger.upsert(sampleInput(1));
      await disk.fill(0);
      // A document larger than what is left: its pages cannot be written.
      const big = sampleInput(2, { metadata: { note: "x".repeat(512 * 1024) } });
      const error = await rejected(() => ledger.upsert(big), DiskFullError);
      assert.equal(error.code, "disk_full");
      assert.equal(error.input, path);
      assert.match(error.message, /^no space left on device writing the ledger '.*ledger\.db'/);
      assert.match(error.message, /free space on the disk holding '.*\/state'/);
      assert.equal(lastingFailure(error), "disk_full");
      assert.deepEqual((await ledger.findByHash(big.sha256)).length, 0);
      await disk.free();
      await ledger.upsert(big);
      await ledger.upsert(big);
      assert.equal((await ledger.findByHash(big.sha256)).length, 1);
    }
    // A ledger that cannot even open on a full disk says so (SQLite says "disk I/O error").
    await disk.fill(0);
    const error = caught(() => new SqliteLedger(`${disk.path}/other/ledger.db`), DiskFullError);
    assert.match(error.message, /no space left on device writing the ledger '.*other\/ledger\.db'/);
  },
);
