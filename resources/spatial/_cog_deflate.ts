/**
 * Which `gdal_translate` calls of the wasm engine (`gdal_wasm.ts`) have GDAL
 * write their COG uncompressed and leave the deflate to
 * `formats/tiff_deflate.ts` (native zlib on worker threads: see its module
 * doc for the figures), and with which predictor and level.
 *
 * Only a COG with `COMPRESS=DEFLATE` whose other creation options do not
 * touch how tiles are compressed qualifies; anything else (another codec,
 * `OVERVIEW_COMPRESS`, a zlib level GDAL takes but zlib does not) stays
 * wholly GDAL's. So does a raster of more than one band (the engine asks
 * first): GDAL 3.8's COG driver interleaves an uncompressed one by band and a
 * compressed one by pixel, and the deflater keeps the layout it is given.
 *
 * @module
 */

import type { DeflateOptions } from "../../formats/tiff_deflate.ts";

/** The GDAL options to write the COG uncompressed, and how to deflate it after. */
export interface DeflatePlan {
  /** The caller's options with `COMPRESS=NONE` and without `PREDICTOR` / `LEVEL`. */
  gdalOptions: string[];
  deflate: DeflateOptions;
}

/** Creation options that change how tiles are compressed in ways the deflater does not follow. */
const FOREIGN =
  /^(OVERVIEW_COMPRESS|OVERVIEW_PREDICTOR|OVERVIEW_QUALITY|ZLEVEL|QUALITY|JXL_|LERC_|MAX_Z_ERROR|WEBP_|ZSTD_)/i;

/** gdal_translate options that change the bands or add a mask. */
const BAND_OPTIONS = new Set(["-b", "-mask", "-expand", "-addalpha"]);

const PREDICTORS: Record<string, DeflateOptions["predictor"]> = {
  YES: "auto",
  NO: 1,
  NONE: 1,
  FALSE: 1,
  "1": 1,
  STANDARD: 2,
  "2": 2,
  FLOATING_POINT: 3,
  "3": 3,
};

/** The plan for `options` (gdal_translate's), or `undefined` to let GDAL compress. */
export function deflatePlan(options: readonly string[]): DeflatePlan | undefined {
  const format = options[options.findIndex((o) => o === "-of") + 1];
  if (options.indexOf("-of") < 0 || format?.toUpperCase() !== "COG") return undefined;
  // Band selection or expansion may make one band several; a mask adds mask IFDs.
  if (options.some((o) => BAND_OPTIONS.has(o))) return undefined;
  let compress: string | undefined;
  let predictor: DeflateOptions["predictor"] = 1;
  let level = 6;
  const gdalOptions: string[] = [];
  for (let i = 0; i < options.length; i++) {
    const option = options[i]!;
    if (option !== "-co" || i + 1 >= options.length) {
      gdalOptions.push(option);
      continue;
    }
    const value = options[++i]!;
    const at = value.indexOf("=");
    const key = value.slice(0, at).toUpperCase();
    const setting = value.slice(at + 1).toUpperCase();
    if (FOREIGN.test(key)) return undefined;
    if (key === "COMPRESS") {
      compress = setting;
      gdalOptions.push("-co", "COMPRESS=NONE");
    } else if (key === "PREDICTOR") {
      const chosen = PREDICTORS[setting];
      if (chosen === undefined) return undefined;
      predictor = chosen;
    } else if (key === "LEVEL") {
      level = Number(setting);
      if (!Number.isInteger(level) || level < 1 || level > 9) return undefined;
    } else {
      gdalOptions.push("-co", value);
    }
  }
  if (compress !== "DEFLATE") return undefined;
  return { gdalOptions, deflate: { predictor, level } };
}
