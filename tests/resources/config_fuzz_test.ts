/**
 * Seeded fuzz of the configuration: every variable the schema reads, set to
 * values a shell, a `.env` or a template leaves by mistake (empty,
 * whitespace, unicode, control characters, very long, numbers of every
 * shape, URLs missing a part, a password). Loading either succeeds or throws
 * a ConfigError whose message names each bad variable, shows no password,
 * no raw control character and stays short; nothing else is thrown.
 *
 * `CONFIG_FUZZ_CASES` (default 300) and `CONFIG_FUZZ_SEED` (default 5).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConfigError } from "../../core/errors.ts";
import { ConfigSchema, loadConfig } from "../../resources/config.ts";
import { Random } from "../_helpers/reliability.ts";

const CASES = Number(Deno.env.get("CONFIG_FUZZ_CASES") ?? 300);
const SEED = Number(Deno.env.get("CONFIG_FUZZ_SEED") ?? 5);
const PASSWORD = "Pa55w0rdXYZ";

const VALUES: readonly string[] = [
  "",
  " ",
  "\t\n",
  "0",
  "-1",
  "1.5",
  "0x10",
  "1e3",
  "99999999999999999999",
  "NaN",
  "true",
  "ünïcödé",
  "\u001b[2J",
  "a\u0000b",
  "\u202eevil",
  "x".repeat(20_000),
  "file://",
  "file:",
  "s3://bücket",
  "s3://",
  "http://",
  "https://h:0",
  "https://h:99999",
  `postgres://app:${PASSWORD}@db:5432/x`,
  `postgres://app:${PASSWORD}@ü/x`,
  `mongodb://app:${PASSWORD}@h1,h2:70000/x`,
  `http://app:${PASSWORD}@h:9000`,
  "sqlite:",
  "sqlite::memory:",
  "pglite:",
  "pglite:memory:",
  "duckdb:",
  "memory:",
  "spatialite:",
  "EPSG:4326",
  "2026-02-30",
  "auto",
  "native",
  "p%ss",
  // Numbers out of range or in other shapes.
  "2147483648",
  "4294967296",
  "-0",
  "+5",
  " 5 ",
  "5ms",
  "5_000",
  "\u0661\u0662\u0663",
  "0.0001",
  // Ports, schemes and credentials with special characters.
  "postgres://app@127.0.0.1:-1/x",
  "postgres://app@127.0.0.1:5432:1/x",
  "postgres://app@[::1/x",
  `postgres://app:${PASSWORD}#x@db/x`,
  `postgres://app:${PASSWORD}?x@db/x`,
  `postgres://app:${PASSWORD}%zz@db/x`,
  `postgres://a%40b:${PASSWORD}@db/x`,
  `mongodb+srv://app:${PASSWORD}@h:27017/x`,
  `mongodb://app:${PASSWORD}@/x`,
  `s3://app:${PASSWORD}@bucket`,
  `http://app:${PASSWORD}@127.0.0.1:9000/`,
  "https://[::1]:9000",
  "ftp://h/x",
  "javascript:alert(1)",
  "file:///dev/null",
  "file://host/share",
  "sqlite:/dev/null",
  "pglite:///",
  "duckdb:?x=1",
  `smtp://app:${PASSWORD}@h:25?to=a@b`,
  "HTTP://H",
];

Deno.test(`config fuzz: ${CASES} environments (seed ${SEED}) load or fail naming each bad variable`, () => {
  const names = Object.keys(ConfigSchema.shape);
  const rng = new Random(SEED);
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const env: Record<string, string> = { RUNS_URL: "memory:", LEDGER_URL: "memory:" };
    for (let n = rng.int(1, 4); n > 0; n--) {
      const name = i < names.length && n === 1 ? names[i]! : rng.pick(names);
      env[name] = rng.pick(VALUES);
    }
    const where = `case ${i} (seed ${SEED}): ${JSON.stringify(env).slice(0, 300)}`;
    try {
      loadConfig({ env, dotenvPath: null });
    } catch (error) {
      if (!(error instanceof ConfigError)) {
        failures.push(`${where}: threw ${String(error)}`);
        continue;
      }
      const message = error.message;
      if (message.includes(PASSWORD)) failures.push(`${where}: password shown: ${message}`);
      // deno-lint-ignore no-control-regex
      if (/[\u0000-\u001f\u007f\u202e]/.test(message)) {
        failures.push(
          `${where}: raw control character in ${JSON.stringify(message.slice(0, 300))}`,
        );
      }
      if (message.includes("[object Object]")) failures.push(`${where}: [object Object]`);
      if (message.length > 4000) failures.push(`${where}: ${message.length} characters`);
      const named = names.filter((name) => message.includes(`${name} (`));
      if (named.length === 0) {
        failures.push(`${where}: names no variable: ${message.slice(0, 300)}`);
      }
      for (const name of named) {
        if (!(name in env) && !/^(LEDGER|WAREHOUSE|RUNS)_URL$/.test(name)) {
          failures.push(`${where}: blames ${name}, which was not set: ${message.slice(0, 300)}`);
        }
      }
    }
  }
  assert.deepEqual(failures.slice(0, 20), [], `${failures.length} of ${CASES} cases failed`);
});
