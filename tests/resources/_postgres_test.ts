import assert from "node:assert/strict";
import { ResourceError } from "../../core/errors.ts";
import {
  connectPostgres,
  isConnectionFailure,
  isTransient,
  serverMessage,
  sqlStateOf,
} from "../../resources/_postgres.ts";
import { startPostgres } from "../_helpers/postgres.ts";
import { needs } from "../_helpers/tools.ts";

const coded = (code: string, message = "boom") => Object.assign(new Error(message), { code });

const TARGET = { what: "the run store", variable: "RUNS_URL", code: "run_store.unreachable" };

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("driver errors are classified once: connection failure, transient, permanent", async (t) => {
  const cases: [what: string, error: unknown, connection: boolean, transient: boolean][] = [
    ["refused", coded("ECONNREFUSED"), true, true],
    ["reset", coded("ECONNRESET"), true, true],
    ["postgres.js lost the socket", coded("CONNECTION_CLOSED"), true, true],
    ["connect timeout", coded("CONNECT_TIMEOUT"), true, true],
    ["server shut down (pg_ctl restart)", coded("57P01"), true, true],
    ["server crashed", coded("57P02"), true, true],
    ["server starting up", coded("57P03"), true, true],
    ["connection exception class 08", coded("08006"), true, true],
    ["bad password", coded("28P01"), true, false],
    ["no such database", coded("3D000"), true, false],
    ["serialization failure", coded("40001"), false, true],
    ["deadlock", coded("40P01"), false, true],
    ["too many connections", coded("53300"), false, true],
    ["syntax error", coded("42601"), false, false],
    ["unique violation", coded("23505"), false, false],
    ["statement timeout", coded("57014"), false, false],
    ["plain error", new Error("x"), false, false],
    ["a string", "x", false, false],
    ["null", null, false, false],
  ];
  for (const [what, error, connection, transient] of cases) {
    await t.step(what, () => {
      assert.equal(isConnectionFailure(error), connection);
      assert.equal(isTransient(error), transient);
    });
  }
});

Deno.test("serverMessage appends detail, context and the code; sqlStateOf reads SQLSTATEs only", () => {
  const error = Object.assign(new Error("duplicate key"), {
    code: "23505",
    detail: "Key (id)=(1) exists.",
    where: "COPY t, line 2",
  });
  assert.equal(
    serverMessage(error),
    "duplicate key; detail: Key (id)=(1) exists.; at COPY t, line 2; SQLSTATE 23505",
  );
  assert.equal(sqlStateOf(error), "23505");
  assert.equal(sqlStateOf(coded("ECONNREFUSED")), undefined);
  assert.equal(serverMessage(coded("ECONNREFUSED", "refused")), "refused; ECONNREFUSED");
});

Deno.test("a URL postgres.js cannot parse fails naming the variable, never the password", () => {
  const url = "postgres://etl:SECRETPASS@127.0.0.1:99999/x";
  let caught: unknown;
  try {
    connectPostgres(url, TARGET, { application: "test" });
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ResourceError, String(caught));
  assert.equal(caught.code, "run_store.unreachable");
  assert.match(caught.message, /^Cannot connect to the run store at .* \(RUNS_URL\): /);
  const shown = `${caught.message}\n${caught.stack}\n${Deno.inspect(caught, { depth: 5 })}`;
  assert.ok(!shown.includes("SECRETPASS"), shown);
});

Deno.test("a server that does not answer is reported unreachable, scrubbed", async () => {
  const url = `postgres://etl:SECRETPASS@127.0.0.1:${closedPort()}/x`;
  const db = connectPostgres(url, TARGET, { application: "test", connectTimeoutSeconds: 2 });
  assert.equal(db.location, url.replace(":SECRETPASS@", ":***@"));
  try {
    const error = await db.sql.unsafe("SELECT 1").then(() => undefined, (e: unknown) => e);
    assert.ok(isConnectionFailure(error));
    assert.ok(isTransient(error));
    const typed = db.unreachable(error);
    assert.equal(typed.code, "run_store.unreachable");
    assert.equal(typed.input, "RUNS_URL");
    assert.match(typed.message, /\(RUNS_URL\): .*ECONNREFUSED/);
    assert.ok(!Deno.inspect(typed, { depth: 5 }).includes("SECRETPASS"));
  } finally {
    await db.close(1);
  }
});

Deno.test("connectPostgres refuses a negative statement timeout before connecting", () => {
  assert.throws(
    () =>
      connectPostgres("postgres://127.0.0.1/x", TARGET, {
        application: "test",
        statementTimeoutMs: -1,
      }),
    RangeError,
  );
});

Deno.test({
  name: "a pool used while its server was down a dozen seconds answers within " +
    "2 s of the server's return",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  assert.ok(pg.restart, "a throwaway cluster");
  const db = connectPostgres(pg.url, TARGET, { application: "reconnect-test", max: 1 });
  const random = Math.random;
  // The longest jitter every time: the pauses are then known (postgres.js's curve reaches its
  // 20 s step at the 7th failed try, 10.9 s after the first).
  Math.random = () => 0.999_999;
  try {
    await db.sql.unsafe("SELECT 1");
    await pg.restart({
      whileDown: async () => {
        const first = Date.now();
        while (Date.now() - first < 12_000) {
          await db.sql.unsafe("SELECT 1").catch(() => {});
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      },
    });
    const upAt = Date.now();
    for (;;) {
      const ok = await db.sql.unsafe("SELECT 1").then(() => true, () => false);
      if (ok) break;
      assert.ok(Date.now() - upAt < 30_000, "the pool never answered again");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const tookMs = Date.now() - upAt;
    assert.ok(tookMs < 2_000 + 1_000, `answered ${tookMs} ms after the server was back`);
  } finally {
    Math.random = random;
    await db.close();
  }
});
