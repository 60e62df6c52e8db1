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

/** EPSG code of the equal-area projection areas are measured in (World Cylindrical Equal Area). */
export const EQUAL_AREA_SRID = 6933;

/**
 * Whether a recipe returns its input unchanged (`publish`), so a caller may
 * skip the engine round trip (load, run, dump) without changing the result.
 */
export function isIdentityRecipe(recipe: RecipeName): boolean {
  return recipe === "publish";
}

/** The `SELECT` of a recipe over table `input` whose attribute columns are `columns`. */
export function recipeSql(recipe: RecipeName, columns: readonly string[]): string {
  const attributes = columns.map(quoteIdent);
  const select = (extra: string[]) => [...attributes, ...extra].join(", ");
  switch (recipe) {
    case "publish":
      return `SELECT ${select(["geom"])} FROM input`;
    case "measure":
      return `SELECT ${
        select(["geom", `ST_Area(ST_Transform(geom, ${EQUAL_AREA_SRID})) AS area_m2`])
      } FROM input`;
    case "centroids":
      return `SELECT ${select(["ST_PointOnSurface(geom) AS geom"])} FROM input`;
  }
}
