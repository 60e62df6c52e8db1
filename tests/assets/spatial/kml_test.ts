/**
 * What of a KML only LIBKML reads (assets/spatial/_kml.ts): the names a
 * build without LIBKML must report instead of publishing the placemarks
 * without them, found across the file's 1 MiB reads.
 */

import assert from "node:assert/strict";
import { kmlNeedsLibkml, libkmlContent } from "../../../assets/spatial/_kml.ts";

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
