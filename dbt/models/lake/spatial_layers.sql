{{ config(enabled=(target.type == 'duckdb'), materialized='table', schema='marts') }}
-- One row per GeoParquet layer of each project and batch: how many features,
-- how many have a geometry, and the layer's bounding box (from the files'
-- GeoParquet bbox covering columns, no spatial extension needed).
select
    md5(project || '/' || batch_id || '/' || layer) as layer_id,
    project,
    batch_id,
    layer,
    count(*) as features,
    count(geometry_wkb) as features_with_geometry,
    min(xmin) as xmin,
    min(ymin) as ymin,
    max(xmax) as xmax,
    max(ymax) as ymax
from {{ ref('stg_spatial_features') }}
group by project, batch_id, layer
