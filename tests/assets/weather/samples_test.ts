/**
 * The synthetic Open-Meteo samples of sample_data/weather: their format, their
 * agreement with the generator and config/places.json, the replay source's
 * answers (verbatim, re-dated, none), and the quick-start path end to end:
 * SAMPLE_DATA=true makes `http` the replay client, and the weather pipeline
 * succeeds offline with provenance in the ledger.
 */

import assert from "node:assert/strict";
import { cycleDay, openMeteoSamples } from "../../../assets/weather/samples.ts";
import { parseWeatherResponse, weatherRequestUrl } from "../../../assets/weather/open_meteo.ts";
import { weatherAssets } from "../../../assets/weather/mod.ts";
import { ConfigError } from "../../../core/errors.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize } from "../../../core/executor.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { FakeClock } from "../../../core/testing.ts";
import { FetchHttpClient, ReplayHttpClient } from "../../../resources/http/mod.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { type AppResources, appResources, loadConfig } from "../../../resources/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { sampleFiles, type SampleIndex } from "../../../sample_data/weather/_generate.ts";

const DIR = new URL("../../../sample_data/weather/", import.meta.url);
const INDEX = JSON.parse(await Deno.readTextFile(new URL("index.json", DIR))) as SampleIndex;
const PLACES = JSON.parse(
  await Deno.readTextFile(new URL("../../../config/places.json", import.meta.url)),
).places as { name: string; label: string; latitude: number; longitude: number }[];

const read = async (path: string) => await Deno.readTextFile(new URL(path, DIR));
const url = (
  place: { name: string; label?: string; latitude: number; longitude: number },
  day: string,
) =>
  weatherRequestUrl("https://archive-api.open-meteo.com/v1/archive", { label: "", ...place }, day);

Deno.test("samples: the files are what the generator writes, one per place and day, nothing else", async () => {
  const expected = sampleFiles(INDEX);
  assert.equal(expected.length, INDEX.places.length * INDEX.days.length);
  for (const file of expected) assert.equal(await read(file.path), file.text, file.path);
  for (const place of INDEX.places) {
    const names = (await Array.fromAsync(Deno.readDir(new URL(`${place.name}/`, DIR))))
      .map((e) => e.name).sort();
    assert.deepEqual(names, INDEX.days.map((d) => `${d}.json`));
  }
});

Deno.test("samples: they cover every place of config/places.json, at its exact coordinates", () => {
  assert.deepEqual(
    PLACES.map((p) => [p.name, p.latitude, p.longitude]),
    INDEX.places.map((p) => [p.name, p.latitude, p.longitude]),
  );
});

Deno.test("samples: each is a valid Open-Meteo response in the API's own formatting", async () => {
  for (const { path } of sampleFiles(INDEX)) {
    const text = await read(path);
    const day = path.slice(-15, -5);
    const weather = parseWeatherResponse(JSON.parse(text), day, path);
    assert.equal(weather.hourly.time.length, 24, path);
    // Compact, with floats written as floats, as the API writes them.
    assert.ok(!text.includes("\n") && !text.includes(": "), `${path} is compact JSON`);
    assert.match(text, /"elevation":\d+\.\d/);
    assert.match(text, /^\{"latitude":[-\d.]+,"longitude":[-\d.]+,"generationtime_ms":/);
    // The day's aggregates agree with its hours.
    const h = weather.hourly;
    const d = weather.daily;
    const values = (xs: (number | null)[]) => xs.map((x) => x ?? NaN);
    assert.equal(d.temperature_2m_max[0], Math.max(...values(h.temperature_2m)), path);
    assert.equal(d.temperature_2m_min[0], Math.min(...values(h.temperature_2m)), path);
    const sum = values(h.precipitation).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(d.precipitation_sum[0]! - sum) < 0.051, path);
    assert.equal(d.wind_speed_10m_max[0], Math.max(...values(h.wind_speed_10m)), path);
    assert.equal(d.weather_code[0], Math.max(...h.weather_code.map((c) => c ?? 0)), path);
    // Snow only where it is cold enough, and only out of precipitation.
    h.snowfall.forEach((snow, i) => {
      if ((snow ?? 0) > 0) {
        assert.ok((h.temperature_2m[i] ?? 99) <= 0.5 && (h.precipitation[i] ?? 0) > 0, path);
      }
    });
  }
});

Deno.test("samples: the README beside them says they are synthetic", async () => {
  const readme = await read("README.md");
  assert.match(readme, /\*\*synthetic\*\*/);
  assert.equal(INDEX.synthetic, true);
});

Deno.test("cycleDay: held days map to themselves, others cycle through the fortnight", () => {
  const days = INDEX.days;
  assert.equal(cycleDay(days, "2026-11-05"), "2026-11-05");
  assert.equal(cycleDay(days, "2026-11-15"), "2026-11-01");
  assert.equal(cycleDay(days, "2026-12-05"), "2026-11-07");
  assert.equal(cycleDay(days, "2026-10-31"), "2026-11-14", "before the window, backwards");
  assert.equal(cycleDay(days, "2028-02-29"), days[(849 % 14 + 14) % 14]);
});

Deno.test("replay source: verbatim for a held day, re-dated otherwise, nothing for other requests", async (t) => {
  const samples = openMeteoSamples(DIR);
  const billings = PLACES[0]!;

  await t.step("a held day: the file's bytes, its path as source", async () => {
    const answer = await samples.answer(url(billings, "2026-11-03"));
    assert.equal(new TextDecoder().decode(answer!.bytes), await read("billings/2026-11-03.json"));
    assert.equal(answer!.source, "synthetic sample sample_data/weather/billings/2026-11-03.json");
  });

  await t.step("another day: only the dates change, and it parses for that day", async () => {
    const answer = await samples.answer(url(billings, "2026-12-05"));
    const text = new TextDecoder().decode(answer!.bytes);
    const original = await read("billings/2026-11-07.json");
    assert.equal(text, original.replaceAll("2026-11-07", "2026-12-05"));
    assert.equal(
      answer!.source,
      "synthetic sample sample_data/weather/billings/2026-11-07.json, re-dated to 2026-12-05",
    );
    const weather = parseWeatherResponse(JSON.parse(text), "2026-12-05", "re-dated");
    assert.deepEqual(weather.daily.time, ["2026-12-05"]);
  });

  await t.step("the forecast endpoint is answered the same way", async () => {
    const forecast = weatherRequestUrl(
      "https://api.open-meteo.com/v1/forecast",
      { ...billings },
      "2026-11-03",
    );
    assert.ok(await samples.answer(forecast));
  });

  await t.step("requests the samples do not hold get no answer", async () => {
    const base = url(billings, "2026-11-03");
    const variants: [string, (u: URL) => void][] = [
      ["another place", (u) => u.searchParams.set("latitude", "40.0")],
      ["other hourly variables", (u) => u.searchParams.set("hourly", "temperature_2m")],
      ["a range of days", (u) => u.searchParams.set("end_date", "2026-11-04")],
      ["another unit", (u) => u.searchParams.set("temperature_unit", "fahrenheit")],
      ["another time zone", (u) => u.searchParams.set("timezone", "America/Denver")],
      ["another endpoint", (u) => (u.pathname = "/v1/air-quality")],
    ];
    for (const [name, change] of variants) {
      const changed = new URL(base);
      change(changed);
      assert.equal(await samples.answer(changed), undefined, name);
    }
  });
});

Deno.test("replay source: a broken index fails naming the file", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const cases: [string, string, RegExp][] = [
      ["not JSON", "{", /Cannot read the weather samples' index x\/index\.json/],
      ["not synthetic", JSON.stringify({ ...INDEX, synthetic: false }), /synthetic: must be true/],
      [
        "a gap in the days",
        JSON.stringify({ ...INDEX, days: ["2026-11-01", "2026-11-03"] }),
        /days must be consecutive, 2026-11-01 is followed by 2026-11-03/,
      ],
    ];
    for (const [name, text, message] of cases) {
      await t.step(name, async () => {
        await Deno.writeTextFile(`${dir}/index.json`, text);
        const samples = openMeteoSamples(new URL(`file://${dir}/`), { label: "x" });
        const error = await samples.answer(url(PLACES[0]!, "2026-11-01")).catch((e) => e);
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, message);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SAMPLE_DATA picks the http implementation: replay when true, live when false", async () => {
  const seen: string[] = [];
  for (const sample of ["true", "false"]) {
    const config = loadConfig({ env: { SAMPLE_DATA: sample }, dotenvPath: null });
    const graph = defineGraph<AppResources>({
      assets: [],
      resources: appResources(config, { samples: [openMeteoSamples(DIR)] }),
    });
    const http = graph.resources.http;
    assert.ok(typeof http === "object" && http !== null && "open" in http);
    const client = await (http as { open(ctx: unknown): Promise<unknown> }).open({
      log: { warn() {}, info() {} },
    });
    seen.push(
      client instanceof ReplayHttpClient
        ? "replay"
        : client instanceof FetchHttpClient
        ? "live"
        : "other",
    );
  }
  assert.deepEqual(seen, ["replay", "live"]);
});

Deno.test("quick start path: the weather pipeline runs offline on the samples, provenance in the ledger", async () => {
  const real = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error("the quick start used the network"));
  try {
    const config = loadConfig({ env: { SAMPLE_DATA: "true" }, dotenvPath: null });
    const ledger = new MemoryLedger();
    await using warehouse = await openWarehouse("pglite:memory:");
    const graph = defineGraph<AppResources>({
      assets: weatherAssets({ startDate: "2026-11-01" }),
      resources: {
        ...appResources(config, { samples: [openMeteoSamples(DIR)] }),
        lake: new MemoryObjectStore(),
        ledger,
        warehouse,
      },
    });
    const clock = new FakeClock(Date.parse("2026-12-05T12:00:00Z"));
    const result = await materialize(graph, {
      clock,
      runStore: new MemoryRunStore(),
      partitions: { keys: ["2026-11-02", "2026-12-05"] },
    });
    assert.equal(result.status, "success", result.errorSummary ?? "");
    const raw = result.steps.filter((s) => s.assetKey === "raw_weather");
    assert.deepEqual(raw.map((s) => s.materialization?.metadata.objects_written), [5, 5]);
    assert.match(
      String(raw[1]!.materialization?.metadata.sample_data),
      /^5 synthetic Open-Meteo responses, e\.g\. synthetic sample sample_data\/weather\//,
    );
    const docs = await ledger.findByAsset("raw_weather");
    assert.equal(docs.length, 10);
    for (const doc of docs) {
      assert.match(
        String(doc.metadata.source),
        /^synthetic sample sample_data\/weather\/[a-z-]+\//,
      );
    }
    const redated = docs.filter((d) => d.partition === "2026-12-05");
    assert.ok(redated.every((d) => String(d.metadata.source).endsWith("re-dated to 2026-12-05")));
    const [row] = await warehouse.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM raw.raw_weather",
    );
    assert.equal(row?.n, 2 * 5 * 24);
  } finally {
    globalThis.fetch = real;
  }
});
