/**
 * Spatial benchmark: `deno run -A bench/spatial.ts` (also part of `deno task bench`;
 * run it through `/work/wt/heavy`). Every figure is a ratio against native
 * GDAL (gdal-bin's `ogr2ogr` / `gdal_translate`) measured in the same run on
 * the same input; issue 11's goals are printed beside each.
 *
 * 1. **One-file batches through the warm daemon** (goal: <= 1.5x native time
 *    on the native engine). Our side is the sensor daemon's steady state: one
 *    process converts a warm-up batch, then `BENCH_ROUNDS` batches of the same
 *    file through the whole pipeline (landing zone -> staging with SHA-256 ->
 *    GDAL checks -> conversion -> validation -> GeoParquet / COG -> hash,
 *    upload, ledger). Native is one `ogr2ogr -f FlatGeobuf -lco
 *    SPATIAL_INDEX=NO` (with `-makevalid` for non-point layers, as our
 *    pipeline asks; why this baseline: see `vectorCase`) or `gdal_translate
 *    -of COG` with our creation options, run as many times. Best and median.
 *    Inputs: 1M points, 100k polygons, a 4096² raster. Not included: the
 *    run around the batch (run records, the `geoparquet_valid` /
 *    `lineage_complete` checks, `spatial/batch_archive`: archive and STAC),
 *    measured in-process through `runCli` at ~35-50 ms a batch on top.
 *    Measured (2026-12-06, two runs at load 1.2-2.4): 1M points 2.62-2.63x
 *    (missed), 100k polygons 1.47-2.19x (met once, missed once: the convert
 *    phase moved 0.8 -> 1.2 s between runs), raster 0.59-0.65x (met). Of our
 *    time, staging (SHA-256 of the input) and publishing (hash, ledger,
 *    link) are 0.1 + 0.1 s on 1M points and 0.05-0.07 + 0.04 s on 100k
 *    polygons; the rest is GDAL's conversion and the GeoParquet writer.
 *    2026-12-06 session 4, before 1f7ff14 (load 1.7-3.9): 1M points 2.09x
 *    (median 1.93x), 100k polygons 1.40x (median 1.61x), raster 0.66x.
 *    Timeline of a warm batch (load 4.3-5.4, ms from the batch's start):
 *    100k polygons stage 2-36, inspect 36-43, convert 43-927, write 43-1055,
 *    publish 1055-1074 (1.03-1.09 s); 1M points stage 3-66, inspect 66-74,
 *    convert 74-3478, write 74-3690, publish 3690-3739 (3.77-4.04 s). After
 *    GDAL finishes, the writer still needs 0.13-0.26 s (it lags GDAL on
 *    one core; CPU profile of the writer alone on 1M points, 4.2 s: parquet-wasm
 *    35 %, our JS building pages and scanning WKB 27 %, native ops (SQLite
 *    reads, text encoding) most of the rest), then
 *    publishing 20-60 ms. So the conversion itself is the gap on points:
 *    GDAL writing the scratch GeoPackage costs 2.2-2.5 CPU s against
 *    native's FlatGeobuf 1.3 s (ogr2ogr CLI, load 5). 1f7ff14 hashes the
 *    GeoParquet as it is written and patches its footer in memory, so
 *    publishing no longer reads it again (not benchmarked: after the
 *    session's last benchmark start).
 *    Session 5 (not benchmarked: the heavy lock stayed taken by the suite
 *    until after the last benchmark start, so no figure of this section
 *    is newer than session 4's): the GeoPackage inputs no longer go
 *    through the scratch GeoPackage. Every layer FlatGeobuf holds as the
 *    GeoPackage does takes the streamed FlatGeobuf route
 *    (`assets/spatial/vector.ts`, streamedTypeOptions): GDAL's side of a
 *    batch becomes the baseline's own ogr2ogr (plus `-makevalid` on the
 *    polygons and, for a GeoPackage's polygons, one counting query,
 *    `ST_Is3D`/`ST_IsEmpty`/`ST_GeometryType`: 0.26-0.5 CPU s on 1M points
 *    at load 8, which is why points skip it and rely on GDAL's own type
 *    check instead). What is left is the writer: alone on a 1M-point
 *    FlatGeobuf of this bench's columns it took 2.8-3.0 CPU s at load
 *    12-19 (3.2-3.4 before the reader's per-feature await and BigInts
 *    went), against ~1.3 s for GDAL writing it, so the points' batch is
 *    now bound by the writer (CPU profile at load 12: parquet-wasm 43 %,
 *    our FlatGeobuf reader 12 %, apache-arrow's IPC 9 %, our writer's JS
 *    8 %, GC 7 %). Expected, not measured: the points' ratio falls by
 *    GDAL's GeoPackage premium (~0.9 CPU s) but stays above 1.5x unless
 *    the writer's own cost falls.
 *    Session 6 (2026-12-06): plain 2D points skip the WKB scan (the
 *    writer's thread, -0.1-0.2 s of CPU on 1M points, 74156e6). Tried and
 *    reverted: parquet-wasm encoding on a worker thread (6369ed5, reverted
 *    by the next commit) while the writer's thread read the FlatGeobuf and
 *    built the next pages, to use the second core. Two heavy sessions,
 *    ABBA then BAAB (before = 7aca0ac, after = 74156e6 with the worker,
 *    5 rounds each, raster at 512², load 5.7-14 with others' tests
 *    running): 1M points before 1.75x, 3.19x, 2.55x, 2.24x (medians 2.24x,
 *    3.40x, 2.00x, 2.42x), with the worker 2.02x, 2.12x, 3.32x, 2.25x
 *    (medians 2.52x, 2.36x, 2.67x, 2.43x): mean best 2.43x both ways,
 *    MISSED; 100k polygons before 1.82x, 2.14x, 1.77x, 1.26x (medians
 *    1.91x, 1.90x, 1.52x, 1.74x), with the worker 1.38x, 1.86x, 1.59x,
 *    1.81x (medians 1.64x, 1.71x, 1.76x, 2.03x): MISSED on the median,
 *    met in 2 of 8 best figures. Why no gain: the writer's lag after GDAL
 *    fell (points 30-294 ms with the worker, 72-524 ms without), but
 *    GDAL's own conversion in the host is the batch's critical path and
 *    it stretches with contention for the two cores (points: the convert
 *    phase 1.6-3.0x native's whole ogr2ogr, mean 2.17x with the worker,
 *    2.03x without); the worker added CPU (the writer alone, one heavy
 *    session, load 3-4, alternating: 1M points wall best 0.85 s vs 1.03,
 *    median 2.02 vs 1.64, CPU 1.18-1.38 s vs 1.09-1.17; 100k polygons
 *    0.36 vs 0.37 s, CPU 0.35 vs 0.28) and ~20-30 MiB (its isolate and
 *    malloc arena). On an idle second core it would pay; on this machine
 *    the CPU is what is short. Our CPU per batch: 2.4-2.6 s on points
 *    (GDAL host ~1.0, writer ~1.5), 0.8-1.0 s on polygons; native's 0.93
 *    and 0.5. What is left on points is the writer's CPU: parquet-wasm
 *    about half (zstd about half of that; parquet-wasm 0.8 sets no zstd
 *    level), then our FlatGeobuf reader and Arrow's IPC. Measured and not
 *    taken (the writer alone, 1M points, load 18-24, CPU): dictionary
 *    encoding off for text columns, -0.1 s within the noise (and other
 *    bytes); chunk-level statistics instead of page-level, within the
 *    noise; no compression 0.95 s instead of 1.5 s (the docs say zstd);
 *    `node:worker_threads` (which can be unref'd, so one worker could
 *    stay warm): ~90 ms a message round trip in Deno 2.9, against ~0.1 ms
 *    for a Web Worker.
 *    Session 7 (2026-12-07): the writer compresses with Snappy instead of
 *    zstd (`formats/geoparquet.ts`, `COMPRESSION`). The writer alone
 *    (FlatGeobuf -> GeoParquet, one heavy session, two rounds, load 8-14,
 *    CPU s): 1M points zstd 1.68 / 1.88, Snappy 1.35 / 1.42, LZ4_RAW 1.30 /
 *    1.36 (files 63.6, 80.1, 78.9 MB); 100k polygons 0.57 / 0.59, 0.46 /
 *    0.47, 0.48 / 0.48 (20.0, 22.6, 22.8 MB); reading the FlatGeobuf alone
 *    is 0.30 and 0.11-0.13 of it. The batches, same session, ABBA (zstd,
 *    Snappy, Snappy, zstd; raster at 512², 3 rounds): 1M points 1.90x,
 *    2.05x, 2.36x, 2.82x (CPU 2.46, 1.93, 2.07, 2.39 s against native's
 *    0.92-0.93): mean best 2.36x zstd, 2.21x Snappy, MISSED; 100k
 *    polygons 2.56x, 1.16x, 1.54x, 1.07x (CPU 0.86, 0.80, 0.82, 0.85 s
 *    against 0.50): met in 2 of 4 best figures, the spread is the load's;
 *    raster 0.15-0.35x, met. Why the wall ratio follows the CPU ratio here:
 *    the kernel schedules by autogroup (`sched_autogroup_enabled` is 1), so
 *    our two processes and the baseline's one share the bench's group's
 *    slice of a machine loaded by other groups: GDAL's conversion and the
 *    writer split that slice instead of running side by side, and a batch
 *    takes about its total CPU over the slice (points: ratios 1.9-2.8x for
 *    CPU ratios 2.1-2.6x). On an idle second core the writer would run
 *    beside GDAL; under load the goal needs our CPU near 1.5x native's,
 *    ~1.4 s on points: GDAL's ~1.0 s leaves the writer ~0.4 s, and it is
 *    1.35 s (parquet-wasm about half, our FlatGeobuf reader 0.3, Arrow IPC
 *    and hashing the rest). Measured and not taken: DuckDB's native Parquet
 *    writer fed through `@duckdb/node-api`'s appender (DuckDB without its
 *    spatial extension, which cannot be installed offline, reads neither
 *    FlatGeobuf nor GeoPackage, so the rows go through JS): appending the
 *    1M points' pages alone cost 2.46 CPU s and 6.4 s wall, the whole
 *    write with `COPY ... (FORMAT parquet, COMPRESSION zstd)` 3.09 CPU s and
 *    369 MiB peak, against parquet-wasm's 1.68-1.88 s and 179-191 MiB.
 *    A second heavy session, BAAB (after = Snappy on main of 01:42, before
 *    = the session's starting commit b7b3fb8, load 12-15, with my own test
 *    files running beside it, so the wall figures are noise): 1M points
 *    after 2.47x, 2.11x (CPU 2.14, 2.37 s), before 5.97x, 4.92x (CPU 2.61,
 *    2.50 s); 100k polygons after 0.75x, 0.62x (CPU 0.78, 0.82), before
 *    1.00x, 1.68x (CPU 0.92, 0.87). Only the CPU says something: 0.1-0.45
 *    s less a batch on points, 0.05-0.1 on polygons, as the writer alone.
 *    Session 8 (2026-12-07): the writer's CPU per feature falls, same
 *    file content (the commit adding this paragraph: no dictionary for a
 *    text column whose first page is all distinct, 2D points copied into
 *    WKB and read from the page's buffer without a view per row, the
 *    FlatGeobuf reader's buffer compacted only when a read needs room).
 *    The writer alone (heavy, alternating in one session, load 17-19, CPU
 *    s best of 3 warm rounds):
 *    1M points 0.95 / 0.91 before, 0.64 / 0.65 after (then ~0.51-0.56 with
 *    the buffer and text copies, load 29); 100k polygons 0.23 / 0.19, 0.19
 *    / 0.17. The batches, ABAB (A = 97741bc, raster at 512², 3 rounds, load
 *    21-41, so the wall ratios are noise): 1M points A 3.33x, 2.20x (CPU
 *    2.07, 2.08 s), B 2.43x, 1.98x (CPU 1.81, 1.72 s) against native's
 *    0.89-0.91: MISSED; 100k polygons A 0.68x, 1.68x (CPU 0.71, 0.78), B
 *    1.70x, 1.47x (CPU 0.81, 0.81), no change beyond the noise; raster
 *    0.13-0.34x, met. Where a points batch's CPU goes now (profile of the
 *    writer alone): parquet-wasm ~27 % (Snappy ~11 %: on x, y and the bbox
 *    columns, random doubles, it gains nothing, but leaving them
 *    uncompressed saved nothing measurable either, nor chunk-level
 *    statistics), our FlatGeobuf reader ~20 %, SHA-256 of the output and
 *    the file's reads and writes ~5 % each, GC ~8 %; and GDAL's conversion,
 *    ~0.9-1.0 CPU s, the other half of the batch. Then (next commit)
 *    2D points wanted as they are skip ogr2ogr: the GDAL host reads them
 *    through GDAL 3.6's Arrow stream (`OGR_L_GetArrowStream`: 0.15-0.21
 *    CPU s for the 1M points' GeoPackage with its buffers copied out,
 *    against 0.84-0.92 for ogr2ogr to FlatGeobuf) into a scratch file of
 *    Arrow buffers the writer pages (`formats/gdal_arrow_pages.ts`), the
 *    same GeoParquet byte for byte. Batches, same runs as above plus
 *    A3/C/A4/C at load 19-44 (C = the Arrow route; A = 97741bc): 1M points
 *    C 0.68x, 0.97x, 0.67x (CPU 0.85, 1.00, 0.94 s against native's
 *    0.93-0.98: **met**; peak at one time 351-357 MiB, was 309-320: the
 *    GDAL host holds a batch of Arrow buffers), A 1.90x, 1.69x (CPU 2.17,
 *    2.19 s); the 100k polygons are not on this route (CPU C 0.82-0.92 s,
 *    A 0.83-0.85, wall C 2.18x, 0.73x, 2.27x, A 0.98x: met or missed with
 *    the load).
 *    Session 9: the Arrow route also takes booleans (not a GeoPackage's:
 *    GDAL 3.6's stream of that driver misplaces their bits), int16 and
 *    points Z. Measured apart (not this bench's inputs: 500k points of a CSV
 *    with a boolean and an int16 column, three rounds in one process, load
 *    7-9): GDAL 0.61-0.67 CPU s through the Arrow stream against 0.82-0.87
 *    for ogr2ogr to FlatGeobuf (a CSV's parsing is most of both); the
 *    writer 0.41-0.51 CPU s from either file once warm (0.41-0.46 from the
 *    FlatGeobuf), the GeoParquet identical.
 * 2. **Cold `deno task materialize`** of a one-file batch (goal: <= 2 s on the
 *    native engine): the real command, launcher included (`deno task` ->
 *    launch.ts -> main.ts -> GDAL host), on a fresh state folder, against a
 *    cold `ogr2ogr` of the same file; then `deno run -A main.ts materialize`
 *    alone, for the launcher's share.
 *
 *    Measured (2026-12-06, best of 3): 1.19 s (median 1.32) at load 1.2-1.7,
 *    1.83 s (median 1.99) at load 1.2-2.1, CPU 1.21-1.51 s, peak 137 MiB;
 *    main.ts alone 0.97-1.62 s, so the launcher adds ~0.2 s. Before this session's changes (same bench, same load): 1.27-1.29
 *    s, main.ts 1.07 s, peak 151-172 MiB. What changed: the AWS SDK is
 *    imported at an S3 store's first call (it loaded with the graph), and
 *    the GeoParquet writer (parquet-wasm's ~5 MB WASM, apache-arrow) is
 *    preloaded while the GDAL host starts instead of after it. What is left
 *    (main thread, CPU profile): module loading of the graph ~0.3 s, zod
 *    ~0.1 s, the dbt project's parse ~0.25 s (cached in STATE_DIR after the
 *    first run), the writer's libraries ~0.3 s, the GDAL host ~0.15 s in its
 *    own process. Under load it grows with the machine: 3.46 s at load 8,
 *    when a cold `ogr2ogr` took 0.40 s instead of 0.11.
 * 3. **GeoParquet streaming**: the writer alone on 200k and 2M generated
 *    features, each in its own process, with its peak RSS (flat = streams).
 * 4. **Large inputs** (`BENCH_LARGE=0` skips): a generated ~1 GB Shapefile of
 *    polygons and a ~2 GB GeoTIFF (noisy terrain, float32), one batch each per
 *    engine in a fresh process; goals <= 1.3x native time, <= 2x native peak
 *    memory, and the wasm engine >= 0.5x native speed (time <= 2x). The
 *    vector baseline's alternatives (GeoPackage, FlatGeobuf with its index)
 *    are printed beside it. `BENCH_SHP_MB=0` or `BENCH_TIFF_MB=0` skips one.
 *    Last full-size wasm run (2026-12-06, load 3-5 shared): 1.02 GB
 *    Shapefile (1.77M polygons) 51.0 s against native's 23.1 s, 0.45x speed
 *    (0.27x at 0.60 GB before the make-valid proof and the read cache,
 *    `resources/spatial/gdal_wasm.ts`); 2.08 GB GeoTIFF 162.3 s against
 *    63.2 s, 0.39x (0.53x at 0.51 GB): both MISSED.
 *    Since df887df (session 5) the wasm engine streams such a Shapefile
 *    into a FlatGeobuf that the writer follows, as the native engine does,
 *    the rows needing `-makevalid` made valid apart while GDAL writes
 *    (`assets/spatial/_stream_valid.ts`). Parts of it measured on 350k
 *    polygons of this generator (gdal3.js, process CPU, load 8-13): the
 *    former GeoPackage route 13.5 s of CPU (two parts 6.3 s, make-valid in
 *    place 2.6 s, append 0.5 s, write 4.1 s); the stream as landed 9.4 s
 *    (writer following GDAL, 350 bowties repaired in windows on a second
 *    gdal3.js instance, whose start is in it), 7.7 s when the repairs
 *    waited for GDAL's end on one instance; files identical. Wall times at
 *    that load say nothing.
 *    Not yet measured at full size: session 5's run waited for the heavy
 *    lock from 19:07 past the last benchmark start (19:55), so whether the
 *    1 GB Shapefile now meets >= 0.5x is unverified.
 *    Native engine (2026-12-06, session 4, one heavy session, load 1.4-3.4):
 *    1.02 GB Shapefile 0.71x native time with the streamed FlatGeobuf
 *    (`formats/flatgeobuf_pages.ts`; 16.7 s vs 23.5 s, CPU 26.0 s vs 23.3 s:
 *    GDAL and the writer on two cores), 1.39x the same hour with the former
 *    scratch GeoPackage (29.6 s vs 21.3 s): met. Memory 5.73x (was 5.81x):
 *    MISSED, pipeline process 279 MiB + GDAL host 114 MiB against ogr2ogr's
 *    69 MiB; two processes (a bare Deno with the writer's libraries is
 *    68 MiB, the host ~95-115 MiB) already exceed 2x. 2.08 GB GeoTIFF 1.06x
 *    time (66.9 s vs 63.4 s), 0.38x memory (506 vs 1321 MiB): both met.
 *    An earlier after-run at load 7, with other work of mine on the machine,
 *    gave 1.95x: these figures follow the load, compare ratios of one run.
 *    Memory, 2026-12-06 (5): the pipeline process grew with the layer
 *    because V8 doubled its young generation to 64 MiB as scavenge survivors
 *    added up (a page alive across each `await`); the commands now cap it
 *    at 8 MiB a semi-space (`core/cli/v8_flags.ts`, which the `--child`
 *    processes here get too). The writer alone then stays flat (section 3's
 *    child, load 12-15: 300k points 175-188 MiB, 2.4M 184-203; were 186-204
 *    and 261-266), and 900k polygons through the FlatGeobuf route peak at
 *    188-196 MiB (were 234-241; CPU 6.3-7.1 s, unchanged). The whole
 *    pipeline on the 1.02 GB Shapefile was not re-measured with it (the
 *    heavy lock was taken until the session's last benchmark start).
 *    Why 2x cannot be met with the writer in Deno beside a GDAL process
 *    (floors measured with `/usr/bin/time`, 2026-12-06 (5)): a bare Deno
 *    is 34-35 MiB, Deno with the writer's libraries (apache-arrow,
 *    parquet-wasm) 69-70 MiB; the GDAL host idle (Deno + libgdal and its
 *    dependencies) 79-80 MiB; a GDAL CLI with its drivers registered
 *    (`ogrinfo --formats`) 49 MiB, and `ogr2ogr` itself peaks at 69 MiB on
 *    the 1.02 GB layer (57 MiB on 0.52 GB). So the two idle processes are
 *    148 MiB, 2.14x the baseline before a row is read; with `ogr2ogr` in
 *    place of the host the floor is 69 (Deno and the writer's libraries) +
 *    69 (`ogr2ogr` at its peak) = 138 MiB = 2.0x with no room
 *    for the writer's working set (parquet-wasm's WebAssembly memory 20-30
 *    MiB at 4 MiB row groups, pages and their copies, ~120 MiB above the
 *    libraries' floor at 900k polygons). GDAL in the pipeline process (FFI)
 *    would add libgdal's ~44 MiB and its conversion's ~20 to the writer's
 *    ~190: ~250 MiB, ~3.6x. Tried and not taken (900k polygons, the writer
 *    alone): row groups of half the rows, 189 vs 190 MiB; pages of 2048
 *    rows, 191 vs 190; glibc `MALLOC_MMAP_THRESHOLD_=1048576`, 163 vs 188
 *    MiB but CPU 8.5 vs 6.3 s (+35 %); `MALLOC_ARENA_MAX=2`, inside the
 *    spread; `GDAL_CACHEMAX=8` leaves `ogr2ogr`'s peak at 56.8 MiB (a
 *    vector conversion uses no raster block cache; `OGR_SQLITE_CACHE`
 *    concerns SQLite outputs, not this FlatGeobuf); V8 flags on the host
 *    (`--single-threaded`, `--jitless`): 80-81 MiB idle, no gain.
 *    wasm engine, GeoTIFF again after the COG deflate left gdal3.js
 *    (2026-12-06 (4), load 4-7, A/B in one run): 191.4 s / 164.6 s CPU
 *    before, 82.4 s / 78.8 s CPU after, against native's 106-113 s / 69-79 s
 *    CPU (load-inflated): 1.00x native's CPU, 0.77x speed against last
 *    session's 63.2 s native run.
 *    Session 7 (2026-12-07, native engine, Snappy, one heavy session, load
 *    13-20 with others' suites running): 1.02 GB Shapefile (1.77M polygons)
 *    68.2 s against native's 52.0 s, 1.31x: MISSED by 0.01 (CPU 19.7 s
 *    against 12.3; the engine's GDAL call alone 49.3 s = 0.95x, CPU 1.09x;
 *    earlier sessions 0.71x-1.31x: at this load the ratio follows the CPU
 *    ratio, see section 1). Memory 4.99x: MISSED. Where it comes from,
 *    sampled from outside every 50 ms (`RssSampler`): both processes peak
 *    together, 17.9 s in (the steady state of the stream, not a spike), at
 *    343 MiB = pipeline process 228 + GDAL host 115, so the sum of the
 *    per-process peaks is no overstatement. The pipeline process at its
 *    highest RSS (`Deno.memoryUsage()` every 100 ms): V8 heap 48 MiB (37
 *    used), external (ArrayBuffers, parquet-wasm's WebAssembly memory) 70,
 *    the rest native (Deno, its libraries and malloc) ~110; its floor with
 *    the writer's libraries is 69-70. The GDAL host is 115 MiB against its
 *    79-80 idle (ogr2ogr: 69 at its peak, 49 idle). The floors alone (148
 *    MiB) exceed the goal's 138 MiB, as the previous session found.
 *    Session 8 (2026-12-07, wasm engine, its child process without -A as
 *    `deno task materialize` runs the pipeline: Deno's SQLite refuses
 *    ATTACH there, which the large Shapefile's parts relied on until
 *    c11187b, so earlier wasm figures ran under -A; three heavy sessions at
 *    load 0.1-2.9, idle for this machine). 1.02 GB Shapefile (1.77M
 *    polygons) in its own CRS, the streamed FlatGeobuf route (no parts):
 *    10.49 s against native's 11.02 s, wasm speed 1.05x: met (CPU 18.0 s
 *    vs 11.0; memory 614 MiB, 8.9x). The parts route, with
 *    `BENCH_TARGET_CRS=EPSG:3857` (polygons to make valid and reproject),
 *    before (c11187b: gdal3.js's `ogr2ogr -append`) / after (SQLite
 *    inserts, `assets/spatial/_chunks.ts`), each against native's
 *    `-t_srs` run of the same session: 0.26 GB (444k polygons) 8.38 s vs
 *    3.85 = 0.46x (missed) / 7.61 s vs 3.86 = 0.51x (met), convert phase
 *    5.82 / 5.35 s, CPU 14.0 / 13.1 s (order before, after); 1.02 GB
 *    29.35 s vs 15.14 = 0.52x / 27.06 s vs 15.09 = 0.56x (both met),
 *    convert 22.2 / 19.8 s, CPU 48.6 / 46.1 s, memory 1448 / 1279 MiB
 *    (order after, before). The GeoTIFF was not run this session (no
 *    change touches it). At the load the teammates' suites put on the
 *    machine (8-14) these ratios fall: the append alone measured 3.1-3.6 s
 *    wall per 300k polygons on gdal3.js against 1.5-3.2 s for the inserts.
 *    Session 9 (2026-12-07, native engine, memory): a slim pipeline of
 *    processes, prototyped and measured before building anything (time
 *    boxed; `/usr/bin/time` peaks, heavy lock, load 5-10; not built, the
 *    goal is out of its reach): `ogr2ogr` itself (no GDAL host) writes the
 *    streamed FlatGeobuf, a slim Deno process writes the Parquet with a
 *    small pure-JS writer (npm `hyparquet-writer` 0.17.0: a `ParquetWriter`
 *    taking a row group of JS arrays per `write()`, its own pure-JS Snappy,
 *    other codecs only through compressors passed in), the orchestrator
 *    only waits. On the 1.02 GB Shapefile (1.77M polygons):
 *    - `ogr2ogr -f FlatGeobuf -lco SPATIAL_INDEX=NO -makevalid -nlt
 *      PROMOTE_TO_MULTI`: 68.8 MiB, 31.2 s, CPU 17.6 s (load 5.5), a 765 MB
 *      FlatGeobuf.
 *    - Floors: bare Deno 31 MiB; Deno importing any npm package 43-45 MiB
 *      (hyparquet-writer alone 44, flatbuffers alone 43: the npm resolver
 *      and the Node compatibility layer cost ~13 MiB; the same code bundled
 *      by `deno bundle` into one JS file 32-36); parquet-wasm alone 60-62;
 *      Deno reading the 765 MB FlatGeobuf in 4 MiB chunks 39 MiB.
 *    - The prototype writer (FlatGeobuf -> Parquet: three text columns,
 *      WKB, the bbox struct; `--max-semi-space-size=8`): 4096-row groups
 *      150.3 MiB (CPU 24.2 s), 12,288-row groups 203.7 MiB (CPU 22.0 s);
 *      bundled, 4096 rows 149.0 MiB (CPU 26.5 s), 1024 rows 186.2 MiB (CPU
 *      43.2 s: it holds the column and offset indexes of every page until
 *      `finish()`, so small row groups grow with the file), 4096 rows with
 *      1 MiB semi-spaces and `MALLOC_ARENA_MAX=1` 133.2 MiB (CPU 33.9 s).
 *      Reading the FlatGeobuf and making each row's WKB alone, no Parquet,
 *      130-141 MiB (CPU 8-11 s): a feature's garbage (flatbuffers
 *      `ByteBuffer` and `Geometry`, a WKB `ArrayBuffer`, three strings)
 *      keeps the RSS ~100 MiB above the reading floor while V8's heap is
 *      19-47 MiB and its external memory 10-19. CPU: 22-43 s against
 *      ogr2ogr's 17.6, so the pure-JS writer would also lose the time goal.
 *    - The orchestrator that would wait: `deno run -A main.ts materialize
 *      group:spatial` of the 3-line sample batch (sampled every 20 ms)
 *      peaks at 179.5 MiB, its GDAL host at 88.5, 268 MiB together.
 *    Accounting, decided: our figure counts every process of ours alive
 *    during the batch, minus nothing (as this bench does). The orchestrator
 *    cannot be left out honestly: in the engine as built it is the writer,
 *    and in this layout it would wait at 180 MiB (`main.ts materialize`:
 *    the graph, the dbt project, the run store), more than the goal's whole
 *    138. Leaving it out anyway (only the processes started for the
 *    conversion) gives ogr2ogr 69 + the prototype writer's 133-204 = 202-273
 *    MiB, 2.9-4.0x (its reading part alone 130-141): missed as well.
 *    What 2x would take: a writer process under ~69 MiB beside ogr2ogr's
 *    69, i.e. a FlatGeobuf reader and a Parquet encoder allocating nothing
 *    per feature (the reading floor 39 MiB leaves ~30 for a row group's
 *    buffers and their compression), and an orchestrator not counted; with
 *    `main.ts` alive no layout of processes meets it.
 *
 * Our peak memory is the pipeline process's plus its GDAL host's (native
 * engine), each read from /proc (VmHWM); native's is `/usr/bin/time`'s max
 * RSS. The report also prints the most both held at one time, sampled
 * every 50 ms from outside (`RssSampler`), and, for one-batch runs, the
 * pipeline process's memory by kind at its highest RSS.
 * Generated inputs live in a temporary folder, removed at the end.
 *
 * Settings (environment): `BENCH_POINTS`, `BENCH_POLYGONS`, `BENCH_RASTER_SIZE`,
 * `BENCH_ROUNDS` (3), `BENCH_ENGINES` (`native,wasm`), `BENCH_LARGE` (1),
 * `BENCH_SHP_MB` (1024), `BENCH_TIFF_MB` (2048), `BENCH_STREAM_ROWS` (2000000),
 * `BENCH_REFERENCES` (1; 0 skips the large inputs' reference commands),
 * `BENCH_SECTIONS` (`small,cold,stream,large`: which sections run),
 * `BENCH_TARGET_CRS` (EPSG:4326; another reprojects, see TARGET_CRS).
 * The wasm engine's child processes run without -A, as the platform's
 * tasks do (see `ours`).
 *
 * @module
 */

import process from "node:process";
import { LocalObjectStore } from "../resources/object_store/local.ts";
import { MemoryLedger } from "../resources/ledger/memory.ts";
import { SpatialiteEngine } from "../resources/spatial/spatialite.ts";
import { wasmGdal } from "../resources/spatial/gdal_wasm.ts";
import { detectNativeGdal, nativeHostStats } from "../resources/spatial/gdal_native.ts";
import type { GdalEngine } from "../resources/spatial/gdal.ts";
import { processVectorBatch } from "../assets/spatial/vector.ts";
import { cogOptions, processRasterBatch } from "../assets/spatial/raster.ts";
import { Timings } from "../assets/spatial/_timings.ts";
import { v8FlagsOption } from "../core/cli/v8_flags.ts";
import { fromWktCsv } from "../tests/_helpers/wkt_csv.ts";

const POINTS = Number(Deno.env.get("BENCH_POINTS") ?? 1_000_000);
const POLYGONS = Number(Deno.env.get("BENCH_POLYGONS") ?? 100_000);
const RASTER_SIZE = Number(Deno.env.get("BENCH_RASTER_SIZE") ?? 4096);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const LARGE = Deno.env.get("BENCH_LARGE") !== "0";
const SHP_MB = Number(Deno.env.get("BENCH_SHP_MB") ?? 1024);
const TIFF_MB = Number(Deno.env.get("BENCH_TIFF_MB") ?? 2048);
const STREAM_ROWS = Number(Deno.env.get("BENCH_STREAM_ROWS") ?? 2_000_000);
/** Whether the large inputs' other native commands are run for reference. */
const REFERENCES = Deno.env.get("BENCH_REFERENCES") !== "0";
/**
 * The pipeline's target CRS (`BENCH_TARGET_CRS`, EPSG:4326: the inputs' own).
 * Another one (e.g. EPSG:3857) reprojects, which the native baselines then
 * do too (`-t_srs`), and sends a large polygon Shapefile on the wasm engine
 * through its parts (`assets/spatial/_chunks.ts`) instead of the stream.
 */
const TARGET_CRS = Deno.env.get("BENCH_TARGET_CRS") ?? "EPSG:4326";
/**
 * The wasm engine's child processes' permissions: see {@linkcode ours}. The
 * native engine's keep -A: their GDAL host's CPU and peak memory are read
 * from /proc, which Deno opens only to -A.
 */
const CHILD_PERMISSIONS = ["read", "write", "env", "run", "sys", "ffi", "net"].map((p) =>
  `--allow-${p}`
);
/** Sections to run (`small,cold,stream,large`; all by default). */
const SECTIONS = new Set(
  (Deno.env.get("BENCH_SECTIONS") ?? "small,cold,stream,large").split(",").map((s) => s.trim()),
);
/** The machine's GDAL version (the native side's). */
const NATIVE_VERSION = (await detectNativeGdal())?.version ?? "0";
const ENGINES = (Deno.env.get("BENCH_ENGINES") ?? "native,wasm").split(",")
  .filter((e): e is "native" | "wasm" => e === "native" || e === "wasm");

/** One measured run. */
interface Measure {
  /** Wall seconds. */
  seconds: number;
  /** User + system CPU seconds (ours: the pipeline process plus its GDAL host). */
  cpuSeconds: number;
  /** Peak resident memory in MiB (ours: pipeline process + GDAL host). */
  peakMiB: number;
  /** Our per-phase milliseconds (timings_ms), when known. */
  timings?: Record<string, number>;
  /** Our peak split: the pipeline process and its GDAL host (MiB). */
  peaks?: { mainMiB: number; hostMiB: number };
  /** Our processes' resident memory sampled together (see {@linkcode RssSampler}). */
  sampled?: RssSampler["peak"];
}

/** A case: which file, as which batch. */
interface Case {
  label: string;
  kind: "vector" | "raster";
  /** Main file; sidecars with the same stem are uploaded with it. */
  file: string;
  format: string;
  crs: string;
  /** Features, for the features/s figure and to check every one was converted. */
  features?: number;
  /** Whether our pipeline asks GDAL for -makevalid (non-point layers). */
  makeValid?: boolean;
  /** The native command the goals are measured against (see {@linkcode vectorCase}). */
  native: (out: string) => [string, string[]];
  /** Other native commands, printed beside it for reference (large inputs only). */
  references?: { label: string; command: (out: string) => [string, string[]] }[];
}

// ---------------------------------------------------------------- helpers

async function sh(cmd: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(cmd, { args, stdout: "null" }).output();
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Runs a command under /usr/bin/time: wall and CPU seconds and max RSS. */
async function timedCommand(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Measure & { stdout: string }> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "TIME %e %M %U %S", cmd, ...args],
    env,
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr.slice(-2000)}`);
  const match = stderr.match(/TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/);
  if (!match) throw new Error(`no timing in: ${stderr}`);
  return {
    seconds: Number(match[1]),
    cpuSeconds: Number(match[3]) + Number(match[4]),
    peakMiB: Number(match[2]) / 1024,
    stdout: new TextDecoder().decode(out.stdout),
  };
}

async function removeIfThere(path: string): Promise<void> {
  await Deno.remove(path, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

async function writeLines(file: string, header: string, count: number, row: (i: number) => string) {
  using handle = await Deno.open(file, { write: true, create: true, truncate: true });
  const writer = handle.writable.getWriter();
  const encoder = new TextEncoder();
  await writer.write(encoder.encode(`${header}\n`));
  let chunk: string[] = [];
  for (let i = 0; i < count; i++) {
    chunk.push(row(i));
    if (chunk.length === 20_000) {
      await writer.write(encoder.encode(chunk.join("\n") + "\n"));
      chunk = [];
    }
  }
  if (chunk.length) await writer.write(encoder.encode(chunk.join("\n") + "\n"));
  await writer.close();
}

/** Deterministic pseudo-random numbers, so every run converts the same data. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A polygon ring of `n` vertices around (cx, cy), as WKT coordinates (closed). */
function ring(r: () => number, cx: number, cy: number, n: number): string {
  const points: string[] = [];
  for (let k = 0; k < n; k++) {
    const a = (k / n) * 2 * Math.PI;
    const radius = 0.002 + r() * 0.004;
    points.push(
      `${(cx + radius * Math.cos(a)).toFixed(6)} ${(cy + radius * Math.sin(a)).toFixed(6)}`,
    );
  }
  points.push(points[0]!);
  return points.join(",");
}

/**
 * A vector case. The baseline: GDAL 3.6 has no Parquet driver, so no native
 * command writes what we write. The fairest stand-in is ogr2ogr to
 * FlatGeobuf *without* its spatial index: like our GeoParquet it is one
 * binary file written in a single streaming pass, feature by feature, with
 * no index (ours has per-row bbox columns, no index); the same GDAL work our
 * pipeline asks for (no reprojection, already in EPSG:4326; non-point
 * layers made valid). FlatGeobuf's default spatial index would charge native
 * for a sort we do not do (2.3x its time and 3.7x its memory on 388k
 * polygons), and a GeoPackage writes a SQLite B-tree (our own scratch
 * format, printed for reference: ~1.15x FlatGeobuf's CPU). Of the two
 * index-free formats FlatGeobuf is the faster and leaner, so the stricter.
 */
function vectorCase(label: string, file: string, features: number, points: boolean): Case {
  // A polygon made valid may become a multipolygon, which FlatGeobuf takes in a promoted layer.
  const valid = points ? [] : ["-makevalid", "-nlt", "PROMOTE_TO_MULTI"];
  const reproject = TARGET_CRS === "EPSG:4326" ? [] : ["-t_srs", TARGET_CRS];
  return {
    label,
    kind: "vector",
    file,
    format: file.endsWith(".shp") ? "shapefile" : "geopackage",
    crs: "EPSG:4326",
    features,
    makeValid: !points,
    native: (out) => [
      "ogr2ogr",
      ["-f", "FlatGeobuf", "-lco", "SPATIAL_INDEX=NO", ...reproject, ...valid, `${out}.fgb`, file],
    ],
    references: [
      {
        label: "ogr2ogr -f GPKG -lco SPATIAL_INDEX=NO (our scratch format)",
        command: (out) => [
          "ogr2ogr",
          [
            "-f",
            "GPKG",
            "-lco",
            "SPATIAL_INDEX=NO",
            ...reproject,
            ...(points ? [] : ["-makevalid"]),
            `${out}.gpkg`,
            file,
          ],
        ],
      },
      {
        label: "ogr2ogr -f FlatGeobuf with its spatial index (default)",
        command: (out) => [
          "ogr2ogr",
          ["-f", "FlatGeobuf", ...reproject, ...valid, `${out}.fgb`, file],
        ],
      },
    ],
  };
}

function rasterCase(label: string, file: string, crs: string): Case {
  return {
    label,
    kind: "raster",
    file,
    format: "geotiff",
    crs,
    // Our options on this GDAL (with -stats where its COG driver cannot compute statistics).
    native: (out) => ["gdal_translate", [...cogOptions(NATIVE_VERSION), file, `${out}.tif`]],
  };
}

// ---------------------------------------------------------------- inputs

async function makeSmallInputs(dir: string): Promise<Case[]> {
  const r = rng(42);
  await writeLines(`${dir}/points.csv`, "id,name,value,x,y", POINTS, (i) => {
    const x = -116 + r() * 12;
    const y = 44.4 + r() * 4.6;
    return `${i},p${i},${(r() * 1000).toFixed(3)},${x.toFixed(6)},${y.toFixed(6)}`;
  });
  await sh("ogr2ogr", [
    "-f",
    "GPKG",
    `${dir}/points.gpkg`,
    `${dir}/points.csv`,
    "-nln",
    "points",
    "-oo",
    "X_POSSIBLE_NAMES=x",
    "-oo",
    "Y_POSSIBLE_NAMES=y",
    "-oo",
    "AUTODETECT_TYPE=YES",
    "-a_srs",
    "EPSG:4326",
    "-lco",
    "SPATIAL_INDEX=NO",
  ]);
  await writeLines(`${dir}/polygons.csv`, "id,name,wkt", POLYGONS, (i) => {
    const wkt = `POLYGON((${ring(r, -116 + r() * 12, 44.4 + r() * 4.6, 12)}))`;
    return `${i},poly${i},"${wkt}"`;
  });
  await sh(
    "ogr2ogr",
    fromWktCsv(
      `${dir}/polygons.csv`,
      "GPKG",
      `${dir}/polygons.gpkg`,
      "-nln",
      "polygons",
      "-lco",
      "SPATIAL_INDEX=NO",
    ),
  );
  const dem = new URL("../sample_data/spatial/montana-sample/dem.tif", import.meta.url).pathname;
  await sh("gdal_translate", [
    "-q",
    "-outsize",
    `${RASTER_SIZE}`,
    `${RASTER_SIZE}`,
    "-r",
    "bilinear",
    "-co",
    "TILED=YES",
    "-co",
    "COMPRESS=DEFLATE",
    dem,
    `${dir}/raster.tif`,
  ]);
  return [
    vectorCase(`${POINTS.toLocaleString("en")} points`, `${dir}/points.gpkg`, POINTS, true),
    vectorCase(
      `${POLYGONS.toLocaleString("en")} polygons`,
      `${dir}/polygons.gpkg`,
      POLYGONS,
      false,
    ),
    // The sample DEM resampled: UTM zone 12N, as its file says.
    rasterCase(`${RASTER_SIZE}² raster`, `${dir}/raster.tif`, "EPSG:32612"),
  ];
}

/**
 * A Shapefile of about `mb` MB: polygons of 8-24 vertices with three
 * attributes, one in a thousand a self-intersecting bowtie (made valid).
 */
async function makeShapefile(dir: string, mb: number): Promise<Case> {
  // .shp record (header, box, ring index, 17 vertices on average), .shx entry, .dbf record
  // (three text fields of 80 characters, as ogr2ogr makes them from a CSV).
  const perFeature = 8 + 44 + 4 + 17 * 16 + 8 + 1 + 3 * 80;
  const count = Math.round((mb * 1e6) / perFeature);
  const r = rng(7);
  await writeLines(`${dir}/parcels.csv`, "id,name,value,wkt", count, (i) => {
    const cx = -116 + r() * 12;
    const cy = 44.4 + r() * 4.6;
    const wkt = i % 1000 === 999
      ? `POLYGON((${cx} ${cy},${cx + 0.01} ${cy + 0.01},${cx + 0.01} ${cy},${cx} ${
        cy + 0.01
      },${cx} ${cy}))`
      : `POLYGON((${ring(r, cx, cy, 8 + Math.floor(r() * 17))}))`;
    return `${i},parcel ${i},${(r() * 1e6).toFixed(2)},"${wkt}"`;
  });
  await sh(
    "ogr2ogr",
    fromWktCsv(
      `${dir}/parcels.csv`,
      "ESRI Shapefile",
      `${dir}/parcels.shp`,
      "-nln",
      "parcels",
      "-nlt",
      "POLYGON",
    ),
  );
  await Deno.remove(`${dir}/parcels.csv`);
  const size =
    (await Promise.all(["shp", "shx", "dbf"].map((e) => Deno.stat(`${dir}/parcels.${e}`))))
      .reduce((n, s) => n + s.size, 0);
  return vectorCase(
    `${(size / 1e9).toFixed(2)} GB Shapefile (${count.toLocaleString("en")} polygons)`,
    `${dir}/parcels.shp`,
    count,
    false,
  );
}

/**
 * A GeoTIFF of about `mb` MB: one float32 band of noisy terrain (smooth
 * relief plus noise, as a real DEM compresses), uncompressed and tiled, in
 * UTM zone 12N. The pixels are written raw and wrapped by GDAL.
 */
async function makeGeoTiff(dir: string, mb: number): Promise<Case> {
  const side = Math.floor(Math.sqrt((mb * 1e6) / 4));
  const raw = `${dir}/terrain.raw`;
  {
    using handle = await Deno.open(raw, { write: true, create: true, truncate: true });
    const r = rng(11);
    const row = new Float32Array(side);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        row[x] = 1200 + 400 * Math.sin(x / 900) * Math.cos(y / 700) + 60 * Math.sin((x + y) / 97) +
          (r() - 0.5) * 8;
      }
      const bytes = new Uint8Array(row.buffer);
      let written = 0;
      while (written < bytes.length) written += await handle.write(bytes.subarray(written));
    }
  }
  // An ENVI header makes the raw file a raster GDAL reads.
  await Deno.writeTextFile(
    `${dir}/terrain.hdr`,
    `ENVI\nsamples = ${side}\nlines = ${side}\nbands = 1\nheader offset = 0\nfile type = ENVI Standard\n` +
      "data type = 4\ninterleave = bsq\nbyte order = 0\n" +
      "map info = {UTM, 1, 1, 300000, 5300000, 10, 10, 12, North, WGS-84}\n",
  );
  await sh("gdal_translate", [
    "-q",
    "-of",
    "GTiff",
    "-a_srs",
    "EPSG:32612",
    "-co",
    "TILED=YES",
    "-co",
    "BIGTIFF=IF_NEEDED",
    raw,
    `${dir}/terrain.tif`,
  ]);
  await Deno.remove(raw);
  await Deno.remove(`${dir}/terrain.hdr`);
  const size = (await Deno.stat(`${dir}/terrain.tif`)).size;
  return rasterCase(
    `${(size / 1e9).toFixed(2)} GB GeoTIFF (${side}² float32)`,
    `${dir}/terrain.tif`,
    "EPSG:32612",
  );
}

// ---------------------------------------------------------------- our side

/** The batch manifest of `c` under `batchId`. */
function manifestOf(c: Case, batchId: string) {
  return {
    batch_id: batchId,
    uploader: "bench",
    intent: "publish",
    files: [{
      path: `${batchId}/${c.file.split("/").pop()}`,
      type: c.kind,
      format: c.format,
      crs: c.crs,
    }],
    metadata: { project: "bench", description: "benchmark batch" },
  };
}

/** Files uploaded for `c`: the file and its sidecars (same stem). */
async function filesOf(c: Case): Promise<string[]> {
  const dir = c.file.slice(0, c.file.lastIndexOf("/"));
  const stem = c.file.slice(dir.length + 1).replace(/\.[^.]+$/, "");
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.replace(/\.[^.]+$/, "") === stem) {
      files.push(`${dir}/${entry.name}`);
    }
  }
  return files;
}

/**
 * Uploads the batch to the landing zone under `root` before timing: that is
 * the user's upload, not pipeline work (native is not charged for making its
 * input either).
 */
async function stageLanding(c: Case, root: string, batchId: string): Promise<void> {
  await using store = new LocalObjectStore({ root, durable: false });
  const manifest = manifestOf(c, batchId);
  await store.ensureBucket("landing-zone");
  for (const file of await filesOf(c)) {
    using handle = await Deno.open(file);
    await store.put("landing-zone", `${batchId}/${file.split("/").pop()}`, handle.readable);
  }
  await store.put(
    "landing-zone",
    `manifests/${batchId}.json`,
    new TextEncoder().encode(JSON.stringify(manifest)),
  );
}

async function benchGdal(engine: string): Promise<GdalEngine> {
  if (engine === "wasm") return wasmGdal;
  const native = await detectNativeGdal();
  if (!native) throw new Error("BENCH_ENGINES has native but libgdal >= 3.6 cannot be loaded");
  return native;
}

/** One batch through the same code path the assets use; returns its per-phase timings. */
async function runBatch(
  c: Case,
  gdal: GdalEngine,
  store: LocalObjectStore,
  ledger: MemoryLedger,
  batchId: string,
): Promise<Record<string, number>> {
  const timings = new Timings();
  const run = {
    lake: store,
    ledger,
    gdal,
    engine: new SpatialiteEngine(),
    targetCrs: TARGET_CRS,
    landingBucket: "landing-zone",
    lakeBucket: "data-lake",
    batchId,
    runId: batchId,
    timings,
  };
  if (c.kind === "raster") {
    const [out] = await processRasterBatch(run);
    if (!out) throw new Error(`${c.label}: no COG written`);
  } else {
    const [out] = await processVectorBatch(run);
    if (out?.rows !== c.features) {
      throw new Error(`${c.label}: expected ${c.features} rows, got ${out?.rows}`);
    }
  }
  return timings.toJSON();
}

/** This process's peak RSS: getrusage's, since Deno lets only -A read /proc/self (the wasm child has not). */
function peakMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Child process for the floor of an engine: only the GDAL call the pipeline
 * makes (ogr2ogr to a GeoPackage with -makevalid for non-point layers, or
 * gdal_translate to a COG with our options) on the file in place, no
 * staging, hashing, writer or publishing. Prints `RUN {...}` and `PEAK {...}`.
 */
async function gdalOnly(caseJson: string, engine: string) {
  const c = JSON.parse(caseJson) as Case;
  const gdal = await benchGdal(engine);
  await using scratch = await gdal.createScratch();
  // The scratch folder is the only one gdal3.js sees: link the input (and its sidecars) in.
  for (const file of await filesOf(c)) {
    await Deno.link(file, scratch.hostPath(file.split("/").pop()!));
  }
  const input = scratch.gdalPath(c.file.split("/").pop()!);
  const cpuBefore = process.cpuUsage();
  const hostBefore = engine === "native" ? await nativeHostStats() : undefined;
  const start = performance.now();
  if (c.kind === "raster") {
    await scratch.gdal.translate(input, cogOptions(gdal.version), "out");
  } else {
    await scratch.gdal.ogr2ogr(input, [
      "-f",
      "GPKG",
      "-lco",
      "SPATIAL_INDEX=NO",
      "-unsetFid",
      ...(TARGET_CRS === c.crs ? [] : ["-t_srs", TARGET_CRS]),
      ...(c.makeValid ? ["-makevalid"] : []),
    ], "out");
  }
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const host = engine === "native" ? await nativeHostStats() : undefined;
  const hostCpu = (host?.cpuSeconds ?? 0) - (hostBefore?.cpuSeconds ?? 0);
  console.log(
    `RUN ${JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 + hostCpu })}`,
  );
  console.log(
    `PEAK ${JSON.stringify({ mainMiB: peakMiB(), hostMiB: (host?.peakRssKiB ?? 0) / 1024 })}`,
  );
}

/**
 * Child process: the warm-up batch, then `rounds` measured batches (or one
 * batch when `rounds` is 0, cold). Prints one `RUN {...}` line per measured
 * batch and `PEAK {...}` (this process plus its GDAL hosts).
 */
async function child(caseJson: string, root: string, engine: string, rounds: number) {
  const c = JSON.parse(caseJson) as Case;
  await using store = new LocalObjectStore({ root, durable: false });
  await using ledger = new MemoryLedger();
  const gdal = await benchGdal(engine);
  // The pipeline process's memory by kind, at the moment its RSS was highest (every 100 ms).
  let parts = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0 };
  const partsTimer = setInterval(() => {
    const m = Deno.memoryUsage();
    if (m.rss > parts.rss) parts = m;
  }, 100);
  if (rounds > 0) await runBatch(c, gdal, store, ledger, "bench-warmup");
  const batches = rounds > 0 ? Array.from({ length: rounds }, (_, i) => `bench-${i}`) : ["bench-0"];
  for (const batchId of batches) {
    const cpuBefore = process.cpuUsage();
    const hostBefore = engine === "native" ? await nativeHostStats() : undefined;
    const start = performance.now();
    const timings = await runBatch(c, gdal, store, ledger, batchId);
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const hostAfter = engine === "native" ? await nativeHostStats() : undefined;
    const hostCpu = (hostAfter?.cpuSeconds ?? 0) - (hostBefore?.cpuSeconds ?? 0);
    console.log(
      `RUN ${
        JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 + hostCpu, timings })
      }`,
    );
  }
  clearInterval(partsTimer);
  const mib = (n: number) => Math.round(n / 2 ** 20);
  console.error(
    `pipeline process at its highest RSS: ${mib(parts.rss)} MiB, V8 heap ${mib(parts.heapTotal)} (${
      mib(parts.heapUsed)
    } used), external (ArrayBuffers, WebAssembly memory) ${
      mib(parts.external)
    }, the rest native (Deno, libraries, malloc)`,
  );
  const host = engine === "native" ? await nativeHostStats() : undefined;
  console.log(
    `PEAK ${JSON.stringify({ mainMiB: peakMiB(), hostMiB: (host?.peakRssKiB ?? 0) / 1024 })}`,
  );
}

/**
 * Our side of a case in a fresh process: `rounds` warm batches (or one cold
 * one when 0; `-1`: the engine's GDAL call alone, see {@linkcode gdalOnly}).
 */
async function ours(c: Case, engine: string, root: string, rounds: number): Promise<Measure[]> {
  const batches = rounds > 0
    ? ["bench-warmup", ...Array.from({ length: rounds }, (_, i) => `bench-${i}`)]
    : ["bench-0"];
  if (rounds >= 0) { for (const batchId of batches) await stageLanding(c, root, batchId); }
  const spawned = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      // Every permission kind, but not -A: with -A Deno's SQLite allows ATTACH,
      // which no platform task has (`deno task materialize` runs the pipeline
      // with scoped flags, launch.ts); a step relying on it would pass here and
      // fail in production, as the wasm engine's Shapefile parts did until c11187b.
      ...(engine === "wasm" ? CHILD_PERMISSIONS : ["-A"]),
      // As `deno task materialize` runs the pipeline (launch.ts).
      v8FlagsOption(),
      new URL(import.meta.url).pathname,
      rounds < 0 ? "--gdal-only" : "--child",
      JSON.stringify(c),
      ...(rounds < 0 ? [engine] : [root, engine, String(rounds)]),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const sampler = new RssSampler(spawned.pid);
  const out = await spawned.output();
  sampler.stop();
  const stdout = new TextDecoder().decode(out.stdout);
  const parts = new TextDecoder().decode(out.stderr).match(/^pipeline process at its highest.*$/m);
  if (parts && rounds === 0) console.log(`${"".padEnd(44)} ${parts[0]}`);
  if (out.code !== 0) {
    throw new Error(
      `${c.label} [${engine}] failed: ${new TextDecoder().decode(out.stderr).slice(-3000)}`,
    );
  }
  const peak = JSON.parse(stdout.match(/^PEAK (.*)$/m)![1]!) as {
    mainMiB: number;
    hostMiB: number;
  };
  return [...stdout.matchAll(/^RUN (.*)$/gm)].map((m) => {
    const run = JSON.parse(m[1]!) as {
      seconds: number;
      cpuSeconds: number;
      timings: Record<string, number>;
    };
    return { ...run, peakMiB: peak.mainMiB + peak.hostMiB, peaks: peak, sampled: sampler.peak };
  });
}

/** Resident MiB of process `pid` now (0 once it is gone). */
function rssMiB(pid: number): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

/** The child processes of `pid` (every thread's). */
function childrenOf(pid: number): number[] {
  const pids: number[] = [];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      if (text) pids.push(...text.split(" ").map(Number));
    }
  } catch {
    // Gone meanwhile.
  }
  return pids;
}

/**
 * Our processes' resident memory over time, sampled from outside every
 * 50 ms: the pipeline process and its descendants (the GDAL host). The sum
 * of the per-process peaks (VmHWM) counts each process at its own worst
 * moment; this is the most the processes held at one time (a spike shorter
 * than the interval can be missed).
 */
class RssSampler {
  /** The highest sum seen, with its parts (pipeline process, descendants). */
  peak = { totalMiB: 0, mainMiB: 0, hostMiB: 0, atSeconds: 0 };
  readonly #timer: ReturnType<typeof setInterval>;
  readonly #start = performance.now();

  constructor(readonly pid: number) {
    this.#timer = setInterval(() => this.#sample(), 50);
  }

  #sample(): void {
    const main = rssMiB(this.pid);
    const pending = childrenOf(this.pid);
    let host = 0;
    for (let p = pending.pop(); p !== undefined; p = pending.pop()) {
      host += rssMiB(p);
      pending.push(...childrenOf(p));
    }
    if (main + host > this.peak.totalMiB) {
      this.peak = {
        totalMiB: main + host,
        mainMiB: main,
        hostMiB: host,
        atSeconds: (performance.now() - this.#start) / 1000,
      };
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Native's side: `rounds` runs of its command, each on a fresh output. */
async function native(c: Case, dir: string, rounds: number): Promise<Measure[]> {
  const runs: Measure[] = [];
  for (let i = 0; i < Math.max(1, rounds); i++) {
    const out = `${dir}/native-${c.kind}`;
    for (const ext of [".fgb", ".gpkg", ".tif"]) await removeIfThere(`${out}${ext}`);
    const [cmd, args] = c.native(out);
    runs.push(await timedCommand(cmd, args));
  }
  return runs;
}

// ---------------------------------------------------------------- report

const best = (runs: Measure[], f: (m: Measure) => number = (m) => m.seconds) =>
  Math.min(...runs.map(f));
const median = (runs: Measure[], f: (m: Measure) => number = (m) => m.seconds) => {
  const sorted = runs.map(f).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};

function verdict(value: number, goal: number, lowerIsBetter = true): string {
  const met = lowerIsBetter ? value <= goal : value >= goal;
  return `${met ? "met" : "MISSED"} (goal ${lowerIsBetter ? "<=" : ">="} ${goal})`;
}

function report(
  label: string,
  ours: Measure[],
  theirs: Measure[],
  goal: { time?: number; memory?: number },
) {
  const ratio = best(ours) / best(theirs);
  const ratioMedian = median(ours) / median(theirs);
  const memory = Math.max(...ours.map((m) => m.peakMiB)) /
    Math.max(...theirs.map((m) => m.peakMiB));
  console.log(
    `${label.padEnd(44)} ours ${best(ours).toFixed(2)} s (median ${median(ours).toFixed(2)}, ` +
      `cpu ${best(ours, (m) => m.cpuSeconds).toFixed(2)} s, peak ${
        Math.max(...ours.map((m) => m.peakMiB)).toFixed(0)
      } MiB)` +
      ` | native ${best(theirs).toFixed(2)} s (median ${median(theirs).toFixed(2)}, ` +
      `cpu ${best(theirs, (m) => m.cpuSeconds).toFixed(2)} s, peak ${
        Math.max(...theirs.map((m) => m.peakMiB)).toFixed(0)
      } MiB)`,
  );
  const goals = [
    `time ${ratio.toFixed(2)}x native (median ${ratioMedian.toFixed(2)}x)` +
    (goal.time ? `: ${verdict(ratio, goal.time)}` : ""),
    `memory ${memory.toFixed(2)}x` + (goal.memory ? `: ${verdict(memory, goal.memory)}` : ""),
  ];
  console.log(`${"".padEnd(44)} ${goals.join("; ")}`);
  const fastest = ours.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  if (fastest.peaks && fastest.peaks.hostMiB > 0) {
    console.log(
      `${"".padEnd(44)} our peak: pipeline process ${fastest.peaks.mainMiB.toFixed(0)} MiB + ` +
        `GDAL host ${fastest.peaks.hostMiB.toFixed(0)} MiB (each at its own peak)`,
    );
  }
  const sampled = ours.map((m) => m.sampled).filter((p) => p !== undefined)
    .reduce<RssSampler["peak"] | undefined>(
      (a, b) => (a && a.totalMiB >= b.totalMiB ? a : b),
      undefined,
    );
  if (sampled !== undefined && sampled.hostMiB > 0) {
    const together = sampled.totalMiB / Math.max(...theirs.map((m) => m.peakMiB));
    console.log(
      `${"".padEnd(44)} at one time (sampled every 50 ms): ${sampled.totalMiB.toFixed(0)} MiB = ` +
        `${together.toFixed(2)}x native (pipeline ${sampled.mainMiB.toFixed(0)} + GDAL host ` +
        `${sampled.hostMiB.toFixed(0)}, ${sampled.atSeconds.toFixed(1)} s after start)` +
        (goal.memory ? `: ${verdict(together, goal.memory)}` : ""),
    );
  }
  if (fastest.timings) {
    console.log(
      `${"".padEnd(44)} our phases (ms): ${
        Object.entries(fastest.timings).map(([k, v]) => `${k} ${Math.round(v)}`).join(", ")
      }`,
    );
  }
  return { ratio, memory };
}

// ---------------------------------------------------------------- sections

async function oneFileBatches(dir: string): Promise<void> {
  console.log(`\n## One-file batches through the warm daemon (best of ${ROUNDS})`);
  console.log(`generating ${POINTS} points, ${POLYGONS} polygons, a ${RASTER_SIZE}² raster...`);
  const cases = await makeSmallInputs(dir);
  for (const c of cases) {
    const theirs = await native(c, dir, ROUNDS);
    for (const engine of ENGINES) {
      const root = `${dir}/store-${engine}`;
      const runs = await ours(c, engine, root, ROUNDS);
      report(`${c.label} [${engine}]`, runs, theirs, engine === "native" ? { time: 1.5 } : {});
      await removeIfThere(root);
    }
  }
}

async function coldMaterialize(dir: string): Promise<void> {
  console.log(`\n## Cold \`deno task materialize\` of a one-file batch (best of ${ROUNDS})`);
  const sample =
    new URL("../sample_data/spatial/montana-sample/trails.gpkg", import.meta.url).pathname;
  const c = vectorCase("sample trails.gpkg (3 lines)", sample, 3, false);
  const project = new URL("..", import.meta.url).pathname;
  const { openRunStore } = await import("../resources/run_store/open.ts");
  /** One cold command on a fresh state folder: `task` through the launcher, else main.ts. */
  const once = async (i: number, how: "task" | "main"): Promise<Measure> => {
    const state = `${dir}/cold-${how}-${i}`;
    const batchId = `cold-${i}`;
    await stageLanding(c, `${state}/lake`, batchId);
    const env = {
      STATE_DIR: `${state}/state`,
      LAKE_URL: `file://${state}/lake`,
      LEDGER_URL: `sqlite:${state}/state/ledger.db`,
      RUNS_URL: `sqlite:${state}/state/runs.db`,
      SAMPLE_DATA: "false",
      GDAL_ENGINE: "native",
    };
    // The batch is registered beforehand, as the sensor (or a first `register`) would have.
    await Deno.mkdir(`${state}/state`, { recursive: true });
    {
      await using store = await openRunStore(env.RUNS_URL);
      await store.addDynamicPartitions("spatial_batches", [batchId]);
    }
    const args = ["group:spatial", "--partition", batchId, "--json"];
    const run = await timedCommand(
      Deno.execPath(),
      how === "task"
        ? [
          "task",
          "--quiet",
          "--config",
          `${project}deno.json`,
          "--cwd",
          project,
          "materialize",
          ...args,
        ]
        : ["run", "-A", `${project}main.ts`, "materialize", ...args],
      env,
    );
    if (!/"step":"run","status":"success"/.test(run.stdout)) {
      throw new Error(`cold materialize failed: ${run.stdout.slice(-2000)}`);
    }
    return run;
  };
  const task: Measure[] = [];
  const direct: Measure[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    task.push(await once(i, "task"));
    direct.push(await once(i, "main"));
  }
  const theirs = await native(c, dir, ROUNDS);
  const { ratio } = report("deno task materialize [native]", task, theirs, {});
  console.log(
    `${"".padEnd(44)} absolute ${best(task).toFixed(2)} s: ${verdict(best(task), 2)} (${
      ratio.toFixed(1)
    }x a cold ogr2ogr)`,
  );
  // The launcher's share: the same run started without it (`deno run -A main.ts materialize`).
  report("deno run -A main.ts materialize [native]", direct, theirs, {});
  console.log(
    `${"".padEnd(44)} the launcher (deno task + launch.ts) adds ${
      (best(task) - best(direct)).toFixed(2)
    } s`,
  );
}

async function streaming(dir: string): Promise<void> {
  console.log("\n## GeoParquet writer: peak memory by layer size (each in its own process)");
  const childUrl = new URL("../tests/formats/_geoparquet_rss_child.ts", import.meta.url).pathname;
  const results: { rows: number; peakRssMiB: number; seconds: number; bytes: number }[] = [];
  for (const rows of [Math.round(STREAM_ROWS / 10), STREAM_ROWS]) {
    const work = `${dir}/stream-${rows}`;
    await Deno.mkdir(work);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", childUrl, String(rows), work],
    }).output();
    if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
    const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
    results.push(result);
    console.log(
      `${rows.toLocaleString("en").padStart(10)} features: ${result.seconds.toFixed(2)} s, ` +
        `${(result.bytes / 1e6).toFixed(0)} MB, writer peak RSS ${result.peakRssMiB} MiB`,
    );
    await removeIfThere(work);
  }
  const [small, large] = results;
  console.log(
    `10x the features, peak ${(large!.peakRssMiB - small!.peakRssMiB).toFixed(0)} MiB higher ` +
      `(the layer itself is ~${
        ((STREAM_ROWS * 90) / 2 ** 20).toFixed(0)
      } MiB): streams, memory bounded`,
  );
}

async function largeInputs(dir: string): Promise<void> {
  console.log(`\n## Large inputs (one batch each, fresh process)`);
  const makers = [
    ...(SHP_MB > 0 ? [() => makeShapefile(dir, SHP_MB)] : []),
    ...(TIFF_MB > 0 ? [() => makeGeoTiff(dir, TIFF_MB)] : []),
  ];
  for (const make of makers) {
    console.log("generating...");
    const c = await make();
    const theirs = await native(c, dir, 1);
    console.log(`baseline: ${c.native(`${dir}/native`).flat().join(" ")}`);
    for (const reference of REFERENCES ? c.references ?? [] : []) {
      const out = `${dir}/reference`;
      const [cmd, args] = reference.command(out);
      const run = await timedCommand(cmd, args);
      for (const ext of [".fgb", ".gpkg"]) await removeIfThere(`${out}${ext}`);
      console.log(
        `  reference ${reference.label}: ${run.seconds.toFixed(2)} s (cpu ${
          run.cpuSeconds.toFixed(2)
        } s, peak ${run.peakMiB.toFixed(0)} MiB) = ${
          (run.seconds / best(theirs)).toFixed(2)
        }x the baseline's time`,
      );
    }
    let nativeSeconds = best(theirs);
    for (const engine of ENGINES) {
      const root = `${dir}/large-${engine}`;
      const runs = await ours(c, engine, root, 0);
      const { ratio } = report(
        `${c.label} [${engine}]`,
        runs,
        theirs,
        engine === "native" ? { time: 1.3, memory: 2 } : {},
      );
      if (engine === "wasm") {
        const speed = 1 / ratio;
        console.log(
          `${"".padEnd(44)} wasm speed ${speed.toFixed(2)}x native: ${verdict(speed, 0.5, false)}`,
        );
      }
      // The floor: the engine's GDAL call alone on the file in place, against the same native run.
      const floor = await ours(c, engine, root, -1);
      const cpuRatio = best(floor, (m) => m.cpuSeconds) / best(theirs, (m) => m.cpuSeconds);
      console.log(
        `${"".padEnd(44)} ${engine} GDAL call alone: ${best(floor).toFixed(2)} s = ${
          (best(floor) / best(theirs)).toFixed(2)
        }x native time (cpu ${best(floor, (m) => m.cpuSeconds).toFixed(2)} s = ${
          cpuRatio.toFixed(2)
        }x native cpu); the pipeline adds ${(best(runs) - best(floor)).toFixed(2)} s`,
      );
      nativeSeconds = best(theirs);
      await removeIfThere(root);
    }
    void nativeSeconds;
    for (const file of await filesOf(c)) await Deno.remove(file);
  }
}

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-spatial-" });
  try {
    const gdal = await detectNativeGdal();
    console.log(`native GDAL ${gdal?.version ?? "not found"}; engines: ${ENGINES.join(", ")}`);
    if (SECTIONS.has("small")) await oneFileBatches(dir);
    if (SECTIONS.has("cold")) await coldMaterialize(dir);
    if (SECTIONS.has("stream")) await streaming(dir);
    if (LARGE && SECTIONS.has("large")) await largeInputs(dir);
    console.log(
      "\n(ratios = our time / native time, measured in this run; ours is the whole pipeline incl. " +
        "staging from the landing zone, checks, validation, hashing, upload and ledger; the landing " +
        "upload itself happens before timing. Peak memory: ours = pipeline process + GDAL host.)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--gdal-only") {
    await gdalOnly(Deno.args[1]!, Deno.args[2]!);
  } else if (Deno.args[0] === "--child") {
    await child(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!, Number(Deno.args[4]));
  } else {
    await main();
  }
}
