import assert from "node:assert/strict";
import postgres from "postgres";
import { ensurePostgis, findPostgresBinDir, startPostgres } from "./postgres.ts";
import { needs } from "./tools.ts";

// These start local clusters: DATABASE_URL does not stand in for the binaries.
const binDir = await findPostgresBinDir();
const ignore = await needs("postgres-binaries");

Deno.test("startPostgres starts a cluster that accepts connections, stop() removes it", {
  ignore,
}, async () => {
  const server = await startPostgres({ databaseUrl: undefined });
  const url = new URL(server.url);
  assert.equal(url.hostname, "127.0.0.1");
  assert.equal(url.password, "");
  assert.deepStrictEqual(await select(server.url, "SELECT current_setting('fsync') AS fsync"), [
    { fsync: "off" },
  ]);
  await server.stop();
  await server.stop(); // idempotent
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port: Number(url.port) }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("startPostgres gives parallel callers separate clusters", { ignore }, async () => {
  const [a, b] = await Promise.all([
    startPostgres({ databaseUrl: undefined }),
    startPostgres({ databaseUrl: undefined }),
  ]);
  try {
    assert.notEqual(a.url, b.url);
    await select(a.url, "CREATE TABLE only_in_a (id int)");
    assert.deepStrictEqual(await select(b.url, "SELECT to_regclass('only_in_a') AS t"), [
      { t: null },
    ]);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

Deno.test("startPostgres with a database URL makes and drops a throwaway database", {
  ignore,
}, async () => {
  await using server = await startPostgres({ databaseUrl: undefined });
  const throwaway = await startPostgres({ databaseUrl: server.url });
  const name = new URL(throwaway.url).pathname.slice(1);
  assert.match(name, /^test_[0-9a-f]{16}$/);
  await select(throwaway.url, "CREATE TABLE t (id int)");
  await throwaway.stop();
  const left = await select(server.url, `SELECT 1 FROM pg_database WHERE datname = '${name}'`);
  assert.deepStrictEqual(left, []);
});

Deno.test({
  name: "ensurePostgis installs PostGIS in the database",
  ignore: ignore || await needs("postgis"),
  async fn() {
    await using server = await startPostgres({ databaseUrl: undefined });
    await ensurePostgis(server.url);
    await ensurePostgis(server.url); // idempotent
    const [row] = await select(server.url, "SELECT postgis_lib_version() AS v");
    assert.match(String(row?.v), /^3\./);
  },
});

Deno.test("findPostgresBinDir finds initdb", { ignore }, async () => {
  assert.ok((await Deno.stat(`${binDir}/initdb`)).isFile);
});

async function select(url: string, sql: string): Promise<Record<string, unknown>[]> {
  const client = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return Array.from(await client.unsafe(sql));
  } finally {
    await client.end();
  }
}
