/**
 * `ogr2ogr -makevalid` on only the geometries it could change. MakeValid
 * returns a valid geometry unchanged, but in gdal3.js (single-threaded
 * WebAssembly GEOS) asking for it on a whole layer costs more than twice a
 * plain conversion: 100k polygons took 3.4 s with it against 1.3 s without.
 * So a layer is converted without it, the geometries MakeValid could change
 * are picked out (usually none, or a handful), made valid alone, and written
 * back in place by feature id. The whole layer was converted a second time
 * with -makevalid before as soon as one geometry needed it: on a
 * 2.6M-polygon Shapefile with one bowtie in a thousand that second
 * conversion was most of the wasm engine's time (bench/spatial.ts).
 *
 * Picking is two passes: JavaScript first proves most rows valid from their
 * blobs (formats/valid_geometry.ts: ~0.1 s per 100k polygons, where GEOS's
 * ST_IsValid through gdal3.js took 1.7 s of CPU), and only the rows it
 * cannot prove go through GEOS's own test, in SQL, as before.
 *
 * @module
 */

import {
  type GdalScratch,
  SCRATCH_GEOM,
  SCRATCH_GPKG_OPTIONS,
} from "../../resources/spatial/gdal.ts";
import { openSqlite } from "../../resources/_sqlite.ts";
import { provenValid } from "../../formats/valid_geometry.ts";

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The SQL condition of a geometry `ogr2ogr -makevalid` could change: not
 * valid by GEOS (SpatiaLite's `ST_IsValid`, the same GEOS MakeValid uses),
 * not readable by SpatiaLite (curves: `ST_IsValid` is -1), empty, or a
 * collection (whose lower-dimension members `-makevalid` drops). Errs
 * towards picking: a geometry picked needlessly costs only time.
 */
function mayChange(g: string): string {
  return `${g} IS NOT NULL AND (ST_IsValid(${g}) IS NOT 1 OR ST_IsEmpty(${g}) IS NOT 0 OR ` +
    `ST_GeometryType(${g}) LIKE '%COLLECTION%')`;
}

/** Table of the rows left for GEOS to judge, kept in the GeoPackage while it is picked from. */
const DOUBTFUL = "_make_valid_doubtful";

/**
 * Writes the feature ids of the rows of `table` whose geometry
 * {@linkcode provenValid} cannot prove valid into {@linkcode DOUBTFUL} of
 * the same GeoPackage; returns how many there are (NULL geometries are
 * left out: MakeValid has nothing to do on them).
 */
function markDoubtful(file: string, table: string, geometryColumn: string): number {
  const db = openSqlite(file, { mode: "scratch" });
  try {
    const doubtful: bigint[] = [];
    // Pages by rowid: node:sqlite's all() costs less per row than iterate().
    const page = db.prepare(
      `SELECT rowid AS id, ${quote(geometryColumn)} AS g FROM ${quote(table)} ` +
        "WHERE rowid > ? ORDER BY rowid LIMIT 4096",
    );
    page.setReadBigInts(true);
    for (let last = -(2n ** 63n);;) {
      const rows = page.all(last);
      if (rows.length === 0) break;
      for (const { id, g } of rows) {
        if (g !== null && !(g instanceof Uint8Array && provenValid(g))) doubtful.push(id as bigint);
      }
      last = rows[rows.length - 1]!.id as bigint;
    }
    db.exec(`DROP TABLE IF EXISTS ${DOUBTFUL}`);
    if (doubtful.length === 0) return 0;
    db.exec(`CREATE TABLE ${DOUBTFUL} (id INTEGER PRIMARY KEY)`);
    const insert = db.prepare(`INSERT INTO ${DOUBTFUL} (id) VALUES (?)`);
    db.exec("BEGIN");
    for (const id of doubtful) insert.run(id);
    db.exec("COMMIT");
    return doubtful.length;
  } finally {
    db.close();
  }
}

function dropDoubtful(file: string): void {
  const db = openSqlite(file, { mode: "scratch" });
  try {
    db.exec(`DROP TABLE IF EXISTS ${DOUBTFUL}`);
  } finally {
    db.close();
  }
}

function rowCount(file: string, table: string): number {
  const db = openSqlite(file, { mode: "read" });
  try {
    return Number(db.prepare(`SELECT count(*) AS n FROM ${quote(table)}`).get()?.n);
  } finally {
    db.close();
  }
}

/** The table's CRS number, and whether triggers watch it (a spatial index's need SpatiaLite). */
function layoutOf(file: string, table: string): { srsId: unknown; triggers: number } {
  const db = openSqlite(file, { mode: "read" });
  try {
    return {
      srsId: db.prepare("SELECT srs_id FROM gpkg_geometry_columns WHERE table_name = ?").get(table)
        ?.srs_id,
      triggers: Number(
        db.prepare(
          "SELECT count(*) AS n FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? " +
            "AND sql LIKE '%ST\\_%' ESCAPE '\\'",
        ).get(table)?.n,
      ),
    };
  } finally {
    db.close();
  }
}

/**
 * Gives `table` of the GeoPackage `gpkg` (a path GDAL opens; converted
 * without `-makevalid`) exactly the geometries `ogr2ogr -makevalid` would
 * have given: the geometries MakeValid could change are made valid by GDAL
 * on their own and written back over the originals by feature id. Returns
 * how many were made valid, or `undefined` when the result could differ
 * from a whole-layer `-makevalid` (GDAL dropped one of them, the two
 * GeoPackages number their CRS differently, or a spatial index's triggers
 * would need SpatiaLite to update it): the caller then converts the layer
 * again with `-makevalid`.
 */
export async function makeValidInPlace(
  scratch: GdalScratch,
  gpkg: string,
  table: string,
  geometryColumn: string,
  outputName: string,
  options: {
    /** The user's name for the file, in GDAL's messages (never the scratch copy's name). */
    readonly label?: string;
  } = {},
): Promise<number | undefined> {
  const g = quote(geometryColumn);
  const open = options.label === undefined ? undefined : { label: options.label };
  const host = scratch.toHost(gpkg);
  if (markDoubtful(host, table, geometryColumn) === 0) return 0;
  let flagged: string;
  try {
    flagged = await scratch.gdal.ogr2ogr(
      gpkg,
      [
        ...SCRATCH_GPKG_OPTIONS,
        "-nln",
        "flagged",
        "-dialect",
        "SQLite",
        "-sql",
        `SELECT rowid AS src_rowid, ${g} FROM ${quote(table)} WHERE ${mayChange(g)} ` +
        `AND rowid IN (SELECT id FROM ${DOUBTFUL})`,
      ],
      `${outputName}_flagged`,
      open,
    );
  } finally {
    dropDoubtful(host);
  }
  const work = [scratch.toHost(flagged)];
  try {
    const picked = rowCount(work[0]!, "flagged");
    if (picked === 0) return 0;
    const fixed = await scratch.gdal.ogr2ogr(
      flagged,
      [
        ...SCRATCH_GPKG_OPTIONS,
        "-nln",
        "fixed",
        "-makevalid",
      ],
      `${outputName}_fixed`,
      open,
    );
    const fixedHost = scratch.toHost(fixed);
    work.push(fixedHost);
    if (rowCount(fixedHost, "fixed") !== picked) return undefined;
    const [made, layer] = [layoutOf(fixedHost, "fixed"), layoutOf(host, table)];
    if (made.srsId !== layer.srsId || layer.triggers > 0) return undefined;
    // Two connections, not ATTACH: Deno's SQLite allows no attached
    // database unless the process has every permission (-A), which the
    // platform's tasks never have (see _chunks.ts).
    const db = openSqlite(host, { mode: "scratch" });
    const fixedDb = openSqlite(fixedHost, { mode: "read" });
    try {
      const update = db.prepare(`UPDATE ${quote(table)} SET ${g} = ? WHERE rowid = ?`);
      const rows = fixedDb.prepare(`SELECT src_rowid AS id, ${SCRATCH_GEOM} AS g FROM fixed`);
      rows.setReadBigInts(true);
      db.exec("BEGIN");
      for (const row of rows.iterate()) {
        update.run(row.g as Uint8Array | null, row.id as bigint);
      }
      db.exec("COMMIT");
    } finally {
      fixedDb.close();
      db.close();
    }
    return picked;
  } finally {
    for (const file of work) await Deno.remove(file).catch(() => {});
  }
}
