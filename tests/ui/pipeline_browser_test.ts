/**
 * The UI over the real project, as a user meets it: `deno task materialize`
 * on embedded defaults (in a temporary folder, weather from a loopback
 * Open-Meteo), then `deno task ui --port 0`, then Chromium on the pages that
 * need real data: the marts dashboard (charts with points), the map (drawn
 * features), the data preview of the bronze tables and dbt models with their
 * compiled SQL, and the lake browser from an object to its ledger document.
 * Screenshots go to `test-artifacts/ui/pipeline-*.png`.
 *
 * @module
 */

import puppeteer, { type Page } from "puppeteer-core";
import { assert, assertEquals } from "./_assert.ts";
import { startOpenMeteo } from "../_helpers/open_meteo.ts";
import { chromiumPath, needs } from "../_helpers/tools.ts";
import { BROWSER_WAIT_MS } from "./_browser.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ARTIFACTS = `${ROOT}test-artifacts/ui/`;

/** The environment of both commands: every store in `dir`, weather from `api`. */
function projectEnv(dir: string, api: { archiveUrl: string; forecastUrl: string }) {
  const today = new Date();
  const start = new Date(today.getTime() - 2 * 86_400_000).toISOString().slice(0, 10);
  return {
    STATE_DIR: `${dir}/state`,
    LAKE_URL: `file://${dir}/lake`,
    LEDGER_URL: `sqlite:${dir}/ledger.db`,
    WAREHOUSE_URL: `pglite:${dir}/warehouse`,
    RUNS_URL: `sqlite:${dir}/runs.db`,
    OPEN_METEO_ARCHIVE_URL: api.archiveUrl,
    OPEN_METEO_FORECAST_URL: api.forecastUrl,
    WEATHER_START_DATE: start,
    SAMPLE_DATA: "true",
    NO_COLOR: "1",
  };
}

/** Reads `stream` until a line matches `pattern`; returns the match and keeps draining. */
async function untilLine(
  stream: ReadableStream<Uint8Array>,
  pattern: RegExp,
  seen: string[],
): Promise<RegExpExecArray> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the UI exited before printing ${pattern}: ${seen.join("")}`);
    buffer += value;
    seen.push(value);
    const match = pattern.exec(buffer);
    if (match) {
      // Keep reading so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })().catch(() => {});
      return match;
    }
  }
}

async function shot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name}.png` as `${string}.png`, fullPage: true });
}

Deno.test({
  name:
    "pipeline in the browser: marts charts, map, previews, compiled SQL and lineage show real data",
  ignore: await needs("chromium"),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ui-pipeline-" });
    await using api = await startOpenMeteo();
    const env = projectEnv(dir, api);
    try {
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "materialize", "--json"],
        cwd: ROOT,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const err = new TextDecoder().decode(run.stderr);
      assertEquals(run.code, 0, `materialize failed:\n${err.slice(-3000)}`);

      const ui = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "ui", "--port", "0"],
        cwd: ROOT,
        env,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output: string[] = [];
      const stderr = ui.stderr.pipeThrough(new TextDecoderStream()).getReader();
      (async () => {
        for (;;) {
          const { value, done } = await stderr.read();
          if (done) break;
          output.push(value);
        }
      })().catch(() => {});
      const browser = await puppeteer.launch({
        executablePath: chromiumPath(),
        args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        timeout: BROWSER_WAIT_MS,
        protocolTimeout: BROWSER_WAIT_MS,
      });
      try {
        const [, base] = await untilLine(ui.stdout, /UI_URL=(\S+)\n/, output);
        const page = await browser.newPage();
        page.setDefaultTimeout(BROWSER_WAIT_MS);
        page.setDefaultNavigationTimeout(BROWSER_WAIT_MS);
        await page.setViewport({ width: 1400, height: 1000 });
        const problems: string[] = [];
        page.on("console", (m) => {
          if (m.type() === "error") problems.push(`console: ${m.text()}`);
        });
        page.on("pageerror", (e) => problems.push(`page error: ${e}`));
        page.on("response", (r) => {
          if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`);
        });
        const open = async (path: string) => {
          await page.goto(`${base}${path}`, { waitUntil: "networkidle0" });
        };

        await open("/assets");
        const states = await page.$$eval(
          "a.node",
          (nodes) => Object.fromEntries(nodes.map((n) => [n.dataset.key, n.dataset.state])),
        );
        for (const key of ["bronze_weather", "bronze_activity", "fct_weather_daily"]) {
          assertEquals(states[key], "materialized", `${key}: ${JSON.stringify(states)}`);
        }
        await shot(page, "pipeline-graph");

        await open("/marts");
        const places = await page.$$eval("#weather .place", (p) => p.length);
        assert(places >= 1, "a weather chart per place");
        const weatherPoints = await page.$$eval("#weather svg.chart .pt", (p) => p.length);
        assert(weatherPoints >= 3 * places, `weather points: ${weatherPoints}`);
        const activityPoints = await page.$$eval("#activity svg.chart .pt", (p) => p.length);
        assert(activityPoints > 20, `activity points: ${activityPoints}`);
        assertEquals(await page.$$eval("main .warn", (w) => w.length), 0);
        await shot(page, "pipeline-marts");

        await open("/map");
        const features = await page.$$eval("svg.map path.feature", (p) => p.length);
        assert(features >= 10, `features drawn: ${features}`);
        assertEquals(await page.$$eval("svg.map g.layer.cog", (g) => g.length), 1);
        await shot(page, "pipeline-map");

        for (
          const [key, table] of [
            ["bronze_activity", "raw.daily_activity"],
            ["bronze_activity", "raw.sleep"],
            ["bronze_weather", "raw.raw_weather"],
          ]
        ) {
          await open(`/assets/${encodeURIComponent(key as string)}`);
          await shot(page, `pipeline-${key}`);
          const rows = await page.$$eval(
            `table.preview[data-preview="${table}"] tbody tr`,
            (r) => r.length,
          );
          assert(rows > 0, `${key} previews ${table}`);
        }

        await open("/assets/fct_weather_daily");
        const sql = await page.$eval("pre[data-compiled-sql]", (p) => p.textContent ?? "");
        assert(/select/i.test(sql) && sql.includes("stg_weather_data"), sql.slice(0, 300));
        assert(!sql.includes("{{"), "compiled, not raw Jinja");
        const dates = await page.$$eval(
          "table.preview tbody tr td",
          (cells) => cells.map((c) => c.textContent ?? ""),
        );
        assert(dates.some((d) => /^\d{4}-\d{2}-\d{2}$/.test(d)), "date columns as dates");
        await shot(page, "pipeline-dbt-model");

        await open("/lake?bucket=data-lake");
        await Promise.all([page.waitForNavigation(), page.click("tr.folder a")]);
        while (!(await page.$("tr.object a"))) {
          await Promise.all([page.waitForNavigation(), page.click("tr.folder a")]);
        }
        await Promise.all([page.waitForNavigation(), page.click("tr.object a")]);
        const lineage = await page.$eval(".lineage", (l) => l.textContent ?? "");
        assert(lineage.includes("written by run"), lineage.slice(0, 300));
        await shot(page, "pipeline-lake-object");
        assertEquals(problems, []);
      } finally {
        await browser.close();
        ui.kill("SIGINT");
        const status = await ui.status;
        assertEquals(status.code, 0, output.join(""));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
