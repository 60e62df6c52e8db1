import assert from "node:assert/strict";
import { memoryIo, UsageError } from "../../../core/cli/mod.ts";
import { loadConfig } from "../../../resources/config.ts";
import { diagnose, doctorCommand, implementationOf } from "../../../resources/doctor/mod.ts";
import { ensurePostgis, startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import { detectNativeGdal, stopNativeHosts } from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";

async function embeddedConfig() {
  const dir = await Deno.makeTempDir({ prefix: "doctor_" });
  const config = loadConfig({
    dotenvPath: null,
    env: {
      LAKE_URL: `file://${dir}/lake`,
      LEDGER_URL: `sqlite:${dir}/ledger.db`,
      WAREHOUSE_URL: "pglite:memory:",
      RUNS_URL: `sqlite:${dir}/runs.db`,
    },
  });
  return { dir, config };
}

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("doctor reports every embedded default as answering, with its implementation", async () => {
  const { dir, config } = await embeddedConfig();
  try {
    // PGlite and gdal3.js start in seconds, but the whole suite on 2 shared cores
    // can stretch that past the CLI's 10 s default: this test is about answers.
    const report = await diagnose(config, { timeoutMs: 120_000 });
    // GDAL_ENGINE=auto: the machine's libgdal when it loads, else gdal3.js.
    const gdal = report.find((d) => d.resource === "gdal");
    const engine = (await detectNativeGdal()) ?? wasmGdal;
    assert.deepEqual(
      report.map((d) => [d.resource, d.implementation, d.ok, d.error]),
      [
        ["lake", "local folder", true, null],
        ["ledger", "sqlite", true, null],
        ["warehouse", "pglite", true, null],
        ["spatial", "spatialite (gdal3.js)", true, null],
        ["gdal", `${engine.kind} (GDAL ${engine.version})`, true, null],
        ["runs", "sqlite", true, null],
      ],
    );
    assert.equal(gdal?.url, "GDAL_ENGINE=auto");
    assert.match(gdal?.detail ?? "", /picked by GDAL_ENGINE=auto/);
    assert.ok(gdal?.detail?.startsWith(engine.detail), gdal?.detail ?? "");
    assert.ok(report.every((d) => d.latencyMs >= 0 && Number.isFinite(d.latencyMs)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor reports a DuckDB warehouse with its version and which extensions it has", async () => {
  const { dir, config } = await embeddedConfig();
  try {
    const ext = `${dir}/ext`;
    const io = memoryIo();
    const duck = {
      ...config,
      WAREHOUSE_URL: `duckdb:${dir}/wh.duckdb?extensions=spatial&extension_directory=${ext}`,
    };
    const started = performance.now();
    assert.equal(await doctorCommand(() => duck).run(["--timeout", "120000"], io), 0);
    // A download would be given 119 s (the timeout less 1 s); half of that leaves the
    // loaded machine its time to start gdal and the stores.
    assert.ok(performance.now() - started < 60_000, "never waits on a download");
    assert.match(io.stdout, /warehouse\s+duckdb\s+duckdb:.*wh\.duckdb.*\s+ok/);
    const line = io.stdout.split("\n").find((l) => l.startsWith("warehouse: DuckDB v")) ?? "";
    assert.match(line, /parquet: built in; json: built in; /);
    assert.match(line, new RegExp(`httpfs: MISSING, not installed in ${ext}/v`));
    assert.match(line, /spatial: MISSING, not installed in .*downloads are off \(offline\)/);
    assert.equal(line.match(/spatial:/g)?.length, 1, "a requested extension is listed once");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor command exits 0 when all answer and prints a table", async () => {
  const { dir, config } = await embeddedConfig();
  try {
    const io = memoryIo();
    // Every resource answers here; what is under test is the table and the exit
    // code, not the default 10 s timeout, which a loaded 2-core machine can miss
    // while PGlite and gdal3.js start (the timeout has its own test below).
    assert.equal(await doctorCommand(() => config).run(["--timeout", "120000"], io), 0);
    assert.match(io.stdout, /^resource\s+implementation\s+url\s+status\s+latency/);
    assert.equal(io.stdout.match(/\bok\b/g)?.length, 6);
    assert.equal(io.stderr, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor reports unreachable servers within the timeout, exits 1, never shows a password", async () => {
  const { dir, config } = await embeddedConfig();
  try {
    const port = closedPort();
    const down = {
      ...config,
      WAREHOUSE_URL: `postgres://app:hunter2@127.0.0.1:${port}/db`,
      RUNS_URL: `postgres://app:hunter2@127.0.0.1:${port}/db`,
      SPATIAL_URL: `postgres://app:hunter2@127.0.0.1:${port}/db`,
      LEDGER_URL: `mongodb://app:hunter2@127.0.0.1:${port}/ledger`,
    };
    const io = memoryIo();
    const started = performance.now();
    // 10 s, not less: the lake, gdal and run store must answer within it while the
    // machine is loaded (a gdal round trip, PROJ included, takes seconds on a busy
    // 2-core CI machine). The bound leaves the loaded machine as much again.
    const code = await doctorCommand(() => down).run(["--json", "--timeout", "10000"], io);
    const elapsed = performance.now() - started;
    assert.equal(code, 1);
    assert.ok(elapsed < 20_000, `took ${elapsed} ms`);
    const lines = io.stdout.trim().split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(lines.map((d) => [d.resource, d.ok]), [
      ["lake", true],
      ["ledger", false],
      ["warehouse", false],
      ["spatial", false],
      ["gdal", true],
      ["runs", false],
    ]);
    for (const line of lines.filter((d) => !d.ok)) assert.ok(line.error.length > 0, line.resource);
    assert.match(io.stderr, /4 resource\(s\) did not answer: ledger, warehouse, spatial, runs/);
    // Each error in full (the table cuts it to its column), on a line of its own.
    for (const line of lines.filter((d) => !d.ok)) {
      assert.ok(io.stderr.includes(`\n  ${line.resource}: ${line.error}\n`), io.stderr);
    }
    assert.doesNotMatch(io.stdout + io.stderr, /hunter2/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor rejects bad arguments as usage errors", async () => {
  const command = doctorCommand(() => loadConfig({ dotenvPath: null, env: {} }));
  await assert.rejects(() => command.run(["--timeout", "soon"], memoryIo()), UsageError);
  // Number() took 0x10 as 16 ms and 1e3 as 1000; setTimeout fires at once above 2^31-1 ms.
  for (const value of ["0x10", "1e3", "", "2147483648"]) {
    await assert.rejects(
      () => command.run(["--timeout", value], memoryIo()),
      (error: Error) =>
        error instanceof UsageError &&
        error.message.startsWith(
          `--timeout must be a whole number from 1 to 2147483647, got '${value}' (milliseconds)\n`,
        ),
    );
  }
  await assert.rejects(() => command.run(["--verbose"], memoryIo()), UsageError);
  // Given twice: refused, not the last one kept silently.
  await assert.rejects(
    () => command.run(["--timeout", "5", "--timeout", "6"], memoryIo()),
    /--timeout is given twice \('5', then '6'\)/,
  );
  await assert.rejects(() => command.run(["--timout=5"], memoryIo()), /did you mean '--timeout'\?/);
});

Deno.test("doctor --help prints what it checks and its exit codes, exit 0, opening nothing", async () => {
  // `deno task doctor --help` said 'error: usage: doctor [--json] [--timeout MS]' with exit 2.
  const command = doctorCommand(() => {
    throw new Error("--help must not read the configuration");
  });
  for (const flag of ["--help", "-h"]) {
    const io = memoryIo();
    assert.equal(await command.run([flag], io), 0);
    assert.match(io.stdout, /^Usage: doctor \[--json\] \[--timeout MS\]\n/);
    assert.match(io.stdout, /--timeout MS +how long each resource gets to answer/);
    assert.match(io.stdout, /Exit status: 0 every resource answers, 1 one does not/);
    assert.equal(io.stderr, "");
  }
});

Deno.test("implementationOf names the backend each scheme selects", () => {
  assert.equal(implementationOf("file://./data_lake"), "local folder");
  assert.equal(implementationOf("http://minio:9000"), "s3 (endpoint)");
  assert.equal(implementationOf("postgresql://x/y"), "postgres");
  assert.equal(implementationOf("mongodb+srv://x/y"), "mongodb");
  assert.equal(implementationOf("pglite:memory:"), "pglite");
});

Deno.test({
  name: "doctor reports Postgres as warehouse, run store and PostGIS engine when they answer",
  ignore: await needs("postgis"),
  fn: async () => {
    await using pg = await startPostgres();
    await ensurePostgis(pg.url);
    const { dir, config } = await embeddedConfig();
    try {
      const report = await diagnose({
        ...config,
        WAREHOUSE_URL: pg.url,
        RUNS_URL: pg.url,
        SPATIAL_URL: pg.url,
      });
      assert.deepEqual(
        report.map((d) => [d.resource, d.implementation, d.ok, d.error]),
        [
          ["lake", "local folder", true, null],
          ["ledger", "sqlite", true, null],
          ["warehouse", "postgres", true, null],
          ["spatial", "postgres", true, null],
          ["gdal", report[4]!.implementation, true, null],
          ["runs", "postgres", true, null],
        ],
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("doctor's gdal line: GDAL_ENGINE=native without a loadable libgdal is DOWN, saying what to install", async () => {
  const { dir, config } = await embeddedConfig();
  stopNativeHosts();
  Deno.env.set("GDAL_LIBRARY_PATH", "/nonexistent/libgdal.so");
  try {
    const native = { ...config, GDAL_ENGINE: "native" as const };
    const table = memoryIo();
    assert.equal(await doctorCommand(() => native).run(["--timeout", "120000"], table), 1);
    assert.match(table.stdout, /gdal\s+native\s+GDAL_ENGINE=native\s+DOWN/);
    assert.match(table.stderr, /did not answer: gdal/);
    const json = memoryIo();
    assert.equal(await doctorCommand(() => native).run(["--json", "--timeout", "120000"], json), 1);
    const gdal = json.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((d) =>
      d.resource === "gdal"
    );
    assert.equal(gdal.ok, false);
    assert.match(gdal.error, /GDAL_ENGINE=native needs libgdal >= 3\.6.*apt-get install gdal-bin/);
  } finally {
    Deno.env.delete("GDAL_LIBRARY_PATH");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor on a fresh PGlite data dir waits for its creation (first start) instead of reporting the warehouse down, and says so", async () => {
  // Before: initdb takes ~10 s (more under load), so the probe's timeout reported
  // 'warehouse: no answer within N ms' (DOWN, exit 1) for a warehouse that was only starting.
  const { dir, config } = await embeddedConfig();
  try {
    const fresh = { ...config, WAREHOUSE_URL: `pglite:${dir}/state/warehouse` };
    const progress: string[] = [];
    // 50 ms: far less than any initdb, so only the creation's own budget can let it answer.
    const report = await diagnose(fresh, {
      timeoutMs: 50,
      onProgress: (message) => progress.push(message),
    });
    const warehouse = report.find((d) => d.resource === "warehouse");
    assert.equal(warehouse?.error, null);
    assert.equal(warehouse?.ok, true);
    assert.match(warehouse?.detail ?? "", /first start: its data dir was created in \d+ ms/);
    assert.equal(progress.length, 1, progress.join("\n"));
    assert.match(progress[0] ?? "", /^warehouse: PGlite is creating its data dir .*first start/);
    // The next run finds the data dir and has the usual timeout (no detail, no progress line).
    const again = await diagnose(fresh, {
      timeoutMs: 120_000,
      onProgress: (m) => progress.push(m),
    });
    assert.equal(again.find((d) => d.resource === "warehouse")?.detail, null);
    assert.equal(progress.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
