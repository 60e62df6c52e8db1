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
    "r_corrupt": lambda: corrupt("r_corrupt.tif"),
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


def kmz(name):
    import zipfile
    kml("_doc.kml")
    with zipfile.ZipFile(os.path.join(OUT, name), "w", zipfile.ZIP_DEFLATED) as z:
        z.write(os.path.join(OUT, "_doc.kml"), "doc.kml")
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
    "v_fgb": lambda: vector("v_fgb.fgb", "FlatGeobuf", ogr.wkbPolygon, rows=[r for r in PLACES if "MULTI" not in r[-1]]),
    "v_gml": lambda: vector("v_gml.gml", "GML", ogr.wkbUnknown, rows=POINTS + LINES),
    "v_tab": lambda: vector("v_tab.tab", "MapInfo File", ogr.wkbUnknown, rows=[r[:1] + r[2:] for r in POINTS + LINES],
                            fields=[f for f in FIELDS if f[0] != "population"]),
    "v_dxf": lambda: dxf("v_dxf.dxf"),
    "v_mismatch": lambda: geojson("v_mismatch.shp", fc([({"n": 1}, {"type": "Point", "coordinates": [-110, 45]})])),
    "v_gpkg_as_geojson": lambda: vector("v_gpkg_as_geojson.geojson", "GPKG", ogr.wkbPoint, rows=POINTS),
    "v_not_json": lambda: text("v_not_json.geojson", '{"type": "FeatureCollection", "features": [{"type": "Feature", "geom'),
}


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


CASES = {**RASTERS, **VECTORS}

def read_back(spec_path):
    """What GDAL itself reads, for many files in one process (a subprocess each
    would cost more than the reading): a JSON list in the order of the spec.

    Each item of the spec is {"info": path} for `gdalinfo -json -checksum`, or
    {"geojson": out, "source": path, "layer"?, "oo"?: [...], "s_srs"?, "drivers"?} for
    `ogr2ogr -f GeoJSON -t_srs EPSG:4326 -makevalid` of one layer."""
    results = []
    for item in json.load(open(spec_path)):
        if "info" in item:
            results.append(gdal.Info(item["info"], format="json", computeChecksum=True))
            continue
        extra = {"allowed_drivers": item["drivers"]} if item.get("drivers") else {}
        src = gdal.OpenEx(item["source"], gdal.OF_VECTOR, open_options=item.get("oo", []), **extra)
        args = ["-f", "GeoJSON", "-t_srs", "EPSG:4326", "-lco", "COORDINATE_PRECISION=15", "-makevalid"]
        if item.get("s_srs"):
            args += ["-s_srs", item["s_srs"]]
        if item.get("layer"):
            args += [item["layer"]]
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
            gtype = gdal.GetDataTypeByName(dtype)
            scale = {"Byte": 1, "UInt16": 150, "Int16": -90, "UInt32": 1e5, "Int32": -1e5}.get(dtype, 0.013)
            options = ["COMPRESS=" + codec, "TILED=" + ("YES" if layout == "tiled" else "NO")]
            if codec in ("LZW", "DEFLATE", "ZSTD", "LZMA"):
                options.append("PREDICTOR=" + ("3" if dtype.startswith("Float") else "2"))
            tiff(case + ".tif", gtype, bands=2, options=options, scale=scale, size=(700, 560))
        elif case in CASES:
            CASES[case]()
        else:
            sys.exit("unknown case " + case)
