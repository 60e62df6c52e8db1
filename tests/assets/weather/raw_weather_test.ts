// raw_weather: what lands in the lake and the ledger, which endpoint serves a
// day, idempotency, repair, and the errors a person reads.

import assert from "node:assert/strict";
import { endpointFor, rawWeatherAsset, WeatherResponseError } from "../../../assets/weather/mod.ts";
import { buildAssetContext } from "../../../core/testing.ts";
import { HttpStatusError } from "../../../resources/http/mod.ts";
import { fixtureBytes, RECORDED } from "../../_helpers/open_meteo.ts";
import { lakeKeys, weatherHarness } from "./_harness.ts";

const PAST = RECORDED.archive.day; // 2026-11-20, recorded for Billings
const TODAY = RECORDED.forecast.day; // 2026-11-23, the harness clock's day
const raw = rawWeatherAsset();

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("raw_weather writes each response unchanged with its ledger document", async () => {
  await using h = await weatherHarness();
  const metadata = await h.run(raw, PAST, { runId: "run-a" });

  const key = "raw/weather/2026/11/20/billings.json";
  const recorded = await fixtureBytes(RECORDED.archive.file);
  const stored = await h.lake.getBytes("data-lake", key);
  assert.deepEqual(stored, recorded, "the exact bytes Open-Meteo sent");

  const head = await h.lake.head("data-lake", key);
  const doc = await h.ledger.findByKey("data-lake", key);
  assert.ok(head && doc);
  assert.equal(head.metadata.mongodb_doc_id, doc.id);
  assert.equal(head.contentType, "application/json");
  assert.equal(doc.sha256, await sha256(recorded));
  assert.equal(doc.size, recorded.length);
  assert.equal(doc.run_id, "run-a");
  assert.equal(doc.asset_key, "raw_weather");
  assert.equal(doc.partition, PAST);
  assert.equal(doc.format, "json");
  assert.equal(doc.metadata.place, "billings");
  assert.equal(doc.metadata.endpoint, "archive");
  assert.equal(doc.metadata.source, "Open-Meteo archive API", "a live response names its API");
  assert.match(String(doc.metadata.url), /\/v1\/archive\?latitude=45\.7833&longitude=-108\.5007/);

  assert.deepEqual(await lakeKeys(h.lake), [key, "raw/weather/2026/11/20/bozeman.json"]);
  assert.deepEqual(metadata, {
    partition: PAST,
    endpoint: "archive",
    places: ["billings", "bozeman"],
    bytes: recorded.length +
      (await h.lake.head("data-lake", "raw/weather/2026/11/20/bozeman.json"))!.size,
    objects_written: 2,
    objects_unchanged: 0,
    keys: [key, "raw/weather/2026/11/20/bozeman.json"],
    data_version: metadata.data_version,
  });
  assert.match(String(metadata.data_version), /^[0-9a-f]{64}$/);
});

Deno.test("raw_weather asks the archive for past days and the forecast for today (UTC)", async () => {
  await using h = await weatherHarness({ now: "2026-11-23T00:30:00Z" });
  const today = await h.run(raw, TODAY);
  assert.equal(today.endpoint, "forecast");
  assert.deepEqual(h.api.requests.map((r) => r.endpoint), ["forecast", "forecast"]);
  const request = h.api.requests[0]!.params;
  assert.equal(request.get("start_date"), TODAY);
  assert.equal(request.get("end_date"), TODAY);
  assert.equal(request.get("timezone"), "GMT");
  assert.equal(
    request.get("hourly"),
    "temperature_2m,precipitation,snowfall,wind_speed_10m,weather_code",
  );
  assert.equal(
    request.get("daily"),
    "temperature_2m_max,temperature_2m_min,precipitation_sum,snowfall_sum,wind_speed_10m_max,weather_code",
  );
  assert.deepEqual(
    await h.lake.getBytes("data-lake", "raw/weather/2026/11/23/billings.json"),
    await fixtureBytes(RECORDED.forecast.file),
  );

  const yesterday = await h.run(raw, "2026-11-22");
  assert.equal(yesterday.endpoint, "archive");
  assert.deepEqual(h.api.requests.slice(2).map((r) => r.endpoint), ["archive", "archive"]);

  await assert.rejects(
    h.run(raw, "2026-11-24"),
    /2026-11-24: it is after today \(2026-11-23 UTC\)/,
  );
});

Deno.test("raw_weather run twice on unchanged data writes nothing new", async () => {
  await using h = await weatherHarness();
  // 2026-11-18 is synthesised by the server with a fresh generationtime_ms on
  // every call, as the real API does: the bytes differ, the data does not.
  const first = await h.run(raw, "2026-11-18", { runId: "run-1" });
  const keys = await lakeKeys(h.lake);
  const docs = await h.ledger.findByAsset("raw_weather");
  const heads = await Promise.all(keys.map((k) => h.lake.head("data-lake", k)));

  h.clock.advance(3_600_000);
  const second = await h.run(raw, "2026-11-18", { runId: "run-2" });
  assert.equal(first.objects_written, 2);
  assert.equal(second.objects_written, 0);
  assert.equal(second.objects_unchanged, 2);
  // Before: no data_version, so each fetch was a new version and made the marts stale.
  assert.equal(second.data_version, first.data_version, "same data, same data version");
  assert.deepEqual(await lakeKeys(h.lake), keys);
  assert.deepEqual(
    (await h.ledger.findByAsset("raw_weather")).map((d) => [d.id, d.run_id]),
    docs.map((d) => [d.id, "run-1"]),
  );
  const after = await Promise.all(keys.map((k) => h.lake.head("data-lake", k)));
  assert.deepEqual(after.map((x) => x?.etag), heads.map((x) => x?.etag), "no object rewritten");
});

Deno.test("raw_weather writes a new version when the data changed", async () => {
  await using h = await weatherHarness();
  const first = await h.run(raw, "2026-11-18", { runId: "run-1" });
  h.api.transform = (body) => {
    (body.hourly as { temperature_2m: number[] }).temperature_2m[0] = 42;
  };
  const second = await h.run(raw, "2026-11-18", { runId: "run-2" });
  assert.equal(second.objects_written, 2);
  assert.notEqual(second.data_version, first.data_version, "new data, new data version");
  const key = "raw/weather/2026/11/18/bozeman.json";
  const versions = (await h.ledger.findByAsset("raw_weather")).filter((d) => d.key === key);
  assert.deepEqual(versions.map((d) => d.run_id), ["run-1", "run-2"]);
  const head = await h.lake.head("data-lake", key);
  assert.equal(
    head?.metadata.mongodb_doc_id,
    versions[1]?.id,
    "the object points at its newest document",
  );
  assert.equal(head?.sha256, versions[1]?.sha256);
});

Deno.test("raw_weather repairs an object missing behind its ledger document", async () => {
  await using h = await weatherHarness({
    places: [{ name: "billings", label: "Billings", latitude: 45.7833, longitude: -108.5007 }],
  });
  await h.run(raw, PAST, { runId: "run-1" });
  const key = "raw/weather/2026/11/20/billings.json";
  await h.lake.delete("data-lake", key);
  const again = await h.run(raw, PAST, { runId: "run-2" });
  assert.equal(again.objects_written, 1);
  const doc = await h.ledger.findByKey("data-lake", key);
  assert.equal((await h.lake.head("data-lake", key))?.metadata.mongodb_doc_id, doc?.id);
  assert.equal((await h.ledger.findByAsset("raw_weather")).length, 1, "same bytes: same document");
});

Deno.test("raw_weather fails on a response of the wrong shape, naming the field", async () => {
  await using h = await weatherHarness();
  h.api.failNext({ kind: "wrong_shape" });
  const error = await h.run(raw, PAST).then(
    () => assert.fail("expected a failure"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WeatherResponseError);
  assert.equal(error.code, "weather.invalid_response");
  assert.match(error.message, /hourly\.temperature_2m\[3\]: expected a number or null/);
  assert.match(error.message, /for billings on 2026-11-20/);
  assert.deepEqual(await lakeKeys(h.lake), [], "nothing of it is stored");
  assert.deepEqual(await h.ledger.findByAsset("raw_weather"), []);
});

Deno.test("raw_weather keeps an API key out of the ledger and errors", async () => {
  await using h = await weatherHarness();
  const config = { ...h.config, OPEN_METEO_ARCHIVE_URL: `${h.api.archiveUrl}?apikey=TOPSECRET` };
  const ctxResources = { ...h.resources(), config };
  const ctx = buildAssetContext({ resources: ctxResources, partitionKey: PAST, clock: h.clock });
  await raw.materialize(ctx);
  assert.ok(h.api.requests.every((r) => r.params.get("apikey") === "TOPSECRET"), "the key is sent");
  const docs = await h.ledger.findByAsset("raw_weather");
  assert.equal(docs.length, 2);
  for (const doc of docs) {
    assert.match(String(doc.metadata.url), /apikey=\*\*\*/);
    assert.ok(!JSON.stringify(doc).includes("TOPSECRET"));
  }
  assert.ok(!JSON.stringify(ctx.logs).includes("TOPSECRET"));

  h.api.failNext({ kind: "status", status: 400, body: '{"error":true,"reason":"bad"}' });
  const error = await Promise.resolve(raw.materialize(ctx)).then(
    () => assert.fail("expected a failure"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof HttpStatusError);
  assert.ok(!error.message.includes("TOPSECRET"));
});

Deno.test("raw_weather names the places file when it is wrong", async () => {
  await using h = await weatherHarness();
  await Deno.writeTextFile(
    h.placesFile,
    JSON.stringify({ places: [{ name: "billings", label: "B", latitude: 145, longitude: 0 }] }),
  );
  await assert.rejects(
    h.run(raw, PAST),
    (error: Error) =>
      error.message.includes(`Cannot load places file '${h.placesFile}'`) &&
      error.message.includes("places[0].latitude: must be <= 90"),
  );
  assert.equal(h.api.requests.length, 0);
});

Deno.test("raw_weather's definition: daily from the start date, group weather, 2 retries 5 min apart", () => {
  const asset = rawWeatherAsset({ startDate: "2026-10-01" });
  assert.equal(asset.key, "raw_weather");
  assert.equal(asset.group, "weather");
  assert.deepEqual(asset.partitions, { kind: "daily", start: "2026-10-01", endOffset: 1 });
  assert.equal(asset.retry.maxAttempts, 3);
  assert.equal(asset.retry.delayMs, 300_000);
  assert.equal(asset.retry.backoff, "constant");
  assert.deepEqual([...asset.resources].sort(), ["config", "http", "lake", "ledger"]);
});

Deno.test("raw_weather serves days younger than the archive lag from the forecast API", async () => {
  await using h = await weatherHarness({
    now: "2026-11-23T00:30:00Z",
    env: { WEATHER_ARCHIVE_LAG_DAYS: "5" },
  });
  assert.equal((await h.run(raw, "2026-11-21")).endpoint, "forecast");
  assert.equal((await h.run(raw, "2026-11-18")).endpoint, "archive");
  assert.deepEqual(
    [...new Set(h.api.requests.map((r) => r.endpoint))],
    ["forecast", "archive"],
  );
});

Deno.test("endpointFor refuses a future day and applies the lag in whole days", () => {
  assert.throws(() => endpointFor("2026-11-24", "2026-11-23"), RangeError);
  assert.equal(endpointFor("2026-11-23", "2026-11-23", 0), "forecast");
  assert.equal(endpointFor("2026-11-22", "2026-11-23", 0), "archive");
  assert.equal(endpointFor("2026-11-19", "2026-11-23", 5), "forecast");
  assert.equal(endpointFor("2026-11-18", "2026-11-23", 5), "archive");
});

Deno.test("raw_weather: a 200 whose body is Open-Meteo's error shape fails with the API's reason", async () => {
  // Before: 'does not have the expected shape' listing every missing field, not the reason.
  await using h = await weatherHarness();
  h.api.transform = (body) => {
    for (const key of Object.keys(body)) delete body[key];
    Object.assign(body, {
      error: true,
      reason:
        "Cannot initialize WeatherVariable from invalid String value tempeature_2m for key hourly",
    });
  };
  const error = await h.run(raw, PAST).then(
    () => assert.fail("expected a failure"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WeatherResponseError);
  assert.equal(error.code, "weather.api_error");
  assert.match(
    error.message,
    /^Open-Meteo response for billings on 2026-11-20 \(GET .*\) is an error, not weather data: Cannot initialize WeatherVariable .*tempeature_2m/,
  );
  assert.doesNotMatch(error.message, /expected shape/);
});
