/** Choosing a ledger backend from a URL. */

import { DatabaseSync } from "node:sqlite";
import { ConfigError, ResourceError } from "../../../core/errors.ts";
import {
  MemoryLedger,
  openLedger,
  parseLedgerUrl,
  SqliteLedger,
} from "../../../resources/ledger/mod.ts";
import { assert, assertEquals, rejects } from "./_assert.ts";

Deno.test("parseLedgerUrl: each scheme selects its backend", () => {
  const cases: [string, unknown][] = [
    ["sqlite:.state/ledger.db", { kind: "sqlite", path: ".state/ledger.db" }],
    ["sqlite::memory:", { kind: "sqlite", path: ":memory:" }],
    ["sqlite:///var/lib/ledger.db", { kind: "sqlite", path: "/var/lib/ledger.db" }],
    ["SQLITE:x.db", { kind: "sqlite", path: "x.db" }],
    ["mongodb://localhost:27017/platform", {
      kind: "mongodb",
      uri: "mongodb://localhost:27017/platform",
    }],
    ["mongodb+srv://u:p@cluster.example/db", {
      kind: "mongodb",
      uri: "mongodb+srv://u:p@cluster.example/db",
    }],
    ["memory:", { kind: "memory" }],
  ];
  for (const [url, expected] of cases) assertEquals(parseLedgerUrl(url), expected, url);
});

Deno.test("parseLedgerUrl: an unknown scheme is a ConfigError naming it, not the password", async () => {
  const error = await rejects(
    () => parseLedgerUrl("postgres://admin:hunter2@db:5432/ledger"),
    ConfigError,
  );
  assertEquals(error.code, "ledger.unknown_scheme");
  assertEquals(error.input, "LEDGER_URL");
  assert(error.message.includes("'postgres:'"), error.message);
  assert(error.message.includes("LEDGER_URL"), error.message);
  assert(!error.message.includes("hunter2"), error.message);
  assert(!error.message.includes("admin"), error.message);
});

Deno.test("parseLedgerUrl: malformed URLs are ConfigErrors naming the variable", async () => {
  for (const url of ["", ".state/ledger.db", "sqlite:", "sqlite://", "mongodb:localhost"]) {
    const error = await rejects(() => parseLedgerUrl(url, "MY_LEDGER"), ConfigError);
    assertEquals(error.code, "ledger.invalid_url", url);
    assert(error.message.includes("MY_LEDGER"), error.message);
  }
  await rejects(() => parseLedgerUrl(42 as unknown as string), TypeError);
});

Deno.test("openLedger: memory: and sqlite: open their backends", async () => {
  await using memory = await openLedger("memory:");
  assert(memory instanceof MemoryLedger, "memory: opens a MemoryLedger");
  await using sqlite = await openLedger("sqlite::memory:");
  assert(sqlite instanceof SqliteLedger, "sqlite: opens a SqliteLedger");
  assertEquals(sqlite.description, "sqlite :memory:");
  await sqlite.ping();
});

Deno.test("openLedger: sqlite: creates the database and its folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ledger_test_" });
  try {
    {
      await using ledger = await openLedger(`sqlite:${dir}/state/ledger.db`);
      await ledger.ping();
    }
    assert((await Deno.stat(`${dir}/state/ledger.db`)).isFile, "the file exists");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openLedger: an unwritable sqlite path is ledger.unreachable naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ledger_test_" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "not a folder");
    const error = await rejects(() => openLedger(`sqlite:${dir}/file/ledger.db`), ResourceError);
    assertEquals(error.code, "ledger.unreachable");
    assert(error.message.includes(`${dir}/file/ledger.db`), error.message);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openLedger: a damaged sqlite file says to move it aside, not to check the folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ledger_test_" });
  try {
    await Deno.writeFile(`${dir}/ledger.db`, new Uint8Array(4096).map((_, i) => (i * 37) % 251));
    const error = await rejects(() => openLedger(`sqlite:${dir}/ledger.db`), ResourceError);
    assertEquals(error.code, "ledger.unreachable");
    assert(error.message.includes(`${dir}/ledger.db`), error.message);
    assert(/damaged .*move it aside/.test(error.message), error.message);
    assert(!/folder is writable/.test(error.message), error.message);
    // It does not fix itself: an asset's retry policy must not wait minutes to try again.
    assertEquals((error as { retryable?: unknown }).retryable, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openLedger: a ledger file from a newer version names the file, says to upgrade and is not retried", async () => {
  // Before: retryable, so raw_weather's retry policy waited 5 minutes before failing again.
  const dir = await Deno.makeTempDir({ prefix: "ledger_test_" });
  try {
    const db = new DatabaseSync(`${dir}/ledger.db`);
    db.exec("PRAGMA user_version = 99");
    db.close();
    const error = await rejects(() => openLedger(`sqlite:${dir}/ledger.db`), ResourceError);
    assertEquals(error.code, "ledger.unsupported_version");
    assert(error.message.includes(`'${dir}/ledger.db'`), error.message);
    assert(/schema version 99 .*upgrade the platform/.test(error.message), error.message);
    assertEquals((error as { retryable?: unknown }).retryable, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openLedger: mongodb:// fails fast and keeps the password out", async () => {
  const error = await rejects(
    () =>
      openLedger("mongodb://svc:p%40ss-w0rd@127.0.0.1:1/platform", {
        serverSelectionTimeoutMS: 300,
      }),
    ResourceError,
  );
  assertEquals(error.code, "ledger.unreachable");
  assert(error.message.includes("mongodb://svc:***@127.0.0.1:1/platform"), error.message);
  for (const secret of ["p%40ss-w0rd", "p@ss-w0rd"]) {
    assert(!error.message.includes(secret), error.message);
  }
});

Deno.test("openLedger: a malformed mongodb URI is a ConfigError", async () => {
  const error = await rejects(
    () => openLedger("mongodb://u:secret@host:notaport/db"),
    ConfigError,
  );
  assertEquals(error.code, "ledger.invalid_url");
  assert(!error.message.includes("secret"), error.message);
});

Deno.test("openLedger: a zero-byte ledger file (cut) is damaged, named and not retried; one being created opens", async () => {
  // Before: SQLite opened a zero-byte file as a new empty ledger, so a cut file's lineage was
  // silently replaced by nothing.
  const dir = await Deno.makeTempDir({ prefix: "ledger_test_" });
  try {
    const path = `${dir}/ledger.db`;
    await Deno.writeFile(path, new Uint8Array(0));
    const minuteAgo = new Date(Date.now() - 60_000);
    await Deno.utime(path, minuteAgo, minuteAgo);
    const error = await rejects(() => openLedger(`sqlite:${path}`), ResourceError);
    assertEquals(error.code, "ledger.unreachable");
    assert(error.message.includes(`'${path}'`), error.message);
    assert(/empty \(0 bytes.*was cut.*move it aside/.test(error.message), error.message);
    assertEquals((error as { retryable?: unknown }).retryable, false);
    assertEquals((await Deno.stat(path)).size, 0, "the cut file is left as it was");
    // Zero bytes for an instant: another process is making it (two daemons started together).
    await Deno.utime(path, new Date(), new Date());
    {
      await using ledger = await openLedger(`sqlite:${path}`);
      await ledger.ping();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
