/**
 * No secret leaves the process: every *_URL variable (and the S3 secret key)
 * gets a password of its own, then the real CLI runs with those URLs failing
 * in each way they can, and every output channel and every store the runs
 * wrote is searched for every password, raw and URL-encoded:
 *
 * - kinds of failure: a URL that does not parse (refused at start by the
 *   configuration, or by the driver for MongoDB's multi-host URIs), a server
 *   that is not there (closed loopback port), a server that refuses the
 *   request and echoes the URL it was asked back in its error body, and a
 *   run that succeeds against an API whose URL carries an `apikey=` (so the
 *   ledger documents and lake objects it writes are checked too);
 * - channels: stdout and stderr of `materialize --json`, `materialize` as a
 *   terminal user sees it, `doctor`, `sensor --once`, `runs`, `show`;
 * - stores: everything under STATE_DIR (run store, ledger, warehouse, dbt's
 *   target/) and the local lake (objects, sidecars, quarantine reports).
 *
 * Prints `secrets: tried N failures, checked M outputs and stored files,
 * leaked K`, and the reliability suite's count line `RELIABILITY secrets: ...`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { closedPort, startOpenMeteo } from "./_helpers/open_meteo.ts";
import { reliabilitySettings, reportCounts } from "./_helpers/reliability.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const REPO = new URL("../", import.meta.url).pathname;

/** One password per variable, with characters that need URL-encoding. */
const PASSWORDS = {
  LAKE_URL: "pw-Lake+1/x",
  S3_SECRET_ACCESS_KEY: "pw-S3key-2",
  LEDGER_URL: "pw-Ledger@3",
  WAREHOUSE_URL: "pw-Wh=4;x",
  RUNS_URL: "pw-Runs#5",
  SPATIAL_URL: "pw-Spatial 6",
  OPEN_METEO_ARCHIVE_URL: "pw-Meteo-7",
  OPEN_METEO_FORECAST_URL: "pw-Fcst-8",
} as const;

type UrlVariable = Exclude<keyof typeof PASSWORDS, "S3_SECRET_ACCESS_KEY">;

const enc = encodeURIComponent;

/** Each *_URL with its password; `port` 99999 does not parse, a closed one has no server. */
function badUrls(port: string, api?: string): Record<UrlVariable, string> {
  const p = PASSWORDS;
  const origin = api ?? `http://127.0.0.1:${port}`;
  return {
    LAKE_URL: `http://lake:${enc(p.LAKE_URL)}@127.0.0.1:${port}`,
    LEDGER_URL: `mongodb://ledger:${enc(p.LEDGER_URL)}@127.0.0.1:${port}/platform`,
    WAREHOUSE_URL: `postgres://wh:${enc(p.WAREHOUSE_URL)}@127.0.0.1:${port}/platform`,
    RUNS_URL: `postgres://runs:${enc(p.RUNS_URL)}@127.0.0.1:${port}/platform`,
    SPATIAL_URL: `postgres://sp:${enc(p.SPATIAL_URL)}@127.0.0.1:${port}/platform`,
    OPEN_METEO_ARCHIVE_URL: `${origin}/v1/archive?apikey=${p.OPEN_METEO_ARCHIVE_URL}`,
    OPEN_METEO_FORECAST_URL: `${origin}/v1/forecast?apikey=${p.OPEN_METEO_FORECAST_URL}`,
  };
}

/**
 * One run per variable: that variable bad, the rest embedded, and a selection
 * of assets that open its resource (so each failure path is taken, not hidden
 * behind the first resource to fail).
 */
const CASES: [variable: UrlVariable, selection: string[], sampleData: string][] = [
  ["LAKE_URL", ["ops/reconcile_lineage"], "false"],
  ["LEDGER_URL", ["ops/reconcile_lineage"], "false"],
  ["WAREHOUSE_URL", ["bronze_activity"], "false"],
  ["SPATIAL_URL", ["spatial/vector_geoparquet"], "true"],
  ["OPEN_METEO_ARCHIVE_URL", ["raw_weather", "--partition", "2026-11-02"], "false"],
  ["OPEN_METEO_FORECAST_URL", ["raw_weather"], "false"],
];

/** Variables the configuration itself parses: a URL of theirs that does not parse fails at start. */
const PARSED_AT_START = new Set<UrlVariable>([
  "LAKE_URL",
  "WAREHOUSE_URL",
  "RUNS_URL",
  "SPATIAL_URL",
  "OPEN_METEO_ARCHIVE_URL",
  "OPEN_METEO_FORECAST_URL",
  // A MongoDB host list's ports and hosts are checked at start too (dc59fc1).
  "LEDGER_URL",
]);

async function cli(args: string[], env: Record<string, string>, cwd: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd,
    env: { ...env, NO_COLOR: "1", DBT_PROJECT_DIR: join(REPO, "dbt") },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

/** `fn` over `items`, three at a time (each is a whole CLI process), results in order. */
async function inTurns<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return results;
}

/** Every file under `dir`, as bytes decoded leniently (binary stores included). */
async function storeContents(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) {
        out.set(path, new TextDecoder("latin1").decode(await Deno.readFile(path)));
      }
    }
  };
  await walk(dir).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  return out;
}

/** Which passwords (raw or URL-encoded) `text` holds. */
function leaks(text: string): string[] {
  return Object.entries(PASSWORDS).flatMap(([name, pw]) =>
    text.includes(pw) || text.includes(enc(pw)) ? [name] : []
  );
}

/**
 * A hostile API on loopback: refuses every request with 401 and quotes the
 * URL it was asked (with its `apikey`) in the error body, as some APIs do.
 */
function startEchoingApi(): { origin: string; close: () => Promise<void> } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) =>
      Response.json({ error: true, reason: `invalid apikey in ${request.url}` }, { status: 401 }),
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

Deno.test("secrets: no output channel or store carries a *_URL password, whatever fails", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "secrets-test-" });
  const channels: [string, string][] = [];
  let tried = 0;
  const echo = startEchoingApi();
  await using api = await startOpenMeteo();
  try {
    const base = (state: string) => ({
      STATE_DIR: state,
      LAKE_URL: `file://${state}/lake`,
      S3_ACCESS_KEY_ID: "platform",
      S3_SECRET_ACCESS_KEY: PASSWORDS.S3_SECRET_ACCESS_KEY,
      HTTP_TIMEOUT_MS: "2000",
    });

    await t.step("URLs that do not parse", async () => {
      const state = join(dir, "unparsable");
      const bad = badUrls("99999");
      const runs = await inTurns(CASES, ([variable, selection, sampleData]) => {
        const env = { ...base(state), SAMPLE_DATA: sampleData, [variable]: bad[variable] };
        return cli(["materialize", ...selection, "--json"], env, dir);
      });
      for (const [i, [variable]] of CASES.entries()) {
        const run = runs[i]!;
        tried++;
        assert.notEqual(run.code, 0, `${variable}: ${run.text.slice(-2000)}`);
        if (PARSED_AT_START.has(variable)) {
          assert.match(run.text, new RegExp(`${variable} is not a valid URL`), variable);
        } else {
          assert.match(run.text, /"status":"failed"/, variable);
        }
        channels.push([`unparsable ${variable}: materialize --json`, run.text]);
      }
      // The ledger's MongoDB URI (a host list URL cannot parse) is checked at start:
      // a usage/configuration error, exit 2, on a terminal as with --json.
      const ledger = { ...base(state), LEDGER_URL: bad.LEDGER_URL };
      const terminal = await cli(["materialize", "ops/reconcile_lineage"], ledger, dir);
      tried++;
      assert.equal(terminal.code, 2, terminal.text);
      assert.match(terminal.text, /LEDGER_URL is not a valid URL/);
      channels.push(["unparsable LEDGER_URL: materialize", terminal.text]);
      const doctors = await inTurns(
        [...PARSED_AT_START],
        (variable) =>
          cli(["doctor", "--timeout", "4000"], { ...base(state), [variable]: bad[variable] }, dir),
      );
      for (const [i, variable] of [...PARSED_AT_START].entries()) {
        tried++;
        assert.notEqual(doctors[i]!.code, 0, doctors[i]!.text);
        channels.push([`unparsable ${variable}: doctor`, doctors[i]!.text]);
      }
      for (const [path, bytes] of await storeContents(state)) channels.push([path, bytes]);
    });

    await t.step("servers that are not there, or refuse and echo the URL", async () => {
      const state = join(dir, "unreachable");
      const bad = badUrls(String(closedPort()), echo.origin);
      let runId: string | undefined;
      const runs = await inTurns(CASES, ([variable, selection, sampleData]) => {
        const env = { ...base(state), SAMPLE_DATA: sampleData, [variable]: bad[variable] };
        return cli(["materialize", ...selection, "--json"], env, dir);
      });
      for (const [i, [variable]] of CASES.entries()) {
        const run = runs[i]!;
        tried++;
        assert.equal(run.code, 1, `${variable}: ${run.text.slice(-2000)}`);
        assert.match(run.text, /"status":"failed"/, variable);
        channels.push([`unreachable ${variable}: materialize --json`, run.text]);
        runId ??= /"run_id":"([0-9a-f-]{36})"/.exec(run.text)?.[1];
      }
      // Every resource down at once, each probed on its own (the run store too).
      const doctor = await cli(["doctor", "--timeout", "4000"], { ...base(state), ...bad }, dir);
      tried++;
      assert.equal(doctor.code, 1, doctor.text);
      channels.push(["unreachable: doctor, all down", doctor.text]);
      const sensor = await cli(["sensor", "--once", "--json"], {
        ...base(state),
        ...bad,
        RUNS_URL: `sqlite:${state}/runs.db`,
      }, dir);
      tried++;
      channels.push(["unreachable: sensor --once", sensor.text]);
      // What the run store recorded, printed back.
      assert.ok(runId, "the runs were recorded");
      const listed = await cli(["runs"], base(state), dir);
      channels.push(["unreachable: runs", listed.text]);
      const show = await cli(["show", runId], base(state), dir);
      assert.equal(show.code, 0, show.text);
      channels.push(["unreachable: show", show.text]);
      // The run store itself down: the CLI fails before any run.
      const noStore = await cli(["materialize", "bronze_activity"], {
        ...base(state),
        RUNS_URL: bad.RUNS_URL,
      }, dir);
      tried++;
      assert.notEqual(noStore.code, 0);
      channels.push(["unreachable: materialize, run store down", noStore.text]);
      for (const [path, bytes] of await storeContents(state)) channels.push([path, bytes]);
    });

    await t.step("a run that succeeds on an API URL with a key: ledger and lake", async () => {
      const state = join(dir, "success");
      const env = {
        ...base(state),
        SAMPLE_DATA: "false",
        OPEN_METEO_ARCHIVE_URL: `${api.archiveUrl}?apikey=${PASSWORDS.OPEN_METEO_ARCHIVE_URL}`,
      };
      const run = await cli(["materialize", "raw_weather", "--partition", "2026-11-20"], env, dir);
      assert.equal(run.code, 0, run.text);
      assert.ok(
        api.requests.some((r) => r.params.get("apikey") === PASSWORDS.OPEN_METEO_ARCHIVE_URL),
        "the key was sent to the API",
      );
      channels.push(["success: materialize", run.text]);
      const stored = await storeContents(state);
      assert.ok([...stored.keys()].some((p) => p.endsWith("ledger.db")), "a ledger was written");
      for (const [path, bytes] of stored) channels.push([path, bytes]);
    });

    const leaked = channels.flatMap(([name, text]) => leaks(text).map((v) => `${v} in ${name}`));
    console.log(
      `secrets: tried ${tried} failures, checked ${channels.length} outputs and stored files ` +
        `for ${Object.keys(PASSWORDS).length} secrets; leaked ${leaked.length}`,
    );
    // The reliability suite's count line (tests/_helpers/reliability.ts): a failure is handled
    // when no output channel or store carries a password; each password found is a leak.
    const leakingChannels = new Set(
      channels.filter(([, text]) => leaks(text).length > 0).map(([name]) => name),
    );
    await reportCounts("secrets", {
      tried,
      handled: Math.max(0, tried - leakingChannels.size),
      lost: 0,
      leaked: leaked.length,
    }, {
      seed: reliabilitySettings().seed,
      detail: `${channels.length} outputs and stored files searched for ` +
        `${Object.keys(PASSWORDS).length} passwords, raw and URL-encoded`,
    });
    assert.deepEqual(leaked, []);
    // The failures were real and named their servers, only without the password.
    const all = channels.map(([, text]) => text).join("\n");
    for (
      const shown of [
        "postgres://wh:***@",
        "postgres://sp:***@",
        "postgres://runs:***@",
        "mongodb://ledger:***@",
        "http://lake:***@",
      ]
    ) {
      assert.ok(all.includes(shown), `${shown} named in some output`);
    }
    assert.match(all, /apikey=\*\*\*/);
    assert.match(all, /invalid apikey in/, "the API's own error text was shown, redacted");
  } finally {
    await echo.close();
    await Deno.remove(dir, { recursive: true });
  }
});
