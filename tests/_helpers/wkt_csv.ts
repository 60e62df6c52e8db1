/**
 * The one way tests and benchmarks make a vector file with real GDAL: write
 * a CSV whose `wkt` column holds each feature's geometry, then convert it
 * with ogr2ogr. A CSV is the shortest text that gives every attribute type
 * (with a `.csvt` beside it) and any geometry, including invalid ones.
 *
 * @module
 */

/**
 * ogr2ogr's arguments to convert `csv` (geometry in its `wkt` column, which
 * is not kept as an attribute) to `out` with the driver `format`, in
 * EPSG:4326, followed by `extra` (layer name, geometry type, creation
 * options).
 *
 * @example
 * ```ts
 * import { fromWktCsv } from "./wkt_csv.ts";
 *
 * const args = fromWktCsv("in.csv", "GPKG", "out.gpkg", "-nln", "parcels");
 * // await new Deno.Command("ogr2ogr", { args }).output();
 * ```
 */
export function fromWktCsv(
  csv: string,
  format: string,
  out: string,
  ...extra: string[]
): string[] {
  return [
    ...["-f", format, out, csv],
    ...["-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO"],
    ...["-a_srs", "EPSG:4326"],
    ...extra,
  ];
}
