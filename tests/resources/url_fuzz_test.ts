/**
 * Seeded fuzz of the server URL variables past the start-up check: URLs built
 * from schemes, user names and passwords with every special character
 * (encoded and not), loopback hosts in each notation, ports in and out of
 * range, paths and query strings. A URL the configuration refuses must be a
 * ConfigError naming its variable; one it accepts is opened (nothing listens
 * on the loopback port, so opening fails), and that failure must be a typed
 * error with a code, within a bound, without the password, a stack or
 * `[object Object]`. Every host is on 127.0.0.0/8 or ::1: no traffic leaves
 * the machine.
 *
 * `URL_FUZZ_CASES` (default 60, a few seconds) and `URL_FUZZ_SEED` (default 3).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError, PlatformError, toError } from "../../core/errors.ts";
import { loadConfig } from "../../resources/config.ts";
import { openLedger } from "../../resources/ledger/open.ts";
import { openRunStore } from "../../resources/run_store/open.ts";
import { openWarehouse } from "../../resources/warehouse/open.ts";
import { Random } from "../_helpers/reliability.ts";

const CASES = Number(Deno.env.get("URL_FUZZ_CASES") ?? 60);
const SEED = Number(Deno.env.get("URL_FUZZ_SEED") ?? 3);
const SECRET = "Zq9sEcReT";

/** A loopback port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const VARIABLES: Readonly<Record<string, readonly string[]>> = {
  RUNS_URL: ["postgres", "postgresql"],
  WAREHOUSE_URL: ["postgres", "postgresql"],
  LEDGER_URL: ["mongodb"],
};

const USERS = ["app", "", "a@b", "a%40b", "ü", "a:b", "a b", "a%2Fb"];
const PASSWORDS = [
  SECRET,
  `${SECRET}@x`,
  `${SECRET}%40x`,
  `${SECRET}:x`,
  `${SECRET}#x`,
  `${SECRET}?x`,
  `${SECRET}%`,
  `${SECRET}%zz`,
  `${SECRET}%2F`,
  `${SECRET}"'\\`,
  `${SECRET} x`,
  `${SECRET}ü`,
];
const HOSTS = ["127.0.0.1", "localhost", "[::1]", "127.0.0.2", "::1", "[::1", "", "127.1"];
const PATHS = ["/db", "", "/", "/d%20b", "/db/extra", "/ü", "/db?sslmode=disable", "/db?x=%"];

Deno.test(`URL fuzz: ${CASES} server URLs (seed ${SEED}) are refused at start or fail to open typed and masked`, async () => {
  const rng = new Random(SEED);
  const port = closedPort();
  const ports = [String(port), "", "0", "65536", "-1", "abc", `${port}:1`, "99999999999"];
  const failures: string[] = [];
  let opens = 0;
  for (let i = 0; i < CASES; i++) {
    const variable = rng.pick(Object.keys(VARIABLES));
    const scheme = rng.pick(VARIABLES[variable]!);
    // One part drawn from every value, the others from the well-formed ones (the first few
    // of each list), so that most URLs pass the start-up check and reach the opener.
    const odd = rng.int(0, 4);
    const part = (n: number, values: readonly string[], good: number) =>
      rng.pick(odd === n ? values : values.slice(0, good));
    const user = part(0, USERS, 2);
    const password = part(1, PASSWORDS, 3);
    const host = part(2, HOSTS, 4);
    const p = part(3, ports, 1);
    const path = part(4, PATHS, 4);
    const userinfo = user === "" && rng.int(0, 1) === 0 ? "" : `${user}:${password}@`;
    const url = `${scheme}://${userinfo}${host}${p === "" ? "" : `:${p}`}${path}`;
    const where = `case ${i} (seed ${SEED}): ${variable}=${url}`;
    const check = (text: string, what: string) => {
      if (text.includes(SECRET)) failures.push(`${where}: ${what} shows the password: ${text}`);
      if (/\[object Object\]|\n\s+at /.test(text)) failures.push(`${where}: ${what}: ${text}`);
    };
    let config;
    try {
      config = loadConfig({ env: { [variable]: url }, dotenvPath: null });
    } catch (error) {
      if (!(error instanceof ConfigError)) failures.push(`${where}: start threw ${String(error)}`);
      else if (!error.message.includes(variable)) failures.push(`${where}: ${error.message}`);
      check(toError(error).message, "start");
      continue;
    }
    const started = performance.now();
    opens++;
    try {
      const opened = variable === "RUNS_URL"
        ? await openRunStore(config.RUNS_URL, { connectTimeoutSeconds: 2 })
        : variable === "WAREHOUSE_URL"
        ? await openWarehouse(config.WAREHOUSE_URL, {
          connectTimeoutSeconds: 2,
          onNotice: () => {},
        })
        : await openLedger(config.LEDGER_URL, { serverSelectionTimeoutMS: 1000 });
      failures.push(`${where}: opened (nothing listens there)`);
      await (opened as Partial<AsyncDisposable>)[Symbol.asyncDispose]?.();
    } catch (error) {
      const text = `${toError(error).message} ${String(toError(error).cause ?? "")}`;
      if (!(error instanceof PlatformError)) {
        failures.push(`${where}: untyped ${toError(error).name}: ${text.slice(0, 300)}`);
      }
      check(text, "open");
    }
    const took = performance.now() - started;
    if (took > 15_000) failures.push(`${where}: took ${Math.round(took)} ms to fail`);
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${CASES} cases failed`);
  // Not all refused at start: the openers are what this is about.
  assert.ok(opens >= CASES / 5, `only ${opens} of ${CASES} URLs passed the start-up check`);
  console.log(`${opens} of ${CASES} URLs opened and failed cleanly; the rest refused at start`);
});
