/**
 * Seeded fuzz of the UI's routes: every route template with random path
 * segments (traversal, bad percent-encoding, unicode, control characters,
 * very long), random query parameters and methods, sent while a run is
 * going. No answer is a 5xx (but the 503 of the lake and ledger routes of a
 * UI started without them), none shows a stack or `[object Object]`, and
 * every one arrives (no hang).
 *
 * `UI_FUZZ_CASES` (default 150) and `UI_FUZZ_SEED` (default 3).
 *
 * @module
 */

import { assertEquals } from "./_assert.ts";
import { fixtureServer } from "./_fixture.ts";
import { Random } from "../_helpers/reliability.ts";

const CASES = Number(Deno.env.get("UI_FUZZ_CASES") ?? 150);
const SEED = Number(Deno.env.get("UI_FUZZ_SEED") ?? 3);

const TEMPLATES: readonly string[] = [
  "/",
  "/assets/:x",
  "/assets/:x/:x",
  "/runs",
  "/runs/:x",
  "/launch",
  "/queue",
  "/lake",
  "/lake/object",
  "/lake/doc/:x",
  "/automation/:x",
  "/marts",
  "/map",
  "/static/:x",
  "/api",
  "/api/assets",
  "/api/assets/:x",
  "/api/assets/:x/materializations",
  "/api/assets/:x/checks",
  "/api/assets/:x/partitions",
  "/api/assets/:x/preview",
  "/api/asset-states",
  "/api/graph",
  "/api/selection",
  "/api/runs",
  "/api/runs/:x",
  "/api/runs/:x/events",
  "/api/automation",
  "/api/automation/:x/ticks",
  "/api/queue",
  "/api/lake/objects",
  "/api/ledger/:x",
  "/actions/launch",
  "/actions/runs/:x/cancel",
  "/actions/runs/:x/reexecute",
  "/actions/automation/:x",
  "/:x",
];

/** Path segments, already encoded where they must be. */
const SEGMENTS: readonly string[] = [
  "clean_events",
  "raw_events",
  "..",
  "%2e%2e",
  "..%2f..%2fetc%2fpasswd",
  "%00",
  "%1b%5b2J",
  "%E2%80%AE",
  "%",
  "%ZZ",
  "%E0%A4%A",
  "%C0%AF",
  "%FF",
  "%F0%9F%92%A9",
  "ünïcödé",
  "a".repeat(3000),
  "app.js",
  "app.css",
  "00000000-0000-0000-0000-000000000000",
  "-1",
  "1e400",
  "%7B%7D",
  "%3Cscript%3E",
];

const PARAMS: readonly string[] = [
  "q",
  "page",
  "limit",
  "status",
  "selection",
  "exclude",
  "partition",
  "bucket",
  "prefix",
  "key",
  "token",
  "before",
  "after",
  "since",
  "tag",
  "draw",
  "state",
  "level",
  "type",
  "step",
];

const VALUES: readonly string[] = [
  "",
  "0",
  "-1",
  "99999999999999999999",
  "1e400",
  "NaN",
  "north",
  "north,,south",
  "..%2f..",
  "%00",
  "%",
  "%ZZ",
  "%E2%80%AE",
  "x".repeat(2000),
  "%5B%5D",
  "+clean_events",
  "group%3A",
  "data-lake",
  "running",
];

/** Request bodies: good ones, and every shape a script gets wrong. */
const BODIES: readonly string[] = [
  '{"selection":"clean_events"}',
  "{",
  "selection=%00",
  "",
  "[]",
  '{"enabled":"maybe"}',
  '{"selection":[]}',
  '{"selection":""}',
  '{"selection":","}',
  '{"selection":5}',
  '{"selection":{"key":"clean_events"}}',
  '{"selection":["clean_events",null]}',
  '{"selection":"clean_events","tags":{"a":{"b":1}}}',
  '{"selection":"clean_events","tags":[1,2]}',
  '{"selection":"clean_events","partition":{}}',
  '{"selection":"clean_events","priority":1.5}',
  '{"selection":"clean_events","max_retries":-1}',
  '{"selection":"clean_events","from":"2024-13-01","to":"x"}',
  '{"selection":"clean_events","backfill":true}',
  '{"selection":"clean_events","stale":"maybe"}',
  '{"selection":"clean_events","selection":"raw_events"}',
  `{"selection":${"[".repeat(5000)}${"]".repeat(5000)}}`,
  `{"selection":"${"a".repeat(100_000)}"}`,
  '{"__proto__":{"selection":"x"}}',
  '{"constructor":{"prototype":{"x":1}}}',
  "selection=clean_events&selection=raw_events",
  "selection=&exclude=",
  "selection=%E2%80%AE&tags=a%3Db%2Cc",
  "enabled=true&enabled=false",
  '{"enabled":null}',
];

const METHODS: readonly string[] = [
  "GET",
  "GET",
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "OPTIONS",
  "PATCH",
];

Deno.test(`UI fuzz: ${CASES} requests (seed ${SEED}) during a run: no 5xx, no stack, no hang`, async () => {
  const { server, release } = await fixtureServer();
  await using _ = server;
  const rng = new Random(SEED);
  const failures: string[] = [];
  try {
    // A run that holds until released: the requests go on while it runs.
    const launch = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ selection: "slow" }),
    });
    assertEquals(launch.status, 200, await launch.text());
    for (let i = 0; i < CASES; i++) {
      const template = i < TEMPLATES.length ? TEMPLATES[i]! : rng.pick(TEMPLATES);
      let path = template.replaceAll(":x", () => rng.pick(SEGMENTS));
      const query = Array.from(
        { length: rng.int(0, 3) },
        () => `${rng.pick(PARAMS)}=${rng.pick(VALUES)}`,
      );
      if (query.length > 0) path += `?${query.join("&")}`;
      const method = path.startsWith("/actions/") && rng.chance(0.7) ? "POST" : rng.pick(METHODS);
      const where = `case ${i} (seed ${SEED}): ${method} ${path.slice(0, 200)}`;
      // Not followed: a launch redirects to its run's page, whose failed steps show their stacks.
      const init: RequestInit = { method, redirect: "manual", signal: AbortSignal.timeout(10_000) };
      if (method === "POST" || method === "PUT" || method === "PATCH") {
        init.headers = {
          "content-type": rng.pick([
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "text/plain",
          ]),
        };
        init.body = rng.pick(BODIES);
      }
      let res: Response;
      try {
        res = await fetch(`${server.url}${path}`, init);
      } catch (error) {
        failures.push(`${where}: ${String(error)}`);
        continue;
      }
      const text = await res.text();
      // This UI has no lake and no ledger: their routes say so with a 503.
      const unconfigured = res.status === 503 && /^\/api\/(lake|ledger)\//.test(path);
      if (res.status >= 500 && !unconfigured) {
        failures.push(`${where}: ${res.status} ${text.slice(0, 200)}`);
      }
      if (/\n\s+at .*:\d+:\d+|\[object Object\]/.test(text)) {
        failures.push(`${where}: stack or [object Object] in ${text.slice(0, 300)}`);
      }
    }
  } finally {
    release();
  }
  assertEquals(failures.slice(0, 20), [], `${failures.length} of ${CASES} requests failed`);
});
