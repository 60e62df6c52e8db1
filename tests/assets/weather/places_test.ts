import assert from "node:assert/strict";
import { ConfigError } from "../../../core/errors.ts";
import { loadPlaces, parsePlaces } from "../../../assets/weather/mod.ts";

function failure(text: string): ConfigError {
  try {
    parsePlaces(text, "config/places.json");
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error;
  }
  assert.fail("expected the places file to be rejected");
}

const place = (fields: Record<string, unknown>) =>
  JSON.stringify({
    places: [{
      name: "billings",
      label: "Billings, Montana",
      latitude: 45.7833,
      longitude: -108.5007,
      ...fields,
    }],
  });

Deno.test("the shipped places file: Billings first, then trail towns", async () => {
  const places = await loadPlaces(new URL("../../../config/places.json", import.meta.url).pathname);
  assert.deepEqual(places[0], {
    name: "billings",
    label: "Billings, Montana",
    latitude: 45.7833,
    longitude: -108.5007,
  });
  assert.deepEqual(places.map((p) => p.name), [
    "billings",
    "bozeman",
    "red-lodge",
    "livingston",
    "missoula",
  ]);
});

Deno.test("a bad places file names the file and the field", () => {
  assert.equal(
    failure(place({ latitude: 91 })).message,
    "Cannot load places file 'config/places.json': places[0].latitude: must be <= 90",
  );
  assert.match(
    failure(place({ longitude: "east" })).message,
    /places\[0\]\.longitude: must be a number/,
  );
  assert.match(failure(place({ name: "Red Lodge" })).message, /places\[0\]\.name: must be a slug/);
  assert.match(
    failure(place({ elevation: 1 })).message,
    /places\[0\]: Unrecognized key: "elevation"/,
  );
  assert.match(failure('{"places":[]}').message, /places: must list at least one place/);
  assert.match(failure("{places:").message, /'config\/places.json': it is not JSON/);
  const twice = JSON.stringify({
    places: [
      { name: "billings", label: "A", latitude: 1, longitude: 1 },
      { name: "billings", label: "B", latitude: 2, longitude: 2 },
    ],
  });
  assert.match(failure(twice).message, /places\[1\]\.name: 'billings' is listed twice/);
  assert.equal(failure(twice).code, "weather.invalid_places");
  assert.equal(failure(twice).input, "config/places.json");
});

Deno.test("a missing places file says which variable to set", async () => {
  await assert.rejects(loadPlaces("/nonexistent/places.json"), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    assert.match(
      error.message,
      /Cannot load places file '\/nonexistent\/places.json': the file does not exist; set WEATHER_PLACES_FILE/,
    );
    return true;
  });
});

Deno.test("a places file that is not UTF-8 is refused, naming the file and the byte", async () => {
  // Before: Deno.readTextFile turned Latin-1 'ü' into U+FFFD and 'Z�rich' was stored as the label.
  const dir = await Deno.makeTempDir();
  try {
    const json = (label: string) =>
      `{"places":[\n{"name":"zurich","label":"${label}","latitude":47.37,"longitude":8.54}]}`;
    const latin1 = `${dir}/latin1.json`;
    await Deno.writeFile(latin1, Uint8Array.from(json("Z\u00fcrich"), (c) => c.charCodeAt(0)));
    await assert.rejects(loadPlaces(latin1), (error: Error) => {
      assert.ok(error instanceof ConfigError);
      assert.equal(error.code, "weather.invalid_places");
      assert.equal(
        error.message,
        `Cannot load places file '${latin1}': it is not UTF-8 (byte 0xFC on line 2: ` +
          "Latin-1 or Windows-1252 text?); save it as UTF-8",
      );
      return true;
    });
    // An encoded surrogate (ED A0 80, CESU-8) is not UTF-8 either: the byte is named, where
    // the file's own check let it pass and said 'byte 0x??'.
    const cesu = `${dir}/cesu.json`;
    await Deno.writeFile(
      cesu,
      Uint8Array.from(json("Z\u00ed\u00a0\u0080rich"), (c) => c.charCodeAt(0)),
    );
    await assert.rejects(loadPlaces(cesu), /it is not UTF-8 \(byte 0xED on line 2:/);
    const utf16 = `${dir}/utf16.json`;
    const units = new Uint16Array([0xfeff, ...Array.from(json("Zürich"), (c) => c.charCodeAt(0))]);
    await Deno.writeFile(utf16, new Uint8Array(units.buffer));
    await assert.rejects(loadPlaces(utf16), /'.*utf16\.json': it is UTF-16 text; save it as UTF-8/);
    // UTF-8, with or without a BOM, keeps its label as written.
    const bom = `${dir}/bom.json`;
    await Deno.writeTextFile(bom, `\ufeff${json("Zürich")}`);
    assert.equal((await loadPlaces(bom))[0]?.label, "Zürich");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a places file with a key written twice names the key and its line", () => {
  // Before: JSON.parse kept the second latitude and the place was fetched for it without a word.
  const text = '{"places": [\n  {"name": "billings", "label": "Billings", "latitude": 45.78,\n' +
    '   "longitude": -108.5, "latitude": 54.78}\n]}';
  assert.equal(
    failure(text).message,
    "Cannot load places file 'config/places.json': key 'latitude' appears twice in one object " +
      "(line 3); remove one of them",
  );
});
