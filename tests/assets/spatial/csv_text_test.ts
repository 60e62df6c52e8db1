/**
 * CSV text GDAL reads differently by version or not at all (assets/spatial/_batch.ts
 * contentCheck): UTF-16 (Excel's "Unicode Text") and '|' as the separator.
 */

import assert from "node:assert/strict";
import { runBatch } from "./_fixtures.ts";
import {
  assertDone,
  assertQuarantined,
  engines,
  landing,
  ourFeatures,
  runQuarantined,
} from "./_batches.ts";

const upload = (dir: string, name: string) => [{
  name,
  from: `${dir}/${name}`,
  type: "vector" as const,
  format: "csv",
  crs: "EPSG:4326",
}];

Deno.test("spatial CSV: UTF-16 text is refused saying so, and '|' separators are published or explained", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "csv-text-" });
  try {
    const text =
      "id\tname\tlongitude\tlatitude\r\n1\tZürich\t8.54\t47.38\r\n2\tKöln\t6.95\t50.94\r\n";
    const utf16 = new Uint8Array(2 + text.length * 2);
    utf16.set([0xff, 0xfe]);
    for (let i = 0; i < text.length; i++) {
      new DataView(utf16.buffer).setUint16(2 + i * 2, text.charCodeAt(i), true);
    }
    await Deno.writeFile(`${dir}/unicode.csv`, utf16);
    await Deno.writeTextFile(`${dir}/pipe.csv`, "id|name|lon|lat\n1|Zürich|8.54|47.38\n");
    for (const [engine, gdal] of engines) {
      await t.step(`${engine}: UTF-16`, async () => {
        // Before: gdal3.js 'none of its columns (\uFFFD\uFFFDi) is a WKT column';
        // native GDAL 'unicode.csv: No such file or directory'.
        const batch = `csv-utf16-${engine}`;
        const l = await landing(batch, upload(dir, "unicode.csv"));
        await using _store = l.store;
        const problems = await runQuarantined(l, batch, gdal);
        assert.equal(problems[0]?.code, "content_mismatch", problems[0]?.message);
        assert.match(
          problems[0]!.message,
          /unicode\.csv' .* its text is UTF-16 .*"CSV UTF-8".*upload it again/,
        );
      });
      await t.step(`${engine}: '|' separators`, async () => {
        const batch = `csv-pipe-${engine}`;
        const l = await landing(batch, upload(dir, "pipe.csv"));
        await using _store = l.store;
        const result = await runBatch(l, batch, {}, { gdal });
        if (gdal.version.startsWith("3.6.")) {
          // Before: 'pipe.csv: No such file or directory'.
          const problems = await assertQuarantined(l, batch, result);
          assert.match(
            problems[0]!.message,
            /pipe\.csv' .* separated by '\|', which this GDAL .* does not read as CSV .*commas/,
          );
        } else {
          const docs = await assertDone(l, batch, result);
          const [feature] = await ourFeatures(l, docs[0]!.key);
          assert.equal(feature?.properties.name, "Zürich");
        }
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
