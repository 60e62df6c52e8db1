/**
 * The SQL of each intent, written once in the subset PostGIS and SpatiaLite
 * share (`ST_Transform`, `ST_Area`, `ST_PointOnSurface`, quoted identifiers),
 * so the same recipe runs on either engine and the recipe tests compare them.
 *
 * Every recipe reads table `input` (attributes plus `geom`) and returns the
 * attributes plus `geom`, with extra computed columns where the intent says.
 *
 * @module
 */

import { quoteIdent } from "./engine.ts";

/** Names of the recipes, one per manifest intent. */
export type RecipeName = "publish" | "measure" | "centroids";

/**
 * Whether a recipe returns its input geometries and attributes unchanged
 * (`publish`; `measure`, whose geodesic columns are computed while the
 * GeoParquet is written, with GeographicLib, because neither engine's SQL
 * gives PostGIS geography's answer on both), so a caller may skip the engine
 * round trip (load, run, dump) without changing the result.
 */
export function isIdentityRecipe(recipe: RecipeName): boolean {
  return recipe === "publish" || recipe === "measure";
}

/** The `SELECT` of a recipe over table `input` whose attribute columns are `columns`. */
export function recipeSql(recipe: RecipeName, columns: readonly string[]): string {
  const attributes = columns.map(quoteIdent);
  const select = (extra: string[]) => [...attributes, ...extra].join(", ");
  switch (recipe) {
    case "publish":
    case "measure":
      return `SELECT ${select(["geom"])} FROM input`;
    case "centroids":
      return `SELECT ${select(["ST_PointOnSurface(geom) AS geom"])} FROM input`;
  }
}
