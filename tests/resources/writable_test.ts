import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ConfigError } from "../../core/errors.ts";
import { loadConfig } from "../../resources/config.ts";
import { ensureWritable, writablePlaces } from "../../resources/writable.ts";

const env = (values: Record<string, string>) => ({ get: (name: string) => values[name] });

Deno.test("writablePlaces: STATE_DIR, the embedded stores, the local lake and TMPDIR", () => {
  const embedded = loadConfig({ env: { STATE_DIR: "/var/lib/p" }, dotenvPath: null });
  assert.deepEqual(
    writablePlaces(embedded, env({ TMPDIR: "/scratch" })).map((p) => [p.variable, p.path]),
    [
      ["STATE_DIR", "/var/lib/p"],
      ["LAKE_URL", resolve("data_lake")],
      ["TMPDIR", "/scratch"],
    ],
    "the stores under STATE_DIR are covered by it",
  );
  const moved = loadConfig({
    env: {
      LEDGER_URL: "sqlite:/ledgers/l.db",
      WAREHOUSE_URL: "pglite:///wh/data",
      RUNS_URL: "sqlite::memory:",
      LAKE_URL: "file:///lake",
    },
    dotenvPath: null,
  });
  assert.deepEqual(writablePlaces(moved, env({})).map((p) => [p.variable, p.path]), [
    ["STATE_DIR", resolve(".state")],
    ["LEDGER_URL", "/ledgers"],
    ["WAREHOUSE_URL", "/wh"],
    ["LAKE_URL", "/lake"],
    ["TMPDIR", "/tmp"],
  ]);
  const servers = loadConfig({
    env: {
      LEDGER_URL: "mongodb://u:p@h/db",
      WAREHOUSE_URL: "postgres://u:p@h/db",
      RUNS_URL: "postgres://u:p@h/db",
      LAKE_URL: "s3://",
    },
    dotenvPath: null,
  });
  assert.deepEqual(writablePlaces(servers, env({})).map((p) => p.variable), [
    "STATE_DIR",
    "TMPDIR",
  ]);
});

Deno.test("ensureWritable creates the folders, leaves no probe, and names a refused one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await ensureWritable([{ variable: "STATE_DIR", path: `${dir}/a/b`, holds: "state" }]);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(`${dir}/a/b`)), [], "no probe left");

    await Deno.mkdir(`${dir}/ro`);
    await Deno.chmod(`${dir}/ro`, 0o555);
    const places = [
      { variable: "STATE_DIR", path: `${dir}/a`, holds: "state" },
      { variable: "LAKE_URL", path: `${dir}/ro/lake`, holds: "the local lake" },
    ];
    const error = await ensureWritable(places).catch((e) => e);
    if (Deno.uid() === 0) {
      // root writes anywhere: a read-only file system is the only refusal it meets.
      assert.equal(error, undefined);
    } else {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, "config.not_writable");
      assert.equal(
        error.message,
        `Cannot write to ${dir}/ro/lake (permission denied): the platform keeps the local lake ` +
          "there. Set LAKE_URL to a writable folder (or STATE_DIR, which the embedded defaults follow)",
      );
    }
    await Deno.writeTextFile(`${dir}/file`, "");
    const blocked = await ensureWritable([
      { variable: "STATE_DIR", path: `${dir}/file/state`, holds: "state" },
    ]).catch((e) => e);
    assert.ok(blocked instanceof ConfigError);
    assert.match(blocked.message, new RegExp(`^Cannot write to ${dir}/file/state \\(`));
    assert.match(blocked.message, /Set STATE_DIR to a writable folder$/);
  } finally {
    await Deno.chmod(`${dir}/ro`, 0o755).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
