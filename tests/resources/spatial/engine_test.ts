/**
 * The spatial engines: workspace lifecycle (always dropped, orphans swept by
 * the janitor) and every intent's recipe giving the same answer on SpatiaLite
 * and PostGIS.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { gpkgToWkb, inspectWkb } from "../../../formats/wkb.ts";
import {
  type FeatureTable,
  type SpatialEngine,
  withWorkspace,
  workspaceName,
} from "../../../resources/spatial/engine.ts";
import { PostgisEngine } from "../../../resources/spatial/postgis.ts";
import { type RecipeName, recipeSql } from "../../../resources/spatial/recipes.ts";
import { SpatialiteEngine } from "../../../resources/spatial/spatialite.ts";
import { ensurePostgis, startPostgres } from "../../_helpers/postgres.ts";
import postgres from "postgres";
import { needs } from "../../_helpers/tools.ts";

const SAMPLE = new URL("../../../sample_data/spatial/montana-sample/", import.meta.url);
const RECIPES: RecipeName[] = ["publish", "measure", "centroids"];

interface Row {
  name: string;
  type: string;
  box: number[];
  area?: number;
}

/** A GeoPackage of the sample counties (with the bowtie made valid) in EPSG:4326. */
async function countiesGpkg(dir: string): Promise<FeatureTable> {
  const path = `${dir}/counties.gpkg`;
  const out = await new Deno.Command("ogr2ogr", {
    args: [
      "-f",
      "GPKG",
      "-t_srs",
      "EPSG:4326",
      "-makevalid",
      "-nln",
      "counties",
      "-lco",
      "GEOMETRY_NAME=geom",
      path,
      new URL("counties.shp", SAMPLE).pathname,
    ],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return { path, table: "counties", geometryColumn: "geom" };
}

function readRows(table: FeatureTable): Row[] {
  const db = new DatabaseSync(table.path, { readOnly: true });
  try {
    return (db.prepare(`SELECT * FROM "${table.table}"`).all() as Record<string, unknown>[])
      .map((r) => {
        const { type, box } = inspectWkb(gpkgToWkb(r.geom as Uint8Array));
        return {
          name: String(r.name),
          type: type.replace(/^Multi/, ""),
          box: [...box],
          ...(r.area_m2 === undefined ? {} : { area: Number(r.area_m2) }),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    db.close();
  }
}

async function runRecipes(engine: SpatialEngine, source: FeatureTable, dir: string) {
  const results: Record<string, Row[]> = {};
  await withWorkspace(engine, `recipes-${engine.kind}`, async (ws) => {
    await ws.load("input", source, 4326);
    const columns = await ws.columns("input");
    assert.deepEqual(columns, ["name", "fips"]);
    for (const recipe of RECIPES) {
      await ws.run(recipeSql(recipe, columns), recipe);
      const out = `${dir}/${engine.kind}`;
      await Deno.mkdir(out, { recursive: true });
      results[recipe] = readRows(await ws.dump(recipe, out));
    }
  });
  return results;
}

function close(a: number, b: number, tolerance: number, what: string) {
  assert.ok(Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a)), `${what}: ${a} vs ${b}`);
}

Deno.test("workspaceName makes a safe schema name from any run id", () => {
  assert.equal(workspaceName("2026-11-01T10:00 Run#7"), "proc_2026_11_01t10_00_run_7");
  assert.throws(() => workspaceName("---"), RangeError);
});

Deno.test("SpatiaLite: recipes give the expected answers", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = await countiesGpkg(dir);
    const results = await runRecipes(new SpatialiteEngine(), source, dir);
    assert.equal(results.publish!.length, 4);
    // measure's geodesic columns are computed by the GeoParquet writer, not in SQL.
    assert.deepEqual(results.measure, results.publish);
    // A point on the surface lies inside its polygon's box.
    results.centroids!.forEach((point, i) => {
      const polygon = results.publish![i]!;
      assert.equal(point.type, "Point");
      assert.ok(point.box[0]! >= polygon.box[0]! && point.box[2]! <= polygon.box[2]!);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SpatiaLite: a failing SQL names the table and still drops the workspace", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = await countiesGpkg(dir);
    let workspace = "";
    await assert.rejects(
      withWorkspace(new SpatialiteEngine(), "fail", async (ws) => {
        workspace = ws.name;
        await ws.load("input", source, 4326);
        await ws.run("SELECT no_such_function(geom) AS geom FROM input", "broken");
      }),
      /broken/,
    );
    assert.equal(workspace, "proc_fail");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "PostGIS: same recipes as SpatiaLite; schemas dropped after failure and after a kill",
  ignore: await needs("gdal", "postgis"),
  fn: async (t) => {
    await using pg = await startPostgres();
    await ensurePostgis(pg.url);
    const dir = await Deno.makeTempDir();
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    const schemas = async () =>
      (await sql`SELECT nspname FROM pg_namespace WHERE nspname LIKE 'proc\\_%' ORDER BY 1`)
        .map((r) => r.nspname as string);
    try {
      const source = await countiesGpkg(dir);
      await using engine = await PostgisEngine.open(pg.url);

      await t.step("both engines agree on every recipe", async () => {
        const lite = await runRecipes(new SpatialiteEngine(), source, dir);
        const gis = await runRecipes(engine, source, dir);
        for (const recipe of RECIPES) {
          const a = lite[recipe]!;
          const b = gis[recipe]!;
          assert.deepEqual(b.map((r) => [r.name, r.type]), a.map((r) => [r.name, r.type]));
          a.forEach((row, i) => {
            const other = b[i]!;
            if (recipe !== "centroids") {
              row.box.forEach((v, k) =>
                close(v, other.box[k]!, 1e-9, `${recipe} ${row.name} bbox`)
              );
            }
            if (row.area !== undefined) close(row.area, other.area!, 1e-6, `${row.name} area`);
          });
        }
        assert.deepEqual(await schemas(), []);
      });

      await t.step("a failing run leaves no schema", async () => {
        await assert.rejects(
          withWorkspace(engine, "failing", async (ws) => {
            await ws.load("input", source, 4326);
            assert.deepEqual(await schemas(), ["proc_failing"]);
            await ws.run("SELECT no_such_function(geom) AS geom FROM input", "broken");
          }),
          /no_such_function/,
        );
        assert.deepEqual(await schemas(), []);
      });

      await t.step(
        "a killed run's schema is dropped by the next janitor, a live one is not",
        async () => {
          const child = new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              new URL("_hold_workspace.ts", import.meta.url).pathname,
              pg.url,
              "killed",
            ],
            stdout: "piped",
            stderr: "inherit",
          }).spawn();
          const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
          let said = "";
          while (!said.includes("ready")) {
            const { value, done } = await reader.read();
            if (done) break;
            said += value;
          }
          assert.deepEqual(await schemas(), ["proc_killed"]);
          // While its run holds the lock, the janitor leaves it alone.
          assert.deepEqual(await engine.dropOrphans(), []);
          child.kill("SIGKILL");
          await child.status;
          await reader.cancel();
          // The killed session's lock is released once the server notices (at once on a
          // quiet machine; the deadline is for a loaded one, the loop ends when it is dropped).
          let dropped: string[] = [];
          const deadline = Date.now() + 60_000;
          while (dropped.length === 0 && Date.now() < deadline) {
            await using fresh = await PostgisEngine.open(pg.url, { janitor: false });
            dropped = await fresh.dropOrphans();
            if (dropped.length === 0) await new Promise((r) => setTimeout(r, 100));
          }
          assert.deepEqual(dropped, ["proc_killed"]);
          assert.deepEqual(await schemas(), []);
        },
      );
    } finally {
      await sql.end();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
