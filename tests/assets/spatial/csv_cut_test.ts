import assert from "node:assert/strict";
import { csvCutShort } from "../../../assets/spatial/_csv_cut.ts";

/** `csvCutShort` of a file holding `text`. */
async function cutOf(text: string) {
  const path = await Deno.makeTempFile({ suffix: ".csv" });
  try {
    await Deno.writeTextFile(path, text);
    return await csvCutShort(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("csvCutShort: a last row cut off before its last columns is found", async () => {
  assert.deepEqual(await cutOf("id,lon,lat,name\n1,-110.5,45.5,a\n2,-110.25,45.7"), {
    row: "2,-110.25,45.7",
    columns: 3,
    expected: 4,
  });
  // Semicolons, a quoted separator, the only row under the header.
  assert.deepEqual(await cutOf('id;name;lon;lat\r\n1;"a;b";-110'), {
    row: '1;"a;b";-110',
    columns: 3,
    expected: 4,
  });
  // A row cut off after a value quoted over lines: the quoted line end is inside the row.
  assert.deepEqual(await cutOf('id,name,lon,lat\n1,"a\nb",-110.2,45.7\n2,"c\nd",-110.25'), {
    row: '2,"c\nd",-110.25',
    columns: 3,
    expected: 4,
  });
  // Past the window read at each end: the header from the start, the rows from the end.
  const rows = Array.from({ length: 5000 }, (_, i) => `${i},-110.${i},45.${i},name ${i}`);
  assert.equal((await cutOf(`id,lon,lat,name\n${rows.join("\n")}\n7,-11`))?.columns, 2);
});

Deno.test("csvCutShort: complete files are not taken for cut ones", async () => {
  for (
    const text of [
      // No line end after a whole row.
      "id,lon,lat,name\n1,-110.5,45.5,a\n2,-110.25,45.75,b",
      // A short row that ends its line: GDAL's empty columns are the file's.
      "id,lon,lat,name\n1,-110.5,45.5,a\n2,-110.25,45.75\n",
      // Every row short (a writer leaving trailing empty columns out), no line end.
      "id,lon,lat,name\n1,-110.5,45.5\n2,-110.25,45.75",
      // The last value quoted over several lines (a note, an address): its last line is not
      // a row of its own. Taken for a cut row of 1 or 2 columns before.
      'id,lon,lat,name\n1,-110.2,45.7,"a"\n2,-110.25,45.75,"line one\nline two"',
      'id,lon,lat,name\r\n1,-110.2,45.7,"a"\r\n2,-110.25,45.75,"one,\r\ntwo, ""three"""',
      'id,name,lon,lat\n1,"a\nb",-110.2,45.7\n2,"c\nd",-110.25,45.75',
      // One column; only a header; nothing.
      "wkt\nPOINT (1 2)",
      "id,lon,lat",
      "",
    ]
  ) {
    assert.equal(await cutOf(text), undefined, JSON.stringify(text));
  }
});
