import assert from "node:assert/strict";
import { dropMeasures } from "../../../assets/spatial/vector.ts";

Deno.test("dropMeasures: M is dropped from measured layers, Z kept, others untouched", () => {
  for (const t of ["MeasuredLineString", "LineStringM", "Measured Polygon", "MultiPointM"]) {
    assert.deepEqual(dropMeasures(t), ["-dim", "XY"], t);
  }
  for (const t of ["3DMeasuredPoint", "PointZM", "3D Measured Multi Polygon", "PolygonZM"]) {
    assert.deepEqual(dropMeasures(t), ["-dim", "XYZ"], t);
  }
  for (const t of ["Point", "3DLineString", "LineStringZ", "Unknown (any)", "MultiPolygon", ""]) {
    assert.deepEqual(dropMeasures(t), [], t);
  }
});
