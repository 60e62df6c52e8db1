/**
 * DuckDB extensions offline: what is built in, what is missing and said so
 * at open, and that nothing ever waits on a download: queries never
 * download, `INSTALL` in user SQL stays local, and a download allowed at
 * open that does not answer is abandoned after `download_timeout_ms`. Every
 * test uses an empty extension directory of its own, so what the machine
 * has installed does not matter.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  DuckdbWarehouse,
  openWarehouse,
  WarehouseQueryError,
} from "../../../resources/warehouse/mod.ts";
import { collect, tempDir } from "./_child.ts";

const CHILD = fileURLToPath(new URL("./_duckdb_child.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));

async function open(
  dir: string,
  url: string,
  notices: string[],
): Promise<DuckdbWarehouse> {
  const separator = url.includes("?") ? "&" : "?";
  return await openWarehouse(`${url}${separator}extension_directory=${dir}/ext`, {
    onNotice: (message) => notices.push(message),
  }) as DuckdbWarehouse;
}

/**
 * Upper bound of anything that must not wait on the network: far above what
 * a loaded machine takes (an open is ~1 s), below the 30 s DuckDB's own HTTP
 * client (and the default download_timeout_ms) would wait on a peer that
 * never answers.
 */
const NO_NETWORK_WAIT_MS = 15_000;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

/**
 * A loopback server that accepts connections and never answers, counting them,
 * until `hangUp`: from then on it closes every connection (a download fails at once).
 */
function blackHole() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  let hungUp = false;
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      if (hungUp) conn.close();
      else held.push(conn);
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    get connections() {
      return accepted;
    },
    hangUp() {
      hungUp = true;
      for (const conn of held.splice(0)) conn.close();
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const conn of held.splice(0)) conn.close();
    },
  };
}

Deno.test("duckdb extensions: parquet, json and icu are built in", async () => {
  await using dir = await tempDir("duckdb-ext-");
  const notices: string[] = [];
  await using wh = await open(dir.path, "duckdb::memory:?extensions=parquet,json,icu", notices);
  assert.deepStrictEqual(notices, []);
  assert.deepStrictEqual(wh.extensions.map((e) => [e.name, e.available, e.detail]), [
    ["parquet", true, "built in"],
    ["json", true, "built in"],
    ["icu", true, "built in"],
  ]);
});

Deno.test("duckdb extensions: a missing one is said at open, at once, with what to do", async () => {
  await using dir = await tempDir("duckdb-ext-");
  const notices: string[] = [];
  const started = performance.now();
  await using wh = await open(
    dir.path,
    "duckdb::memory:?extensions=httpfs,spatial,not_an_ext",
    notices,
  );
  assert.ok(performance.now() - started < NO_NETWORK_WAIT_MS, "never waits on the network");
  assert.deepStrictEqual(wh.extensions.map((e) => [e.name, e.available]), [
    ["httpfs", false],
    ["spatial", false],
    ["not_an_ext", false],
  ]);
  const [httpfs, spatial, unknown] = wh.extensions;
  const installDir = `${dir.path}/ext/${wh.version}/`;
  assert.match(
    httpfs?.detail ?? "",
    new RegExp(`not installed in ${installDir}.*downloads are off`),
  );
  assert.match(unknown?.detail ?? "", /not an extension this DuckDB knows/);
  assert.equal(notices.length, 3);
  assert.match(notices[1] ?? "", /DuckDB extension 'spatial' is not available/);
  assert.match(notices[1] ?? "", new RegExp(`copy spatial.duckdb_extension to ${installDir}`));
  assert.match(notices[1] ?? "", /extension_repository=<folder>/);
  assert.equal(spatial?.available, false);
});

Deno.test("duckdb extensions: a query that needs a missing one fails fast, naming it", async () => {
  await using dir = await tempDir("duckdb-ext-");
  await using wh = await open(dir.path, "duckdb::memory:", []);
  const cases: [string, string][] = [
    ["SELECT * FROM read_parquet('s3://lake/part-0.parquet')", "httpfs"],
    ["SELECT * FROM read_parquet('https://example.invalid/x.parquet')", "httpfs"],
    ["SELECT ST_Point(1, 2)", "spatial"],
    ["INSTALL spatial", "spatial"], // stays local: never the network
    ["LOAD httpfs", "httpfs"],
  ];
  for (const [sql, extension] of cases) {
    const started = performance.now();
    const error = await rejection(wh.query(sql));
    assert.ok(performance.now() - started < NO_NETWORK_WAIT_MS, `${sql} took too long`);
    assert.ok(error instanceof WarehouseQueryError, `${sql}: ${error}`);
    assert.match(
      error.message,
      new RegExp(`DuckDB's '${extension}' extension is not available here`),
      sql,
    );
  }
});

Deno.test("duckdb extensions: an http repository is not contacted unless downloads are allowed", async () => {
  await using dir = await tempDir("duckdb-ext-");
  await using server = blackHole();
  const notices: string[] = [];
  await using wh = await open(
    dir.path,
    `duckdb::memory:?extensions=spatial&extension_repository=${server.url}`,
    notices,
  );
  assert.equal(server.connections, 0);
  assert.match(wh.extensions[0]?.detail ?? "", /not fetched from http:.*downloads are off/);
  assert.equal(notices.length, 1);
});

Deno.test("duckdb extensions: an allowed download that never answers is abandoned after download_timeout_ms", async () => {
  await using dir = await tempDir("duckdb-ext-");
  await using server = blackHole();
  const notices: string[] = [];
  const started = performance.now();
  await using wh = await open(
    dir.path,
    `duckdb::memory:?extensions=spatial,parquet&allow_downloads=true&download_timeout_ms=700` +
      `&extension_repository=${server.url}`,
    notices,
  );
  const elapsed = performance.now() - started;
  // Not before the 700 ms (a load-proof lower bound), and not the 30 s an
  // ignored timeout would cost.
  assert.ok(elapsed >= 700 && elapsed < NO_NETWORK_WAIT_MS, `open took ${elapsed} ms`);
  assert.ok(server.connections >= 1, "the download was tried");
  assert.deepStrictEqual(wh.extensions.map((e) => [e.name, e.available]), [
    ["spatial", false],
    ["parquet", true],
  ]);
  assert.match(wh.extensions[0]?.detail ?? "", /no answer within 700 ms \(download_timeout_ms\)/);
  assert.deepStrictEqual(await wh.query("SELECT 1 AS ok"), [{ ok: 1 }]);
});

Deno.test("duckdb extensions: a download abandoned at open holds the file's close until it ends; an open here waits for it", async () => {
  await using dir = await tempDir("duckdb-ext-");
  await using server = blackHole();
  const path = `${dir.path}/warehouse.duckdb`;
  const wh = await open(
    dir.path,
    `duckdb:${path}?extensions=spatial&allow_downloads=true&download_timeout_ms=300` +
      `&extension_repository=${server.url}`,
    [],
  );
  assert.match(wh.extensions[0]?.detail ?? "", /no answer within 300 ms/);
  await wh.close();
  // The abandoned download still runs on a connection of its own, which keeps
  // the instance on the file. An open of the file here must wait for it: a
  // second instance beside it is the two-instances crash class (SIGSEGV, see
  // 6624a1e). Before, that connection was never disconnected and the open
  // went ahead at once.
  let reopened = false;
  const reopening = open(dir.path, `duckdb:${path}`, []).then((again) => {
    reopened = true;
    return again;
  });
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  assert.equal(reopened, false, "the open waits while the abandoned download runs");
  // The download now fails; its connection is disconnected, the old instance
  // closed, and the open proceeds on a new one.
  server.hangUp();
  await using again = await reopening;
  assert.deepStrictEqual(await again.query("SELECT 1 AS ok"), [{ ok: 1 }]);
  // Another process opens the file once this one closed it.
  await again.close();
  const other = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, CHILD, "open", `duckdb:${path}`, "60000"],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = collect(other.stdout);
  const stderr = collect(other.stderr);
  const status = await other.status;
  assert.equal((await stdout.all).trim(), "opened", await stderr.all);
  assert.equal(status.code, 0);
});

Deno.test("duckdb extensions: a local repository is used offline; a broken file there is reported", async () => {
  await using dir = await tempDir("duckdb-ext-");
  const probe = await open(dir.path, "duckdb::memory:", []);
  const version = probe.version;
  const [{ platform }] = await probe.query<{ platform: string }>(
    "SELECT platform FROM pragma_platform()",
  ) as [{ platform: string }];
  await probe.close();
  const repository = `${dir.path}/repo`;
  const platformDir = `${repository}/${version}/${platform}`;
  await Deno.mkdir(platformDir, { recursive: true });
  await Deno.writeTextFile(`${platformDir}/spatial.duckdb_extension`, "not an extension");
  const notices: string[] = [];
  await using wh = await open(
    dir.path,
    `duckdb::memory:?extensions=spatial&extension_repository=${repository}`,
    notices,
  );
  const [spatial] = wh.extensions;
  assert.equal(spatial?.available, false);
  assert.match(spatial?.detail ?? "", new RegExp(`not made available from ${repository}`));
  assert.equal(notices.length, 1);
  // A plain INSTALL in user SQL looks in that folder, not on the network.
  const error = await rejection(wh.query("INSTALL httpfs"));
  assert.match(String(error), new RegExp(`${platformDir}/httpfs.duckdb_extension`));
});
