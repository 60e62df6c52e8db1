{{ config(enabled=(target.type == 'duckdb'), materialized='view', schema='lake') }}
-- Every feature of every GeoParquet layer in the lake, read in place, with the
-- project, batch and layer its path names. The geometry is the file's WKB: with
-- DuckDB's spatial extension loaded, ST_ functions take it; without it (as
-- offline here), it stays a WKB blob and the runner says so.
select
    string_split(filename, '/')[-3] as project,
    string_split(filename, '/')[-2] as batch_id,
    regexp_extract(filename, '([^/]+)\.parquet$', 1) as layer,
    bbox.xmin as xmin,
    bbox.ymin as ymin,
    bbox.xmax as xmax,
    bbox.ymax as ymax,
    st_aswkb(geometry) as geometry_wkb
from {{ source('lake', 'geoparquet_features') }}
