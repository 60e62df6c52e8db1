/** netcdfCutShort: the header of a classic netCDF against the file's size. */

import assert from "node:assert/strict";
import { netcdfCutShort } from "../../formats/netcdf_size.ts";

Deno.test("netcdfCutShort: a header netcdfjs refuses is not read again up to the whole file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "netcdf_size_" });
  const path = `${dir}/bad_tag.nc`;
  // Classic magic, then a wrong tag for the list of dimensions; 32 MiB long (sparse).
  const head = new Uint8Array([0x43, 0x44, 0x46, 1, 0, 0, 0, 0, 0, 0, 0, 0x0c, 0, 0, 0, 1]);
  await Deno.writeFile(path, head);
  await Deno.truncate(path, 32 * 1024 * 1024);
  const read = Deno.FsFile.prototype.read;
  let bytesRead = 0;
  Deno.FsFile.prototype.read = async function (this: Deno.FsFile, p: Uint8Array) {
    const n = await read.call(this, p);
    bytesRead += n ?? 0;
    return n;
  };
  try {
    assert.equal(await netcdfCutShort(path), undefined);
    assert.ok(bytesRead <= 1024 * 1024, `read ${bytesRead} bytes of a 32 MiB file`);
  } finally {
    Deno.FsFile.prototype.read = read;
    await Deno.remove(dir, { recursive: true });
  }
});
