/**
 * A CSV's `.prj` (`_csv_prj.ts`): both engines check the declared CRS against
 * it. The native engine's GDAL 3.6 did not read it, so a CSV whose `.prj`
 * says UTM 33N, declared UTM 32N, was published there with the declared CRS
 * (every point 6° off) while gdal3.js refused it.
 */

import assert from "node:assert/strict";
import { runBatch } from "./_fixtures.ts";
import { assertDone, assertQuarantined, engines, landing } from "./_batches.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";

/** The .prj ArcGIS writes for WGS 84 / UTM zone 33N. */
const UTM_33N_ESRI = 'PROJCS["WGS_1984_UTM_Zone_33N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",' +
  'SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",' +
  '0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],' +
  'PARAMETER["False_Northing",0.0],PARAMETER["Central_Meridian",15.0],PARAMETER["Scale_Factor",' +
  '0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]';

Deno.test("spatial CSV: its .prj is the file's CRS on both engines", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "csv-prj-" });
  try {
    await Deno.writeTextFile(
      `${dir}/wells.csv`,
      'id,wkt\n1,"POINT (500000 5000000)"\n2,"POINT (500100 5000100)"\n',
    );
    await Deno.writeTextFile(`${dir}/wells.PRJ`, `${UTM_33N_ESRI}\r\n`);
    const upload = (crs: string) => [{
      name: "wells.csv",
      from: `${dir}/wells.csv`,
      type: "vector" as const,
      format: "csv",
      crs,
    }];
    const prj: [string, string][] = [["wells.PRJ", `${dir}/wells.PRJ`]];
    for (const [engine, gdal] of engines) {
      await t.step(`${engine}: declared in another UTM zone than its .prj: refused`, async () => {
        const batch = `csv-prj-other-${engine}`;
        const l = await landing(batch, upload("EPSG:32632"), prj);
        await using _store = l.store;
        const problems = await assertQuarantined(l, batch, await runBatch(l, batch, {}, { gdal }));
        assert.equal(problems[0]?.code, "crs_mismatch", problems[0]?.message);
        assert.match(
          problems[0]!.message,
          /wells\.csv' is in .*UTM zone 33N.* declares EPSG:32632/,
        );
      });
      await t.step(`${engine}: declared as its .prj says: published`, async () => {
        const batch = `csv-prj-same-${engine}`;
        const l = await landing(batch, upload("EPSG:32633"), prj);
        await using _store = l.store;
        const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
        const bbox = SpatialLedgerMetadata.parse(docs[0]!.metadata).bbox!;
        // 500000 m east in zone 33N is its central meridian, 15°E.
        assert.ok(Math.abs(bbox[0] - 15) < 1e-9, JSON.stringify(bbox));
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
