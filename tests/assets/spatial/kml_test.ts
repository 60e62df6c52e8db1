/**
 * What of a KML only LIBKML reads (assets/spatial/_kml.ts): the names a
 * build without LIBKML must report instead of publishing the placemarks
 * without them, found across the file's 1 MiB reads; and a KMZ that is no zip.
 */

import assert from "node:assert/strict";
import { kmlNeedsLibkml, libkmlContent } from "../../../assets/spatial/_kml.ts";
import { engines, landing, runQuarantined } from "./_batches.ts";

const placemark = (i: number, data: string) =>
  `<Placemark><name>p${i}</name>${data}<Point><coordinates>7,47</coordinates></Point></Placemark>\n`;

Deno.test("libkmlContent names every ExtendedData field and element kind, across reads", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kml-test-" });
  try {
    // Plain placemarks past the first 1 MiB read, then the fields.
    const head = '<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n';
    let body = head;
    for (let i = 0; body.length < 1 << 20; i++) body += placemark(i, "");
    body += placemark(
      1,
      '<ExtendedData><Data name="owner"><value>x</value></Data>' +
        "<SchemaData schemaUrl=\"#s\"><SimpleData name='height m'>3</SimpleData></SchemaData>" +
        "</ExtendedData><TimeSpan><begin>2020</begin></TimeSpan>",
    );
    body += '<Schema id="s"><SimpleField name="height m" type="float"/></Schema>';
    body += "</Document></kml>\n";
    await Deno.writeTextFile(`${dir}/a.kml`, body);
    assert.equal(await kmlNeedsLibkml(`${dir}/a.kml`), true);
    assert.deepEqual(await libkmlContent(`${dir}/a.kml`), {
      fields: ["owner", "height m"],
      elements: ["TimeSpan"],
    });
    // A tag cut by the read boundary is still read whole.
    const cut = head + " ".repeat((1 << 20) - head.length - 10) +
      '<Data name="cut_field"><value>1</value></Data></kml>';
    await Deno.writeTextFile(`${dir}/b.kml`, cut);
    assert.deepEqual(await libkmlContent(`${dir}/b.kml`), { fields: ["cut_field"], elements: [] });
    // Thousands of free Data names: the first 20 are named.
    let many = head;
    for (let i = 0; i < 500; i++) {
      many += placemark(
        i,
        `<ExtendedData><Data name="f${i}"><value>1</value></Data></ExtendedData>`,
      );
    }
    await Deno.writeTextFile(`${dir}/c.kml`, many + "</Document></kml>");
    const { fields } = await libkmlContent(`${dir}/c.kml`);
    assert.deepEqual(fields, Array.from({ length: 20 }, (_, i) => `f${i}`));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const PLAIN_KML = '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>sites</name>' +
  "<Placemark><name>A</name><Point><coordinates>-105.1,40.2,0</coordinates></Point></Placemark>" +
  "</Document></kml>";

Deno.test("spatial KMZ: one that is no zip (a KML renamed, cut in transfer) is refused as damaged on both engines", async (t) => {
  // Before: gdal3.js left both pending for the native engine ('only LIBKML reads it'),
  // native GDAL refused them with 'not a valid kmz file' / 'not recognized'.
  const dir = await Deno.makeTempDir({ prefix: "kmz-damaged-" });
  try {
    await Deno.writeTextFile(`${dir}/doc.kml`, PLAIN_KML);
    await Deno.writeTextFile(`${dir}/renamed.kmz`, PLAIN_KML);
    const made = await new Deno.Command("python3", {
      args: [
        "-c",
        `import zipfile\nwith zipfile.ZipFile("${dir}/whole.kmz", "w", zipfile.ZIP_DEFLATED) as z: ` +
        `z.write("${dir}/doc.kml", "doc.kml")`,
      ],
    }).output();
    assert.equal(made.code, 0, new TextDecoder().decode(made.stderr));
    const whole = await Deno.readFile(`${dir}/whole.kmz`);
    await Deno.writeFile(`${dir}/cut.kmz`, whole.subarray(0, whole.length - 30));
    for (const [engine, gdal] of engines) {
      for (const name of ["renamed.kmz", "cut.kmz"]) {
        await t.step(`${engine}: ${name}`, async () => {
          const batch = `kmz-${name.split(".")[0]}-${engine}`;
          const l = await landing(batch, [{
            name,
            from: `${dir}/${name}`,
            type: "vector",
            format: "kml",
            crs: "EPSG:4326",
          }]);
          await using _store = l.store;
          const problems = await runQuarantined(l, batch, gdal);
          assert.equal(problems[0]?.code, "content_mismatch", problems[0]?.message);
          assert.match(
            problems[0]!.message,
            new RegExp(
              `'${batch}/${name.replace(".", "\\.")}' .* is not a readable KMZ .*upload it again`,
            ),
          );
        });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
