/**
 * The YAML parse worker crashing (injected: a worker that claims a file and
 * throws) costs speed, not the load: every file, the one it claimed
 * included, is parsed on the main thread, and the crash is a typed error
 * naming that file. A read asked after the crash is done on the main thread.
 */

import assert from "node:assert/strict";
import { DbtErrorCode } from "../../../../resources/dbt/errors.ts";
import { YamlWorker } from "../../../../resources/dbt/project/yaml_pool.ts";

Deno.test("yaml pool: a crashed worker falls back to main-thread parsing and says so, typed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "yaml-pool-" });
  try {
    const files = ["a", "b", "c"].map((name) => ({
      path: `${dir}/${name}.yml`,
      file: `models/${name}.yml`,
    }));
    for (const [i, f] of files.entries()) await Deno.writeTextFile(f.path, `n: ${i}\n`);
    using worker = new YamlWorker({
      workerUrl: new URL("./_crashing_yaml_worker.ts", import.meta.url),
    });
    const job = worker.read(files);
    // As the loader does when its own work is done: claim what is left, then wait for the rest.
    const reads = await job.done;
    assert.equal(job.readRest(), undefined, "nothing is left to claim after the fallback");
    assert.deepEqual(
      reads.map((r) => r.kind === "parsed" ? r.value : r.kind),
      [{ n: 0 }, { n: 1 }, { n: 2 }],
    );
    assert.equal(worker.crash?.code, DbtErrorCode.workerCrashed);
    assert.match(worker.crash?.message ?? "", /injected crash/);
    assert.match(worker.crash?.message ?? "", /models\/a\.yml/);
    const after = await worker.read(files.slice(1)).done;
    assert.deepEqual(after.map((r) => r.kind === "parsed" ? r.value : r.kind), [{ n: 1 }, {
      n: 2,
    }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
