"""Makes the inputs of the spatial input matrix (matrix_test.ts) with GDAL's
own Python bindings, the way real files come out of desktop GIS, scanners and
agencies: every GTiff codec and pixel type, palettes, masks, GCPs, odd
geotransforms, other raster formats, and vector files in every format and
with every defect the matrix names.

Usage: python3 _matrix_inputs.py OUT_DIR CASE...
Each case writes OUT_DIR/<case>.<ext> (and its sidecars); unknown cases fail.
"""

import json
import math
import os
import struct
import sys

from osgeo import gdal, ogr, osr

gdal.UseExceptions()
ogr.UseExceptions()
osr.UseExceptions()

OUT = sys.argv[1]
W, H = 96, 80
UTM = [500000.0, 30.0, 0.0, 5000000.0, 0.0, -30.0]


def srs(code):
    s = osr.SpatialReference()
    s.SetFromUserInput(code)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def pixel(x, y, b=0):
    # A smooth terrain with a ridge and some texture, as a DEM or an image looks.
    return (
        120
        + 80 * math.sin(x / 13.0 + b)
        + 40 * math.cos(y / 9.0)
        + ((x * 7 + y * 13 + b * 5) % 17)
    )


def fill(ds, scale=1.0, offset=0.0, kind=float):
    for b in range(1, ds.RasterCount + 1):
        band = ds.GetRasterBand(b)
        xs, ys = ds.RasterXSize, ds.RasterYSize
        if band.DataType in (gdal.GDT_CInt16, gdal.GDT_CInt32, gdal.GDT_CFloat32, gdal.GDT_CFloat64):
            fmt = "f" if band.DataType in (gdal.GDT_CFloat32, gdal.GDT_CInt16, gdal.GDT_CInt32) else "d"
            vals = []
            for y in range(ys):
                for x in range(xs):
                    vals += [pixel(x, y, b) * scale + offset, pixel(y, x, b) - 100]
            band.WriteRaster(0, 0, xs, ys, struct.pack("%d%s" % (len(vals), fmt), *vals),
                             buf_type=gdal.GDT_CFloat32 if fmt == "f" else gdal.GDT_CFloat64)
            continue
        vals = [pixel(x, y, b) * scale + offset for y in range(ys) for x in range(xs)]
        band.WriteRaster(0, 0, xs, ys, struct.pack("%dd" % len(vals), *vals), buf_type=gdal.GDT_Float64)


def tiff(name, dtype=gdal.GDT_Byte, bands=1, options=(), code="EPSG:32612", gt=UTM,
         scale=1.0, offset=0.0, nodata=None, size=(W, H), after=None):
    path = os.path.join(OUT, name)
    mem = gdal.GetDriverByName("MEM").Create("", size[0], size[1], bands, dtype)
    if gt is not None:
        mem.SetGeoTransform(gt)
    if code is not None:
        mem.SetSpatialRef(srs(code))
    fill(mem, scale, offset)
    if nodata is not None:
        for b in range(1, bands + 1):
            mem.GetRasterBand(b).SetNoDataValue(nodata)
    if after:
        after(mem)
    gdal.GetDriverByName("GTiff").CreateCopy(path, mem, options=list(options))
    return path


def rgb(mem):
    for b, ci in enumerate([gdal.GCI_RedBand, gdal.GCI_GreenBand, gdal.GCI_BlueBand, gdal.GCI_AlphaBand]):
        if b < mem.RasterCount:
            mem.GetRasterBand(b + 1).SetColorInterpretation(ci)


def mask_corner(mem):
    # The no-data corner of a scan, as a per-dataset mask.
    mem.CreateMaskBand(gdal.GMF_PER_DATASET)
    m = mem.GetRasterBand(1).GetMaskBand()
    m.Fill(255)
    m.WriteRaster(0, 0, 20, 20, b"\x00" * 400)


RASTERS = {
    "r_none": lambda: tiff("r_none.tif", options=["COMPRESS=NONE"]),
    "r_lzw": lambda: tiff("r_lzw.tif", options=["COMPRESS=LZW"]),
    "r_deflate": lambda: tiff("r_deflate.tif", options=["COMPRESS=DEFLATE", "TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=32"]),
    "r_zstd": lambda: tiff("r_zstd.tif", options=["COMPRESS=ZSTD"]),
    "r_lzma": lambda: tiff("r_lzma.tif", options=["COMPRESS=LZMA"]),
    "r_packbits": lambda: tiff("r_packbits.tif", options=["COMPRESS=PACKBITS"]),
    "r_jpeg": lambda: tiff("r_jpeg.tif", options=["COMPRESS=JPEG"]),
    "r_jpeg_ycbcr": lambda: tiff("r_jpeg_ycbcr.tif", bands=3, after=rgb,
                                 options=["COMPRESS=JPEG", "PHOTOMETRIC=YCBCR", "TILED=YES"]),
    "r_webp": lambda: tiff("r_webp.tif", bands=3, after=rgb, options=["COMPRESS=WEBP", "WEBP_LOSSLESS=YES"]),
    "r_lerc": lambda: tiff("r_lerc.tif", gdal.GDT_Float32, options=["COMPRESS=LERC", "MAX_Z_ERROR=0.01"]),
    "r_lerc_deflate": lambda: tiff("r_lerc_deflate.tif", gdal.GDT_Float32, options=["COMPRESS=LERC_DEFLATE"]),
    "r_lerc_zstd": lambda: tiff("r_lerc_zstd.tif", gdal.GDT_Float32, options=["COMPRESS=LERC_ZSTD"]),
    "r_ccitt": lambda: tiff("r_ccitt.tif", scale=0.004, options=["COMPRESS=CCITTFAX4", "NBITS=1"]),
    "r_pred2": lambda: tiff("r_pred2.tif", gdal.GDT_Int16, scale=10, offset=-900,
                            options=["COMPRESS=DEFLATE", "PREDICTOR=2"]),
    "r_pred3": lambda: tiff("r_pred3.tif", gdal.GDT_Float32, scale=0.37,
                            options=["COMPRESS=LZW", "PREDICTOR=3", "TILED=YES"]),
    "r_strips": lambda: tiff("r_strips.tif", options=["COMPRESS=DEFLATE", "TILED=NO", "ROWSPERSTRIP=3"]),
    "r_bigtiff": lambda: tiff("r_bigtiff.tif", gdal.GDT_UInt16, scale=40, options=["BIGTIFF=YES", "TILED=YES", "COMPRESS=ZSTD"]),
    "r_int8": lambda: tiff("r_int8.tif", scale=0.5, offset=-100, options=["PIXELTYPE=SIGNEDBYTE"]),
    "r_uint16": lambda: tiff("r_uint16.tif", gdal.GDT_UInt16, scale=200),
    "r_int16": lambda: tiff("r_int16.tif", gdal.GDT_Int16, scale=-30, nodata=-32768),
    "r_uint32": lambda: tiff("r_uint32.tif", gdal.GDT_UInt32, scale=1e6),
    "r_int32": lambda: tiff("r_int32.tif", gdal.GDT_Int32, scale=-1e5, nodata=-2147483648),
    "r_float32": lambda: tiff("r_float32.tif", gdal.GDT_Float32, scale=0.01, nodata=-3.4028234663852886e38),
    "r_float64": lambda: tiff("r_float64.tif", gdal.GDT_Float64, scale=1e-7, nodata=-9999),
    "r_cint16": lambda: tiff("r_cint16.tif", gdal.GDT_CInt16),
    "r_cfloat32": lambda: tiff("r_cfloat32.tif", gdal.GDT_CFloat32),
    "r_rgba": lambda: tiff("r_rgba.tif", bands=4, after=rgb, options=["PHOTOMETRIC=RGB", "ALPHA=YES", "COMPRESS=DEFLATE"]),
    "r_palette": lambda: palette("r_palette.tif"),
    "r_nan": lambda: nan_nodata("r_nan.tif"),
    "r_no_nodata": lambda: tiff("r_no_nodata.tif", gdal.GDT_Float32),
    "r_mask": lambda: internal_mask("r_mask.tif"),
    "r_overviews": lambda: overviews("r_overviews.tif"),
    "r_rotated": lambda: tiff("r_rotated.tif", gt=[500000, 28.2, 10.3, 5000000, 10.3, -28.2]),
    "r_sheared": lambda: tiff("r_sheared.tif", gt=[500000, 30, 5, 5000000, 0, -30]),
    "r_gcps": lambda: gcps("r_gcps.tif"),
    "r_nocrs": lambda: tiff("r_nocrs.tif", gdal.GDT_Float32, code=None, gt=[-12000000, 500, 0, 5600000, 0, -500]),
    "r_antimeridian": lambda: tiff("r_antimeridian.tif", code="EPSG:4326", gt=[175.0, 0.125, 0, -15.0, 0, -0.125]),
    "r_utm60": lambda: tiff("r_utm60.tif", code="EPSG:32660", gt=[700000, 3125, 0, 6000000, 0, -2500]),
    "r_cog": lambda: cog("r_cog.tif"),
    "r_png": lambda: png("r_png.png"),
    "r_jp2": lambda: other("r_jp2.jp2", "JP2OpenJPEG", ["QUALITY=100", "REVERSIBLE=YES"]),
    "r_hfa": lambda: other("r_hfa.img", "HFA", ["COMPRESSED=YES"], gdal.GDT_Int16),
    "r_netcdf": lambda: other("r_netcdf.nc", "netCDF", [], gdal.GDT_Float32, code="EPSG:4326",
                              gt=[-111.0, 0.01, 0, 46.0, 0, -0.01]),
    "r_aaigrid": lambda: other("r_aaigrid.asc", "AAIGrid", [], gdal.GDT_Float32, nodata=-9999),
    "r_vrt": lambda: vrt("r_vrt.vrt"),
    "r_band_interleave": lambda: tiff("r_band_interleave.tif", gdal.GDT_UInt16, bands=3, scale=90,
                                      options=["INTERLEAVE=BAND", "COMPRESS=DEFLATE"]),
    "r_pixel_tiled": lambda: tiff("r_pixel_tiled.tif", bands=4, after=rgb,
                                  options=["INTERLEAVE=PIXEL", "TILED=YES", "COMPRESS=LZW", "PHOTOMETRIC=RGB", "ALPHA=YES"]),
    "r_nodata_zero": lambda: tiff("r_nodata_zero.tif", nodata=0, options=["COMPRESS=DEFLATE"]),
    # Probes (issue 11, adversarial): 12-bit samples, the float extremes ESRI writes as nodata.
    "r_nbits12": lambda: tiff("r_nbits12.tif", gdal.GDT_UInt16, scale=15, options=["NBITS=12", "COMPRESS=LZW"]),
    "r_f32_nodata_lowest": lambda: tiff("r_f32_nodata_lowest.tif", gdal.GDT_Float32, scale=0.37,
                                        nodata=-3.4028234663852886e+38, options=["COMPRESS=DEFLATE", "PREDICTOR=3"]),
    "r_f64_nodata_lowest": lambda: tiff("r_f64_nodata_lowest.tif", gdal.GDT_Float64, scale=0.37,
                                        nodata=-1.7976931348623157e+308),
    "r_nbits2": lambda: tiff("r_nbits2.tif", scale=0.01, options=["NBITS=2"]),
    "r_nodata_max": lambda: tiff("r_nodata_max.tif", gdal.GDT_UInt16, scale=100, nodata=65535),
    "r_envi": lambda: other("r_envi.dat", "ENVI", [], gdal.GDT_Int16),
    "r_xyz": lambda: other("r_xyz.xyz", "XYZ", [], gdal.GDT_Float32),
    "r_jpg_world": lambda: jpeg_world("r_jpg_world.jpg"),
    "r_netcdf_multi": lambda: netcdf_multi("r_netcdf_multi.nc"),
    "r_netcdf_bnds": lambda: netcdf_bnds("r_netcdf_bnds.nc"),
    "r_int64": lambda: tiff("r_int64.tif", gdal.GDT_Int64, scale=-1e9, options=["COMPRESS=DEFLATE"]),
    "r_cint32": lambda: tiff("r_cint32.tif", gdal.GDT_CInt32),
    "r_cfloat64": lambda: tiff("r_cfloat64.tif", gdal.GDT_CFloat64),
    "r_multispectral": lambda: tiff("r_multispectral.tif", gdal.GDT_UInt16, bands=8, scale=40,
                                    options=["COMPRESS=DEFLATE", "TILED=YES", "INTERLEAVE=BAND"]),
    # A LiDAR DEM: horizontal UTM plus vertical NAVD88 height (a compound CRS).
    "r_compound": lambda: tiff("r_compound.tif", gdal.GDT_Float32, code="EPSG:32612+5703", scale=3.1),
    "r_scaled": lambda: tiff("r_scaled.tif", gdal.GDT_Int16, scale=30, offset=25000, nodata=-32768, after=scaled),
    "r_gpkg": lambda: gpkg_raster("r_gpkg.gpkg"),
    "r_gtx_float64_pred": lambda: tiff("r_gtx_float64_pred.tif", gdal.GDT_Float64, scale=1e-3,
                                       options=["COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES"]),
    "r_corrupt": lambda: corrupt("r_corrupt.tif"),
    # A planetary cube (special pixels: a mask of its own), MODIS-style HDF4, and a netCDF-4
    # file (HDF5 inside) as NASA portals name them.
    "r_isis3": lambda: other("r_isis3.cub", "ISIS3", [], gdal.GDT_Float32, code=None, nodata=-3.4028226550889045e38),
    "r_hdf4": lambda: other("r_hdf4.hdf", "HDF4Image", [], gdal.GDT_Int16),
    "r_netcdf4_h5": lambda: other("r_netcdf4_h5.h5", "netCDF", ["FORMAT=NC4"], gdal.GDT_Float32,
                                  code="EPSG:4326", gt=[-110, 0.01, 0, 45, 0, -0.01]),
    # ER Mapper (Geoscience Australia's grids): the header dem.ers beside its data file dem.
    "r_ers": lambda: other("r_ers.ers", "ERS", [], gdal.GDT_Float32, nodata=-99999),
    # UTM 12N written from a PROJ string (+ellps=WGS84 +towgs84=0,0,0), as older tools did.
    "r_tmerc_towgs84": lambda: tiff("r_tmerc_towgs84.tif", code="+proj=tmerc +lat_0=0 +lon_0=-111 +k=0.9996 "
                                    "+x_0=500000 +y_0=0 +ellps=WGS84 +towgs84=0,0,0 +units=m +no_defs"),
    # PCI Geomatics' format, which keeps band statistics in the file itself.
    "r_pcidsk": lambda: other("r_pcidsk.pix", "PCIDSK", [], gdal.GDT_Int16),
    # A DEM tile all sea: every pixel nodata (GDAL cannot compute its statistics).
    "r_all_nodata": lambda: tiff("r_all_nodata.tif", gdal.GDT_Int16, nodata=-9999,
                                 after=lambda m: m.GetRasterBand(1).Fill(-9999)),
    # Each band its own nodata (PAM .aux.xml, as ENVI/HFA/netCDF variables carry them).
    "r_band_nodata": lambda: band_nodata("r_band_nodata.tif"),
    # A satellite scene placed only by RPCs.
    "r_rpc": lambda: rpc_only("r_rpc.tif"),
    # A BigTIFF without a codec gdal3.js lacks, a COG with an internal mask (as gdal_translate
    # -of COG writes a scan's no-data corner), and a 3-band UInt16 image with nodata.
    "r_bigtiff_deflate": lambda: tiff("r_bigtiff_deflate.tif", gdal.GDT_UInt16, scale=40,
                                      options=["BIGTIFF=YES", "TILED=YES", "COMPRESS=DEFLATE"]),
    "r_cog_mask": lambda: cog_mask("r_cog_mask.tif"),
    "r_uint16_nodata": lambda: tiff("r_uint16_nodata.tif", gdal.GDT_UInt16, bands=3, scale=150, nodata=0,
                                    after=rgb, options=["COMPRESS=DEFLATE", "TILED=YES"]),
    # A scan placed by a world file (.tfw) and an ESRI .prj, no GeoTIFF keys.
    "r_tfw": lambda: tfw("r_tfw.tif"),
    # Pixel-is-point (a DEM's posts), a nodata value the pixel type cannot hold.
    "r_point": lambda: tiff("r_point.tif", gdal.GDT_Int16, scale=10,
                            after=lambda m: m.SetMetadataItem("AREA_OR_POINT", "Point")),
    "r_nodata_oob": lambda: tiff("r_nodata_oob.tif", nodata=-9999),
    # A PNG without its world file (a screenshot of a map), an ASCII grid without its .prj.
    "r_png_noworld": lambda: png_noworld("r_png_noworld.png"),
    "r_asc_noprj": lambda: asc_noprj("r_asc_noprj.asc"),
    "r_zero": lambda: open(os.path.join(OUT, "r_zero.tif"), "wb").close(),
    "r_random": lambda: open(os.path.join(OUT, "r_random.tif"), "wb").write(bytes((i * 7919) % 251 for i in range(4096))),
}


def palette(name):
    def ct(mem):
        table = gdal.ColorTable()
        for i in range(256):
            table.SetColorEntry(i, (i, 255 - i, (i * 3) % 256, 255))
        mem.GetRasterBand(1).SetRasterColorTable(table)
        mem.GetRasterBand(1).SetColorInterpretation(gdal.GCI_PaletteIndex)
    return tiff(name, after=ct, options=["COMPRESS=LZW"])


def nan_nodata(name):
    def holes(mem):
        b = mem.GetRasterBand(1)
        b.SetNoDataValue(float("nan"))
        b.WriteRaster(0, 0, 10, 10, struct.pack("100f", *([float("nan")] * 100)), buf_type=gdal.GDT_Float32)
    return tiff(name, gdal.GDT_Float32, code=None, gt=[-12000000, 500, 0, 5600000, 0, -500], after=holes)


def internal_mask(name):
    gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES")
    try:
        return tiff(name, bands=3, after=lambda m: (rgb(m), mask_corner(m)), options=["COMPRESS=DEFLATE"])
    finally:
        gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", None)


def overviews(name):
    path = tiff(name, gdal.GDT_Int16, scale=5, options=["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16", "COMPRESS=LZW"])
    ds = gdal.Open(path, gdal.GA_Update)
    ds.BuildOverviews("AVERAGE", [2, 4])
    ds = None
    return path


def gcps(name):
    path = tiff(name, gt=None, code=None)
    ds = gdal.Open(path, gdal.GA_Update)
    pts = [gdal.GCP(500000 + px * 30, 5000000 - ln * 30, 0, px, ln) for px, ln in [(0, 0), (W, 0), (0, H), (W, H), (40, 30)]]
    ds.SetGCPs(pts, srs("EPSG:32612").ExportToWkt())
    ds = None
    return path


def cog(name):
    src = tiff("_cog_src.tif", bands=3, after=rgb, size=(600, 500))
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format="COG", creationOptions=["COMPRESS=DEFLATE", "BLOCKSIZE=256"])
    os.remove(src)
    return path


def cog_mask(name):
    src = tiff("_cogmask_src.tif", bands=3, after=lambda m: (rgb(m), mask_corner(m)))
    gdal.Translate(os.path.join(OUT, name), src, format="COG", creationOptions=["COMPRESS=DEFLATE"])
    os.remove(src)
    os.remove(src + ".msk")


def tfw(name):
    src = tiff("_tfw_src.tif")
    gdal.Translate(os.path.join(OUT, name), src, format="GTiff",
                   creationOptions=["PROFILE=BASELINE", "TFW=YES"])
    os.remove(src)
    s = srs("EPSG:32612")
    s.MorphToESRI()
    text(name[:-4] + ".prj", s.ExportToWkt())
    aux = os.path.join(OUT, name + ".aux.xml")
    if os.path.exists(aux):
        os.remove(aux)


def png_noworld(name):
    png(name)
    for ext in (".wld", ".pgw", ".png.aux.xml"):
        extra = os.path.join(OUT, name[:-4] + ext)
        if os.path.exists(extra):
            os.remove(extra)


def asc_noprj(name):
    other(name, "AAIGrid", [], gdal.GDT_Float32, nodata=-9999)
    for extra in (name[:-4] + ".prj", name + ".aux.xml"):
        if os.path.exists(os.path.join(OUT, extra)):
            os.remove(os.path.join(OUT, extra))


def png(name):
    src = tiff("_png_src.tif", bands=3, after=rgb)
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format="PNG", creationOptions=["WORLDFILE=YES"])
    os.remove(src)
    return path


def other(name, driver, options, dtype=gdal.GDT_Byte, code="EPSG:32612", gt=UTM, nodata=None):
    src = tiff("_%s_src.tif" % driver, dtype, code=code, gt=gt, nodata=nodata)
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format=driver, creationOptions=options)
    os.remove(src)
    return path


def scaled(mem):
    # Packed values (a satellite product's Int16 with scale and offset), a unit and a description.
    b = mem.GetRasterBand(1)
    b.SetScale(0.01)
    b.SetOffset(-273.15)
    b.SetUnitType("K")
    b.SetDescription("surface temperature")


def gpkg_raster(name):
    src = tiff("_gpkgr_src.tif", bands=3, after=rgb, code="EPSG:3857",
               gt=[-12245000.0, 10.0, 0, 5621000.0, 0, -10.0])
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format="GPKG", creationOptions=["TILE_FORMAT=PNG"])
    os.remove(src)


def jpeg_world(name):
    # A scanned map or a drone photo: JPEG beside a world file (.wld), the CRS declared.
    src = tiff("_jpg_src.tif", bands=3, after=rgb)
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format="JPEG", creationOptions=["WORLDFILE=YES", "QUALITY=95"])
    os.remove(src)
    for extra in (path + ".aux.xml",):
        if os.path.exists(extra):
            os.remove(extra)
    return path


def vrt(name):
    src = tiff("r_vrt_src.tif")
    gdal.Translate(os.path.join(OUT, name), src, format="VRT")


def corrupt(name):
    path = tiff(name, options=["COMPRESS=DEFLATE", "TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"])
    data = bytearray(open(path, "rb").read())
    # Garbage over the middle of the compressed tiles, as a bad sector or a cut download leaves it.
    mid = len(data) // 2
    data[mid:mid + 200] = bytes((i * 37) % 256 for i in range(200))
    open(path, "wb").write(bytes(data))


# ---------------------------------------------------------------- vectors


FIELDS = [
    ("name", ogr.OFTString), ("population", ogr.OFTInteger64), ("area_km2", ogr.OFTReal),
    ("founded", ogr.OFTDate), ("surveyed", ogr.OFTDateTime), ("rank", ogr.OFTInteger),
]
PLACES = [
    ("Zürich", 421878, 87.88, (1218, 1, 1), (2021, 3, 4, 10, 30, 0), 1,
     "POLYGON ((8.45 47.32,8.62 47.32,8.62 47.43,8.45 47.43,8.45 47.32))"),
    ("São Paulo", 12325232, 1521.11, (1554, 1, 25), None, 2,
     "POLYGON ((-46.8 -23.7,-46.4 -23.7,-46.4 -23.4,-46.8 -23.4,-46.8 -23.7),(-46.7 -23.6,-46.6 -23.6,-46.6 -23.5,-46.7 -23.6))"),
    (None, None, None, None, None, None,
     "POLYGON ((-110.1 45.1,-110.0 45.1,-110.0 45.2,-110.1 45.2,-110.1 45.1))"),
    ("Kraków", 9007199254740993, None, (1257, 6, 5), (1999, 12, 31, 23, 59, 59), 3,
     "MULTIPOLYGON (((19.8 50.0,20.1 50.0,20.1 50.1,19.8 50.1,19.8 50.0)),((20.2 50.0,20.3 50.0,20.3 50.1,20.2 50.0)))"),
]


def layer_with(ds, name, code, gtype, fields=FIELDS, options=()):
    layer = ds.CreateLayer(name, srs(code) if code else None, gtype, options=list(options))
    for fname, ftype in fields:
        layer.CreateField(ogr.FieldDefn(fname, ftype))
    return layer


def add(layer, values, wkt):
    f = ogr.Feature(layer.GetLayerDefn())
    for i, v in enumerate(values):
        if v is None:
            f.SetFieldNull(i)
        elif isinstance(v, tuple):
            f.SetField(i, *(list(v) + [0] * (6 - len(v))), 100)
        else:
            f.SetField(i, v)
    if wkt is not None:
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
    layer.CreateFeature(f)


def vector(name, driver, gtype=ogr.wkbUnknown, code="EPSG:4326", rows=PLACES, fields=FIELDS,
           dsco=(), lco=(), layer_name=None):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName(driver).Create(path, 0, 0, 0, gdal.GDT_Unknown, options=list(dsco))
    layer = layer_with(ds, layer_name or name.split(".")[0], code, gtype, fields, lco)
    for row in rows:
        add(layer, row[:-1], row[-1])
    ds = None
    return path


def shp(name, rows=PLACES, fields=FIELDS, gtype=ogr.wkbPolygon, code="EPSG:4326", encoding="UTF-8"):
    return vector(name, "ESRI Shapefile", gtype, code, rows, fields, lco=["ENCODING=" + encoding])


def shp_latin1(name):
    shp(name, encoding="ISO-8859-1")


def shp_no_prj(name):
    shp(name, code="EPSG:32612", rows=[r[:-1] + (utm_poly(i),) for i, r in enumerate(PLACES)])
    os.remove(os.path.join(OUT, name[:-4] + ".prj"))


def utm_poly(i):
    x, y = 500000 + i * 2000, 5000000
    return "POLYGON ((%d %d,%d %d,%d %d,%d %d,%d %d))" % (x, y, x + 1000, y, x + 1000, y + 1000, x, y + 1000, x, y)


def shp_no_cpg(name):
    shp(name, encoding="ISO-8859-1")
    os.remove(os.path.join(OUT, name[:-4] + ".cpg"))


def shp_no_cpg_utf8(name):
    shp(name, encoding="UTF-8")
    os.remove(os.path.join(OUT, name[:-4] + ".cpg"))


def shp_long_fields(name):
    fields = [("a_very_long_field_name", ogr.OFTString), ("a_very_long_field_other", ogr.OFTInteger),
              ("population_total_2020", ogr.OFTReal)]
    rows = [("x", 1, 1.5, "POINT (-110 45)"), ("y", None, None, "POINT (-111 46)")]
    shp(name, rows, fields, ogr.wkbPoint)


def shp_z(name):
    rows = [("a", 1, 1.0, None, None, 1, "LINESTRING Z (-110 45 1200.5,-110.1 45.1 1250,-110.2 45.05 1300)"),
            ("b", 2, None, None, None, 2, "LINESTRING Z (-111 46 900,-111.2 46.1 950)")]
    shp(name, rows, gtype=ogr.wkbLineString25D)


def shp_polygon_z(name):
    # A 3D survey's parcels (PolygonZ): valid rings, a triangle, and a bowtie to make valid;
    # only fields FlatGeobuf holds as they are, so gdal3.js streams it (assets/spatial/vector.ts).
    rows = [("a", 1, "POLYGON Z ((-110 45 10,-109.9 45 11,-109.9 45.1 12,-110 45.1 13,-110 45 10))"),
            ("b", 2, "POLYGON Z ((-111 46 5,-110.9 46 6,-110.9 46.1 7,-111 46 5))"),
            ("c", 3, "POLYGON Z ((-112 47 1,-111.9 47.1 2,-111.9 47 3,-112 47.1 4,-112 47 1))")]
    shp(name, rows, fields=[("name", ogr.OFTString), ("n", ogr.OFTInteger)], gtype=ogr.wkbPolygon25D)


def shp_blank_dates(name):
    # A Date field left blank (eight spaces in the .dbf, as many exporters write a null date).
    fields = [("name", ogr.OFTString), ("day", ogr.OFTDate)]
    rows = [("a", (2024, 2, 29), "POINT (-110 45)"), ("b", (2020, 1, 2), "POINT (-111 46)"),
            ("c", None, "POINT (-112 47)")]
    vector(name, "ESRI Shapefile", ogr.wkbPoint, rows=rows, fields=fields, lco=["ENCODING=UTF-8"])
    dbf = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(dbf, "rb").read())
    header, record = struct.unpack("<HH", data[8:12])
    # Record 2's day (after the deletion flag and the 80-byte name) becomes blank.
    start = header + record + 1 + 80
    data[start:start + 8] = b"        "
    open(dbf, "wb").write(data)


def shp_bad_dates(name):
    # Date values that are not dates, as hand-edited or badly exported .dbf files hold them.
    shp_blank_dates(name)
    dbf = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(dbf, "rb").read())
    header, record = struct.unpack("<HH", data[8:12])
    for row, value in ((0, b"20241345"), (2, b"2024XX01")):
        start = header + row * record + 1 + 80
        data[start:start + 8] = value
    open(dbf, "wb").write(data)


def shp_m(name):
    rows = [("a", 1, 1.0, None, None, 1, "LINESTRING M (-110 45 0,-110.1 45.1 10,-110.2 45.05 20)"),
            ("b", 2, None, None, None, 2, "LINESTRING M (-111 46 0,-111.2 46.1 5)")]
    shp(name, rows, gtype=ogr.wkbLineStringM)


def shp_zm(name):
    rows = [("a", 1, 1.0, None, None, 1, "POINT ZM (-110 45 1200 7)"),
            ("b", 2, None, None, None, 2, "POINT ZM (-111 46 900 8)")]
    shp(name, rows, gtype=ogr.wkbPointZM)


def shp_multipart(name):
    rows = [("a", 1, 1.0, None, None, 1,
             "MULTILINESTRING ((-110 45,-110.1 45.1),(-110.3 45.3,-110.4 45.2,-110.5 45.4))"),
            ("b", 2, None, None, None, 2, "LINESTRING (-111 46,-111.2 46.1)")]
    shp(name, rows, gtype=ogr.wkbLineString)


def cut(path, keep):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:keep if keep > 0 else len(data) + keep])


def shp_truncated(name):
    shp(name)
    cut(os.path.join(OUT, name), -60)


def dbf_truncated(name):
    shp(name)
    cut(os.path.join(OUT, name[:-4] + ".dbf"), -40)


def shx_mismatch(name):
    shp(name)
    other = "_other_" + name
    shp(other, rows=PLACES[:2] + [PLACES[0]] * 3)
    os.replace(os.path.join(OUT, other[:-4] + ".shx"), os.path.join(OUT, name[:-4] + ".shx"))
    for ext in ("shp", "dbf", "prj", "cpg"):
        os.remove(os.path.join(OUT, other[:-4] + "." + ext))


def geojson(name, doc):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as out:
        json.dump(doc, out, ensure_ascii=False)


def fc(features, **extra):
    return {"type": "FeatureCollection", **extra, "features": [
        {"type": "Feature", "properties": p, "geometry": g} for p, g in features]}


def gpkg_curves(name):
    rows = [
        ("arc", 1, None, None, None, 1, "CIRCULARSTRING (-110 45,-109.5 45.5,-109 45)"),
        ("compound", 2, None, None, None, 2, "COMPOUNDCURVE ((-110 44,-109 44),CIRCULARSTRING (-109 44,-108.5 44.5,-108 44))"),
        ("curvepoly", 3, None, None, None, 3,
         "CURVEPOLYGON (CIRCULARSTRING (-110 43,-109 43,-110 43))"),
        ("multisurface", 4, None, None, None, 4,
         "MULTISURFACE (CURVEPOLYGON (COMPOUNDCURVE (CIRCULARSTRING (-108 42,-107.5 42.5,-107 42),(-107 42,-108 42))),((-106 42,-105 42,-105 43,-106 42)))"),
    ]
    vector(name, "GPKG", ogr.wkbUnknown, rows=rows, layer_name="curves")


def gpkg_layers(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    roads = layer_with(ds, "roads", "EPSG:32612", ogr.wkbLineString, [("name", ogr.OFTString)])
    add(roads, ["Main St"], "LINESTRING (500000 5000000,501000 5001000,502500 5001200)")
    add(roads, ["Straße"], "LINESTRING (500500 5000000,500600 5002000)")
    parcels = layer_with(ds, "parcels", "EPSG:3857", ogr.wkbPolygon, [("owner", ogr.OFTString)])
    add(parcels, ["A"], "POLYGON ((-12245000 5620000,-12244000 5620000,-12244000 5621000,-12245000 5620000))")
    layer_with(ds, "empty_layer", "EPSG:4326", ogr.wkbPoint, [("x", ogr.OFTInteger)])
    attrs = ds.CreateLayer("attributes_only", None, ogr.wkbNone)
    attrs.CreateField(ogr.FieldDefn("k", ogr.OFTString))
    ds = None


def gpkg_unicode(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = layer_with(ds, "Straßen_Zürich", "EPSG:4326", ogr.wkbPoint,
                       [("höhe_m", ogr.OFTReal), ("名前", ogr.OFTString), ("name with space", ogr.OFTString)])
    add(layer, [408.5, "東京", "a b"], "POINT (8.54 47.37)")
    add(layer, [None, "Ñandú", None], "POINT (8.55 47.38)")
    ds = None


def gpkg_huge(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = layer_with(ds, "notes", "EPSG:4326", ogr.wkbPoint, [("text", ogr.OFTString), ("n", ogr.OFTInteger)])
    add(layer, ["é" * 300000 + "\n\t\"quoted\"", 1], "POINT (-110 45)")
    add(layer, ["short", 2], "POINT (-111 46)")
    ds = None


def gpkg_zero(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer_with(ds, "nothing", "EPSG:4326", ogr.wkbPoint, [("x", ogr.OFTInteger)])
    ds = None


def with_rows(driver, rows=None, gtype=ogr.wkbUnknown, dsco=(), lco=(), fields=FIELDS):
    return lambda name: vector(name, driver, gtype, rows=rows or PLACES, dsco=dsco, lco=lco, fields=fields)


POINTS = [("a", 1, 1.5, None, None, 1, "POINT (-110 45)"), ("b", None, None, None, None, 2, "POINT (-111 46)")]
LINES = [("t1", 1, None, None, None, 1, "LINESTRING (-110 45,-110.1 45.1,-110.2 45.3)"),
         ("t2", 2, None, None, None, 2, "LINESTRING (-111 46,-111.2 46.1)")]


def gpx(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPX").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    wpt = ds.CreateLayer("waypoints", srs("EPSG:4326"), ogr.wkbPoint)
    for n, wkt in [("summit", "POINT (-110.5 45.5)"), ("hut", "POINT (-110.4 45.6)")]:
        f = ogr.Feature(wpt.GetLayerDefn())
        f.SetField("name", n)
        f.SetField("ele", 2400.5)
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        wpt.CreateFeature(f)
    rte = ds.CreateLayer("routes", srs("EPSG:4326"), ogr.wkbLineString)
    f = ogr.Feature(rte.GetLayerDefn())
    f.SetField("name", "r1")
    f.SetGeometry(ogr.CreateGeometryFromWkt("LINESTRING (-110.5 45.5,-110.45 45.55,-110.4 45.6)"))
    rte.CreateFeature(f)
    trk = ds.CreateLayer("tracks", srs("EPSG:4326"), ogr.wkbMultiLineString)
    f = ogr.Feature(trk.GetLayerDefn())
    f.SetField("name", "t1")
    f.SetGeometry(ogr.CreateGeometryFromWkt("MULTILINESTRING ((-110.5 45.5,-110.49 45.51),(-110.48 45.52,-110.4 45.6))"))
    trk.CreateFeature(f)
    ds = None


def kml(name):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as out:
        out.write("""<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Trails</name>
<Folder><name>Summits</name>
<Placemark><name>Peak ö</name><description>A peak</description><Point><coordinates>-110.5,45.5,2400</coordinates></Point></Placemark>
<Placemark><name>Peak 2</name><Point><coordinates>-110.6,45.4,2300</coordinates></Point></Placemark>
</Folder>
<Folder><name>Trails</name>
<Placemark><name>Ridge</name><LineString><coordinates>-110.5,45.5 -110.4,45.6 -110.3,45.55</coordinates></LineString></Placemark>
</Folder>
<Folder><name>Areas</name>
<Placemark><name>Lake</name><Polygon><outerBoundaryIs><LinearRing><coordinates>-110.2,45.2 -110.1,45.2 -110.1,45.3 -110.2,45.2</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder>
</Document></kml>
""")


def kml_ext(name):
    # Google My Maps / ArcGIS exports: ExtendedData (typed by a Schema, and free Data) and times.
    text(name, """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Survey</name>
<Schema name="site" id="site"><SimpleField name="pop" type="int"/><SimpleField name="kind" type="string"/></Schema>
<Placemark><name>A</name><description>first</description><TimeStamp><when>2020-01-02T10:00:00Z</when></TimeStamp>
<ExtendedData><SchemaData schemaUrl="#site"><SimpleData name="pop">12</SimpleData><SimpleData name="kind">spring</SimpleData></SchemaData></ExtendedData>
<Point><coordinates>-110.5,45.5</coordinates></Point></Placemark>
<Placemark><name>B</name><ExtendedData><SchemaData schemaUrl="#site"><SimpleData name="pop">7</SimpleData></SchemaData></ExtendedData>
<Point><coordinates>-110.6,45.4</coordinates></Point></Placemark>
</Document></kml>
""")


def kmz(name, make=None):
    import zipfile
    (make or kml)("_doc.kml")
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_DEFLATED) as z:
        z.write(os.path.join(OUT, "_doc.kml"), "doc.kml")
        # Google Earth puts the icons beside the document.
        z.writestr("files/icon.png", b"\x89PNG\r\n\x1a\n")
    os.remove(os.path.join(OUT, "_doc.kml"))


def text(name, body):
    with open(os.path.join(OUT, name), "w", encoding="utf-8") as out:
        out.write(body)


VECTORS = {
    "v_shp_utf8": lambda: shp("v_shp_utf8.shp"),
    "v_shp_latin1": lambda: shp_latin1("v_shp_latin1.shp"),
    "v_shp_noprj": lambda: shp_no_prj("v_shp_noprj.shp"),
    "v_shp_nocpg": lambda: shp_no_cpg("v_shp_nocpg.shp"),
    "v_shp_nocpg_utf8": lambda: shp_no_cpg_utf8("v_shp_nocpg_utf8.shp"),
    "v_shp_longfields": lambda: shp_long_fields("v_shp_longfields.shp"),
    "v_shp_z": lambda: shp_z("v_shp_z.shp"),
    "v_shp_polygon_z": lambda: shp_polygon_z("v_shp_polygon_z.shp"),
    "v_shp_blank_dates": lambda: shp_blank_dates("v_shp_blank_dates.shp"),
    "v_shp_bad_dates": lambda: shp_bad_dates("v_shp_bad_dates.shp"),
    "v_shp_m": lambda: shp_m("v_shp_m.shp"),
    "v_shp_zm": lambda: shp_zm("v_shp_zm.shp"),
    "v_shp_multipart": lambda: shp_multipart("v_shp_multipart.shp"),
    "v_shp_truncated": lambda: shp_truncated("v_shp_truncated.shp"),
    "v_dbf_truncated": lambda: dbf_truncated("v_dbf_truncated.shp"),
    "v_shx_mismatch": lambda: shx_mismatch("v_shx_mismatch.shp"),
    "v_gpkg_types": lambda: vector("v_gpkg_types.gpkg", "GPKG", ogr.wkbUnknown),
    "v_gpkg_curves": lambda: gpkg_curves("v_gpkg_curves.gpkg"),
    "v_gpkg_layers": lambda: gpkg_layers("v_gpkg_layers.gpkg"),
    "v_gpkg_unicode": lambda: gpkg_unicode("v_gpkg_unicode.gpkg"),
    "v_gpkg_huge": lambda: gpkg_huge("v_gpkg_huge.gpkg"),
    "v_gpkg_zero": lambda: gpkg_zero("v_gpkg_zero.gpkg"),
    "v_empty_point": lambda: geojson("v_empty_point.geojson", fc([
        ({"n": 1}, {"type": "Point", "coordinates": []}), ({"n": 2}, {"type": "Point", "coordinates": [-110, 45]})])),
    "v_empty_line": lambda: geojson("v_empty_line.geojson", fc([
        ({"n": 1}, {"type": "LineString", "coordinates": []}),
        ({"n": 2}, {"type": "LineString", "coordinates": [[-110, 45], [-111, 46]]})])),
    "v_empty_polygon": lambda: geojson("v_empty_polygon.geojson", fc([
        ({"n": 1}, {"type": "Polygon", "coordinates": []}),
        ({"n": 2}, {"type": "Polygon", "coordinates": [[[-110, 45], [-109, 45], [-109, 46], [-110, 45]]]})])),
    "v_empty_wkt": lambda: text("v_empty_wkt.csv", 'id,WKT\n1,"POINT EMPTY"\n2,"LINESTRING EMPTY"\n3,"POLYGON EMPTY"\n4,"POINT (-110 45)"\n'),
    "v_null_geom": lambda: geojson("v_null_geom.geojson", fc([
        ({"n": 1}, None), ({"n": 2}, {"type": "Point", "coordinates": [-110, 45]})])),
    "v_invalid": lambda: geojson("v_invalid.geojson", fc([
        ({"kind": "bowtie"}, {"type": "Polygon", "coordinates": [[[-110, 45], [-109, 46], [-109, 45], [-110, 46], [-110, 45]]]}),
        ({"kind": "duplicates"}, {"type": "Polygon", "coordinates": [[[-106, 45], [-106, 45], [-105, 45], [-105, 46], [-105, 46], [-106, 45]]]}),
    ])),
    "v_unclosed": lambda: geojson("v_unclosed.geojson", fc([
        ({"kind": "closed"}, {"type": "Polygon", "coordinates": [[[-108, 44], [-107, 44], [-107, 44.5], [-108, 44]]]}),
        ({"kind": "unclosed"}, {"type": "Polygon", "coordinates": [[[-108, 45], [-107, 45], [-107, 46], [-108, 46]]]}),
    ])),
    "v_mixed": lambda: geojson("v_mixed.geojson", fc([
        ({"k": "pt"}, {"type": "Point", "coordinates": [-110, 45]}),
        ({"k": "ln"}, {"type": "LineString", "coordinates": [[-110, 45], [-111, 46]]}),
        ({"k": "pg"}, {"type": "Polygon", "coordinates": [[[-110, 45], [-109, 45], [-109, 46], [-110, 45]]]}),
        ({"k": "gc"}, {"type": "GeometryCollection", "geometries": [{"type": "Point", "coordinates": [-108, 44]}]}),
        ({"k": "z"}, {"type": "Point", "coordinates": [-107, 44, 12.5]}),
    ])),
    "v_crs_member": lambda: geojson("v_crs_member.geojson", fc([
        ({"n": 1}, {"type": "Point", "coordinates": [-12245000.5, 5620000.25]}),
        ({"n": 2}, {"type": "LineString", "coordinates": [[-12245000, 5620000], [-12240000, 5625000]]}),
    ], crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}})),
    # Fiji: points on both sides of 180° and a polygon split at the antimeridian (RFC 7946 3.1.9).
    "v_antimeridian": lambda: geojson("v_antimeridian.geojson", fc([
        ({"n": 1}, {"type": "Point", "coordinates": [178.5, -18]}),
        ({"n": 2}, {"type": "MultiPolygon", "coordinates": [
            [[[179, -17], [180, -17], [180, -16], [179, -16], [179, -17]]],
            [[[-180, -17], [-179.5, -17], [-179.5, -16], [-180, -16], [-180, -17]]]]}),
        ({"n": 3}, {"type": "Point", "coordinates": [-179.25, -16.5]}),
    ])),
    # A legacy GeoJSON in Web Mercator without a crs member (RFC 7946 says lon/lat).
    "v_mercator_nocrs": lambda: geojson("v_mercator_nocrs.geojson", fc([
        ({"n": 1}, {"type": "Point", "coordinates": [-12245000.5, 5620000.25]})])),
    "v_geojsonseq": lambda: text("v_geojsonseq.geojsonl", "".join(
        json.dumps({"type": "Feature", "properties": {"n": i, "s": "é%d" % i},
                    "geometry": {"type": "Point", "coordinates": [-110 + i / 10, 45 + i / 10]}}) + "\n" for i in range(5))),
    "v_csv_wkt": lambda: text("v_csv_wkt.csv",
                              'id,name,WKT\n1,a,"POLYGON ((-110 45,-109 45,-109 46,-110 45))"\n2,"b, with comma",'
                              '"MULTIPOINT ((-108 44),(-107 44))"\n3,c,\n'),
    "v_csv_xy": lambda: text("v_csv_xy.csv", "station,longitude,latitude,value\nA,-110.5,45.5,1\nB,-111.25,46.75,\n"),
    "v_gpx": lambda: gpx("v_gpx.gpx"),
    "v_kml": lambda: kml("v_kml.kml"),
    "v_kmz": lambda: kmz("v_kmz.kmz"),
    "v_kmz_ext": lambda: kmz("v_kmz_ext.kmz", kml_ext),
    "v_kml_ext": lambda: kml_ext("v_kml_ext.kml"),
    "v_fgb": lambda: vector("v_fgb.fgb", "FlatGeobuf", ogr.wkbPolygon, rows=[r for r in PLACES if "MULTI" not in r[-1]]),
    "v_gml": lambda: vector("v_gml.gml", "GML", ogr.wkbUnknown, rows=POINTS + LINES),
    "v_tab": lambda: vector("v_tab.tab", "MapInfo File", ogr.wkbUnknown, rows=[r[:1] + r[2:] for r in POINTS + LINES],
                            fields=[f for f in FIELDS if f[0] != "population"]),
    "v_dxf": lambda: dxf("v_dxf.dxf"),
    "v_mif": lambda: vector("v_mif.mif", "MapInfo File", ogr.wkbUnknown, rows=[r[:1] + r[2:] for r in POINTS + LINES],
                            fields=[f for f in FIELDS if f[0] != "population"], dsco=["FORMAT=MIF"]),
    # MapInfo Pro's own MIF/MID: text in the Windows code page its Charset line names.
    "v_mif_latin1": lambda: (
        text("v_mif_latin1.mif", 'Version 300\nCharset "WindowsLatin1"\nDelimiter ","\n'
             'CoordSys Earth Projection 1, 104\nColumns 2\n  name Char(20)\n  pop Integer\nData\n\n'
             'Point 8.54 47.37\n    Symbol (35,0,12)\nPoint -46.6 -23.5\n    Symbol (35,0,12)\n'),
        open(os.path.join(OUT, "v_mif_latin1.mid"), "wb").write('"Zürich",421878\n"São Paulo",12325232\n'.encode("cp1252"))),
    # GML 3.2 in EPSG:4326 by URN: latitude first, as the CRS's axis order says.
    "v_gml32_latlon": lambda: text("v_gml32_latlon.gml",
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:gml="http://www.opengis.net/gml/3.2" '
        'xmlns:app="http://example.org/app">\n'
        '<wfs:member><app:stop gml:id="s1"><app:name>Zürich HB</app:name>'
        '<app:geom><gml:Point gml:id="p1" srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>47.378 8.540</gml:pos></gml:Point></app:geom>'
        '</app:stop></wfs:member>\n'
        '<wfs:member><app:stop gml:id="s2"><app:name>Bern</app:name>'
        '<app:geom><gml:Point gml:id="p2" srsName="urn:ogc:def:crs:EPSG::4326"><gml:pos>46.949 7.439</gml:pos></gml:Point></app:geom>'
        '</app:stop></wfs:member>\n</wfs:FeatureCollection>\n'),
    # Properties named like the columns a GeoParquet or a GeoPackage keeps for itself (QGIS's
    # GeoJSON export of a GeoPackage layer has `fid`, repeated here).
    "v_geojson_reserved": lambda: text("v_geojson_reserved.geojson",
        '{"type": "FeatureCollection", "features": [\n'
        '{"type": "Feature", "properties": {"geometry": "road", "bbox": "1,2,3,4", "fid": 7, "FID_1": 1, "OBJECTID": 1}, '
        '"geometry": {"type": "Point", "coordinates": [-110.5, 45.5]}},\n'
        '{"type": "Feature", "properties": {"geometry": "rail", "bbox": null, "fid": 7, "FID_1": 2, "OBJECTID": 2}, '
        '"geometry": {"type": "Point", "coordinates": [-111, 46]}}\n]}\n'),
    # An attribute called geom, as some PostGIS exports name their geometry's text copy.
    "v_geojson_geom_attr": lambda: text("v_geojson_geom_attr.geojson",
        '{"type": "FeatureCollection", "features": [\n'
        '{"type": "Feature", "properties": {"geom": "x"}, '
        '"geometry": {"type": "LineString", "coordinates": [[-110.5, 45.5], [-110, 46]]}}\n]}\n'),
    "v_csv_semicolon": lambda: text("v_csv_semicolon.csv",
                                    'name;lon;lat;wert\n"Müller; Söhne";8,5;47,3\nB;-110.5;45.5;2\n'.replace("8,5;47,3", "8.5;47.3")),
    # Excel on Windows saves CSV in the ANSI code page (CP1252), not UTF-8.
    "v_csv_cp1252": lambda: open(os.path.join(OUT, "v_csv_cp1252.csv"), "wb").write(
        "name,lon,lat\nZürich,8.5,47.3\nSão Paulo,-46.6,-23.5\n".encode("cp1252")),
    # Excel's "CSV UTF-8" starts with a byte order mark, before the first column's name.
    "v_csv_bom": lambda: open(os.path.join(OUT, "v_csv_bom.csv"), "wb").write(
        "lon,lat,name\n8.5,47.3,Zürich\n-46.6,-23.5,São Paulo\n".encode("utf-8-sig")),
    "v_csv_ewkt": lambda: text("v_csv_ewkt.csv", 'id,geom\n1,"SRID=4326;POINT (-110.5 45.5)"\n2,"SRID=4326;LINESTRING (-110 45,-109 46)"\n'),
    "v_csv_quoted": lambda: text("v_csv_quoted.csv",
                                 '"Station ""North""","Longitude","Latitude","Note"\n'
                                 '"A",-110.5,45.5,"line one\nline two"\n"B, the second",-111.25,46.75,""\n'),
    # Spreadsheets with coordinates in columns: GDAL reads them as tables without geometry.
    "v_ods": lambda: vector("v_ods.ods", "ODS", ogr.wkbNone, rows=SHEET_ROWS, fields=SHEET_FIELDS),
    "v_xlsx": lambda: vector("v_xlsx.xlsx", "XLSX", ogr.wkbNone, rows=SHEET_ROWS, fields=SHEET_FIELDS),
    "v_sqlite": lambda: vector("v_sqlite.sqlite", "SQLite", ogr.wkbUnknown, rows=POINTS + LINES),
    "v_spatialite": lambda: vector("v_spatialite.sqlite", "SQLite", ogr.wkbPolygon,
                                   rows=[r for r in PLACES if "MULTI" not in r[-1]], dsco=["SPATIALITE=YES"]),
    "v_gpkg_two": lambda: gpkg_two("v_gpkg_two.gpkg"),
    "v_gpkg_bool": lambda: gpkg_bool("v_gpkg_bool.gpkg"),
    "v_gpkg_cjk": lambda: gpkg_cjk("v_gpkg_cjk.gpkg"),
    "v_shp_esri_albers": lambda: shp_esri_albers("v_shp_esri_albers.shp"),
    "v_shp_bool_date": lambda: shp_bool_date("v_shp_bool_date.shp"),
    "v_shp_esri_stateplane": lambda: shp_esri_stateplane("v_shp_esri_stateplane.shp"),
    "v_fgdb.gdb": lambda: fgdb_zip("v_fgdb.gdb.zip"),
    "v_fgdb_multi.gdb": lambda: fgdb_multi("v_fgdb_multi.gdb.zip"),
    "v_shp_esri_krovak": lambda: shp_esri_krovak("v_shp_esri_krovak.shp"),
    "v_shp_esri_polar": lambda: shp_esri_krovak("v_shp_esri_polar.shp"),
    # ArcGIS's .prj of Web Mercator (Mercator_Auxiliary_Sphere) and of NAD83 lon/lat.
    "v_shp_esri_webmerc": lambda: shp_esri_krovak("v_shp_esri_webmerc.shp"),
    "v_shp_esri_nad83": lambda: shp_esri_krovak("v_shp_esri_nad83.shp"),
    "v_shp_esri_prj": lambda: shp_esri_prj("v_shp_esri_prj.shp"),
    "v_shp_zip_sub": lambda: shp_zip_sub("v_shp_zip_sub.zip"),
    "V_SHP_UPPER": lambda: shp_upper("V_SHP_UPPER.SHP"),
    "v_gc_3d": lambda: geojson("v_gc_3d.geojson", fc([
        ({"k": "gc"}, {"type": "GeometryCollection", "geometries": [
            {"type": "Point", "coordinates": [-110, 45, 1200.5]},
            {"type": "LineString", "coordinates": [[-110, 45, 1200], [-109.5, 45.5, 1300]]}]}),
        ({"k": "poly3d"}, {"type": "Polygon", "coordinates": [[[-110, 44, 10], [-109, 44, 11], [-109, 44.5, 12], [-110, 44, 10]]]}),
    ])),
    "v_mismatch": lambda: geojson("v_mismatch.shp", fc([({"n": 1}, {"type": "Point", "coordinates": [-110, 45]})])),
    "v_gpkg_as_geojson": lambda: vector("v_gpkg_as_geojson.geojson", "GPKG", ogr.wkbPoint, rows=POINTS),
    "v_shp_cpg_ansi": lambda: shp_cpg("v_shp_cpg_ansi.shp", "CP1252", "ANSI 1252"),
    "v_shp_cpg_8859": lambda: shp_cpg("v_shp_cpg_8859.shp", "ISO-8859-1", "8859_1\r\n"),
    "v_shp_cpg_utf8_wrong": lambda: shp_cpg("v_shp_cpg_utf8_wrong.shp", "ISO-8859-1", "UTF-8"),
    "v_shp_zip_latin1": lambda: shp_zip_cpg("v_shp_zip_latin1.zip", "ISO-8859-1", None),
    "v_shp_zip_ansi": lambda: shp_zip_cpg("v_shp_zip_ansi.zip", "CP1252", "ANSI 1252"),
    # Arrays and objects in properties, as OSM exports and web APIs write them.
    # Integers beyond 64 bits (an S2 cell id written unsigned, a hash): GDAL 3.6 clamps them to
    # INT64_MAX / INT64_MIN with a warning. Beside them, the largest values that do fit.
    "v_geojson_bigint": lambda: text("v_geojson_bigint.geojson",
        '{"type": "FeatureCollection", "features": [\n'
        '{"type": "Feature", "properties": {"cell": 18446744073709551616, "low": -9223372036854775809, '
        '"max": 9223372036854775807, "note": "\\"cell\\": 99999999999999999999"}, '
        '"geometry": {"type": "Point", "coordinates": [-110.5, 45.5]}},\n'
        '{"type": "Feature", "properties": {"cell": 1, "low": -9223372036854775808, "max": 1, "note": null}, '
        '"geometry": {"type": "Point", "coordinates": [-111, 46]}}\n]}\n'),
    # Only integers that fit in 64 bits, with a string value that looks like a large one.
    "v_geojson_int64": lambda: text("v_geojson_int64.geojson",
        '{"type": "FeatureCollection", "features": [\n'
        '{"type": "Feature", "properties": {"max": 9223372036854775807, "min": -9223372036854775808, '
        '"note": "\\"cell\\": 99999999999999999999", "big": 1e30}, '
        '"geometry": {"type": "Point", "coordinates": [-110.5, 45.5]}}\n]}\n'),
    "v_geojson_lists": lambda: geojson("v_geojson_lists.geojson", fc([
        ({"ints": [1, 2, 3], "reals": [1.5, 2.5], "tags": ["bus", "tram"], "obj": {"k": 1}, "flags": [True, False]},
         {"type": "Point", "coordinates": [-110.5, 45.5]}),
        ({"ints": None, "reals": [3.0], "tags": [], "obj": None, "flags": None},
         {"type": "Point", "coordinates": [-111, 46]}),
    ])),
    # A layer of mixed types holding curves with Z (true curves of a utility network), 3D
    # surfaces (a multipatch as GDAL reads it), and measures beside plain and 3D points.
    # Arcs with Z (a survey's kerbs, a utility network), beside 2D and linear geometries.
    "v_gpkg_curves_z": lambda: gpkg_wkts("v_gpkg_curves_z.gpkg", [
        "LINESTRING Z (-110 45 1,-109 45 2)",
        "CIRCULARSTRING Z (-110 45 1,-109 46 2,-108 45 3)",
        "CURVEPOLYGON Z (CIRCULARSTRING Z (-110 45 1,-109 46 1,-108 45 1,-109 44 1,-110 45 1))",
        "COMPOUNDCURVE Z (CIRCULARSTRING Z (-110 45 1,-109 46 2,-108 45 3),(-108 45 3,-107 45 4))",
        "MULTICURVE Z (CIRCULARSTRING Z (-110 45 1,-109 46 2,-108 45 3))",
        "MULTISURFACE Z (CURVEPOLYGON Z (COMPOUNDCURVE Z (CIRCULARSTRING Z (-110 45 5,-109 46 6,-108 45 7),(-108 45 7,-110 45 5))))",
        "CIRCULARSTRING (-100 45,-99 46,-98 45)",
        "POINT (-111 46)"]),
    "v_gpkg_tin": lambda: gpkg_wkts("v_gpkg_tin.gpkg", [
        "POLYGON Z ((-110 45 0,-110 46 0,-109 46 0,-110 45 0))",
        "TIN Z (((-110 45 0,-110 46 0,-109 46 0,-110 45 0)),((-110 45 0,-109 46 0,-109 45 0,-110 45 0)))"]),
    "v_gpkg_measured": lambda: gpkg_wkts("v_gpkg_measured.gpkg", [
        "POINT M (-110 45 7)", "LINESTRING M (-110 45 1,-109 46 2)", "POINT Z (-111 46 1200)",
        "POINT (-112 47)"]),
    # A GeoPackage layer written without CRS (srs_id 0: "Undefined geographic SRS"), in UTM.
    "v_gpkg_nosrs": lambda: vector("v_gpkg_nosrs.gpkg", "GPKG", ogr.wkbPolygon, code=None,
                                   rows=[r[:-1] + (utm_poly(i),) for i, r in enumerate(PLACES)]),
    # Coordinates in columns GDAL does not guess (X_COORD/Y_COORD), as a survey export names them.
    "v_csv_xcoord": lambda: text("v_csv_xcoord.csv", "id,X_COORD,Y_COORD\n1,-110.5,45.5\n2,-111,46\n"),
    "v_csv_xcoord_named": lambda: text("v_csv_xcoord_named.csv", "id,X_COORD,Y_COORD\n1,-110.5,45.5\n2,-111,46\n"),
    # Uploads cut off or zipped wrong.
    "v_zero": lambda: text("v_zero.geojson", ""),
    "v_zip_nested": lambda: zip_of("v_zip_nested.zip", {"inner.zip": zip_bytes({"roads.shp": b"x"})}),
    "v_zip_traversal": lambda: zip_of("v_zip_traversal.zip", {"../../roads.shp": b"x", "roads.dbf": b"x"}),
    "v_zip_empty": lambda: zip_of("v_zip_empty.zip", {}),
    "v_zip_other": lambda: zip_of("v_zip_other.zip", {"data/readme.txt": b"x", "data/roads.csv": b"a,b\n"}),
    # Inputs shaped like public downloads (issue 11): several layers and sidecars, single
    # features, bare geometries, TopoJSON.
    "v_shp_zip_multi": lambda: shp_zip_multi("v_shp_zip_multi.zip"),
    "v_shp_zip_split": lambda: shp_zip_multi("v_shp_zip_split.zip", split=True),
    "v_shp_sidecars": lambda: shp_sidecars("v_shp_sidecars.shp"),
    "v_gpkg_attr": lambda: gpkg_attr("v_gpkg_attr.gpkg"),
    "v_topojson": lambda: topojson("v_topojson.topojson"),
    "v_geojson_real": lambda: geojson_real("v_geojson_real.geojson"),
    "v_geojson_feature": lambda: geojson("v_geojson_feature.geojson", {
        "type": "Feature", "properties": {"name": "Bozeman", "pop": 53293},
        "geometry": {"type": "Point", "coordinates": [-111.04, 45.68]}}),
    "v_geojson_bare": lambda: geojson("v_geojson_bare.geojson", {
        "type": "Polygon", "coordinates": [[[-110, 45], [-109, 45], [-109, 46], [-110, 45]]]}),
    # An ArcGIS Online / ArcGIS Pro GeoJSON export names its CRS as OGC CRS84; an API's
    # properties change type from feature to feature; merged exports repeat a key in another case.
    "v_geojson_crs84": lambda: geojson("v_geojson_crs84.geojson", fc([
        ({"OBJECTID": 1, "Name": "a"}, {"type": "Point", "coordinates": [-110.5, 45.5]}),
        ({"OBJECTID": 2, "Name": "b"}, {"type": "Point", "coordinates": [-111, 46]}),
    ], crs={"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}})),
    "v_geojson_mixed_types": lambda: geojson("v_geojson_mixed_types.geojson", fc([
        ({"code": 1, "when": "2024-01-02", "v": 1.5}, {"type": "Point", "coordinates": [-110.5, 45.5]}),
        ({"code": "A7", "when": "soon", "v": 2}, {"type": "Point", "coordinates": [-111, 46]}),
    ])),
    "v_geojson_case_keys": lambda: geojson("v_geojson_case_keys.geojson", fc([
        ({"name": "lower", "NAME": "UPPER", "Name": "Title"}, {"type": "Point", "coordinates": [-110.5, 45.5]}),
    ])),
    "v_geojson_zip": lambda: zip_of("v_geojson_zip.zip", {"data/places.geojson": json.dumps(fc([
        ({"n": 1}, {"type": "Point", "coordinates": [-110.5, 45.5]})]))}),
    # Keys as web APIs write them: dotted, slashed, empty; a top-level id beside a property id.
    "v_geojson_odd_keys": lambda: text("v_geojson_odd_keys.geojson",
        '{"type": "FeatureCollection", "features": [\n'
        '{"type": "Feature", "id": "way/1", "properties": {"addr.city": "Bern", "a/b": "x", "id": 7}, '
        '"geometry": {"type": "Point", "coordinates": [7.44, 46.95]}}\n]}\n'),
    "v_geojson_empty_key": lambda: text("v_geojson_empty_key.geojson",
        '{"type": "FeatureCollection", "features": [\n'
        '{"type": "Feature", "properties": {"": 1, "name": "a"}, '
        '"geometry": {"type": "Point", "coordinates": [7.44, 46.95]}}\n]}\n'),
    # An old .dbf without .cpg whose field name (not its values) is Latin-1.
    "v_shp_latin1_field": lambda: shp_latin1_field("v_shp_latin1_field.shp"),
    # Longitudes 0..360 (climate and ocean data): beyond what EPSG:4326 allows.
    "v_geojson_lon360": lambda: geojson("v_geojson_lon360.geojson", fc([
        ({"n": 1}, {"type": "Point", "coordinates": [250.5, 45.5]}),
        ({"n": 2}, {"type": "Point", "coordinates": [10.0, 46.0]})])),
    "v_not_json": lambda: text("v_not_json.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", "geom'),
}


def two_and_empty(ds, points, lines, empty_type=ogr.wkbPoint):
    # Two filled layers (points, lines) and an empty one, all in lon/lat.
    wells = layer_with(ds, points, "EPSG:4326", ogr.wkbPoint, [("depth_m", ogr.OFTReal)])
    add(wells, [12.5], "POINT (-110.5 45.5)")
    rivers = layer_with(ds, lines, "EPSG:4326", ogr.wkbLineString, [("name", ogr.OFTString)])
    add(rivers, ["Yellowstone"], "LINESTRING (-110 45,-109 46)")
    layer_with(ds, "planned", "EPSG:4326", empty_type, [("x", ogr.OFTInteger)])


def zip_folder(folder, name):
    # A folder (a File Geodatabase) zipped to be uploaded as one file, then removed.
    import shutil
    import zipfile
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(os.listdir(folder)):
            z.write(os.path.join(folder, f), os.path.basename(folder) + "/" + f)
    shutil.rmtree(folder)


def gpkg_two(name):
    # Read whole: one GeoParquet per filled layer.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    two_and_empty(ds, "Wells 2024", "rivers")
    ds = None


def fgdb_zip(name):
    # An Esri File Geodatabase (a folder), zipped to be uploaded as one file.
    vector(name[:-4], "OpenFileGDB", ogr.wkbPolygon, rows=[r for r in PLACES if "MULTI" not in r[-1]],
           layer_name="parcels")
    zip_folder(os.path.join(OUT, name[:-4]), name)


def fgdb_multi(name):
    # A geodatabase as agencies publish it: two feature classes, an empty one and a table of
    # attributes, zipped.
    folder = os.path.join(OUT, name[:-4])
    ds = gdal.GetDriverByName("OpenFileGDB").Create(folder, 0, 0, 0, gdal.GDT_Unknown)
    two_and_empty(ds, "wells", "roads", ogr.wkbPolygon)
    table = ds.CreateLayer("inspections", None, ogr.wkbNone)
    table.CreateField(ogr.FieldDefn("code", ogr.OFTString))
    ds = None
    zip_folder(folder, name)


def shp_esri_stateplane(name):
    # ArcGIS's .prj of a projected CRS in feet, without authority: NAD83 / Montana (ft).
    rows = [r[:-1] + ("POLYGON ((%d %d,%d %d,%d %d,%d %d))" % (
        1968504 + i * 3000, 800000, 1968504 + i * 3000 + 2000, 800000, 1968504 + i * 3000 + 2000, 802000,
        1968504 + i * 3000, 800000),) for i, r in enumerate(PLACES)]
    shp(name, code="EPSG:2256", rows=rows)
    s = srs("EPSG:2256")
    s.MorphToESRI()
    text(name[:-4] + ".prj", s.ExportToWkt())


def shp_esri_krovak(name):
    # Czech cadastre (S-JTSK / Krovak East North) as ArcGIS writes its .prj, and a polar
    # stereographic one (Antarctica): projections far from UTM.
    code, x0, y0 = {"v_shp_esri_krovak.shp": ("EPSG:5514", -742000, -1046000),
                    "v_shp_esri_polar.shp": ("EPSG:3031", 1000000, -1500000),
                    "v_shp_esri_webmerc.shp": ("EPSG:3857", -12245000, 5620000)}.get(name, ("EPSG:4269", 0, 0))
    if code == "EPSG:4269":
        shp(name, code=code, rows=[r[:-1] + ("POLYGON ((%d 45,%d 45,%d 46,%d 45))" % (
            -110 + i, -109.5 + i, -109.5 + i, -110 + i),) for i, r in enumerate(PLACES)])
        s = srs(code)
        s.MorphToESRI()
        text(name[:-4] + ".prj", s.ExportToWkt())
        return
    rows = [r[:-1] + ("POLYGON ((%d %d,%d %d,%d %d,%d %d))" % (
        x0 + i * 3000, y0, x0 + i * 3000 + 2000, y0, x0 + i * 3000 + 2000, y0 + 2000,
        x0 + i * 3000, y0),) for i, r in enumerate(PLACES)]
    shp(name, code=code, rows=rows)
    s = srs(code)
    s.MorphToESRI()
    text(name[:-4] + ".prj", s.ExportToWkt())


def netcdf_multi(name):
    # A climate model's file: several variables, each a subdataset, no band of its own.
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(os.path.join(OUT, name))
    rg = ds.GetRootGroup()
    lat = rg.CreateDimension("lat", None, None, 10)
    lon = rg.CreateDimension("lon", None, None, 12)
    f64 = gdal.ExtendedDataType.Create(gdal.GDT_Float64)
    for dim, values, units in ((lat, [46.0 - 0.1 * i for i in range(10)], "degrees_north"),
                               (lon, [-111.0 + 0.1 * i for i in range(12)], "degrees_east")):
        coord = rg.CreateMDArray(dim.GetName(), [dim], f64)
        coord.Write(struct.pack("%dd" % len(values), *values))
        attr = coord.CreateAttribute("units", [], gdal.ExtendedDataType.CreateString())
        attr.Write(units)
    for var in ("temp", "precip"):
        a = rg.CreateMDArray(var, [lat, lon], gdal.ExtendedDataType.Create(gdal.GDT_Float32))
        a.Write(struct.pack("120f", *[float(i) for i in range(120)]))
    ds = None


def netcdf_bnds(name):
    # A CF climate file: a variable over time on a grid, and its time bounds (no grid).
    ds = gdal.GetDriverByName("netCDF").CreateMultiDimensional(os.path.join(OUT, name))
    rg = ds.GetRootGroup()
    f64 = gdal.ExtendedDataType.Create(gdal.GDT_Float64)
    time = rg.CreateDimension("time", None, None, 2)
    nv = rg.CreateDimension("nv", None, None, 2)
    lat = rg.CreateDimension("lat", None, None, 10)
    lon = rg.CreateDimension("lon", None, None, 12)
    coord = rg.CreateMDArray("time", [time], f64)
    coord.Write(struct.pack("2d", 0.0, 1.0))
    coord.CreateAttribute("units", [], gdal.ExtendedDataType.CreateString()).Write("days since 2024-01-01")
    for dim, values, units in ((lat, [46.0 - 0.1 * i for i in range(10)], "degrees_north"),
                               (lon, [-111.0 + 0.1 * i for i in range(12)], "degrees_east")):
        coord = rg.CreateMDArray(dim.GetName(), [dim], f64)
        coord.Write(struct.pack("%dd" % len(values), *values))
        coord.CreateAttribute("units", [], gdal.ExtendedDataType.CreateString()).Write(units)
    rg.CreateMDArray("time_bnds", [time, nv], f64).Write(struct.pack("4d", 0.0, 1.0, 1.0, 2.0))
    tas = rg.CreateMDArray("tas", [time, lat, lon], gdal.ExtendedDataType.Create(gdal.GDT_Float32))
    tas.Write(struct.pack("240f", *[float(i) for i in range(240)]))
    ds = None


def shp_esri_albers(name):
    # An Esri-only CRS (USA Contiguous Albers, ESRI:102003) in ArcGIS's .prj dialect.
    rows = [r[:-1] + ("POLYGON ((%d 2800000,%d 2800000,%d 2802000,%d 2800000))" % (
        -1100000 + i * 3000, -1098000 + i * 3000, -1098000 + i * 3000, -1100000 + i * 3000),)
        for i, r in enumerate(PLACES)]
    shp(name, code="ESRI:102003", rows=rows)
    s = srs("ESRI:102003")
    s.MorphToESRI()
    text(name[:-4] + ".prj", s.ExportToWkt())


def gpkg_cjk(name):
    # Layer names without an ASCII letter (a Japanese agency's data), two slugging alike.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    for i, layer_name in enumerate(["道路", "河川", "建物", "Straße", "Stra e"]):
        layer = layer_with(ds, layer_name, "EPSG:4326", ogr.wkbPoint, [("名前", ogr.OFTString)])
        add(layer, ["東京%d" % i], "POINT (139.%d 35.6)" % i)
    ds = None


def gpkg_bool(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = ds.CreateLayer("flags", srs("EPSG:4326"), ogr.wkbPoint)
    ok = ogr.FieldDefn("ok", ogr.OFTInteger)
    ok.SetSubType(ogr.OFSTBoolean)
    layer.CreateField(ok)
    layer.CreateField(ogr.FieldDefn("big", ogr.OFTInteger64))
    layer.CreateField(ogr.FieldDefn("at", ogr.OFTDateTime))
    layer.CreateField(ogr.FieldDefn("hhmm", ogr.OFTString))
    for i, (flag, big, at) in enumerate([(1, -9007199254740993, (2024, 2, 29, 23, 59, 59)), (0, 0, None), (None, None, None)]):
        f = ogr.Feature(layer.GetLayerDefn())
        if flag is None:
            f.SetFieldNull(0)
        else:
            f.SetField(0, flag)
        if big is None:
            f.SetFieldNull(1)
        else:
            f.SetField(1, big)
        if at is None:
            f.SetFieldNull(2)
        else:
            f.SetField(2, *at, 100)
        f.SetField(3, "%02d:30" % i)
        f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%f 45)" % (-110 + i)))
        layer.CreateFeature(f)
    ds = None


SHEET_FIELDS = [("name", ogr.OFTString), ("lon", ogr.OFTReal), ("lat", ogr.OFTReal)]
SHEET_ROWS = [("a", -110.5, 45.5, None), ("b", -111.0, 46.0, None)]

ESRI_WGS84 = ('GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
              'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]')


def shp_bool_date(name):
    # A boolean (GDAL writes it as a number field) and a date field with NULLs.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("ESRI Shapefile").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = ds.CreateLayer(name[:-4], srs("EPSG:4326"), ogr.wkbPoint, options=["ENCODING=UTF-8"])
    ok = ogr.FieldDefn("active", ogr.OFTInteger)
    ok.SetSubType(ogr.OFSTBoolean)
    layer.CreateField(ok)
    layer.CreateField(ogr.FieldDefn("built", ogr.OFTDate))
    for i, (flag, built) in enumerate([(1, (1999, 12, 31)), (0, None), (None, (2024, 2, 29))]):
        f = ogr.Feature(layer.GetLayerDefn())
        if flag is None:
            f.SetFieldNull(0)
        else:
            f.SetField(0, flag)
        if built is not None:
            f.SetField(1, *built, 0, 0, 0, 0)
        f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%f 45)" % (-110 + i)))
        layer.CreateFeature(f)
    ds = None


def shp_esri_prj(name):
    # ArcGIS writes the .prj in ESRI's WKT dialect (GCS_/D_ names, no AUTHORITY).
    shp(name)
    text(name[:-4] + ".prj", ESRI_WGS84)


def shp_zip_sub(name):
    # A zip as downloaded from a portal: the shapefile inside a folder.
    import zipfile
    tmp = os.path.join(OUT, "_zipsub")
    os.makedirs(tmp, exist_ok=True)
    shp(os.path.join("_zipsub", "parcels.shp"))
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(os.listdir(tmp)):
            z.write(os.path.join(tmp, f), "export/data/" + f)
            os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)


# Windows text: curly quotes, an en dash and the euro sign exist in CP1252, not in Latin-1.
CP1252_ROWS = [(["Zürich – “Bahnhof” €5"], "POINT (8.54 47.38)"), (["Straße"], "POINT (8.5 47.4)")]


def shp_cpg(name, encoding, cpg, rows=None):
    # A .dbf in a Windows code page, its .cpg spelt as ArcGIS writes it.
    rows = rows or (CP1252_ROWS if encoding == "CP1252" else CP1252_ROWS[1:] + [(["Zürich"], "POINT (8.54 47.38)")])
    vector(name, "ESRI Shapefile", ogr.wkbPoint, rows=[r[0] + [r[1]] for r in rows],
           fields=[("name", ogr.OFTString)], lco=["ENCODING=" + encoding])
    cpg_path = os.path.join(OUT, name[:-4] + ".cpg")
    if cpg is None:
        os.remove(cpg_path)
    else:
        with open(cpg_path, "w", newline="") as f:
            f.write(cpg)


def shp_zip_cpg(name, encoding, cpg):
    # The same, zipped as downloaded from a portal.
    import zipfile
    stem = "_" + name[:-4]
    shp_cpg(stem + ".shp", encoding, cpg)
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_DEFLATED) as z:
        for ext in ("shp", "shx", "dbf", "prj", "cpg"):
            part = os.path.join(OUT, stem + "." + ext)
            if os.path.exists(part):
                z.write(part, "roads." + ext)
                os.remove(part)


def gpkg_wkts(name, wkts):
    # One layer of no declared type (GDAL's Unknown), one feature per WKT.
    ds = gdal.GetDriverByName("GPKG").Create(os.path.join(OUT, name), 0, 0, 0, gdal.GDT_Unknown)
    layer = layer_with(ds, name[:-5], "EPSG:4326", ogr.wkbUnknown, [("k", ogr.OFTInteger)])
    for i, wkt in enumerate(wkts):
        add(layer, [i], wkt)
    ds = None


def rpc_only(name):
    mem = gdal.GetDriverByName("MEM").Create("", 32, 32, 1, gdal.GDT_Byte)
    mem.GetRasterBand(1).Fill(9)
    zeros = ["0"] * 17
    mem.SetMetadata({
        "LINE_OFF": "16", "SAMP_OFF": "16", "LAT_OFF": "45", "LONG_OFF": "-110", "HEIGHT_OFF": "850",
        "LINE_SCALE": "16", "SAMP_SCALE": "16", "LAT_SCALE": "0.01", "LONG_SCALE": "0.01",
        "HEIGHT_SCALE": "100", "LINE_NUM_COEFF": " ".join(["0", "0", "-1"] + zeros),
        "LINE_DEN_COEFF": " ".join(["1"] + ["0"] * 19), "SAMP_NUM_COEFF": " ".join(["0", "1", "0"] + zeros),
        "SAMP_DEN_COEFF": " ".join(["1"] + ["0"] * 19)}, "RPC")
    gdal.GetDriverByName("GTiff").CreateCopy(os.path.join(OUT, name), mem)


def band_nodata(name):
    tiff(name, gdal.GDT_Int16, bands=2)
    text(name + ".aux.xml", '<PAMDataset><PAMRasterBand band="1"><NoDataValue>-9999</NoDataValue>'
         '</PAMRasterBand><PAMRasterBand band="2"><NoDataValue>-32768</NoDataValue></PAMRasterBand></PAMDataset>')


def zip_bytes(members):
    import io
    import zipfile
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for member, data in members.items():
            z.writestr(member, data)
    return buffer.getvalue()


def zip_of(name, members):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(zip_bytes(members))


def shp_upper(name):
    # From old DOS-era tools: every part in capitals.
    shp("_upper.shp")
    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        os.rename(os.path.join(OUT, "_upper." + ext), os.path.join(OUT, name[:-4] + "." + ext.upper()))


def dxf(name):
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("DXF").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = ds.CreateLayer("entities", None, ogr.wkbUnknown)
    for wkt in ["LINESTRING (500000 5000000,500100 5000100)", "POINT (500050 5000020)",
                "POLYGON ((500200 5000000,500300 5000000,500300 5000100,500200 5000000))"]:
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField("Layer", "roads")
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(f)
    ds = None


def shp_zip_multi(name, split=False):
    # A portal's download of a whole dataset: two Shapefiles in a folder of one zip (or each
    # in a folder of its own), beside a readme.
    import zipfile
    tmp = os.path.join(OUT, "_zipmulti")
    os.makedirs(tmp, exist_ok=True)
    shp(os.path.join("_zipmulti", "parcels.shp"))
    vector(os.path.join("_zipmulti", "wells.shp"), "ESRI Shapefile", ogr.wkbPoint, rows=POINTS,
           lco=["ENCODING=UTF-8"])
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(os.listdir(tmp)):
            folder = ("cadastre/" if f.startswith("parcels") else "hydro/") if split else ""
            z.write(os.path.join(tmp, f), "export/" + folder + f)
            os.remove(os.path.join(tmp, f))
        z.writestr("export/readme.txt", "Two layers")
    os.rmdir(tmp)


def shp_sidecars(name):
    # A Shapefile as ArcGIS and QGIS leave it: a QGIS spatial index (.qix), ArcGIS's
    # (.sbn/.sbx, bytes GDAL does not read) and its metadata (.shp.xml).
    shp(name)
    ds = ogr.Open(os.path.join(OUT, name), 1)
    ds.ExecuteSQL("CREATE SPATIAL INDEX ON %s" % name[:-4])
    ds = None
    stem = os.path.join(OUT, name[:-4])
    open(stem + ".sbn", "wb").write(b"\x00\x00\x27\x0a" + bytes(96))
    open(stem + ".sbx", "wb").write(b"\x00\x00\x27\x0a" + bytes(96))
    text(name + ".xml", '<?xml version="1.0"?><metadata xml:lang="en"><Esri><CreaDate>20240101</CreaDate>'
         '</Esri><dataIdInfo><idAbs>Parcels</idAbs></dataIdInfo></metadata>')


def shp_latin1_field(name):
    vector(name, "ESRI Shapefile", ogr.wkbPoint, rows=[("a", 408.5, "POINT (8.54 47.37)")],
           fields=[("name", ogr.OFTString), ("HOEHE", ogr.OFTReal)], lco=["ENCODING="])
    path = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(path, "rb").read())
    at = data.index(b"HOEHE")
    data[at:at + 5] = "HÖHE\x00".encode("latin-1")
    open(path, "wb").write(bytes(data))
    cpg = os.path.join(OUT, name[:-4] + ".cpg")
    if os.path.exists(cpg):
        os.remove(cpg)


def gpkg_attr(name):
    # A GeoPackage from an agency read whole: two spatial layers (one of them without any
    # feature), a non-spatial attribute table and a table of codes.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    sites = layer_with(ds, "sites", "EPSG:4326", ogr.wkbPoint, [("code", ogr.OFTString)])
    add(sites, ["A1"], "POINT (-110.5 45.5)")
    add(sites, ["B2"], "POINT (-110.6 45.4)")
    layer_with(ds, "planned_sites", "EPSG:4326", ogr.wkbPoint, [("code", ogr.OFTString)])
    for table in ("inspections", "lookup_codes"):
        t = ds.CreateLayer(table, None, ogr.wkbNone)
        t.CreateField(ogr.FieldDefn("code", ogr.OFTString))
        f = ogr.Feature(t.GetLayerDefn())
        f.SetField(0, "A1")
        t.CreateFeature(f)
    ds = None


def topojson(name):
    # TopoJSON as mapshaper and the world-atlas packages write it: quantized arcs, two objects.
    text(name, json.dumps({
        "type": "Topology",
        "transform": {"scale": [0.001, 0.001], "translate": [-111, 45]},
        "objects": {
            "counties": {"type": "GeometryCollection", "geometries": [
                {"type": "Polygon", "arcs": [[0, 1]], "properties": {"name": "Gallatin", "fips": 30031}},
                {"type": "Polygon", "arcs": [[-1, 2]], "properties": {"name": "Park", "fips": 30067}}]},
            "towns": {"type": "GeometryCollection", "geometries": [
                {"type": "Point", "coordinates": [500, 500], "properties": {"name": "Bozeman"}}]},
        },
        "arcs": [
            [[1000, 0], [0, 1000]],
            [[1000, 1000], [-1000, 0], [0, -1000], [1000, 0]],
            [[1000, 0], [1000, 0], [0, 1000], [-1000, 0]],
        ],
    }))


def geojson_real(name):
    # An export from a web API: null geometries among the features, nested properties,
    # heights, and coordinates to the full precision of a double.
    geojson(name, fc([
        ({"id": 1, "meta": {"source": "survey", "tags": ["a", "b"], "nested": {"depth": 2}}},
         {"type": "Point", "coordinates": [-110.12345678901234, 45.98765432109876, 1523.123456789]}),
        ({"id": 2, "meta": None}, None),
        ({"id": 3, "meta": {"source": "lidar"}},
         {"type": "LineString", "coordinates": [[-110.000000000001, 45.000000000001, 10.5],
                                                [-109.99999999999901, 45.00000000000099, 11.25]]}),
        ({"id": 4, "meta": {}}, None),
        ({"id": 5, "meta": {"source": "gps"}},
         {"type": "Polygon", "coordinates": [[[-109.5, 45.5, 1], [-109.4, 45.5, 2], [-109.4, 45.6, 3],
                                              [-109.5, 45.5, 1]]]}),
    ]))


def gpkg_dates(name, days, ats):
    # Dates a script or another tool wrote into a GeoPackage as text (it stores them so):
    # written through SQL, as GDAL would not write them.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = layer_with(ds, name[:-5], "EPSG:4326", ogr.wkbPoint,
                       [("day", ogr.OFTDate), ("at", ogr.OFTDateTime), ("n", ogr.OFTInteger)])
    for i in range(max(len(days), len(ats))):
        add(layer, [None, None, i], "POINT (%d 45)" % (i - 110))
    ds = None
    ds = ogr.Open(path, 1)
    for column, values in (("day", days), ("at", ats)):
        for i, value in enumerate(values):
            literal = "NULL" if value is None else value if isinstance(value, (int, float)) \
                else "'%s'" % value
            ds.ExecuteSQL("UPDATE %s SET %s = %s WHERE fid = %d" % (name[:-5], column, literal, i + 1))
    ds = None


# Read by GDAL as they are written, though not the spec's spelling: published.
GPKG_ODD_DAYS = ["2024-02-29", "2024-1-5", "2024/01/05", " 2024-01-05 ", "", None, "2024-01-05T00:00:00Z"]
GPKG_ODD_ATS = ["2024-01-05 10:00:00", "2024-01-05T10:00:00+02:00", "2024-01-05", "2024-01-05T10:00Z",
                "2024-01-05T10:00:00.5Z", "2024-01-05T10:00:00", None]
# Read by GDAL as null (with a warning or without) or as an impossible date: refused.
GPKG_BAD_DAYS = ["2024-01-01", "2024-13-45", "not a date", "2024-02-30", 20240105, None]
GPKG_BAD_ATS = ["2024-01-01T00:00:00Z", None, None, None, None, "2024-01-01T24:00:00Z"]

VECTORS.update({
    "v_gpkg_odd_dates": lambda: gpkg_dates("v_gpkg_odd_dates.gpkg", GPKG_ODD_DAYS, GPKG_ODD_ATS),
    "v_gpkg_bad_dates": lambda: gpkg_dates("v_gpkg_bad_dates.gpkg", GPKG_BAD_DAYS, GPKG_BAD_ATS),
})

# ---------------------------------------------------------------- adversarial round (gisadv)


def float16(name):
    # Half floats (a LiDAR product's or a model's Float16 grid): GDAL 3.6 reads them as Float32.
    return tiff(name, gdal.GDT_Float32, scale=0.37, nodata=-9999, options=["NBITS=16", "COMPRESS=DEFLATE"])


def multi_scale(mem):
    # A sensor's bands each packed with a scale and offset of its own, named.
    for b, (scale, offset, desc) in enumerate([(0.0001, -0.1, "red"), (0.0002, 0, "nir"), (0.1, -273.15, "thermal")]):
        band = mem.GetRasterBand(b + 1)
        band.SetScale(scale)
        band.SetOffset(offset)
        band.SetDescription(desc)


def png16_world(name):
    # A 16-bit grey PNG (a DEM exported from a desktop GIS) placed by its .pgw.
    src = tiff("_png16_src.tif", gdal.GDT_UInt16, scale=200)
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format="PNG", creationOptions=["WORLDFILE=YES"])
    os.remove(src)
    os.rename(path[:-4] + ".wld", path[:-4] + ".pgw")
    for extra in (path + ".aux.xml",):
        if os.path.exists(extra):
            os.remove(extra)


def jpeg_jgw(name):
    src = tiff("_jgw_src.tif", bands=3, after=rgb)
    path = os.path.join(OUT, name)
    gdal.Translate(path, src, format="JPEG", creationOptions=["WORLDFILE=YES", "QUALITY=95"])
    os.remove(src)
    os.rename(path[:-4] + ".wld", path[:-4] + ".jgw")
    if os.path.exists(path + ".aux.xml"):
        os.remove(path + ".aux.xml")


def grib2(name):
    src = tiff("_grib_src.tif", gdal.GDT_Float32, code="EPSG:4326", gt=[-120.0, 0.25, 0, 50.0, 0, -0.25], scale=0.1)
    gdal.Translate(os.path.join(OUT, name), src, format="GRIB")
    os.remove(src)


def hfa_rat(name):
    # A land-cover map from ERDAS: class values with a raster attribute table of names and colours.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("HFA").Create(path, W, H, 1, gdal.GDT_Byte)
    ds.SetGeoTransform(UTM)
    ds.SetSpatialRef(srs("EPSG:32612"))
    band = ds.GetRasterBand(1)
    band.WriteRaster(0, 0, W, H, bytes(((x // 24) + (y // 20) * 4) % 5 for y in range(H) for x in range(W)))
    rat = gdal.RasterAttributeTable()
    rat.CreateColumn("Value", gdal.GFT_Integer, gdal.GFU_MinMax)
    rat.CreateColumn("Class_Name", gdal.GFT_String, gdal.GFU_Name)
    rat.SetRowCount(5)
    for i, n in enumerate(["water", "forest", "grass", "urban", "bare"]):
        rat.SetValueAsInt(i, 0, i)
        rat.SetValueAsString(i, 1, n)
    band.SetDefaultRAT(rat)
    ds = None


def tif_rat(name):
    # A classified GeoTIFF from ArcGIS: its attribute table (class values, names, colours) lives
    # in the .aux.xml beside it.
    path = tiff(name, scale=0.01)
    ds = gdal.Open(path)
    rat = gdal.RasterAttributeTable()
    rat.CreateColumn("Value", gdal.GFT_Integer, gdal.GFU_MinMax)
    rat.CreateColumn("ClassName", gdal.GFT_String, gdal.GFU_Name)
    for usage, column in [(gdal.GFU_Red, "Red"), (gdal.GFU_Green, "Green"), (gdal.GFU_Blue, "Blue")]:
        rat.CreateColumn(column, gdal.GFT_Integer, usage)
    rat.SetRowCount(2)
    for i, (value, label, rgb) in enumerate([(0, "open water", (0, 0, 255)), (1, "Wald / forêt", (0, 128, 0))]):
        rat.SetValueAsInt(i, 0, value)
        rat.SetValueAsString(i, 1, label)
        for c in range(3):
            rat.SetValueAsInt(i, 2 + c, rgb[c])
    ds.GetRasterBand(1).SetDefaultRAT(rat)
    ds = None


def gml_curves(name):
    # A cadastre's GML (no .xsd beside it): arcs in a MultiSurface and a Curve, as GML 3.2 has them.
    text(name, """<?xml version="1.0" encoding="UTF-8"?>
<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" xmlns:gml="http://www.opengis.net/gml/3.2"
  xmlns:cad="http://example.org/cad">
 <wfs:member><cad:parcel gml:id="p1"><cad:code>A1</cad:code><cad:area>12.5</cad:area>
  <cad:geom><gml:MultiSurface gml:id="g1" srsName="urn:ogc:def:crs:EPSG::4326"><gml:surfaceMember>
   <gml:Polygon gml:id="g2"><gml:exterior><gml:Ring><gml:curveMember><gml:Curve gml:id="g3"><gml:segments>
    <gml:ArcString><gml:posList>45.0 -110.0 45.1 -109.9 45.0 -109.8</gml:posList></gml:ArcString>
    <gml:LineStringSegment><gml:posList>45.0 -109.8 45.0 -110.0</gml:posList></gml:LineStringSegment>
   </gml:segments></gml:Curve></gml:curveMember></gml:Ring></gml:exterior></gml:Polygon>
  </gml:surfaceMember></gml:MultiSurface></cad:geom></cad:parcel></wfs:member>
 <wfs:member><cad:parcel gml:id="p2"><cad:code>B2</cad:code><cad:area>7</cad:area>
  <cad:geom><gml:Polygon gml:id="g4" srsName="urn:ogc:def:crs:EPSG::4326"><gml:exterior><gml:LinearRing>
   <gml:posList>46.0 -111.0 46.0 -110.9 46.1 -110.9 46.0 -111.0</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon></cad:geom>
 </cad:parcel></wfs:member>
</wfs:FeatureCollection>
""")


def wide(name):
    # An export of a census table joined to its areas: 500 attribute columns.
    fields = [("c%03d" % i, ogr.OFTReal if i % 3 else ogr.OFTString) for i in range(500)]
    rows = [tuple(("v%d_%d" % (r, i)) if i % 3 == 0 else r * 1000 + i + 0.5 for i in range(500))
            + ("POINT (%d 45)" % (r - 110),) for r in range(3)]
    vector(name, "GPKG", ogr.wkbPoint, rows=rows, fields=fields)


def empty_strings(name):
    # '' and NULL are different values in a GeoPackage: both kept as they are.
    vector(name, "GPKG", ogr.wkbPoint, fields=[("name", ogr.OFTString), ("note", ogr.OFTString)],
           rows=[("", None, "POINT (1 2)"), (None, "", "POINT (2 3)"), (" ", "x", "POINT (3 4)")])


def huge_coords(name):
    # A Web Mercator layer with a feature far outside the world (a bad digitising click).
    vector(name, "GPKG", ogr.wkbPoint, code="EPSG:3857", fields=[("n", ogr.OFTInteger)],
           rows=[(1, "POINT (-12245000 5621000)"), (2, "POINT (1e300 -1e300)")])


def polyhedral(name):
    geojson_path = os.path.join(OUT, name)
    vector(name, "GPKG", ogr.wkbUnknown, fields=[("n", ogr.OFTInteger)],
           rows=[(1, "POLYHEDRALSURFACE Z (((0 0 0,0 1 0,1 1 0,0 0 0)),((0 0 0,0 1 0,0 0 1,0 0 0)))")])


def shp_case_fields(name):
    # A .dbf whose field names differ only in case (dBASE does not care; GDAL renames).
    vector(name, "ESRI Shapefile", ogr.wkbPoint, rows=[("a", "b", "POINT (8.54 47.37)")],
           fields=[("name", ogr.OFTString), ("XAME", ogr.OFTString)], lco=["ENCODING=UTF-8"])
    path = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(path, "rb").read())
    at = data.index(b"XAME")
    data[at:at + 4] = b"NAME"
    open(path, "wb").write(bytes(data))


def shp_bad_numbers(name):
    # Numbers a locale-bound tool wrote into a .dbf: a decimal comma, an exponent in an integer
    # field; and dBASE's overflow (asterisks: no value), which is a null.
    vector(name, "ESRI Shapefile", ogr.wkbPoint, lco=["ENCODING=UTF-8"],
           fields=[("val", ogr.OFTReal), ("cnt", ogr.OFTInteger)],
           rows=[(1.5, 12, "POINT (1 1)"), (2.25, 345, "POINT (2 2)"), (3.0, 7, "POINT (3 3)")])
    path = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(path, "rb").read())
    header, record = struct.unpack("<HH", bytes(data[8:12]))
    widths = [data[32 + 32 * i + 16] for i in range(2)]
    def put(row, field, text):
        at = header + record * row + 1 + sum(widths[:field])
        data[at:at + widths[field]] = text.rjust(widths[field]).encode()
    put(1, 0, "2,25")
    put(2, 1, "1e99")
    open(path, "wb").write(bytes(data))


def shp_overflow(name):
    vector(name, "ESRI Shapefile", ogr.wkbPoint, lco=["ENCODING=UTF-8"],
           fields=[("val", ogr.OFTReal), ("cnt", ogr.OFTInteger)],
           rows=[(1.5, 12, "POINT (1 1)"), (2.25, 345, "POINT (2 2)")])
    path = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(path, "rb").read())
    header, record = struct.unpack("<HH", bytes(data[8:12]))
    width = data[32 + 16]
    data[header + record + 1:header + record + 1 + width] = b"*" * width
    open(path, "wb").write(bytes(data))


def blobs(name, driver):
    # A layer of survey points with a photo thumbnail column (OGR binary: a GeoPackage BLOB,
    # FlatGeobuf's Binary): bytes that are no text, one empty, one null.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName(driver).Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = layer_with(ds, name.split(".")[0], "EPSG:4326", ogr.wkbPoint,
                       [("name", ogr.OFTString), ("photo", ogr.OFTBinary)])
    for n, photo, wkt in [("a", "89504E470D0A1A0A00FF", "POINT (-110 45)"), ("b", None, "POINT (-111 46)"),
                          ("c", "", "POINT (-112 47)")]:
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField("name", n)
        if photo is not None:
            f.SetFieldBinaryFromHexString("photo", photo)
        f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
        layer.CreateFeature(f)
    ds = None


def gpkg_with_tiles(name):
    # A QGIS project's GeoPackage: a vector layer and a basemap tile table in one file.
    path = vector(name, "GPKG", ogr.wkbPoint, rows=POINTS)
    src = gdal.GetDriverByName("MEM").Create("", 64, 64, 3)
    src.SetGeoTransform([-111, 0.01, 0, 46, 0, -0.01])
    src.SetSpatialRef(srs("EPSG:4326"))
    gdal.Translate(path, src, format="GPKG", creationOptions=["APPEND_SUBDATASET=YES", "RASTER_TABLE=basemap"])


def json_bytes(name, data):
    with open(os.path.join(OUT, name), "wb") as out:
        out.write(data)


ZURICH = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Zürich"},'
          '"geometry":{"type":"Point","coordinates":[8.5,47.4]}}]}')

def mif_neutral(name, mid):
    text(name, 'Version 300\nCharset "Neutral"\nDelimiter ","\nCoordSys Earth Projection 1, 104\n'
               'Columns 1\n  name Char(20)\nData\n\nPoint 8.5 47.4\nPoint 9.5 47.4\n')
    open(os.path.join(OUT, name[:-4] + ".mid"), "wb").write(mid)


def tab_neutral(name):
    # A MapInfo table in CP1252 whose header says Charset "Neutral" (no code page).
    vector(name, "MapInfo File", ogr.wkbPoint, fields=[("name", ogr.OFTString)],
           rows=[("Zürich", "POINT (8.5 47.4)"), ("Basel", "POINT (7.6 47.6)")], lco=["ENCODING=CP1252"])
    path = os.path.join(OUT, name)
    header = open(path, "rb").read().replace(b"WindowsLatin1", b"Neutral")
    open(path, "wb").write(header)


def truncated(make, name, keep=0.6):
    # An upload cut off: the first 60 % of a file GDAL wrote.
    path = make()
    data = open(path, "rb").read()
    os.rename(path, os.path.join(OUT, name)) if path != os.path.join(OUT, name) else None
    open(os.path.join(OUT, name), "wb").write(data[:int(len(data) * keep)])
    if os.path.exists(os.path.join(OUT, name + ".aux.xml")):
        os.remove(os.path.join(OUT, name + ".aux.xml"))


VECTORS.update({
    "v_fgb_truncated": lambda: truncated(
        lambda: vector("v_fgb_truncated.fgb", "FlatGeobuf", ogr.wkbPoint, rows=POINTS), "v_fgb_truncated.fgb"),
    "v_tab_neutral": lambda: tab_neutral("v_tab_neutral.tab"),
    # An old MapInfo export: Charset "Neutral" over Latin-1 text (refused) or over UTF-8 (read).
    "v_mif_neutral": lambda: mif_neutral("v_mif_neutral.mif", '"Zürich"\n"Basel"\n'.encode("cp1252")),
    "v_mif_neutral_utf8": lambda: mif_neutral("v_mif_neutral_utf8.mif", '"Zürich"\n"Basel"\n'.encode()),
    # Saved by a Windows editor: in CP1252 (refused), or UTF-8 with a byte order mark (read).
    "v_geojson_cp1252": lambda: json_bytes("v_geojson_cp1252.geojson", ZURICH.encode("cp1252")),
    "v_geojson_bom": lambda: json_bytes("v_geojson_bom.geojson", b"\xef\xbb\xbf" + ZURICH.encode()),
    "v_shp_bad_numbers": lambda: shp_bad_numbers("v_shp_bad_numbers.shp"),
    "v_shp_overflow": lambda: shp_overflow("v_shp_overflow.shp"),
    # An upload cut off inside a quoted value (GDAL published the row cut short); beside it, a
    # file whose quotes are all closed, one of them over two lines with an escaped "" inside.
    "v_csv_cut_quote": lambda: text("v_csv_cut_quote.csv",
                                    'id,name,WKT\n1,a,"POINT (-110 45)"\n2,"b, with comma","POINT (-10'),
    "v_csv_quotes_ok": lambda: text("v_csv_quotes_ok.csv",
                                    'id,name,WKT\n1,"say ""hi""\nthere","POINT (-110 45)"\n2,b,"POINT (-109 46)"\n'),
    "v_gml_curves": lambda: gml_curves("v_gml_curves.gml"),
    # An export that had already renamed one 'bbox' attribute: 'bbox' beside 'bbox_attr'.
    "v_geojson_taken_names": lambda: geojson("v_geojson_taken_names.geojson", fc([
        ({"bbox": "B", "bbox_attr": "BA", "geometry": "G", "geometry_attr": "GA"},
         {"type": "Point", "coordinates": [-110.5, 45.5]})])),
    # A GeoJSONSeq upload cut off inside its fourth feature.
    "v_geojsonseq_cut": lambda: text("v_geojsonseq_cut.geojsonl", "".join(
        json.dumps({"type": "Feature", "properties": {"n": i},
                    "geometry": {"type": "Point", "coordinates": [-110 + i / 10, 45]}}) + "\n"
        for i in range(5))[:300]),
    "v_gpkg_with_tiles": lambda: gpkg_with_tiles("v_gpkg_with_tiles.gpkg"),
    "v_gpkg_blob": lambda: blobs("v_gpkg_blob.gpkg", "GPKG"),
    "v_fgb_blob": lambda: blobs("v_fgb_blob.fgb", "FlatGeobuf"),
    "v_gpkg_wide": lambda: wide("v_gpkg_wide.gpkg"),
    "v_gpkg_empty_str": lambda: empty_strings("v_gpkg_empty_str.gpkg"),
    "v_gpkg_huge_coords": lambda: huge_coords("v_gpkg_huge_coords.gpkg"),
    "v_shp_huge_coords": lambda: vector("v_shp_huge_coords.shp", "ESRI Shapefile", ogr.wkbPoint, code="EPSG:32612",
                                        fields=[("n", ogr.OFTInteger)],
                                        rows=[(1, "POINT (500000 5000000)"), (2, "POINT (1e20 5000000)")]),
    "v_csv_huge_coords": lambda: text("v_csv_huge_coords.csv",
                                      'id,WKT\n1,"POINT (500000 5000000)"\n2,"POINT (5e17 5000000)"\n'),
    "v_gpkg_polyhedral": lambda: polyhedral("v_gpkg_polyhedral.gpkg"),
    "v_shp_case_fields": lambda: shp_case_fields("v_shp_case_fields.shp"),
    "v_name ü 'q'": lambda: vector("v_name ü 'q'.geojson", "GeoJSON", ogr.wkbPoint, rows=POINTS),
})
RASTERS.update({
    "r_hfa_truncated": lambda: truncated(
        lambda: other("r_hfa_truncated.img", "HFA", ["COMPRESSED=YES"], gdal.GDT_Int16), "r_hfa_truncated.img"),
    "r_float16": lambda: float16("r_float16.tif"),
    "r_tall": lambda: tiff("r_tall.tif", gdal.GDT_Int16, size=(1, 100000), options=["COMPRESS=DEFLATE"]),
    "r_wide_row": lambda: tiff("r_wide_row.tif", size=(100000, 1), options=["COMPRESS=DEFLATE"]),
    "r_multi_scale": lambda: tiff("r_multi_scale.tif", gdal.GDT_Int16, bands=3, scale=30, after=multi_scale),
    "r_png16": lambda: png16_world("r_png16.png"),
    "r_jgw": lambda: jpeg_jgw("r_jgw.jpg"),
    "r_grib2": lambda: grib2("r_grib2.grb2"),
    "r_hfa_rat": lambda: hfa_rat("r_hfa_rat.img"),
    "r_tif_rat": lambda: tif_rat("r_tif_rat.tif"),
    # A netCDF cut off in transfer: the netCDF library reads what is missing as fill values.
    "r_netcdf_truncated": lambda: truncated(lambda: other("r_netcdf_truncated.nc", "netCDF", [], gdal.GDT_Float32,
                                                          code="EPSG:4326", gt=[-120, 0.5, 0, 50, 0, -0.5]),
                                            "r_netcdf_truncated.nc"),
    # A JPEG (placed by its .wld) cut off at 60 %.
    "r_jpg_truncated": lambda: truncated(lambda: jpeg_world("r_jpg_truncated.jpg"), "r_jpg_truncated.jpg"),
    "r_name ü 'q'": lambda: tiff("r_name ü 'q'.tif"),
})


# ---------------------------------------------------------------- vectors, second round


def time_rows(name, driver, gtype_wkts, dsco=(), lco=()):
    # Dates, datetimes with and without time zones (UTC, +05:30, -08:00, milliseconds), times
    # of day: what a logger, a survey app or a database export writes.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName(driver).Create(path, 0, 0, 0, gdal.GDT_Unknown, options=list(dsco))
    layer = ds.CreateLayer(name.split(".")[0], srs("EPSG:4326"), gtype_wkts[0], options=list(lco))
    fields = [("day", ogr.OFTDate), ("at", ogr.OFTDateTime), ("n", ogr.OFTInteger)]
    if driver not in ("ESRI Shapefile", "FlatGeobuf"):
        fields.append(("clock", ogr.OFTTime))
    for fname, ftype in fields:
        layer.CreateField(ogr.FieldDefn(fname, ftype))
    values = [
        ((2021, 3, 4), (2021, 3, 4, 10, 30, 0, 100), (10, 30, 15)),
        ((1999, 12, 31), (1999, 12, 31, 23, 59, 59.5, 100 + 22), (23, 59, 59)),
        ((2000, 2, 29), (2020, 6, 1, 0, 0, 0, 100 - 32), (0, 0, 0)),
        (None, None, None),
        ((1850, 1, 1), (2024, 1, 1, 12, 0, 0, 0), (12, 0, 0)),
    ]
    for i, (day, at, clock) in enumerate(values):
        f = ogr.Feature(layer.GetLayerDefn())
        if day:
            f.SetField("day", day[0], day[1], day[2], 0, 0, 0, 0)
        if at:
            f.SetField("at", *at)
        f.SetField("n", i)
        if clock and driver not in ("ESRI Shapefile", "FlatGeobuf"):
            f.SetField("clock", 0, 0, 0, clock[0], clock[1], clock[2], 0)
        f.SetGeometry(ogr.CreateGeometryFromWkt(gtype_wkts[1](i)))
        layer.CreateFeature(f)
    ds = None


def pt(i):
    return "POINT (%s %s)" % (-110 - i * 0.5, 45 + i * 0.25)


def sq(i):
    x, y = -110 - i, 45
    return "POLYGON ((%d %d,%d %d,%d %d,%d %d))" % (x, y, x + 1, y, x + 1, y + 1, x, y)


def gpx_times(name):
    # A GPS unit's export: waypoints with times, a track whose points have times and elevations.
    text(name, """<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="Garmin" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="45.5" lon="-110.5"><ele>2400.5</ele><time>2021-07-01T06:12:30Z</time><name>summit</name><sym>Summit</sym></wpt>
<wpt lat="45.6" lon="-110.4"><ele>2100</ele><time>2021-07-01T08:00:00+02:00</time><name>hüt</name></wpt>
<trk><name>Morning</name><trkseg>
<trkpt lat="45.50" lon="-110.50"><ele>2400</ele><time>2021-07-01T06:00:00Z</time></trkpt>
<trkpt lat="45.51" lon="-110.49"><ele>2390</ele><time>2021-07-01T06:01:00.250Z</time></trkpt>
<trkpt lat="45.52" lon="-110.48"><ele>2385</ele><time>2021-07-01T06:02:00Z</time></trkpt>
</trkseg></trk>
</gpx>
""")


def osm_xml(name):
    # An OpenStreetMap XML extract: nodes with tags, a way, a closed way (an area), a relation.
    text(name, """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="osmium">
<node id="1" version="1" lat="45.50" lon="-110.50"><tag k="amenity" v="cafe"/><tag k="name" v="Café ü"/></node>
<node id="2" version="1" lat="45.51" lon="-110.49"/>
<node id="3" version="1" lat="45.52" lon="-110.48"/>
<node id="4" version="1" lat="45.50" lon="-110.48"/>
<node id="5" version="1" lat="45.60" lon="-110.40"><tag k="natural" v="peak"/><tag k="ele" v="2400"/></node>
<way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><tag k="highway" v="path"/><tag k="name" v="Ridge"/></way>
<way id="11" version="1"><nd ref="2"/><nd ref="3"/><nd ref="4"/><nd ref="2"/><tag k="building" v="yes"/></way>
</osm>
""")


def csv_variants(name, body):
    return lambda: text(name, body)


def local_prj(name):
    # A site survey in a local engineering grid (no datum, no EPSG): nothing places it on Earth.
    shp(name, code="EPSG:32612", rows=[r[:-1] + (utm_poly(i),) for i, r in enumerate(PLACES)])
    text(name[:-4] + ".prj", 'LOCAL_CS["Site grid",LOCAL_DATUM["Site",0],UNIT["metre",1],'
         'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')


def long_strings(name):
    big = "".join(chr(0x41 + (i % 26)) for i in range(300000))
    geojson(name, fc([
        ({"note": big, "quote": 'a "b" \\ c\nd\u00e9\u4e2d', "n": 1}, {"type": "Point", "coordinates": [-110, 45]}),
        ({"note": "short", "quote": "", "n": 2}, {"type": "Point", "coordinates": [-111, 46]}),
    ]))


def polar(name):
    # Around the South Pole (a ring through lon -180..180) and a point on the North Pole.
    ring = [[lon, -80] for lon in range(-180, 181, 30)] + [[180, -90], [-180, -90], [-180, -80]]
    geojson(name, fc([
        ({"n": 1}, {"type": "Polygon", "coordinates": [ring]}),
        ({"n": 2}, {"type": "Point", "coordinates": [0, 90]}),
        ({"n": 3}, {"type": "LineString", "coordinates": [[-179.5, 89.9], [179.5, 89.9]]}),
    ]))


def unknown_crs_geojson(name):
    doc = {"type": "FeatureCollection",
           "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::999999"}},
           "features": [{"type": "Feature", "properties": {"n": 1},
                         "geometry": {"type": "Point", "coordinates": [10, 50]}}]}
    geojson(name, doc)


def unknown_crs_gml(name):
    text(name, """<?xml version="1.0" encoding="utf-8" ?>
<ogr:FeatureCollection xmlns:ogr="http://ogr.maptools.org/" xmlns:gml="http://www.opengis.net/gml">
<gml:featureMember><ogr:sites fid="sites.0"><ogr:geometryProperty><gml:Point srsName="EPSG:999999"><gml:coordinates>500000,5000000</gml:coordinates></gml:Point></ogr:geometryProperty><ogr:n>1</ogr:n></ogr:sites></gml:featureMember>
</ogr:FeatureCollection>
""")


VECTORS.update({
    "v_shp_cpg_936": lambda: shp_cpg("v_shp_cpg_936.shp", "CP936", "936",
                                     rows=[(["北京市"], "POINT (116.4 39.9)"), (["上海 Shanghai"], "POINT (121.5 31.2)")]),
    "v_shp_local": lambda: local_prj("v_shp_local.shp"),
    "v_shp_local_assigned": lambda: local_prj("v_shp_local_assigned.shp"),
    "v_shp_pt_dates": lambda: time_rows("v_shp_pt_dates.shp", "ESRI Shapefile", (ogr.wkbPoint, pt)),
    "v_fgb_pt_dates": lambda: time_rows("v_fgb_pt_dates.fgb", "FlatGeobuf", (ogr.wkbPoint, pt)),
    "v_gpkg_pt_dates": lambda: time_rows("v_gpkg_pt_dates.gpkg", "GPKG", (ogr.wkbPoint, pt)),
    "v_gpkg_poly_dates": lambda: time_rows("v_gpkg_poly_dates.gpkg", "GPKG", (ogr.wkbPolygon, sq)),
    "v_geojson_pt_dates": lambda: time_rows("v_geojson_pt_dates.geojson", "GeoJSON", (ogr.wkbPoint, pt)),
    "v_geojson_poly_dates": lambda: time_rows("v_geojson_poly_dates.geojson", "GeoJSON", (ogr.wkbPolygon, sq)),
    "v_gpx_times": lambda: gpx_times("v_gpx_times.gpx"),
    "v_osm": lambda: osm_xml("v_osm.osm"),
    "v_csv_lonlat": csv_variants("v_csv_lonlat.csv", "id,Longitude,Latitude,name\n1,-110.5,45.5,a\n2,-110.25,45.75,b\n"),
    "v_csv_lnglat": csv_variants("v_csv_lnglat.csv", "id;lng;lat;name\n1;-110.5;45.5;a\n2;-110.25;45.75;b\n"),
    "v_csv_XY": csv_variants("v_csv_XY.csv", "ID,X,Y,Name\r\n1,-110.5,45.5,a\r\n2,-110.25,45.75,b\r\n"),
    "v_csv_dupcols": csv_variants("v_csv_dupcols.csv",
                                  "id,name,Name,name,,select,WKT\n1,a,b,c,d,e,POINT (-110 45)\n2,f,g,h,i,j,POINT (-111 46)\n"),
    "v_csv_cut_number": csv_variants("v_csv_cut_number.csv",
                                     "id,lon,lat,name\n1,-110.5,45.5,a\n2,-110.25,45.7"),
    "v_csv_cut_wkt": csv_variants("v_csv_cut_wkt.csv",
                                  "id,WKT\n1,\"POINT (-110 45)\"\n2,POLYGON ((-110 45,-109 45,-109 46,-110 4"),
    "v_geojson_longstr": lambda: long_strings("v_geojson_longstr.geojson"),
    "v_geojson_polar": lambda: polar("v_geojson_polar.geojson"),
    "v_geojson_unknown_crs": lambda: unknown_crs_geojson("v_geojson_unknown_crs.geojson"),
    "v_gml_unknown_crs": lambda: unknown_crs_gml("v_gml_unknown_crs.gml"),
    "v_gpkg_cut": lambda: truncated(lambda: vector("v_gpkg_cut.gpkg", "GPKG", rows=PLACES * 200), "v_gpkg_cut.gpkg"),
    "v_gml_cut": lambda: truncated(lambda: vector("v_gml_cut.gml", "GML"), "v_gml_cut.gml"),
    "v_kml_cut": lambda: truncated(lambda: kml("v_kml_cut.kml") or os.path.join(OUT, "v_kml_cut.kml"), "v_kml_cut.kml"),
    "v_gpx_cut": lambda: truncated(lambda: gpx_times("v_gpx_cut.gpx") or os.path.join(OUT, "v_gpx_cut.gpx"), "v_gpx_cut.gpx"),
    "v_fgb_cut_header": lambda: truncated(lambda: vector("v_fgb_cut_header.fgb", "FlatGeobuf", ogr.wkbPoint, rows=POINTS),
                                          "v_fgb_cut_header.fgb", keep=0.1),
    "v_geojson_cut_early": lambda: truncated(lambda: vector("v_geojson_cut_early.geojson", "GeoJSON"),
                                             "v_geojson_cut_early.geojson", keep=0.3),
    "v_dxf_cut": lambda: truncated(lambda: vector("v_dxf_cut.dxf", "DXF", fields=[], rows=[r[-1:] for r in PLACES]),
                                   "v_dxf_cut.dxf"),
    "v_tab_cut": lambda: truncated(lambda: vector("v_tab_cut.tab", "MapInfo File", fields=[FIELDS[0], FIELDS[5]],
                                                         rows=[(r[0], r[5], r[6]) for r in PLACES]) and os.path.join(OUT, "v_tab_cut.map"),
                                   "v_tab_cut.map"),
    "v_shp_zero": lambda: shp("v_shp_zero.shp") and text("v_shp_zero.shp", ""),
})


def shp_upper(name):
    # An old system's export: every extension in capitals (.SHP, .SHX, .DBF, .PRJ).
    shp("_upper.shp")
    stem = os.path.join(OUT, name[:-4])
    for ext in ("shp", "shx", "dbf", "prj", "cpg"):
        os.rename(os.path.join(OUT, "_upper." + ext), stem + "." + ext.upper())


def geojson_ids(name):
    # An Overpass / OSM export: string feature ids ("way/123") beside an "id" property,
    # numeric ids on others, a foreign member and a bbox on the collection and a feature.
    doc = {"type": "FeatureCollection", "generator": "overpass-turbo", "bbox": [-111, 45, -110, 46],
           "features": [
               {"type": "Feature", "id": "way/123", "bbox": [-110.5, 45.5, -110.4, 45.6],
                "properties": {"@id": "way/123", "highway": "path"},
                "geometry": {"type": "LineString", "coordinates": [[-110.5, 45.5], [-110.4, 45.6]]}},
               {"type": "Feature", "id": "node/9", "properties": {"@id": "node/9", "natural": "peak"},
                "geometry": {"type": "Point", "coordinates": [-110.45, 45.55]}},
           ]}
    geojson(name, doc)


def geojson_id_clash(name):
    # Feature ids that are strings beside an "id" property that is a number.
    geojson(name, {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "way/123", "properties": {"id": 7, "highway": "path"},
         "geometry": {"type": "LineString", "coordinates": [[-110.5, 45.5], [-110.4, 45.6]]}},
        {"type": "Feature", "id": "node/9", "properties": {"natural": "peak"},
         "geometry": {"type": "Point", "coordinates": [-110.45, 45.55]}},
    ]})


def kml_multi(name):
    # Google Earth's own: a MultiGeometry of a point and a line, a 3D polygon with a hole
    # (extruded, absolute altitudes), nested folders.
    text(name, """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Site</name>
<Folder><name>Outer</name><Folder><name>Inner</name>
<Placemark><name>Gate and path</name><MultiGeometry>
<Point><coordinates>-110.5,45.5,0</coordinates></Point>
<LineString><coordinates>-110.5,45.5,0 -110.45,45.52,0 -110.4,45.6,0</coordinates></LineString>
</MultiGeometry></Placemark>
<Placemark><name>Hall</name><Polygon><extrude>1</extrude><altitudeMode>absolute</altitudeMode>
<outerBoundaryIs><LinearRing><coordinates>-110.3,45.3,20 -110.2,45.3,20 -110.2,45.4,20 -110.3,45.4,20 -110.3,45.3,20</coordinates></LinearRing></outerBoundaryIs>
<innerBoundaryIs><LinearRing><coordinates>-110.28,45.32,20 -110.22,45.32,20 -110.22,45.38,20 -110.28,45.32,20</coordinates></LinearRing></innerBoundaryIs>
</Polygon></Placemark>
</Folder></Folder>
</Document></kml>
""")


VECTORS.update({
    "v_kml_multi": lambda: kml_multi("v_kml_multi.kml"),
    "v_geojson_id_clash": lambda: geojson_id_clash("v_geojson_id_clash.geojson"),
    "v_shp_upper": lambda: shp_upper("v_shp_upper.SHP"),
    "v_shp name ü": lambda: shp("v_shp name ü.shp"),
    "v_geojson_ids": lambda: geojson_ids("v_geojson_ids.geojson"),
})



def ovr_external(name):
    # Overviews the user built on a read-only file: a .ovr beside it (gdaladdo -ro).
    path = tiff(name, gdal.GDT_Int16, scale=5, options=["COMPRESS=LZW"])
    ds = gdal.Open(path)
    ds.BuildOverviews("AVERAGE", [2, 4])
    ds = None
    return path


def msk_external(name):
    # A scan's no-data corner as a per-dataset mask in a .msk beside the file (GDAL < 3.9's default).
    gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "NO")
    try:
        return tiff(name, bands=3, after=lambda m: (rgb(m), mask_corner(m)), options=["COMPRESS=DEFLATE"])
    finally:
        gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", None)


def aux_stats(name):
    # Statistics and a histogram computed by a desktop GIS, in the .aux.xml beside the file.
    path = tiff(name, gdal.GDT_UInt16, scale=100)
    ds = gdal.Open(path)
    ds.GetRasterBand(1).ComputeStatistics(False)
    ds.GetRasterBand(1).GetDefaultHistogram()
    ds = None
    return path


def aux_srs(name):
    # No GeoTIFF keys: the CRS and geotransform only in the .aux.xml (PAM), as some tools save them.
    path = tiff(name, code=None, gt=None, options=["PROFILE=BASELINE"])
    ds = gdal.Open(path)
    ds.SetSpatialRef(srs("EPSG:32612"))
    ds.SetGeoTransform(UTM)
    ds = None
    return path


def local_cs(name):
    # A site survey's local grid (engineering CRS): metres, but nowhere on Earth.
    def local(mem):
        s = osr.SpatialReference()
        s.SetLocalCS("site grid")
        s.SetLinearUnits("metre", 1.0)
        mem.SetSpatialRef(s)
    return tiff(name, code=None, gt=[1000, 1, 0, 2000, 0, -1], after=local)


def geokey_patch(name, old, new):
    # A GeoTIFF whose ProjectedCSTypeGeoKey names a code the CRS database lacks.
    path = tiff(name, options=["COMPRESS=NONE"])
    data = bytearray(open(path, "rb").read())
    key = struct.pack("<HHHH", 3072, 0, 1, old)
    at = data.find(key)
    assert at > 0, "geokey not found"
    data[at:at + 8] = struct.pack("<HHHH", 3072, 0, 1, new)
    open(path, "wb").write(bytes(data))
    return path


def inf_pixels(mem):
    b = mem.GetRasterBand(1)
    b.WriteRaster(0, 0, 3, 1, struct.pack("3f", float("inf"), float("-inf"), float("nan")), buf_type=gdal.GDT_Float32)


def cut_at(name, make, keep):
    path = make()
    data = open(path, "rb").read()
    open(os.path.join(OUT, name), "wb").write(data[:keep if keep > 1 else int(len(data) * keep)])
    if path != os.path.join(OUT, name):
        os.remove(path)


def bad_ifd(name):
    path = tiff(name, options=["COMPRESS=DEFLATE"])
    data = bytearray(open(path, "rb").read())
    data[4:8] = struct.pack("<I", len(data) * 3)
    open(path, "wb").write(bytes(data))


def jpeg_cog(name):
    src = tiff("_jcog_src.tif", bands=3, after=rgb, size=(600, 500))
    gdal.Translate(os.path.join(OUT, name), src, format="COG", creationOptions=["COMPRESS=JPEG", "BLOCKSIZE=256"])
    os.remove(src)


def hfa_spill(name):
    # A large ERDAS image: header .img, pixels in the .ige spill file beside it.
    other(name, "HFA", ["USE_SPILL=YES"], gdal.GDT_Float32)


def polar_grid(name, code, half):
    return tiff(name, gdal.GDT_Float32, code=code, size=(100, 100),
                gt=[-half, 2 * half / 100, 0, half, 0, -2 * half / 100])


RASTERS.update({
    "r_south_up": lambda: tiff("r_south_up.tif", gt=[500000, 30, 0, 5000000 - H * 30, 0, 30]),
    "r_1x1": lambda: tiff("r_1x1.tif", gdal.GDT_Float32, size=(1, 1), nodata=-9999),
    "r_1x1_geog": lambda: tiff("r_1x1_geog.tif", code="EPSG:4326", gt=[-110.5, 0.001, 0, 45.5, 0, -0.001], size=(1, 1)),
    "r_ovr_external": lambda: ovr_external("r_ovr_external.tif"),
    "r_msk_external": lambda: msk_external("r_msk_external.tif"),
    "r_aux_stats": lambda: aux_stats("r_aux_stats.tif"),
    "r_aux_srs": lambda: aux_srs("r_aux_srs.tif"),
    "r_local_cs": lambda: local_cs("r_local_cs.tif"),
    "r_epsg_unknown": lambda: geokey_patch("r_epsg_unknown.tif", 32612, 32799),
    "r_epsg_deprecated": lambda: geokey_patch("r_epsg_deprecated.tif", 32612, 3785),
    "r_inf": lambda: tiff("r_inf.tif", gdal.GDT_Float32, scale=0.3, after=inf_pixels),
    "r_nan_plain": lambda: tiff("r_nan_plain.tif", gdal.GDT_Float64, scale=0.3,
                                after=lambda m: m.GetRasterBand(1).WriteRaster(0, 0, 2, 1, struct.pack("2d", float("nan"), float("nan")))),
    "r_uint64": lambda: tiff("r_uint64.tif", gdal.GDT_UInt64, scale=1e9, options=["COMPRESS=DEFLATE"]),
    "r_many_bands": lambda: tiff("r_many_bands.tif", gdal.GDT_Int16, bands=120, size=(24, 20), scale=3,
                                 options=["COMPRESS=DEFLATE", "INTERLEAVE=BAND"]),
    "r_palette_nodata": lambda: tiff("r_palette_nodata.tif", nodata=0, after=lambda m: palette_of(m)),
    "r_polar_north": lambda: polar_grid("r_polar_north.tif", "EPSG:3413", 3000000),
    "r_polar_south": lambda: polar_grid("r_polar_south.tif", "EPSG:3031", 3000000),
    "r_global_360": lambda: tiff("r_global_360.tif", gdal.GDT_Float32, code="EPSG:4326", size=(180, 90),
                                 gt=[0, 2, 0, 90, 0, -2]),
    "r_global": lambda: tiff("r_global.tif", gdal.GDT_Float32, code="EPSG:4326", size=(180, 90),
                             gt=[-180, 2, 0, 90, 0, -2]),
    "r_trunc_header": lambda: cut_at("r_trunc_header.tif", lambda: tiff("_th.tif", options=["COMPRESS=DEFLATE"]), 6),
    "r_trunc_10": lambda: cut_at("r_trunc_10.tif", lambda: tiff("_t10.tif", options=["COMPRESS=DEFLATE"]), 0.1),
    "r_trunc_50": lambda: cut_at("r_trunc_50.tif", lambda: tiff("_t50.tif", options=["COMPRESS=NONE", "TILED=YES"]), 0.5),
    "r_trunc_95": lambda: cut_at("r_trunc_95.tif", lambda: tiff("_t95.tif", gdal.GDT_Int16, options=["COMPRESS=LZW"]), 0.95),
    "r_bad_ifd": lambda: bad_ifd("r_bad_ifd.tif"),
    "r_text": lambda: text("r_text.tif", "This is not a raster, just some notes about the survey.\n"),
    "r_png_as_tif": lambda: (png("r_png_as_tif.png"), os.rename(os.path.join(OUT, "r_png_as_tif.png"), os.path.join(OUT, "r_png_as_tif.tif")),
                             os.remove(os.path.join(OUT, "r_png_as_tif.png.aux.xml"))),
    "r_tif_as_png": lambda: tiff("r_tif_as_png.tif"),
    "r_jpeg_cog": lambda: jpeg_cog("r_jpeg_cog.tif"),
    "r_jpeg_mask": lambda: (gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", "YES"),
                            tiff("r_jpeg_mask.tif", bands=3, after=lambda m: (rgb(m), mask_corner(m)),
                                 options=["COMPRESS=JPEG", "PHOTOMETRIC=YCBCR", "TILED=YES"]),
                            gdal.SetConfigOption("GDAL_TIFF_INTERNAL_MASK", None)),
    "r_hfa_spill": lambda: hfa_spill("r_hfa_spill.img"),
    "r_cint16_nodata": lambda: tiff("r_cint16_nodata.tif", gdal.GDT_CInt16, nodata=-32768),
    "r_geog_point": lambda: tiff("r_geog_point.tif", gdal.GDT_Float32, code="EPSG:4326", gt=[-111.0, 0.001, 0, 46.0, 0, -0.001],
                                 after=lambda m: m.SetMetadataItem("AREA_OR_POINT", "Point")),
    "r_nad27": lambda: tiff("r_nad27.tif", code="EPSG:26712"),
    "r_huge_thin": lambda: tiff("r_huge_thin.tif", size=(1000000, 2), gt=[500000.0, 0.05, 0.0, 5000000.0, 0.0, -0.05],
                                options=["COMPRESS=DEFLATE", "TILED=YES"]),
})


def multipage(name):
    # A multi-page TIFF (a scanner's pages, each an image of its own, not overviews).
    first = tiff("_mp1.tif")
    second = tiff("_mp2.tif", gt=[500000 + W * 30, 30, 0, 5000000, 0, -30])
    path = os.path.join(OUT, name)
    gdal.Translate(path, first, format="GTiff")
    # Appended as a second IFD the way tiffcp writes pages: GDAL's APPEND_SUBDATASET.
    gdal.Translate(path, second, format="GTiff", creationOptions=["APPEND_SUBDATASET=YES"])
    for extra in (first, second):
        os.remove(extra)


def palette_1bit(mem):
    table = gdal.ColorTable()
    table.SetColorEntry(0, (255, 255, 255, 255))
    table.SetColorEntry(1, (0, 0, 0, 255))
    mem.GetRasterBand(1).SetRasterColorTable(table)


def palette16(mem):
    table = gdal.ColorTable()
    for i in range(400):
        table.SetColorEntry(i, (i % 256, (i * 7) % 256, 255 - i % 256, 255))
    mem.GetRasterBand(1).SetRasterColorTable(table)


def gcps3(name):
    path = tiff(name, gt=None, code=None)
    ds = gdal.Open(path, gdal.GA_Update)
    pts = [gdal.GCP(500000 + px * 30, 5000000 - ln * 30, 0, px, ln) for px, ln in [(0, 0), (W, 0), (0, H)]]
    ds.SetGCPs(pts, srs("EPSG:32612").ExportToWkt())
    ds = None


RASTERS.update({
    "r_multipage": lambda: multipage("r_multipage.tif"),
    "r_1bit_palette": lambda: tiff("r_1bit_palette.tif", scale=0.004, after=palette_1bit, options=["NBITS=1", "COMPRESS=PACKBITS"]),
    "r_palette16": lambda: tiff("r_palette16.tif", gdal.GDT_UInt16, scale=1.5, after=palette16, options=["COMPRESS=LZW"]),
    "r_west_left": lambda: tiff("r_west_left.tif", gt=[500000 + W * 30, -30, 0, 5000000, 0, -30]),
    "r_gcps3": lambda: gcps3("r_gcps3.tif"),
    "r_rgb_jpeg_strips": lambda: tiff("r_rgb_jpeg_strips.tif", bands=3, after=rgb, options=["COMPRESS=JPEG", "JPEG_QUALITY=90"]),
})

def stateplane_ft(name):
    # A county's orthophoto in State Plane feet, its CRS written from ArcGIS's ESRI WKT.
    s = osr.SpatialReference()
    s.ImportFromEPSG(2256)
    s.MorphToESRI()
    esri = osr.SpatialReference()
    esri.SetFromUserInput(s.ExportToWkt())
    path = os.path.join(OUT, name)
    mem = gdal.GetDriverByName("MEM").Create("", W, H, 3, gdal.GDT_Byte)
    mem.SetGeoTransform([1000000.0, 2.0, 0, 800000.0, 0, -2.0])
    mem.SetSpatialRef(esri)
    fill(mem)
    gdal.GetDriverByName("GTiff").CreateCopy(path, mem, options=["COMPRESS=DEFLATE", "TILED=YES"])


def arcgis_set(name):
    # What ArcGIS exports: a GeoTIFF with a .tfw, an .aux.xml (ESRI CRS, statistics) and an .ovr.
    path = tiff(name, gdal.GDT_Float32, scale=0.5, nodata=-3.4028234663852886e38, options=["TFW=YES", "COMPRESS=LZW"])
    ds = gdal.Open(path)
    ds.GetRasterBand(1).ComputeStatistics(False)
    ds.BuildOverviews("NEAREST", [2, 4])
    ds = None


def mbtiles(name):
    src = tiff("_mbt_src.tif", bands=3, after=rgb, code="EPSG:3857", size=(256, 256),
               gt=[-12245000.0, 19.109257071294063, 0, 5621000.0, 0, -19.109257071294063])
    gdal.Translate(os.path.join(OUT, name), src, format="MBTiles")
    os.remove(src)


RASTERS.update({
    # A USGS 3DEP DEM tile: NAD83 lon/lat + NAVD88 heights, Float32, LZW with the float predictor.
    "r_3dep": lambda: tiff("r_3dep.tif", gdal.GDT_Float32, code="EPSG:4269+5703", scale=3.3, nodata=-999999,
                           gt=[-111.0, 1 / 10800, 0, 46.0, 0, -1 / 10800],
                           options=["COMPRESS=LZW", "PREDICTOR=3", "TILED=YES", "BLOCKXSIZE=256", "BLOCKYSIZE=256"]),
    # NAIP-like: 4 bands (red, green, blue, near infrared) of JPEG without YCbCr.
    "r_jpeg_4band": lambda: tiff("r_jpeg_4band.tif", bands=4, options=["COMPRESS=JPEG", "TILED=YES", "PHOTOMETRIC=MINISBLACK"]),
    "r_stateplane_ft": lambda: stateplane_ft("r_stateplane_ft.tif"),
    "r_arcgis_set": lambda: arcgis_set("r_arcgis_set.tif"),
    "r_mbtiles": lambda: mbtiles("r_mbtiles.mbtiles"),
    # A web map export in EPSG:3857, which ArcGIS users declare by its ESRI code (ESRI:102100).
    "r_web_mercator": lambda: tiff("r_web_mercator.tif", code="EPSG:3857",
                                   gt=[-12245000.0, 10.0, 0, 5621000.0, 0, -10.0]),
})

def palette_of(mem):
    table = gdal.ColorTable()
    for i in range(256):
        table.SetColorEntry(i, (i, 255 - i, (i * 3) % 256, 0 if i == 0 else 255))
    mem.GetRasterBand(1).SetRasterColorTable(table)
    mem.GetRasterBand(1).SetColorInterpretation(gdal.GCI_PaletteIndex)



# ---------------------------------------------------------------- third round (session 11)


def shp_null_shapes(name):
    # An agency export whose rows without a shape are null shapes (type 0) in the .shp.
    rows = [r[:-1] + (None if i % 2 else r[-1],) for i, r in enumerate(PLACES)]
    shp(name, rows=rows)


def shp_multipatch(name):
    # An ArcGIS Pro 3D export (buildings as multipatches).
    vector(name, "ESRI Shapefile", ogr.wkbUnknown, fields=[("h", ogr.OFTReal)], lco=["SHPT=MULTIPATCH"],
           rows=[(12.5, "TIN Z (((0 0 0,0 1 0,1 0 0,0 0 0)),((1 0 0,0 1 0,1 1 0,1 0 0)))")])


def dbf_logical(name):
    # A .dbf with a true logical (L) field, as dBASE, ArcGIS and QGIS write it: T, F, ? and blank.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("ESRI Shapefile").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = ds.CreateLayer(name[:-4], srs("EPSG:4326"), ogr.wkbPoint)
    layer.CreateField(ogr.FieldDefn("name", ogr.OFTString))
    flag = ogr.FieldDefn("flag", ogr.OFTString)
    flag.SetWidth(1)
    layer.CreateField(flag)
    for i, v in enumerate(["T", "F", "?", None, "y"]):
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField(0, "abcde"[i])
        if v is not None:
            f.SetField(1, v)
        f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%d 45)" % (-110 + i)))
        layer.CreateFeature(f)
    ds = None
    dbf = path[:-4] + ".dbf"
    data = bytearray(open(dbf, "rb").read())
    # The second field descriptor (32 + 32): its type byte (offset 11) C -> L.
    assert data[64:68] == b"flag", data[64:75]
    data[64 + 11] = ord("L")
    open(dbf, "wb").write(bytes(data))


def geojson_empty_fc(name):
    geojson(name, fc([]))


def gpkg_3857_datetimes(name):
    # A GeoPackage in Web Mercator with DateTime fields with milliseconds and without zone.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GPKG").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = layer_with(ds, "events", "EPSG:3857", ogr.wkbPoint,
                       fields=[("name", ogr.OFTString), ("at", ogr.OFTDateTime), ("day", ogr.OFTDate)])
    for i, (n, at, day) in enumerate([("a", (2024, 1, 5, 10, 30, 15.25, 100), (2024, 1, 5)),
                                      ("b", (2024, 7, 1, 23, 59, 59, 0), (2024, 7, 1)),
                                      ("c", None, None)]):
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField(0, n)
        if at:
            f.SetField(1, *at)
            f.SetField(2, *day, 0, 0, 0, 0)
        f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%f %f)" % (-12245000 + i * 1000, 5621000)))
        layer.CreateFeature(f)
    ds = None


def geojson_zm_selfint(name):
    geojson(name, fc([
        ({"k": "overlap"}, {"type": "MultiPolygon", "coordinates": [
            [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]], [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]]}),
        ({"k": "spike"}, {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [11, 12], [11, 11], [10, 11], [10, 10]]]}),
        ({"k": "hole_out"}, {"type": "Polygon", "coordinates": [[[20, 20], [21, 20], [21, 21], [20, 21], [20, 20]],
                                                            [[22, 22], [23, 22], [23, 23], [22, 23], [22, 22]]]}),
    ]))


def gml_xsd(name):
    vector(name, "GML", ogr.wkbPoint, rows=[r[:-1] + ("POINT (%d 45)" % (-110 + i),) for i, r in enumerate(PLACES)],
           dsco=["FORMAT=GML3", "XSISCHEMAURI=%s.xsd" % name[:-4]])


def fgb_zm(name):
    vector(name, "FlatGeobuf", ogr.wkbLineStringZM, fields=[("n", ogr.OFTInteger)],
           rows=[(1, "LINESTRING ZM (-110 45 100 1,-109 46 110 2)"), (2, "LINESTRING ZM (-111 45 90 0,-111 46 95 5)")])


def vrt_inside(name):
    src = tiff(name[:-4] + "_src.tif")
    gdal.BuildVRT(os.path.join(OUT, name), [src])
    # Relative, as gdalbuildvrt writes beside its sources.
    body = open(os.path.join(OUT, name)).read()
    assert 'relativeToVRT="1"' in body, body


def kml_folders(name):
    body = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>trip</name>
<Folder><name>Stops</name>
<Placemark><name>A</name><Point><coordinates>-110,45</coordinates></Point></Placemark>
<Placemark><name>B</name><Point><coordinates>-109,45.5</coordinates></Point></Placemark>
</Folder>
<Folder><name>Route</name>
<Placemark><name>R</name><LineString><coordinates>-110,45 -109,45.5</coordinates></LineString></Placemark>
</Folder>
<Folder><name>Area</name>
<Placemark><name>P</name><Polygon><outerBoundaryIs><LinearRing><coordinates>-110,45 -109,45 -109,46 -110,45</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
</Folder></Document></kml>
"""
    text(name, body)


VECTORS.update({
    "v_shp_null_shapes": lambda: shp_null_shapes("v_shp_null_shapes.shp"),
    "v_shp_multipatch": lambda: shp_multipatch("v_shp_multipatch.shp"),
    "v_shp_logical": lambda: dbf_logical("v_shp_logical.shp"),
    "v_geojson_empty_fc": lambda: geojson_empty_fc("v_geojson_empty_fc.geojson"),
    "v_gpkg_3857_dt": lambda: gpkg_3857_datetimes("v_gpkg_3857_dt.gpkg"),
    "v_geojson_selfint": lambda: geojson_zm_selfint("v_geojson_selfint.geojson"),
    "v_gml_xsd": lambda: gml_xsd("v_gml_xsd.gml"),
    "v_fgb_zm": lambda: fgb_zm("v_fgb_zm.fgb"),
    "v_kml_folders": lambda: kml_folders("v_kml_folders.kml"),
})

RASTERS.update({
    "r_vrt_inside": lambda: vrt_inside("r_vrt_inside.vrt"),
    "r_u16_pred2_lzw": lambda: tiff("r_u16_pred2_lzw.tif", gdal.GDT_UInt16, scale=100, options=["COMPRESS=LZW", "PREDICTOR=2", "TILED=YES"]),
    "r_i16_deflate_pred2": lambda: tiff("r_i16_deflate_pred2.tif", gdal.GDT_Int16, scale=-50, nodata=-32768, options=["COMPRESS=DEFLATE", "PREDICTOR=2"]),
    "r_f64_nan_pred3": lambda: tiff("r_f64_nan_pred3.tif", gdal.GDT_Float64, scale=0.001, nodata=float("nan"), options=["COMPRESS=DEFLATE", "PREDICTOR=3", "TILED=YES"]),
    "r_rgba_alpha": lambda: tiff("r_rgba_alpha.tif", bands=4, options=["PHOTOMETRIC=RGB", "ALPHA=YES", "COMPRESS=DEFLATE"]),
    "r_point_geog": lambda: tiff("r_point_geog.tif", code="EPSG:4326", gt=[-110.0, 0.01, 0, 46.0, 0, -0.01], options=["COMPRESS=LZW"], after=lambda m: m.SetMetadataItem("AREA_OR_POINT", "Point")),
    "r_enviu16": lambda: other("r_enviu16.dat", "ENVI", [], dtype=gdal.GDT_UInt16, nodata=0),
})



def shp_ldid(name, encoding, ldid):
    # No .cpg, the code page said only by the .dbf's language driver id (byte 29), as dBASE,
    # ArcView 3 and many converters wrote it.
    shp_cpg(name, encoding, None, rows=[(["Zürich"], "POINT (8.54 47.38)"), (["Straße"], "POINT (8.5 47.4)")])
    dbf = os.path.join(OUT, name[:-4] + ".dbf")
    data = bytearray(open(dbf, "rb").read())
    data[29] = ldid
    open(dbf, "wb").write(bytes(data))


ZURICH_ROWS = [(["Zürich"], "POINT (8.54 47.38)"), (["Straße"], "POINT (8.5 47.4)")]

VECTORS.update({
    "v_shp_cpg_latin1": lambda: shp_cpg("v_shp_cpg_latin1.shp", "ISO-8859-1", "LATIN1", rows=ZURICH_ROWS),
    "v_shp_cpg_1252": lambda: shp_cpg("v_shp_cpg_1252.shp", "CP1252", "1252", rows=ZURICH_ROWS),
    "v_shp_cpg_win1252": lambda: shp_cpg("v_shp_cpg_win1252.shp", "CP1252", "Windows-1252", rows=ZURICH_ROWS),
    "v_shp_cpg_utf8_lower": lambda: shp_cpg("v_shp_cpg_utf8_lower.shp", "UTF-8", "utf8\n", rows=ZURICH_ROWS),
    "v_shp_ldid_57": lambda: shp_ldid("v_shp_ldid_57.shp", "CP1252", 0x57),
    "v_shp_ldid_03": lambda: shp_ldid("v_shp_ldid_03.shp", "CP1252", 0x03),
    "v_shp_ldid_01": lambda: shp_ldid("v_shp_ldid_01.shp", "CP437", 0x01),
})


ESRI_GRIDS = {
    # National grids as ArcGIS writes their .prj (no authority, Esri names): code, lon, lat.
    "2056": (8.5, 47.0), "25832": (9.0, 50.0), "2154": (2.3, 46.5), "27700": (-1.5, 52.5),
    "28355": (147.0, -37.0), "3006": (15.0, 60.0), "31287": (14.0, 47.5), "3035": (10.0, 50.0),
    "4258": (10.0, 50.0), "7844": (147.0, -33.0), "2193": (174.8, -41.3), "26918": (-75.0, 40.0),
    "3347": (-100.0, 55.0),
}


def shp_esri_grid(name, code):
    lon, lat = ESRI_GRIDS[code]
    ct = osr.CoordinateTransformation(srs("EPSG:4326"), srs("EPSG:" + code))
    rows = []
    for i, r in enumerate(PLACES):
        x, y, _ = ct.TransformPoint(lon + i * 0.01, lat + i * 0.01)
        rows.append(r[:-1] + ("POINT (%.6f %.6f)" % (x, y),))
    shp(name, code="EPSG:" + code, rows=rows, gtype=ogr.wkbPoint)
    s = srs("EPSG:" + code)
    s.MorphToESRI()
    text(name[:-4] + ".prj", s.ExportToWkt())


VECTORS.update({"v_shp_esri_%s" % c: (lambda c=c: shp_esri_grid("v_shp_esri_%s.shp" % c, c)) for c in ESRI_GRIDS})


def sparse(name):
    # A tiled GeoTIFF with only some tiles written (SPARSE_OK, as a mosaic's empty corners).
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("GTiff").Create(path, 512, 512, 1, gdal.GDT_UInt16,
                                               options=["TILED=YES", "SPARSE_OK=TRUE", "COMPRESS=DEFLATE"])
    ds.SetGeoTransform(UTM)
    ds.SetSpatialRef(srs("EPSG:32612"))
    ds.GetRasterBand(1).SetNoDataValue(0)
    ds.GetRasterBand(1).WriteRaster(256, 256, 64, 64, struct.pack("4096H", *[(i * 37) % 60000 + 1 for i in range(4096)]))
    ds = None


def png_world_prj(name):
    # A map image from ArcGIS: a PNG, its world file (.pgw) and an Esri .prj, no CRS inside.
    src = tiff("_pgw_src.tif", bands=3, after=rgb)
    gdal.Translate(os.path.join(OUT, name), src, format="PNG", creationOptions=["WORLDFILE=YES"])
    os.remove(src)
    for aux in (name + ".aux.xml",):
        if os.path.exists(os.path.join(OUT, aux)):
            os.remove(os.path.join(OUT, aux))
    s = srs("EPSG:32612")
    s.MorphToESRI()
    text(name[:-4] + ".prj", s.ExportToWkt())


VECTORS.update({
    "v_geojson_foreign": lambda: geojson("v_geojson_foreign.geojson", {
        "type": "FeatureCollection", "name": "parks", "bbox": [-111, 45, -110, 46],
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": [
            {"type": "Feature", "id": "a1", "bbox": [-111, 45, -111, 45], "properties": None,
             "geometry": {"type": "Point", "coordinates": [-111, 45]}, "title": "foreign member"},
            {"type": "Feature", "properties": {"k": 1}, "geometry": {"type": "GeometryCollection", "geometries": [
                {"type": "Point", "coordinates": [-110.5, 45.5]},
                {"type": "LineString", "coordinates": [[-110.5, 45.5], [-110.4, 45.6]]}]}},
        ]}),
    "v_csv_wkt_z": lambda: text("v_csv_wkt_z.csv", 'id,WKT\n1,"POINT Z (-110 45 1200.5)"\n2,"LINESTRING Z (-110 45 1,-109 46 2)"\n3,"MULTIPOLYGON (((-110 45,-109 45,-109 46,-110 45)))"\n'),
    "v_fgb_noindex": lambda: vector("v_fgb_noindex.fgb", "FlatGeobuf", ogr.wkbUnknown, lco=["SPATIAL_INDEX=NO"]),
    "v_gpkg_mixed_dim": lambda: gpkg_wkts("v_gpkg_mixed_dim.gpkg", ["POINT (-110 45)", "POINT Z (-110 46 10)", "LINESTRING (-110 45,-109 45)", "POLYGON Z ((-110 45 1,-109 45 1,-109 46 1,-110 45 1))"]),
})

RASTERS.update({
    "r_sparse": lambda: sparse("r_sparse.tif"),
    "r_int8_nodata": lambda: tiff("r_int8_nodata.tif", scale=0.5, offset=-100, nodata=-128, options=["PIXELTYPE=SIGNEDBYTE", "COMPRESS=LZW"]),
    "r_png_world_prj": lambda: png_world_prj("r_png_world_prj.png"),
})


def tfw_noprj(name):
    # A scanned map placed by its .tfw alone: no CRS anywhere, the declared one assigned.
    tfw(name)
    os.remove(os.path.join(OUT, name[:-4] + ".prj"))


RASTERS.update({"r_tfw_noprj": lambda: tfw_noprj("r_tfw_noprj.tif")})


def vrt_of(name, **tiff_args):
    src = tiff(name[:-4] + "_src.tif", **tiff_args)
    gdal.BuildVRT(os.path.join(OUT, name), [src])


RASTERS.update({"r_vrt_jpeg": lambda: vrt_of("r_vrt_jpeg.vrt", bands=3, after=rgb, options=["COMPRESS=JPEG", "TILED=YES"])})


def shp_wide_ids(name):
    # Parcel ids in N(19,0) and N(20,0) fields (ArcGIS exports of 19-digit keys): beyond 2^53.
    path = os.path.join(OUT, name)
    ds = gdal.GetDriverByName("ESRI Shapefile").Create(path, 0, 0, 0, gdal.GDT_Unknown)
    layer = ds.CreateLayer(name[:-4], srs("EPSG:4326"), ogr.wkbPoint)
    for fname, width in (("pid19", 19), ("pid20", 20)):
        f = ogr.FieldDefn(fname, ogr.OFTString)
        f.SetWidth(width)
        layer.CreateField(f)
    for i, v in enumerate(["1234567890123456789", "9007199254740993"]):
        f = ogr.Feature(layer.GetLayerDefn())
        f.SetField(0, v.rjust(19))
        f.SetField(1, ("1" + v).rjust(20))
        f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%d 45)" % (-110 + i)))
        layer.CreateFeature(f)
    ds = None
    dbf = path[:-4] + ".dbf"
    data = bytearray(open(dbf, "rb").read())
    for at in (32 + 11, 64 + 11):
        data[at] = ord("N")
    open(dbf, "wb").write(bytes(data))


VECTORS.update({"v_shp_wide_ids": lambda: shp_wide_ids("v_shp_wide_ids.shp")})


VECTORS.update({
    # Positions of four numbers (x, y, z, m), which RFC 7946 lets readers ignore past the third.
    "v_geojson_4d": lambda: geojson("v_geojson_4d.geojson", fc([
        ({"k": 1}, {"type": "LineString", "coordinates": [[-110, 45, 100, 0.5], [-109, 46, 110, 1.5]]}),
        ({"k": 2}, {"type": "Point", "coordinates": [-110, 45, 10, 7]}),
    ])),
    # EMPTY geometries stored in a GeoPackage (an empty point is NaN coordinates there).
    "v_gpkg_empties": lambda: gpkg_wkts("v_gpkg_empties.gpkg", ["POINT EMPTY", "POLYGON EMPTY", "POINT (-110 45)", "LINESTRING EMPTY"]),
})

CASES = {**RASTERS, **VECTORS}

def read_back(spec_path):
    """What GDAL itself reads, for many files in one process (a subprocess each
    would cost more than the reading): a JSON list in the order of the spec.

    Each item of the spec is {"info": path, "oo"?, "warp"?: [...], "cog"?} for `gdalinfo -json
    -checksum` (of `gdalwarp <warp>` of it, with warp; with cog, GDAL's COG validator's verdict too), or
    {"geojson": out, "source": path, "layer"?, "oo"?: [...], "s_srs"?, "drivers"?} for
    `ogr2ogr -f GeoJSON -t_srs EPSG:4326 -makevalid` of one layer."""
    results = []
    for item in json.load(open(spec_path)):
        if "info" in item:
            src = gdal.OpenEx(item["info"], gdal.OF_RASTER, open_options=item.get("oo", []))
            if item.get("warp"):
                # Placed by GCPs or RPCs: what gdalwarp makes of it with the same options.
                src = gdal.Warp("/vsimem/warped.tif", src, options=item["warp"])
            # Without exceptions, as gdalinfo: a CRS PROJ cannot place (an engineering CRS) only
            # leaves out the WGS84 extent.
            try:
                info = gdal.Info(src, format="json", computeChecksum=True)
            except RuntimeError:
                for module in (osr, ogr, gdal):
                    module.DontUseExceptions()
                info = gdal.Info(src, format="json", computeChecksum=True)
                for module in (gdal, ogr, osr):
                    module.UseExceptions()
            if item.get("cog"):
                # GDAL's own COG validator (validate_cloud_optimized_geotiff.py), every tile checked.
                from osgeo_utils.samples.validate_cloud_optimized_geotiff import validate
                errors, warnings, _ = validate(src, full_check=True)
                info["cogValidation"] = {"errors": errors, "warnings": warnings}
            results.append(info)
            src = None
            continue
        extra = {"allowed_drivers": item["drivers"]} if item.get("drivers") else {}
        src = gdal.OpenEx(item["source"], gdal.OF_VECTOR, open_options=item.get("oo", []), **extra)
        args = ["-f", "GeoJSON", "-t_srs", "EPSG:4326", "-lco", "COORDINATE_PRECISION=15", "-makevalid"]
        if item.get("s_srs"):
            args += ["-s_srs", item["s_srs"]]
        if item.get("layer"):
            args += [item["layer"]]
        if item.get("linear"):
            # Arcs with Z, which ogr2ogr -nlt CONVERT_TO_LINEAR leaves as they are in GDAL 3.6:
            # each geometry turned into segments by OGR's own getLinearGeometry().
            mem = gdal.VectorTranslate("", src, options=["-f", "Memory"] + ([item["layer"]] if item.get("layer") else []))
            layer = mem.GetLayer(0)
            for feature in layer:
                geometry = feature.GetGeometryRef()
                if geometry is not None:
                    feature.SetGeometry(geometry.GetLinearGeometry())
                    layer.SetFeature(feature)
            src = mem
            args = [a for a in args if a != item.get("layer")]
        gdal.VectorTranslate(item["geojson"], src, options=args)
        src = None
        results.append(item["geojson"])
    json.dump(finite(results), sys.stdout)


def finite(value):
    # JSON has no NaN or Infinity: GDAL's statistics of an all-nodata band may be.
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [finite(v) for v in value]
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    return value


if __name__ == "__main__" and OUT == "--read":
    read_back(sys.argv[2])
elif __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for case in sys.argv[2:]:
        if case.startswith("x_"):
            # x_<CODEC>_<Type>_<tiled|striped>: one of the product of the extended matrix.
            codec, dtype, layout = case[2:].rsplit("_", 2)
            # GDAL 3.6 has no Int8 type: a signed byte is Byte with PIXELTYPE=SIGNEDBYTE.
            gtype = gdal.GDT_Byte if dtype == "Int8" else gdal.GetDataTypeByName(dtype)
            scale = {"Byte": 1, "Int8": 0.5, "UInt16": 150, "Int16": -90, "UInt32": 1e5, "Int32": -1e5}.get(dtype, 0.013)
            options = ["COMPRESS=" + codec, "TILED=" + ("YES" if layout == "tiled" else "NO")]
            if layout == "band":
                options.append("INTERLEAVE=BAND")
            if dtype == "Int8":
                options.append("PIXELTYPE=SIGNEDBYTE")
            if codec in ("LZW", "DEFLATE", "ZSTD", "LZMA"):
                options.append("PREDICTOR=" + ("3" if dtype.startswith("Float") else "2"))
            tiff(case + ".tif", gtype, bands=2, options=options, scale=scale, size=(700, 560))
        elif case in CASES:
            CASES[case]()
        else:
            sys.exit("unknown case " + case)
