/**
 * dbt runner:
 *
 * - parse of generated projects of 1,000 and 10,000 models (each with a
 *   schema.yml entry, columns and 3 tests; refs between layers; a macro; a
 *   for loop), in a new process cold (no parse cache; also without the
 *   static parser, and followed by compiling every node's SQL: see "Compiling
 *   every node's SQL" below), in a new
 *   process with the cache, and after a one-file edit (new process; in the
 *   same process looking at every file again; and in the same process told
 *   the edited file, as a watching daemon would: `reloadProject`);
 * - `dbt build` of jaffle_shop_modern (tests/fixtures/dbt) through
 *   `deno task dbt` on PGlite and on PostgreSQL, with the peak memory (VmHWM)
 *   of the PGlite process (a child, bench/_dbt_jaffle_child.ts, that loads
 *   what `dbt build` loads and runs with its V8 flags);
 * - the per-model run overhead on PGlite and on PostgreSQL;
 * - `dbt build` of our own project (dbt/) on PGlite, DuckDB and PostgreSQL
 *   from the same raw rows, each in a process of its own, with build time,
 *   PGlite/DuckDB/PostgreSQL ratios and each process's peak memory, and the
 *   peak memory of the whole quick start (`deno task materialize`) on DuckDB
 *   beside PGlite.
 *
 * Baselines measured in the same run:
 * - parse+compile against reading the same files and parsing their YAML
 *   (the I/O and YAML floor every runner pays; it uses the `yaml` package,
 *   a naive reader's choice, on one thread);
 * - published figures, not measured here, scaled linearly to each size:
 *   dbt Fusion (dbt Labs' Rust engine) parses 10k models in under 0.6 s;
 *   dbt-core 1.x takes over 60 s cold for 20k models.
 * - run overhead against issuing the same `create view` statements directly
 *   on the warehouse (no compile, no swap transaction, no artifacts).
 *
 *     deno run -A bench/dbt.ts [sizes=1000,10000] [run_models=200]
 *     deno run -A bench/dbt.ts --warehouses   # only our project on the three warehouses
 *     deno run -A bench/dbt.ts --parse [sizes] # only parse figures and the jaffle_shop builds
 *
 * Parse rows print wall, CPU of all threads and CPU of the main thread. On
 * a 2-core machine shared with other work, wall time follows the machine's
 * load (a load average of 17 made a 10k cold parse take 7-12 s of wall for
 * ~2 s of CPU); the main thread's CPU is what bounds a cold load when the
 * second core is free, so compare that column between runs.
 *
 * ## The 10k-model cold parse (goal: <= 1 s; issue #18)
 *
 * **Met** (2026-12-07, session 13, after a6dc717 precompiled global
 * macros, 577eac2, dc68480, bd5a117 on the load and 9d3de29, 064e37f,
 * 77e2620, 298983f on the compile; the sections "session 13" below): the
 * full `--parse 10000` of main at a78315d, two runs right after each other
 * with nothing else of ours running (wall / CPU all threads / main-thread
 * CPU, ms): cold load 733 / 1,185 / 620 and 741 / 1,203 / 600; cold load
 * then compiling every node's SQL 968 / 1,519 / 830 (load 6.3) and
 * 922 / 1,435 / 800 (load 4.2), against 1,094 / 1,661 / 970 at the
 * session's start (1441d5a, load 0.6): 0.84-0.88x. One file edited in a
 * daemon (`reloadProject` + its SQL) 7.7 ms (goal <= 50); PGlite `dbt
 * build` of jaffle_shop_modern peak 236-251 MiB (goal < 300). Earlier
 * sessions' figures follow.
 *
 * Before session 13 it was not met (session 11 is at the end of this
 * doc: the load alone came near 0.8-0.9 s of main-thread CPU).
 * `deno run -A bench/dbt.ts --parse 1000,10000`
 * through /work/wt/heavy, old code (31db544, this bench file) and new code
 * alternating, 2026-12-06 06:00-06:08 UTC at load average 1.5-2.8 (the
 * quietest of the session), 10k models, new process, no cache:
 *
 * | 10k models, cold | wall     | CPU, all threads | main-thread CPU | read+YAML floor (wall) |
 * |------------------|----------|------------------|-----------------|------------------------|
 * | before, run 1    | 1,982 ms | 2,849 ms         | 1,920 ms        | 3,869 ms               |
 * | before, run 2    | 1,849 ms | 2,673 ms         | 1,790 ms        | 2,603 ms               |
 * | after, run 1     | 2,030 ms | 3,221 ms         | 1,820 ms        | 2,663 ms               |
 * | after, run 2     | 1,592 ms | 2,605 ms         | 1,360 ms        | 2,710 ms               |
 *
 * After run 2 also: 1k cold 453 ms, 10k with the parse cache 1,507 ms,
 * 10k one file edited in a daemon (`reloadProject`) 13 ms (goal <= 50),
 * 2.7x dbt Fusion's published 0.6 s, 19x under dbt-core's published cold
 * time scaled to 10k. Under heavy load earlier (load 10-20; single loads
 * alternating, medians of four sets) the main thread's CPU went from
 * 1,880-2,190 ms to 1,350-1,605 ms while the total CPU stayed about the
 * same: the worker's structured clone and its own js-yaml warm-up cost
 * about what the other changes saved, so the wall-time gain needs the
 * second core idle, and is small (0-20%) even then.
 *
 * The last quiet figure before this work was 1,903 ms wall (the floor row:
 * 2,150 ms). What changed: property YAML is read and parsed on a worker
 * thread while the main thread reads the SQL (resources/dbt/project/
 * yaml_pool.ts; both threads claim files from a shared counter, values are
 * validated on the main thread in file order, so the manifest is byte-for-
 * byte the same, tests/resources/dbt/parallel_parse_test.ts); a built-in
 * test's SQL text is written on first use; no stat on a file's first read;
 * no sha256 keys for a parse cache that is never written; zod skipped for
 * an absent test config.
 *
 * Where the main thread's time still goes (CPU profile of a cold 10k load,
 * share of its busy time): garbage collection ~30%; the 30,000 generic tests
 * (ids, configs, thresholds, dependencies; compile/compile_tests.ts) ~18%;
 * zod validation of the 2.5 MB of property YAML ~9%; reading 10k SQL files
 * ~5%; building the nodes ~5%; static parse of the models ~3%; loading the
 * macros ~3%; structured-clone of the worker's values ~2%. The worker
 * spends ~75% of its time in js-yaml and ~20% serialising its values.
 * Reaching 1 s would need the tests and the model parse split across the
 * two threads too (they read the whole project's macros, configs and
 * relations, which live on the main thread), or a cheaper shape check
 * than zod for property files (zod is the single source of shapes here).
 *
 * Session 2026-12-06 (3), 12:05-13:25 UTC, load average 2-12 the whole
 * time (no quiet window): not met, no measured gain. Cold 10k, new process,
 * `--load-once --no-cache` through /work/wt/heavy: main-thread CPU
 * 1,350-1,470 ms (wall 4.0-7.8 s at load 7-11, wall follows the load, not
 * the code). Per-phase main-thread CPU of one cold load (thread CPU, 10 ms
 * ticks): reading and listing the 10k SQL files 230-260 ms, zod validation
 * of the property values 230 ms, waiting for / finishing the YAML worker
 * 120-140 ms, starting the worker 50 ms, static parse 130-150 ms, disabled
 * check 40-50 ms, configs and relations 30-50 ms, building the nodes
 * 50-60 ms, the 30k generic tests 350-420 ms; compiling the tests eight
 * times in one process costs 360-440 ms each time, so the tests' cost is
 * work and its garbage (GC is half of their profile), not JIT warm-up.
 * 7de4b7e cut the tests' allocations (a relation's text printed once,
 * relations and test macros looked up once per load, no audit relation,
 * config, tags or kwargs copy per test that sets none); alternating cold
 * runs at load 7 gave main-thread CPU 1,480 / 1,390 ms before and 1,730 ms
 * after (one run, then the machine's lock queue ran out the session): inside
 * the spread, no figure claims a gain. The rebased base meanwhile names
 * tests as dbt-core does, with an md5 (node:crypto) per test id: 30k md5
 * calls measured 105-350 ms under that load, more than the 53-bit hash they
 * replaced. "Cached" (new process, parse cache) means js-yaml and the
 * static parser are skipped, but zod, the tests, the nodes and the reads
 * still run, so it costs about the main thread's cold CPU; near the 13 ms
 * re-parse it would need the loaded project itself cached (dbt writes its
 * whole manifest to partial_parse.msgpack), which our nodes (closures that
 * compile on demand) do not allow yet.
 *
 * Session 2026-12-06 (4), 16:20-16:37 UTC: still not met, 1.35-1.4 s at
 * best. Cold 10k, new process, `--load-once --no-cache` through
 * /work/wt/heavy, old (main at bf66b96) and new
 * code alternating, 4 rounds each:
 *
 * | 10k models, cold, load 1.4-1.9 | wall           | main-thread CPU |
 * |--------------------------------|----------------|-----------------|
 * | before                         | 1,807-2,009 ms | 1,560-1,730 ms  |
 * | after 10a1e3e..fe1b9a1         | 1,353-1,435 ms | 1,180-1,250 ms  |
 *
 * | 10k models, cold, load 0.8-2.7 | wall           | main-thread CPU |
 * |--------------------------------|----------------|-----------------|
 * | before                         | 3,855-4,280 ms | 1,510-1,620 ms  |
 * | after (35f6c80 too)            | 2,449-2,848 ms | 1,090-1,180 ms  |
 *
 * Wall 0.62-0.75x, main-thread CPU 0.70-0.74x of before.
 * `--parse 10000` right after (load 3.2): cold 3,066 ms wall / 1,230 ms
 * main CPU, read+YAML floor 2,012 ms (cold/floor 1.52x), parse cache 1,695
 * ms, one file edited in a daemon 13 ms. Manifest.json
 * byte-identical before/after for the 1k and 10k generated projects,
 * jaffle_shop_classic, community_like and mrr_playbook_like. One-file
 * re-parse (`reloadProject`) stays 13 ms. What changed: property files of
 * 1 MB or more are validated by zod's own compiled schema (`z.compile`,
 * zod 4's code generator: the accepted case runs generated code, anything
 * else zod's runtime parser; tests/resources/dbt/project/schema_yml_test.ts
 * checks values and first errors against the runtime schema on 3,000 seeded
 * corruptions): 2.5 MB validated in 120-170 ms plus a 70-110 ms compile
 * instead of 380-460 ms, cold. Generic tests are instances of one class, not
 * object literals with four getters (V8 builds those property by property
 * with new closures: 30k literals 360-460 ms, 30k instances 60-200 ms);
 * their unique-id input (repr of dbt's metadata), dbt arguments and kwargs
 * are built when first read, and duplicates are looked for by name first;
 * Python repr of a plain string skips the escape loop. The 30k tests, compiled
 * again in one warm process, went from 340-490 ms to 260-430 ms of main-thread
 * CPU. Writing the manifest still pays the test ids' repr and md5 (30k: ~0.1
 * s repr, 0.1-0.35 s md5), now at write time rather than at load.
 *
 * Per-phase main-thread CPU after (load ~8): reading and listing the SQL
 * 220-250 ms, the 30k generic tests 350-500 ms, static parse 120-140, nodes
 * 60-100, schema compile + validation 70-100, disabled check 40-50, relations
 * 40-50. Tried and dropped: letting the main thread wait for a started
 * worker instead of claiming the YAML files left (its js-yaml is cold): at
 * load 1.4-1.9 its walls (1,375-1,701 ms) were inside the spread of the
 * landed code's, so it did not land. What would reach 1 s: the tests' work
 * and garbage (now the biggest phase; they read the main thread's relations
 * and macros, so moving them to the worker needs those sent over), and the
 * 10k SQL reads on the second core (a worker reading and sending texts).
 *
 * Session 2026-12-06 (5), 18:50-19:55 UTC, load average 12-15 the whole
 * time (other helpers' benchmarks queued on /work/wt/heavy): what the
 * figures above left out. The "cold" row times `loadProject` alone, but a
 * user's `dbt parse` also selects (it ignored the ids) and writes
 * target/manifest.json (112 MB for 10k models and 30k tests, indented as
 * before: byte-identical) and partial_parse.json (8 MB). At load 12-15,
 * main-thread CPU, old and new code alternating in one process after the
 * same load (new process each): writing the 10k manifest took 4,040-5,440
 * ms before (wall 16-18 s), then 2,570-2,580 ms written slice by slice
 * (resources/dbt/_json_stream.ts; wall 8.4-9.3 s), then 2,040-2,280 ms with
 * the test entries printed from a template; the load itself took 1,450-
 * 1,780 ms in the same runs. `dbt parse` no longer selects the 40k nodes
 * when given no selection (0.3-0.6 s in a profile). So the honest cold
 * `dbt parse` of 10k models costs about 3.5-4 s of main-thread CPU here
 * (load ~1.5 + manifest ~2.1), not the 1.35 s the load row shows: the
 * <= 1 s goal is further off than the table said. The new row "`dbt parse`
 * (the same + manifest.json)" times the command itself, and the row under
 * it (since session 6) `deno task dbt parse` as a user runs it: the
 * launcher and its command process, wall from spawn to exit and the CPU of
 * both (it replaced "process start to exit" of the bench's own child, which
 * also loaded the DuckDB and PostgreSQL drivers this bench imports and a
 * user's `dbt parse` does not).
 *
 * Where a cold `dbt parse` still goes (profile, load 13-15, share of the
 * main thread): garbage collection ~20%; JSON.stringify of the 112 MB
 * (~1.0-1.4 s of CPU for that size on this machine even without
 * indentation: V8 printed 60-85 MB/s here); the tests' unique ids (md5 of
 * a Python repr each; a JS md5, js-md5 or @noble/hashes, was not faster
 * than node:crypto on 30k ids: 160-540 ms against 190-456 ms); the YAML;
 * the file listing. A smaller manifest (dbt-core may print it without
 * indentation; not checked here, and the bytes were to stay identical)
 * would cut a third of the bytes to print, encode and write.
 *
 * V8 heap flags (`--max-semi-space-size=16/32/64`, `--single-threaded-gc`)
 * were measured and are not set in the `dbt` task: under this load their
 * effect was inside the run-to-run spread (GC pause totals 2.8-6.9 s for
 * the same load, mostly time the threads waited for a core), so no figure
 * here justifies them.
 *
 * Session 2026-12-06 (6), 22:48-22:50 UTC through /work/wt/heavy, load
 * average 6.5-10.7 (the lead's CI had just ended; other engineers' tests
 * ran): 10k cold still not met, but close for the load alone. Before =
 * main at b63891a, after = 616bfdc, in a new process each, alternating,
 * three rounds, 10k generated models ("dbt parse": load + manifest.json in
 * the bench's child, `--dbt-parse`; "task": `deno task dbt parse`, the
 * launcher and its command process, CPU of both from /usr/bin/time):
 *
 * | 10k, load 9-11    | wall, 3 rounds        | CPU, all threads      | main-thread CPU       |
 * |-------------------|-----------------------|-----------------------|-----------------------|
 * | load only, before | 3,411 / 3,085 / 1,085 | 1,284 / 1,322 / 1,163 | 640 / 770 / 600       |
 * | load only, after  | 2,736 / 2,010 / 1,062 | 1,218 / 1,189 / 1,129 | 650 / 670 / 580       |
 * | dbt parse, before | 5,585 / 4,895 / 2,952 | 2,545 / 2,439 / 2,189 | 1,610 / 1,460 / 1,320 |
 * | dbt parse, after  | 5,420 / 3,467 / 2,121 | 2,338 / 2,204 / 2,094 | 1,440 / 1,310 / 1,250 |
 * | task, before      | 5,910 / 3,990 / 3,950 | 2,770 / 2,540 / 2,490 | -                     |
 * | task, after       | 7,100 / 3,510 / 2,620 | 2,860 / 2,450 / 2,310 | -                     |
 *
 * `dbt parse` (load + manifest.json, in the process) after/before: main-
 * thread CPU 0.89 / 0.90 / 0.95x, all threads 0.92 / 0.90 / 0.96x; the
 * load alone did not change (nothing here touched it) and the whole task's
 * CPU moved 1.03 / 0.96 / 0.93x (its launcher and module loading are the
 * same both sides). Peak RSS of the task's largest process 345-373 MiB
 * after, 358-441 MiB before. The full `--parse 1000,10000` right after (load
 * 6.7-8.2), after code: 10k cold 1,014 ms wall / 1,094 ms CPU / 540 ms main
 * (1.7x dbt Fusion's published 0.6 s; read+YAML floor 2,047 ms, cold/floor
 * 0.50x); `dbt parse` 2,220 / 2,212 / 1,280 ms (3.7x Fusion); `deno task dbt
 * parse` 2,503 ms wall / 2,400 ms CPU of both processes (4.2x Fusion);
 * parse cache 788 ms; one file edited in a daemon (`reloadProject`) 5.9 ms
 * (goal <= 50); 1k cold 236 ms. PGlite `dbt build` of jaffle_shop_modern:
 * process peak 255 MiB (new data dir) and 265 MiB (existing), goal < 300
 * met. What changed (manifest bytes identical to before for the 1k/10k
 * generated projects, every fixture under tests/fixtures/dbt and dbt/):
 * a node's `depends_on.macros` reads one macro list per load (each of the
 * 10k nodes made its own copy of the 82 macros and 82 strings: 380-430 ms
 * wall at load 17, 75-98 ms after; 35 ms at lower load); manifest.json is
 * encoded into two reused buffers (no new megabyte array per flush); the
 * test ids' repr is concatenated in place (same 30k strings); a test's
 * kwargs are printed without a JSON copy each (30k copies: 47-96 ms at load
 * 17); partial_parse.json is written on one line (3.2 MB instead of 8 MB).
 * A second A/B at 22:54 (heavy, load 5.1-5.7, the same two trees, four
 * rounds) agrees: `dbt parse` in the child, before 2,033-2,614 ms wall /
 * 2,256-2,465 ms CPU / 1,360-1,510 ms main, after 1,455-2,399 / 2,075-2,237
 * / 1,280-1,410 (main 0.88-0.96x, all threads 0.91-0.96x, wall 0.70-0.92x);
 * `deno task dbt parse`, before 1.86-3.12 s wall / 2.42-2.52 s CPU, after
 * 1.60-2.68 s / 2.19-2.31 s (CPU 0.88-0.95x, wall 0.86-0.98x). Best task
 * wall 1.60 s: 2.7x dbt Fusion's published 0.6 s, for the whole command.
 * Tried and dropped: finding a node's macro calls from each `(` of its text
 * (23 name lengths to look up per paren: 113-168 ms against 72-172 ms for
 * the 82 substring searches on the 10k texts, no gain). Where `dbt parse`
 * still goes is as the profile above says: GC, JSON.stringify of the 112
 * MB, the test ids' md5, the YAML and the file reads; 1 s for the whole
 * command would need the manifest's text made on the second core too.
 *
 * Session 2026-12-07 (7), 01:27-01:44 UTC through /work/wt/heavy, load
 * average 11-19 the whole time (the lead's CI and other benchmarks ran
 * beside it; no quiet window): not met, for any row; wall followed the
 * load (10k cold 2.5-6.6 s, `dbt parse` 5-14 s). Before = main at
 * b7b3fb8, after = the two manifest changes (dda587a, 694bd46) and the old
 * generation flag (core/cli/v8_flags.ts), in a new process each (this
 * file's `--load-once` child), five alternating rounds, 10k models, cold,
 * 01:40-01:44 at load 11-16:
 *
 * | 10k models, cold                     | CPU, all threads: range (median) | main-thread CPU: range (median) |
 * |--------------------------------------|----------------------------------|---------------------------------|
 * | `dbt parse`, before                  | 2,125-2,319 ms (2,235)           | 1,310-1,480 ms (1,400)          |
 * | `dbt parse`, manifest changes only   | 2,129-2,227 ms (2,170)           | 1,270-1,380 ms (1,310)          |
 * | `dbt parse`, after (+ V8 flag)       | 1,894-1,993 ms (1,920)           | 1,180-1,270 ms (1,230)          |
 * | load only, before                    | 1,285-1,356 ms (1,314)           | 640-720 ms (650)                |
 * | load only, after (+ V8 flag)         | 1,070-1,144 ms (1,135)           | 540-610 ms (580)                |
 *
 * `dbt parse` after/before: all threads 0.86x, main thread 0.88x (medians;
 * every after run below every before run); the load alone 0.86x / 0.89x.
 * The command process alone (`deno run main.ts dbt parse`, CPU of the
 * process from /usr/bin/time, four rounds at load 12-15): 2.38-2.67 s
 * before, 2.42-2.57 s with the manifest changes, 2.21-2.35 s with the flag
 * too (median 0.92x), peak RSS 346-380 MiB either way. What changed: V8's
 * old generation starts at 512 MiB for `dbt parse` / `dbt ls`
 * (`--initial-old-space-size`, set by launch.ts; a cold 10k parse ran four
 * incremental mark-compacts, the last marking ~130 MiB of nodes that stay
 * live to the exit, and runs none now); a node's `depends_on.macros` is
 * found from each `(` of its text through a trie of the reversed macro
 * names (compile/macro_mentions.ts: 40-50 ms of main-thread CPU for 10k
 * nodes x ~100 macros before, 0-10 ms after); a test entry's small objects
 * are printed by a plain-JSON printer, not JSON.stringify with an indent
 * then re-indented (_json_stream.ts). The rows here now run their children
 * with the flags of `deno task dbt parse`.
 *
 * `deno task dbt parse` as a user runs it (launcher + command, CPU of both
 * from /usr/bin/time; before = b7b3fb8, after = main at 05c358f, which also
 * holds other helpers' dbt changes), five alternating rounds, 01:51-01:52
 * at load 11.5-12.7: CPU 2.33-2.48 s before (median 2.43), 2.12-2.40 s
 * after (2.29, 0.94x); wall 3.95-7.30 s before, 5.56-7.11 s after (medians
 * 6.28 / 5.87 s, load-bound); peak RSS of the largest process 358-389 MiB
 * before, 376-400 MiB after (the old generation is not collected: +3-5%).
 *
 * The full `--parse 1000,10000` after (01:29-01:33, load 15.8-18.3): 10k
 * cold 6,345 ms wall / 1,260 ms CPU / 660 ms main (read+YAML floor 8,419
 * ms wall, cold/floor 0.75x); `dbt parse` 8,895 / 2,102 / 1,330;
 * `deno task dbt parse` 9,864 ms wall / 2,330 ms CPU of both processes;
 * parse cache 3,195 ms; one file edited in a daemon (`reloadProject`) 24
 * ms wall / 10 ms main (goal <= 50, met); 1k cold 880 / 239 / 140. The
 * jaffle_shop builds after it stopped on a PostgreSQL race (two seeds
 * creating one schema at once: 23505 on pg_namespace), fixed since in
 * resources/warehouse/_session.ts (7ff0e59), so no PGlite peak memory
 * figure this session. So at this load even the load row (CPU 1.1 s over
 * two threads, 0.58 s on the main one) is 2.5-6.6x the goal in wall time;
 * the full `dbt parse` cannot reach 1 s wall on two cores while its main
 * thread alone needs ~1.2 s of CPU.
 *
 * Module loading (empty project, outside heavy at load ~4): `deno task dbt
 * parse` 0.31-0.47 s wall / 0.21-0.23 s CPU for its three processes (deno
 * task, launch.ts, the command); the command alone 0.15-0.17 s CPU;
 * launch.ts alone (`--print`) 0.06 s wall / 0.04 s CPU. launch.ts starts a
 * second process to run the command with the narrowest permissions its
 * configuration allows (resources/permissions.ts), which a single process
 * cannot drop; it costs ~0.04-0.06 s. Importing resources/dbt/cli.ts costs
 * 68-100 ms of CPU, of which the load and manifest modules 57-60 (warehouse
 * drivers are imported lazily already): making the rest lazy would save
 * 10-15 ms, not done. Tried and dropped: a JS md5 for the test ids (one
 * cold pass over 30k ids, 121-245 ms against node:crypto's 124-569 ms at
 * load 14: inside the spread); the plain-JSON printer for 200-model slices
 * (58-145 ms against JSON.stringify's 31-63 ms for 3.3 MB: slower);
 * `--max-semi-space-size=32/64` (CPU 2.0-2.4 s either way at load 13-17).
 *
 * Session 2026-12-07 (8), 03:50-05:10 UTC through /work/wt/heavy, load
 * average 14-36 the whole time (other engineers' test runs): the goal as a
 * user meets it, `deno task dbt parse` of 10k models with no cache in
 * <= 1 s wall, is NOT met, and no run came near a wall time that could
 * say: wall followed the load (7-10 s for ~2 s of CPU). CPU, which the load
 * inflates less, before = main at 97741bc, after = 48f0b5a (these changes
 * and other helpers' dbt changes landed meanwhile), a new process each,
 * four alternating rounds, 04:35-04:37 at load 19.6-22.3 (ms):
 *
 * | 10k models, cold                            | before: range (median) | after: range (median) | after/before |
 * |---------------------------------------------|------------------------|-----------------------|--------------|
 * | `deno task dbt parse`, CPU of its processes | 2,290-2,370 (2,325)    | 1,970-2,170 (1,980)   | 0.85x        |
 * | `dbt parse` in process, CPU, all threads    | 1,895-2,047 (1,996)    | 1,733-1,866 (1,760)   | 0.88x        |
 * | `dbt parse` in process, main-thread CPU     | 1,170-1,320 (1,285)    | 1,050-1,210 (1,080)   | 0.84x        |
 * | the task on a project of no model, CPU      | 360-390 (380)          | 360-390 (370)         | ~1.0x        |
 *
 * An earlier A/B (04:21-04:24, load 19, three rounds) agrees: task CPU
 * 2,220-2,330 before, 1,900-2,050 after; main thread 1,180-1,380 before,
 * 990-1,090 after; and the manifest change alone (04:04, load 30):
 * main thread 1,280-1,530 -> 1,050-1,220 ms; a last one (04:40-04:42,
 * load 26-29, three rounds): task CPU 2,260-2,360 before, 2,030-2,250
 * after; main thread 1,220-1,360 / 1,040-1,160; the task on a project of
 * no model 390-400 / 340-360. The full `--parse 10000`
 * after (04:28-04:31, load 15.6-17.4): cold load 4,069 ms wall / 1,104 CPU
 * / 550 main; `dbt parse` 5,948 / 1,632 / 980; `deno task dbt parse` 7,152
 * ms wall / 1,960 ms CPU, of which the same task on a project of no model
 * 670 / 320; parse cache 2,575 / 700 / 450; one file edited in a daemon
 * (`reloadProject`) 11 ms wall / 10 ms main (goal <= 50, met); read+YAML
 * floor 6,230 / 1,723 / 1,170; PGlite `dbt build` of jaffle_shop_modern
 * peak 254 MiB (new data dir) and 267 MiB (existing): goal < 300 met.
 *
 * Where the command's time goes besides the load (from the figures and CPU
 * profiles of this session): (1) the fixed cost of the task, ~0.35 s of
 * CPU (a project of no model; 484-693 ms wall at load 6.6): `deno task`
 * ~7 ms; the launcher 90-121 ms wall / ~80 ms CPU (Deno's start ~20, zod
 * and the configuration schema ~30, Node compatibility and module reads);
 * the command process 278-291 ms wall / ~240 ms CPU (its modules: nunjucks,
 * CommonJS, ~50 ms; node:crypto ~40; zod ~30; js-yaml and ~70 of ours; then
 * the global project's 143 macros and an empty manifest, 30-50 ms). (2)
 * writing manifest.json, written again in a warm process: 290-370 ms of
 * main-thread CPU after (load 16-28; JSON.stringify most of it, then GC
 * and UTF-8 encoding), 390-450 ms before (load 31). (3) partial_parse.json, 3.2 MB: ~20-50 ms.
 *
 * What changed: manifest.json is written on one line (6f7b809), as dbt-core
 * writes it (dbt_common's write_json: `json.dump` with no indent; dbt puts a
 * space after `,` and `:`, which no JSON reader sees): 76 MB instead of 112
 * MB for 10k models, printed on V8's JSON.stringify fast path (no `space`
 * argument); the same JSON parsed (values and key order) as before for the
 * 10k generated project, dbt/ and every fixture project; tests' entries are
 * plain objects printed in 200-node slices (the template printer was no
 * faster once compact: 330-370 ms against 310-360 ms of main thread per
 * 10k manifest at load 28); LazyEntries take keys and one maker (no 40k
 * closures and 40k-key objects); parent_map/child_map read the nodes' own
 * lists (48f0b5a). main.ts imports no built-in command (core/cli/run.ts
 * imports each when it runs) and resources/dbt/cli.ts imports the
 * warehouse, runner, packages (the yaml package) and docs modules only for
 * the commands that use them (122893e): 20-30 ms of CPU in one timing
 * (380 -> 350 ms for the task on an empty project, load 22-27), inside the
 * spread in the A/B above. digest() names its encoding to node:crypto
 * (11d9793): 30k md5s 83-118 ms against 112-206 ms at load 21.
 *
 * Tried and dropped: one process for `deno task dbt` (the permissions
 * depend on the configuration, the .env and the project folder, so the
 * task line cannot carry them; `Deno.permissions.revoke` only drops a
 * permission, it cannot narrow a global grant to a list; deno.json
 * permission sets are static: the launcher's second process stays, ~0.1 s
 * of wall); an unrolled RFC 1321 md5 in JS for the test ids again (right
 * against node:crypto on every length, 107-222 ms against 54-309 ms for
 * 30k ids at load ~20: no gain); nunjucks' browser bundle (one file for
 * ~25 CommonJS modules: 58 against 71 ms to import at best, load 40:
 * inside the spread); `--max-semi-space-size=32/64` again (main thread
 * 1,030-1,110 and 1,020-1,170 against 1,000-1,080 ms at 8, load 26);
 * `--no-code-cache` / `--cached-only` (no change), `--no-lock` (+430 ms:
 * npm resolution without the lock). What is left for 1 s wall on two
 * cores: the tests' manifest text made on a second thread (the YAML worker
 * idles after the YAML; send each test's ~20 varying values, not its
 * entry: a structured clone of the entries costs about what printing
 * them does), at best ~0.1 s of the main thread; the load itself (the 30k
 * tests, the reads and listing, GC); the launcher's zod (~30 ms, if the
 * permissions were computed from unvalidated values: a security feature,
 * not touched here).
 *
 * Session 2026-12-07 (9), 06:53-08:20 UTC, load average 3-14 the whole
 * time (other engineers' tests, a full CI suite through /work/wt/heavy):
 * NOT met, nothing landed that changes the parse; what was measured and
 * why each idea was dropped. This machine ran ~2.5-3x slower than the
 * lead's quiet figures (1,146 ms `dbt parse`, 1,432 ms `deno task dbt
 * parse`, 346 ms of it fixed): the same 10k cold `deno task dbt parse` took
 * 4.9-7.2 s wall / 4.2-4.6 s CPU of all processes at load 3.6-3.8, and the
 * task on a project of no model 0.94-1.27 s CPU at load 6.5. No hardware
 * counters here (`perf stat -e instructions`: not supported in this VM);
 * valgrind runs Deno (callgrind: 72M instructions for `deno eval 1`, 28 s
 * under valgrind), too slow for a 10k parse in the session; so CPU of all
 * threads and of the main thread, A/B alternating, are the figures.
 *
 * The floor of the task (load ~6.5, CPU ms, 8 runs each): `deno eval 1`
 * 79-113; `deno task` of a task running `true` 53-67; `deno task` running
 * `deno eval 1` 126-188; the launcher alone (`launch.ts --print dbt parse`)
 * 219-263; `deno task dbt parse` of a project of no model 940-1,267. So
 * `deno task` plus two Deno starts (launcher, command) is ~0.23 s of CPU
 * here, a quarter of the fixed cost; the rest is the launcher's own work
 * (zod and the configuration, node:url/node:path polyfills: ~0.15 s here)
 * and the command's modules (nunjucks's ~25 files through Node's CommonJS
 * loader: 172 ms inclusive in the command's profile on an empty project at
 * load ~6, of which wrapSafe/compileFunction 44; the node:crypto, node:url
 * and node:fs polyfills, which Deno loads lazily outside its snapshot:
 * op_load_ext_script 105 ms self of ~800 profiled; zod), and the global
 * project's 143 macros (compiled by nunjucks at every cold start: ~40 ms
 * there). Importing nunjucks alone costs ~90 ms of CPU over an empty
 * script here; node:crypto, node:util, node:path and node:url on top of it
 * cost nothing measurable (they share the polyfills nunjucks loads). Scaled
 * by the lead's quiet 346 ms, ~80 ms of the fixed cost is Deno's own
 * floor (three processes), so even with the load and the manifest at
 * zero cost the task could not go under ~0.1 s, and with the parse as it
 * is (in-process ~0.65 s load + ~0.5 s manifest, quiet) it cannot reach
 * 1 s without the manifest's text made on the second core.
 *
 * Where a cold 10k `dbt parse` goes (CPU profile of the command process,
 * main thread, load ~4, 5.1 s profiled): garbage collection 1,255 ms
 * (scavenges only: `--trace-gc-nvp` counts 117 scavenges promoting 166 MB
 * and copying 134 MB within the young generation: the ~200 MB that stays
 * live is copied about twice); js-yaml on the main thread 570 ms (the main
 * thread claims the YAML files the worker has not reached; under load the
 * worker gets little CPU); JSON.stringify of the manifest's slices 392 ms
 * self; UTF-8 encoding 146; Deno's lazily loaded Node polyfills 195
 * (inclusive: node:crypto, node:url, node:fs for nunjucks) and nunjucks's
 * CommonJS files 41; reading 10k SQL files 135; partial_parse.json ~100.
 * From the command's last line to its exit (wall, load ~4.5): 76-101 ms
 * for 10k models against 27-34 ms for a project of no model: the teardown
 * of a process holding ~370 MB (V8's old generation is never collected in
 * `dbt parse`, core/cli/v8_flags.ts). System time is a quarter of the
 * command's CPU here (perf stat, load ~6: 0.98 of 3.90 s for 10k models,
 * 0.21 of 0.72 s for none), mostly page faults (79-95k for 10k models
 * against 17k for none; 48% of them in memmove, i.e. the scavenger copying
 * promoted objects into new old-space pages: the live heap's growth, not
 * garbage). Encoding manifest pieces straight into the write buffer (no 1 MB
 * join per flush) and 50-node slices (text under V8's large-object size)
 * left the faults where they were (79-95k, two rounds each) and were
 * dropped. `--max-lazy`, which the brief suggested, is no V8 flag in V8
 * 15.0 (`--v8-flags=--help`).
 *
 * Tried and dropped (the code is on branch `dbtperf-entry-worker`, c9e351c):
 * printing the 30k tests' manifest entries (48 of the 76 MB) on a worker
 * thread while the main thread prints the models', both claiming 1,000-
 * test chunks from a shared counter, the worker's UTF-8 bytes transferred
 * back and written in place (manifest byte-identical: the same maker on
 * both threads; tested with a crashing worker too). The tests' values must
 * cross by structured clone, and that costs the main thread about what it
 * saves: as 30k objects, postMessage took 369 ms of the main thread
 * (profile, load ~10) and the main thread still printed most chunks
 * itself, because the worker, loading and deserialising, reached the
 * counter late; as one array per field (fqn and depends_on flattened,
 * kwargs as JSON) 102 ms to build the arrays + 156 ms postMessage, and the
 * worker spent 71 ms rebuilding the values and 192 ms in GC before
 * printing. A/B, 10k cold, the command process, four alternating rounds at
 * load 8.4-13.2 (objects version): main-thread CPU 2,510-2,700 ms (median
 * 2,560) against 2,350-2,670 (2,650) before, all threads 4,800-4,970
 * (4,940) against 3,850-4,340 (4,300): +15% CPU for at best -3% on the
 * main thread. On an idle second core the gain is bounded by the same
 * arithmetic: ~0.1 s of main-thread serialisation to move ~0.2 s of
 * printing, half of which the main thread then shares anyway.
 * Young generation sizes: `--max-semi-space-size=32` ran 44 scavenges
 * instead of 117 but promoted 152 MB and copied 129 MB (166 / 134 at 8):
 * the copying work, which is most of the GC time, stays; a bigger young
 * generation only saves the per-scavenge overhead. `--minor-ms` (V8's
 * non-moving young generation, promoting pages in place) ran worse: CPU of
 * all threads median 8,600 ms against 5,510 (three rounds, load ~9).
 *
 * Landed: `--single-threaded-gc` for `dbt parse` / `dbt ls` (core/cli/
 * v8_flags.ts). 10k cold, the command process with the task's flags, five
 * alternating rounds through /work/wt/heavy, 08:11-08:13 at load 5.8-6.4:
 * main-thread CPU 2,160-2,280 ms (median 2,250) against 2,320-2,690
 * (2,460), 0.91x, every run below every run before; all threads 3,650-3,930
 * (3,770) against 3,800-4,220 (3,920), 0.96x; wall 4,398-6,051 (5,199)
 * against 5,756-6,509 (6,078), 0.86x. Not measured on an idle machine: there
 * the scavenger's helper could use the second core while the manifest is
 * written (the YAML worker holds it during the load), so the lead's quiet
 * run decides; reverting is one line.
 * Reverted after the quiet run (08:27-08:32, load 1.1-2.0, this session's
 * machine about 2x slower than the previous sessions': 56c2231's cold 10k
 * parse took 1,379 ms here against 647 ms then), two alternating rounds,
 * with / without the flag: cold load 1,384 and 1,418 / 1,260 and 1,328 ms
 * wall; `dbt parse` with its manifest 2,298 and 2,263 / 2,083 and 2,149
 * (main thread 1,790 and 1,730 / 1,850 and 1,950); `deno task dbt parse`
 * 2,939 and 2,904 / 2,831 and 2,949. On an idle machine the scavenger's
 * helper thread on the free core is worth more than the main thread's
 * ~6 % saved: 1.07x the wall time with the flag, so it is off again.
 *
 * Session 2026-12-07 (10), 10:24-11:15 UTC through /work/wt/heavy, load
 * average 10-19 the whole time (other engineers' browser and spatial tests
 * queued on heavy; no quiet window): NOT met, and wall time said nothing
 * (10k cold `dbt parse` 4.7-6.5 s wall for ~2.0 s of CPU). What the live
 * heap is made of (heap snapshot after a cold 10k `loadProject` and a full
 * GC, 123 MB): the 30k generic tests ~43 MB (~1.4 KB each: the node, its
 * init record, the closures of compileGenericTest and the context they
 * share, its spec, YAML path, names, fqn, dependsOn, raw_code); the 10k
 * models' nodes ~20 MB; the property YAML twice, 16.6 MB (js-yaml's value,
 * kept for partial_parse.json, and zod's validated copy); the relations and
 * maps of the load ~16 MB; texts ~4 MB. During `dbt parse`, scavenges
 * promote ~108 MB in the load (77 scavenges) and ~47 MB while the manifest
 * is written (33). Found: a spread literal (`[...path, key, i]`) leaves its
 * array ~130 bytes of slack (V8 grows it as it pushes; 216 against 88 bytes
 * for `concat`, 100k arrays), and every test kept two such arrays (its YAML
 * path and its fqn) and a `raw_code` concatenation of its own. Landed: those
 * arrays made by `concat` (also a model's depends_on), `raw_code` one string
 * per test name. Live heap after the load 122.9 -> 113.3 MB (0.92x; the
 * same figure every run: it counts objects, not time; rebased on 843b58a,
 * 124.6-124.7 -> 114.7-115.1 MB); manifest.json byte-identical (times and
 * invocation id masked). Four alternating rounds
 * of the cold 10k `dbt parse` child (`--load-once --dbt-parse`), before =
 * main at 472f2bd, load 12.0-13.9: CPU of all threads 1,992-2,039 ms
 * (median 2,018) before, 1,949-2,027 (1,985) after, 0.98x; main thread
 * 1,220-1,280 (1,255) / 1,180-1,310 (1,220), 0.97x; peak RSS 352-366 /
 * 343-356 MiB, 0.97x. The time is inside the spread at this load: a memory
 * gain, not a claimed speed-up.
 *
 * Tried and dropped: `--scavenger-chaos-mode --scavenger-chaos-mode-
 * threshold=100` (promote every survivor at its first scavenge, so the
 * ~104 MB copied within the young generation during the load are copied
 * once instead of twice): user CPU 1.86 / 1.85 s against 1.86 / 1.91 s
 * without (two alternating rounds, load 17-19), peak RSS +20-30 MiB: no
 * gain, and a fuzzing flag. The YAML worker did no work in a profiled
 * cold `dbt parse` at load 13: the main thread claimed all 10 property
 * files before the worker had loaded js-yaml (its profile: 543 of 546 ms
 * idle), so under load the YAML is parsed on the main thread anyway.
 *
 * Session 2026-12-07 (11), 13:38-14:35 UTC through /work/wt/heavy, load
 * average 4-13 the whole time (other engineers' tests; no quiet window after
 * 13:37): the quiet starting point, measured by the lead at 13:37 at load 1.2
 * (`--parse 10000`, wall / CPU of all threads / main-thread CPU): cold 1,074
 * / 1,695 / 930 ms; `dbt parse` 1,667 / 2,395 / 1,540; `deno task dbt parse`
 * 2,231 / 3,000, of which 489 / 550 on a project of no model. NOT met with
 * margin: the <= ~800 ms cold wall asked for could not be shown (no quiet
 * window); what changed, and what is left.
 *
 * Where the main thread's time went before (manual timers per phase, thread
 * CPU in 10 ms ticks, load 2-5): listing the folders and reading the 10k SQL
 * 100-130 ms; then it waited for the YAML worker or parsed, cold, the
 * property files the worker had not reached (`finish`: 386-553 ms wall for
 * 70-110 ms of CPU); macros 50; static parse 120-130; the 30k tests 160-200
 * (refuseDuplicates 20-30 of it); dropDisabled 30, relations 40, nodes 30-40.
 * A worker reads 2.5 MB of YAML in 200-300 ms cold (JIT warm-up: the first
 * two files cost 3x the later ones) and `new Worker` blocks the main thread
 * 12-65 ms (Deno's op_create_worker waits for the worker's runtime). Under a
 * profiler the worker never starts in time
 * (`op_worker_maybe_wait_for_debugger`), so profiles show all YAML on the
 * main thread: the phase timers are the figures to trust here.
 *
 * Landed: (1) 51e27cf: the macros are loaded and the models parsed statically
 * while the worker parses the property YAML (readProject reads every
 * package's files, hands each package's YAML to the worker, calls
 * `beforeProperties`, then validates each package's YAML in order; errors
 * keep their order, a broken property file before a broken macro: tests/
 * resources/dbt/parallel_parse_test.ts). After it, the main thread's wait for
 * the YAML is 20-30 ms of CPU (it parses no property file when the worker
 * gets its core), and a persistent parse cache's sha256 key is made once per
 * model text, not twice. (2) 56d9791: a package's folders are walked once per
 * read (listing a 10k-model folder for its YAML, SQL and docs: 108-132 ms ->
 * 47-48 ms, medians of 8 at load 11). manifest.json and partial_parse.json
 * byte-identical (times and invocation id masked) for the 10k generated
 * project, dbt/, jaffle_shop_classic, community_like, mrr_playbook_like,
 * package_probe, sl_shop and jinja_heavy.
 *
 * Before = 333bb9c, after = 56d9791 (both landed changes), a new process
 * each, alternating (ms):
 *
 * | 10k models, cold, rounds, load          | before: range (median) | after: range (median)       |
 * |-----------------------------------------|------------------------|-----------------------------|
 * | load, main-thread CPU, 4, 4.7-5.3       | 830-940 (905)          | 760-900 (790), 0.87x        |
 * | load, wall, same 4                      | 1,091-3,611            | 933-2,697                   |
 * | load, main-thread CPU, 5, 8.8-9.9       | 820-990 (940)          | 780-950 (840), 0.89x        |
 * | load, CPU of all threads, same 5        | 1,551-1,870 (1,718)    | 1,533-1,778 (1,642), 0.96x  |
 * | load, wall, same 5                      | 1,813-2,315 (1,991)    | 1,748-2,284 (2,022)         |
 * | `dbt parse`, main-thread CPU, 6, 4.3-13.5 | 1,500-1,910 (1,775)  | 1,460-1,880 (1,540), 0.87x  |
 * | `dbt parse`, CPU of all threads, same 6 | 2,458-2,917 (2,803)    | 2,393-2,948 (2,480), 0.88x  |
 * | `deno task dbt parse`, CPU, 3, 11.8-12.7 | 2,907-3,532 (3,106)   | 3,064-3,203 (3,082), spread |
 *
 * At load ~5 each after run's wall was below the before run's next to it (4
 * of 4) and its main-thread CPU below or equal (3 of 4 below); the best cold
 * wall was 933 ms after against 1,091 before (load 4.7-5.0). The full
 * `--parse 10000` after (14:14, load 5.1): cold 2,441 / 1,600 / 850; `dbt
 * parse` 4,136 / 2,476 / 1,580; `deno task dbt parse` 5,837 / 3,200, fixed
 * 1,143 / 620; parse cache 1,274 / 944 / 600; one file edited in a daemon
 * (`reloadProject`) 8.95 ms (goal <= 50, met); read+YAML floor 3,090 / 2,420
 * / 1,700. The jaffle_shop PGlite build's peak was 282-289 MiB after against
 * 270-291 before (load 13, two rounds each; 304-308 MiB in that full run at
 * load 5): not changed by this work, but above the < 300 MiB goal in some
 * runs.
 *
 * What is left for a cold 10k load <= 800 ms wall with margin: on a quiet
 * machine the main thread's CPU bounds it (the worker's YAML, 200-300 ms from
 * ~50 ms in, now runs beside ~300 ms of main-thread listing, macros and
 * static parses), and that CPU is ~780-850 ms here at load 5-9 (0.87- 0.89x
 * of before; the 930 ms quiet figure scaled: ~810-830). What remains after
 * the YAML, all on the main thread: the 30k generic tests 180-210 ms (6 us
 * per test: specs, names, closures; their duplicate check 20-30), the 10k SQL
 * reads ~60-90, validation 30, relations 30-50, nodes 40-50, dropDisabled
 * 30-40, and garbage collection across all of them (~25% of the main thread).
 * The next step is the tests as plain data (their SQL closures and the
 * per-test context made when a test is compiled or run, not at load), then
 * handing the worker, once its YAML is done, work that needs only the texts
 * (the static parses of the second half of the models). `dbt parse` adds
 * manifest.json (~600-700 ms of main-thread CPU) and `deno task dbt parse`
 * the launcher and module loading (~490 ms quiet): neither was changed this
 * session, so those rows are still ~1.5x and ~2x the 1 s goal.
 *
 * Session 2026-12-07 (12), 16:58-18:30 UTC, load average 12-21 the whole
 * time (no quiet window; wall times say nothing): the fixed start-up of
 * `deno task dbt parse` (and of every `deno task`). NOT met: the goal and
 * the lead's quiet row (1,910 ms wall / 2,590 ms CPU, of which 447 / 490
 * fixed) were not measured again at a quiet load. Where the fixed cost went
 * (a project of no model; CPU, blocks of 9 runs): `deno task` ~10 ms; the
 * launcher ~90-110 ms (Deno's start ~20-40, zod and the configuration
 * schema ~35, the `yaml` package ~15, the permissions ~10, no second process
 * of its own); the command ~215-290 ms (Deno's start ~20, main.ts and the
 * dbt CLI's ~80 modules with zod, nunjucks and js-yaml ~100, the global
 * project's 143 macros compiled by nunjucks ~60-100, the empty manifest
 * ~10). No type checking (`deno run` does none), no npm resolution beyond
 * the lockfile (~4 ms), and the AWS SDK, DuckDB and PGlite were never
 * executed, but they were read, parsed and resolved: three causes found.
 * (1) Deno follows every literal `await import("./x.ts")` when the module
 * holding it loads: main.ts's lazy commands reach graph.ts, the UI, the AWS
 * SDK, DuckDB and PGlite, walked before `dbt parse` started (`main.ts
 * --help` 96 -> 30 ms of CPU; the command of an empty `dbt parse` 287 -> 215
 * ms, load ~12). launch.ts now runs commands with
 * `--unstable-lazy-dynamic-imports` (aeea2a5; not `deno compile`). (2) V8
 * rejects a code cache made under other V8 flags, and Deno keeps one cache
 * entry per module: the launcher (no flags) and its command
 * (`--max-semi-space-size=8 ...`) load the same modules (zod, the
 * configuration, Node's polyfills), so each process recompiled them and
 * rewrote the cache at every start; the task lines now give the launcher its
 * command's flags (099c018; `dbt`: those of `dbt parse`): an empty `dbt
 * parse` task 459-476 -> 365-391 ms of CPU (medians, load 16-19). Any other
 * process with other flags sharing DENO_DIR (`deno test`, a `dbt build`
 * between two `dbt parse`) costs the next command the same once; on this
 * shared machine other engineers' tests do that all day, which is part of
 * why fixed costs ran 2x the lead's here. (3) The launcher parsed
 * profiles.yml with the `yaml` package (YAML 1.2, ~15 ms to load); it now
 * uses the dbt command's js-yaml reader (b305de6; PyYAML's YAML 1.1, so an
 * octal port is granted as dbt reads it): launcher 110 -> 92 ms.
 *
 * All three against HEAD without them (the same code otherwise; blocks of 9
 * runs, two rounds, CPU medians, 17:56-18:00 at load 16-22, a project of no
 * model): `deno task dbt parse` 656 / 682 -> 471 / 504 ms (0.72-0.74x),
 * wall 3,014 / 4,012 -> 1,871 / 3,185 ms; the command process alone 441 /
 * 476 -> 368 / 356 ms (0.80x); the launcher alone 147 / 128 -> 104 / 124.
 * `--parse 10000` through /work/wt/heavy, before = dee1aa4 (main before this
 * work) and after = 3086f95, alternating, 17:25-18:09, with this session's
 * rows (wall / CPU of all threads / main-thread CPU; "fixed" rows: medians
 * of 5 runs):
 *
 * | 10k models           | before 1, load 18.8   | before 2, load 16.6   | after 1, load 19.8    | after 2, load 14.1    |
 * |----------------------|-----------------------|-----------------------|-----------------------|-----------------------|
 * | cold load            | 5,099 / 1,367 / 700   | 3,654 / 1,521 / 790   | 5,999 / 1,527 / 780   | 4,040 / 1,432 / 710   |
 * | `dbt parse`          | 8,768 / 2,259 / 1,390 | 5,264 / 2,412 / 1,450 | 9,922 / 2,401 / 1,510 | 6,855 / 2,403 / 1,440 |
 * | of it, manifest.json | 3,313 / 852 / 690     | 1,929 / 905 / 700     | 3,451 / 899 / 730     | 2,792 / 822 / 640     |
 * | `deno task dbt parse`| 9,882 / 2,710         | 7,307 / 2,960         | 12,989 / 2,860        | 9,782 / 2,720         |
 * | fixed (no model)     | 1,736 / 510           | 1,365 / 560           | 1,917 / 460           | 1,045 / 450           |
 * | the launcher alone   | 427 / 110             | 274 / 120             | 355 / 90              | 342 / 100             |
 * | the command alone    | 993 / 320             | 688 / 310             | 1,354 / 340           | 887 / 340             |
 * | Deno, empty module   | 57 / 20               | 15 / 20               | 89 / 20               | 65 / 20               |
 *
 * The fixed row's CPU 0.80-0.90x of before, the launcher's 0.83x; the
 * command alone did not move against dee1aa4 because a dbt change landed
 * between the two trees costs it ~30-40 ms (dee1aa4 against HEAD without
 * this work: 385 / 367 -> 428 / 398 ms, same blocks).
 *
 * At this load the 10k rows' CPU moved with the load (the cold load alone,
 * untouched here, spread 1,367-1,536 ms): the fixed row is the one these
 * changes move; the rest is inside the spread. manifest.json (76 MB) costs
 * ~820-900 ms of CPU here, ~640-730 on the main thread: a
 * profile of its write (load 16) gives JSON.stringify of the slices ~40%,
 * the nodes' values (modelJson, testJson) ~11%, GC ~7%, the tests' md5 ids
 * ~6%, UTF-8 encoding and writes ~5%; JSON.stringify of the same values
 * re-parsed (plain objects) was no faster (its fast path is taken): the text
 * is the floor on one thread, and earlier sessions found a worker's
 * structured clone costs what it would save. Left alone: the global
 * project's 143 macros compiled at every start (~60-100 ms of the empty
 * command; a cache of their compiled code is the Jinja renderer's work);
 * the launcher's zod (permissions from validated values); `dbt parse`'s own
 * `--initial-old-space-size=512`, which makes `dbt parse` and `dbt build`
 * (and the launcher of one or the other) disagree on flags, so switching
 * between them recompiles once (~60-70 ms of CPU for the empty command).
 *
 * ## Compiling every node's SQL (issue #18: bench/dbt reports parse+compile)
 *
 * Session 2026-12-07 (12), 17:00-18:30 UTC, load 1-2 at its start, then 12-19.
 * The quiet start (the lead's `--parse 10000`, load 1.0): the row "the same,
 * then compiling every node's SQL" 4,067 ms wall / 5,054 CPU / 3,940 main, so
 * compiling 10k models' SQL cost ~3.1 s (~0.3 ms a model). Where it went
 * (CPU profile): nunjucks' parse and code generation of each model's
 * template ~1.25 s, `new Function` and V8 compiling each new function on its
 * first render ~1.4 s, the renders themselves ~0.25 s, each node's `model`
 * dict ~0.1-0.3 s. What changed: templates of one shape share one compiled
 * function (resources/dbt/jinja/skeleton.ts: plain text and plain string
 * literals become marks, the marked skeleton is compiled once per process
 * and per parse cache, each template calls it with its own values and
 * line/column numbers; a scan of the text finds the marks, not nunjucks'
 * lexer, which cost ~0.45 s for 10k); a node's `model` dict is made when a
 * template first reads it. Before = main at ebfd70a, after = ec98912, a new
 * process each (`--load-once --no-cache [--compile-all]`, the task's V8
 * flags), three alternating rounds through /work/wt/heavy, 18:03-18:05 at
 * load 12.2-16.8 (ms):
 *
 * | 10k models                           | before: range (median)    | after: range (median)          |
 * |--------------------------------------|---------------------------|--------------------------------|
 * | load + compile all, main-thread CPU  | 4,120-4,360 (4,290)       | 1,010-1,090 (1,040), 0.24x     |
 * | load + compile all, CPU all threads  | 5,306-5,566 (5,514)       | 1,791-1,953 (1,874), 0.34x     |
 * | load + compile all, wall             | 12,628-15,073 (14,739)    | 4,337-5,484 (4,390), 0.30x     |
 * | cold load alone, main-thread CPU     | 720-750 (740)             | 690-830 (820), inside spread   |
 *
 * The full `--parse 10000` after (main at b58fa14, 18:23-18:25, load 5.8-6.6;
 * wall / CPU of all threads / main-thread CPU): compiling every node's SQL
 * 2,929 / 1,978 / 1,090 ms against the quiet start's 4,067 / 5,054 / 3,940
 * (0.72x / 0.39x / 0.28x at six times the load); without the static parser
 * (every model rendered at parse) 3,086 / 1,803 / 960 against 3,491 wall;
 * cold load 1,731 / 1,580 / 780 (wall load-bound: the quiet 903 ms was not
 * re-measured); one file edited in a daemon 28 / 13 / 10 (goal <= 50).
 *
 * The compile alone (main thread, compile-all minus the cold load of the same
 * round): ~3,400-3,640 ms before, ~220-320 ms after: ~12x faster. Compiled SQL
 * of the 10k project byte-identical; 22,959 renders of tools/jinja_fuzz
 * templates (3 seeds x 3,000, and 13,960 variants sharing a shape with their
 * template: every text and literal changed, lines added) byte-identical in
 * output and error message (with line) against the same tree with sharing
 * off. The cold load rows above include a cost the skeletons added and
 * 01e80f2 cut: the global project's macros (one 15 kB template, 184 kB of
 * code) went through a character loop run interpreted in a cold process
 * (~50 ms at load 13 the first time; 18 ms after, 1.4-2.3 ms warm). Not
 * done: the cold load itself (task 1 of the session: the 30k tests as plain
 * data, static parses on the YAML worker) had no time left; a finding for
 * it: `preprocess` runs separateClosingBraces on any model with `}},` or
 * `}} ,` (`{{ col }},`, common SQL), whose NESTED_CLOSE pre-check is meant to
 * skip plain templates (~90 ms self of a profiled 10k static parse), and
 * runs again for each compile.
 *
 * ## The cold load's own half, session 13 (issue #18: parse+compile of 10k <= 1 s)
 *
 * Session 2026-12-07 (13), 20:35-22:15 UTC, load 1-4 at its start, then
 * 13-27 (no quiet window after 20:40, so no quiet wall figure). The goal
 * read as parse+compile: the lead's quiet run (load 0.6, 1441d5a) had the
 * cold load at 881 ms wall and load + compiling every node at 1,174 ms.
 * This session cut the load (the compile is another engineer's). What
 * changed:
 *
 * - a6dc717: the global project's macros (one 24 kB template of the
 *   cross-database, materialization and adapter macros) are compiled when the
 *   runner is built (resources/dbt/jinja/global_compiled.ts, written by
 *   tools/gen_global_compiled.ts; used only for that exact text, by sha256;
 *   tests/resources/dbt/jinja/precompiled_test.ts fails when it is out of
 *   date). Loading them went from 44-53 to 4.2-4.5 ms of main-thread CPU in a
 *   new process, in every `dbt` command.
 * - 577eac2: the generic tests of a properties entry were keyed for a reload
 *   in the same process (relations printed, macros looked up, 10k keys per
 *   10k-model load) and never reused: the memo compared dbt_project.yml's
 *   object, new at every load. Dropped: the 30k tests 174-191 -> 163-176 ms.
 * - dc68480: the static parser's tokenizer compares character codes (no regex
 *   test per character): static parses 100-104 -> 92-98 ms.
 * - bd5a117 (after the table below): whether the root project overrides a
 *   built-in materialization is looked up once per materialization, not per
 *   node: configs and relations 32-41 -> 31-34 ms (load ~19).
 *
 * Before = main at dc68480 without those three commits, after = dc68480, a
 * new process each (`--load-once --no-cache [--compile-all]`, the task's V8
 * flags), five alternating rounds through /work/wt/heavy, 21:25-21:28 UTC at
 * load 20.7-24.5 (ms, range and median):
 *
 * | new process                             | before              | after               | after/before |
 * |-----------------------------------------|---------------------|---------------------|--------------|
 * | 10k cold load, main-thread CPU          | 670-740 (720)       | 650-720 (690)       | 0.96x        |
 * | 10k cold load, CPU all threads          | 1,344-1,427 (1,390) | 1,282-1,353 (1,310) | 0.94x        |
 * | 10k load + compile all, main-thread CPU | 950-1,030 (1,010)   | 860-910 (880)       | 0.87x        |
 * | 10k load + compile all, CPU all threads | 1,719-1,834 (1,773) | 1,582-1,644 (1,612) | 0.91x        |
 * | empty project (the macros), main CPU    | 80-90 (80)          | 30-40 (40)          | 0.5x         |
 * | empty project, CPU all threads          | 118-137 (127)       | 48-53 (50)          | 0.39x        |
 *
 * Wall (4.8-8.2 s for 10k) followed the load and is not compared. An earlier
 * round (four alternating, load 19-27, before the tokenizer) gave the cold
 * load's main thread 720-800 (770) -> 650-660 (660) ms and load + compile all
 * 990-1,060 -> 920-960 ms: the cold gain is 30-110 ms of main-thread CPU,
 * inside the spread at this load. Manifest.json, semantic_manifest.json and
 * every node's compiled SQL byte-identical before/after for the 10k project
 * and 7 fixture projects (community_like, jaffle_shop_classic,
 * jaffle_shop_modern, jinja_heavy, mrr_playbook_like, package_probe,
 * sl_shop).
 *
 * NOT met, and not shown quietly: from the quiet 881 / 1,174 ms, a
 * 40-110 ms cut puts a quiet parse+compile near 1.05-1.13 s (an estimate, not
 * a measurement), over 1 s and well over the 850 ms aimed at. Main-thread
 * CPU of one cold 10k load after (thread schedstat, load ~17): listing and
 * reading 85-100 ms (reading the 10k SQL files ~65, listing the YAML ~15,
 * dbt_project.yml and profiles ~10); macros 17-28 (was 56-77); static parses
 * 92-98 (preprocess, jinja/python.ts, about half); the YAML's end 66-83 (the
 * worker's values received 15-21, zod compiling the schema 19-22, validation
 * 23-29); parseAll 27-36; disabled check 26-36; relations 27-43; nodes
 * 41-48; access 10-19; the 30k tests 157-176. What is left: the tests (30k
 * instances, names, fqn arrays, closures, and their garbage; refusing
 * duplicates hashes 30k names); the reads (syscalls: a worker would read
 * them no sooner, its start takes 24-74 ms of wall at load 4); zod's
 * compile per process; `new Worker` blocks the main thread until the thread
 * runs (24-74 ms of wall, 1-4 ms of CPU, at load 4). Landed meanwhile by
 * another change (6a98754, dbt's unused-config-paths warning): each load
 * now also works out every resource's fqn and the unused config paths
 * (~2% of a profiled cold 10k load); the table's before and after both have it.
 *
 * ## Compiling every node's SQL, session 13 (the compile half of parse+compile)
 *
 * Session 2026-12-07 (13), 20:35-22:15 UTC, load 13-21 the whole time (no quiet
 * figure). Where the compile of 10k generated models went after the load
 * (thread schedstat and CPU profiles, ~240 ms of main-thread CPU at load ~15):
 * rendering ~50% (the skeleton's function; ref and the scale macro through
 * callWrap ~50 ms profiled; loop frames ~35 ms, of which nunjucks' Frame.set
 * ~26 ms splitting `loop.index` and the like at every set), building each
 * template ~30% (the skeleton split ~35 ms, preprocess ~25 ms, positions ~5),
 * the scopes and CTE check ~20%; garbage collection on top (~160 MB allocated
 * for 10k models, ~18 MB of it kept: SQL, templates, marks, positions). What
 * changed, each with its output checked byte-identical:
 *
 * - 9d3de29: separateClosingBraces (jinja/python.ts) jumps between quotes,
 *   braces and `%` by regex and gives the text itself back when nothing needs
 *   a space (a character loop copied every model passing the `}},` pre-check,
 *   at parse and again at compile): preprocess of 10k models 24-27 -> 16-19 ms.
 * - 064e37f: the skeleton split (jinja/skeleton.ts) tests ASCII whitespace
 *   without a regex, looks for `#}` once per position, reuses mark texts,
 *   reads tag stops without match arrays: 34-35 -> 25-28 ms.
 * - 77e2620: nunjucks' runtime frames split a name at its dots once per
 *   process (~11 MB of arrays per 10k models; 252k sets 16-18 -> 6-11 ms).
 * - 298983f (after the table below): a node's compile scope reuses its
 *   package's parse-scope members, one scope copy per render instead of two,
 *   no ephemeral closure for a node that refs no ephemeral model.
 *
 * Before = main at 777c400, after = 77e2620, a new process each
 * (`--load-once --no-cache [--compile-all]`, the task's V8 flags), three
 * alternating rounds through /work/wt/heavy, 21:29-21:31 UTC at load
 * 19.9-21.5 (main-thread CPU, ms, 10 ms ticks):
 *
 * | 10k models, new process             | before: rounds (median)   | after: rounds (median) | after/before  |
 * |-------------------------------------|---------------------------|------------------------|---------------|
 * | cold load + compile all             | 1,020, 930, 1,010 (1,010) | 890, 920, 950 (920)    | 0.91x         |
 * | cold load alone                     | 700, 700, 720 (700)       | 610, 730, 690 (690)    | inside spread |
 * | the compile (difference of the two) | 320, 230, 290 (290)       | 280, 190, 260 (260)    | ~0.9x         |
 *
 * With 298983f too (after = main at 298983f), four alternating rounds,
 * 21:51-21:52 UTC at load 8.9-15.6: load + compile all 840, 880, 930, 890
 * (885) -> 890, 740, 860, 920 (875); cold load 600, 680, 610, 630 (620) ->
 * 660, 610, 650, 660 (655); the compile (difference) 240, 200, 320, 260 (250)
 * -> 230, 130, 210, 260 (220), ~0.88x, inside the spread at this load: no
 * end-to-end gain is claimed from these figures.
 *
 * The full `--parse 10000` right after, old then new (load 18.8-19.9; wall /
 * CPU of all threads / main-thread CPU): "compiling every node's SQL" 15,433
 * / 1,849 / 1,020 -> 10,551 / 1,742 / 960; cold 7,144 / 1,394 / 720 -> 7,822 /
 * 1,303 / 660. Wall followed the load (4-20 s) and says nothing here.
 * Checked: compiled SQL of the 10k project and of 8 fixture projects
 * (community_like, jaffle_shop_classic, jaffle_shop_modern, jinja_heavy,
 * mrr_playbook_like, package_probe, sl_shop, our dbt/) byte-identical; 36,000
 * tools/jinja_fuzz templates and mutants (3 seeds x 2,000, each also without
 * its prelude and with 1-3 random edits: braces, quotes, `%}`, raw tags,
 * backslashes) give the same preprocess output, render output and error
 * message before/after each commit; the differential against Jinja2 3.1.6
 * (`tools/jinja_fuzz/run.ts --cases 2000`, seeds 1-3) gives the same counts
 * before and after (4 / 12 / 7 divergences, 1,231 / 1,248 / 1,266 rendered
 * by both).
 *
 * The bench's `--load-once` child imports this whole file (DuckDB's module,
 * the PostgreSQL helper): that happens before `cpuTimed` starts, so it is
 * outside the timed figure. Loads in a child importing only resources/dbt
 * against one also importing this file (four alternating rounds, load 13-16)
 * were inside each other's spread (656-770 against 701-795 ms of
 * main-thread CPU): no change made to the child.
 *
 * NOT met: the compile is still ~190-280 ms of main-thread CPU at this load
 * (~0.9x of before); with the cold load's half (section above) a quiet
 * parse+compile is estimated near 1.0-1.1 s, not the 850 ms aimed at. What
 * is left in the compile: each render's nunjucks Context, frames and loop
 * objects (13 members and two closures per iteration), the ref chain
 * (callWrap, the override check, argument splitting, versionedRef, the
 * relation), the skeleton split's strings and arrays, and the garbage
 * collection of what each node keeps (the SQL as a cons string of ~20
 * pieces, its template, marks and positions).
 *
 * ## PGlite peak memory of the jaffle_shop `dbt build` (goal: < 300 MiB; issue #18)
 *
 * The bench measured a process that `deno task dbt build` never is: the
 * child was this file run with `--jaffle`, so it held this file's imports,
 * among them resources/warehouse/mod.ts, which loads DuckDB's native library
 * (24 MiB of RSS before the build: VmHWM 102-103 MiB after `dbt deps`
 * against 77-80 without it), and it ran without the command's V8 flags
 * (core/cli/v8_flags.ts: `--max-semi-space-size=8`). The child is now
 * bench/_dbt_jaffle_child.ts, importing only the dbt CLI, run with
 * `commandV8Flags(["dbt", "build"])`; it fails if DuckDB's library is
 * mapped. Alternating old child / new child, three rounds, 2026-12-07
 * 14:46-14:50 UTC, load 3.8-5.8 (MiB of VmHWM; build ms):
 *
 * | jaffle_shop, PGlite | before: peaks (median) | after: peaks (median)     | build ms, before / after  |
 * |---------------------|------------------------|---------------------------|---------------------------|
 * | existing data dir   | 292, 292, 294 (292)    | 242, 250, 256 (250) 0.86x | 1,229-2,296 / 1,049-1,761 |
 * | new data dir        | 270, 293, 305 (293)    | 244, 245, 266 (245) 0.84x | 4,590-6,659 / 4,393-7,236 |
 *
 * Where the ~250 MiB goes (Deno.memoryUsage() sampled every 5 ms and
 * /proc/self/smaps at the end of a build on an existing dir): V8's heap
 * 45-60 MiB committed (32-40 used); PGlite's WASM memory is reserved at
 * 128 MiB (PGlite's default `initialMemory`) and never grew during the
 * build, of which only ~31 MiB were ever touched (shared_buffers is 16 MB,
 * resources/warehouse/pglite.ts), so `initialMemory` and the Postgres
 * memory settings (work_mem, temp_buffers, ...) have at most a few MiB to
 * give; the deno binary's mapped code ~48 MiB (shared, file-backed);
 * malloc arenas of Deno's threads ~60 MiB (PGlite's 9 MB pglite.wasm and
 * its compiled code, the 6 MB pglite.data file bundle and its in-memory
 * files); `external` 16-26 MiB. The peak comes at the end (the tests),
 * 20-40 MiB above the RSS left after the build. Not done: lowering
 * shared_buffers further (<= 8 MiB to gain, untested for speed).
 *
 * @module
 */

import process from "node:process";
import { parse as parseYaml } from "yaml";
import { loadProject, reloadProject, runProject, writeManifest } from "../resources/dbt/mod.ts";
import { openWarehouse, type Warehouse } from "../resources/warehouse/mod.ts";
import { startPostgres } from "../tests/_helpers/postgres.ts";
import { commandV8Flags, v8FlagsOption } from "../core/cli/v8_flags.ts";
import { launchCommand } from "../launch.ts";

const ROUNDS = 5;
/** The V8 flags of `deno task dbt parse`'s command process, for the children timing a load. */
const PARSE_V8_FLAGS = v8FlagsOption(commandV8Flags(["dbt", "parse"]));

/** Runs the benchmark and prints its figures. */
export async function main(sizes = [1000, 10000], runModels = 200): Promise<void> {
  for (const models of sizes) {
    const dir = await Deno.makeTempDir({ prefix: "bench-dbt-" });
    try {
      await generate(dir, models);
      await benchColdProcess(dir, models);
      if (models <= 1000) await benchCompile(dir, models);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
  await benchJaffle();
  await benchOurProject();
  await benchQuickStartMemory();
  {
    const small = await Deno.makeTempDir({ prefix: "bench-dbt-run-" });
    try {
      await generate(small, runModels);
      await benchRun("pglite (memory)", small, runModels, () => openWarehouse("pglite:memory:"));
      const pg = await startPostgres({ databaseUrl: undefined });
      try {
        await benchRun("postgres", small, runModels, () => openWarehouse(pg.url));
      } finally {
        await pg.stop();
      }
    } finally {
      await Deno.remove(small, { recursive: true });
    }
  }
}

/** Writes a layered project: 10 folders of models, each model refs up to two earlier ones. */
export async function generate(dir: string, models: number): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/dbt_project.yml`,
    `name: bench\nversion: "1"\nconfig-version: 2\nprofile: bench\nvars:\n  factor: 3\n` +
      `models:\n  bench:\n    +materialized: view\n    layer_0:\n      +schema: base\n`,
  );
  await Deno.writeTextFile(
    `${dir}/profiles.yml`,
    `bench:\n  target: embedded\n  outputs:\n    embedded:\n      type: postgres\n      schema: bench\n`,
  );
  await Deno.mkdir(`${dir}/macros`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/macros/scale.sql`,
    "{% macro scale(col) %}({{ col }} * {{ var('factor') }}){% endmacro %}",
  );
  const perFolder = Math.ceil(models / 10);
  for (let folder = 0; folder * perFolder < models; folder++) {
    const path = `${dir}/models/layer_${folder}`;
    await Deno.mkdir(path, { recursive: true });
    let yml = "version: 2\nmodels:\n";
    for (let i = folder * perFolder; i < Math.min(models, (folder + 1) * perFolder); i++) {
      const name = `m_${String(i).padStart(4, "0")}`;
      // One parent in the previous folder and one leaf of the first: refs cross
      // folders while views nest at most 10 deep (planning stays linear).
      const parents = folder === 0
        ? []
        : [i - perFolder, i % perFolder].filter((p, k, a) => a.indexOf(p) === k);
      const from = parents.length === 0
        ? "(select 1 as id, 'a' as kind) as seed"
        : parents.map((p, k) => `{{ ref('m_${String(p).padStart(4, "0")}') }} as p${k}`).join(
          " cross join ",
        );
      const sql = parents.length === 0
        ? `select id, kind, {{ scale('id') }} as amount from ${from}`
        : `{%- set cols = ['id', 'kind'] %}\nselect {% for c in cols %}p0.{{ c }}, {% endfor %}` +
          `{{ scale('p0.amount') }} as amount\nfrom ${from}\nlimit 1`;
      await Deno.writeTextFile(`${path}/${name}.sql`, sql);
      yml += `  - name: ${name}\n    description: Generated model ${i}.\n    columns:\n` +
        `      - name: id\n        description: Id.\n        data_tests: [not_null, unique]\n` +
        `      - name: kind\n        data_tests:\n          - accepted_values:\n` +
        `              values: ['a', 'b']\n`;
    }
    await Deno.writeTextFile(`${path}/schema.yml`, yml);
  }
}

async function benchCompile(dir: string, models: number): Promise<void> {
  const cold = await cpuTimed(() => loadProject(dir, { cache: false })); // JIT warm-up
  const baseline: Timing[] = [];
  const fresh: Timing[] = [];
  const cached: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    baseline.push(await cpuTimed(() => readAndParse(dir)));
    fresh.push(await cpuTimed(() => loadProject(dir, { cache: false })));
    cached.push(await cpuTimed(() => loadProject(dir)));
  }
  const project = await loadProject(dir);
  const [load1] = Deno.loadavg();
  console.log(
    `parse+compile ${models} models, ${project.tests.length} tests ` +
      `(load average ${
        load1?.toFixed(1)
      } on ${navigator.hardwareConcurrency} cores; wall / cpu ms):`,
  );
  const line = (label: string, list: readonly Timing[]) => {
    const wall = best(list, "wall");
    const cpu = best(list, "cpu");
    console.log(
      `  ${label.padEnd(44)} best ${ms(wall)} / ${ms(cpu)}, median ${
        ms(median(list.map((t) => t.wall)))
      } / ` +
        `${ms(median(list.map((t) => t.cpu)))}`,
    );
  };
  console.log(
    `  ${"first load in this process (cold JIT, no cache)".padEnd(44)} ${ms(cold.wall)} / ${
      ms(cold.cpu)
    }`,
  );
  line("warm, compiling every template", fresh);
  line("warm, parse cache (unchanged files)", cached);
  line("baseline: read files + parse YAML only", baseline);
  const b = best(baseline, "cpu");
  console.log(
    `  ratios (cpu): compile/baseline ${(best(fresh, "cpu") / b).toFixed(1)}x, ` +
      `cached/baseline ${(best(cached, "cpu") / b).toFixed(1)}x; ` +
      `target < 1000 ms warm: ${best(fresh, "wall") < 1000 ? "met" : "NOT met"}`,
  );
}

/**
 * What `deno task materialize` / `deno task dbt parse` pay: a new process
 * loading the project once — with no parse cache, then with the cache the
 * first wrote, then after editing one model — and a process that stays up
 * (a daemon) loading again after a one-file edit.
 */
async function benchColdProcess(dir: string, models: number): Promise<void> {
  const once = async (...flags: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      // With the V8 flags `deno task dbt parse` runs with (core/cli/v8_flags.ts).
      args: [
        "run",
        "-A",
        PARSE_V8_FLAGS,
        new URL(import.meta.url).pathname,
        "--load-once",
        dir,
        ...flags,
      ],
      stdout: "piped",
    }).output();
    if (!out.success) throw new Error("bench: the --load-once child failed");
    return JSON.parse(new TextDecoder().decode(out.stdout)) as Timing;
  };
  // Discarded: this process (no V8 flags) loaded the dbt modules, and V8 rejects a code cache
  // made under other flags (core/cli/v8_flags.ts), so the first child recompiles them; a user
  // repeating `deno task dbt parse` finds Deno's cache made under the task's flags.
  await once("--no-cache");
  const cold = await once("--no-cache");
  const parseCommand = await once("--dbt-parse");
  // The manifest's share of `dbt parse`: manifest.json (and semantic_manifest.json) written
  // for the project a cold load gave, in a new process.
  const manifest = await once("--no-cache", "--write-manifest");
  const cli = await taskDbtParse(dir);
  // What the task costs before any model: deno task, the launcher, the command's start and
  // exit, and the global project's macros (a project of no model); then its parts: the
  // launcher alone (it prints the command line instead of starting it), the command process
  // alone (that command line), and Deno starting an empty module (what each process pays).
  const empty = await Deno.makeTempDir({ prefix: "bench-dbt-empty-" });
  let fixed, launcher, command, denoStart;
  try {
    await generate(empty, 0);
    const parseArgs = ["dbt", "parse", "--project-dir", empty, "--profiles-dir", empty];
    fixed = await medianRun(() => taskDbtParse(empty));
    // The task's own line (its V8 flags too), the launcher told to print instead of start.
    const task = await dbtTaskArgs();
    task.splice(task.indexOf("launch.ts") + 1, 0, "--print");
    launcher = await medianRun(() => processTimed([...task, ...parseArgs.slice(1)]));
    const argv = launchCommand(parseArgs, { cwd: ROOT, dotenvPath: `${ROOT}/.env` });
    command = await medianRun(async () => {
      await Deno.remove(`${empty}/target`, { recursive: true }).catch(() => {});
      return await processTimed(argv);
    });
    const nothing = `${empty}/nothing.ts`;
    await Deno.writeTextFile(nothing, "");
    denoStart = await medianRun(() => processTimed(["run", nothing]));
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
  const coldStatic = await once("--no-cache", "--no-static");
  const coldCompiled = await once("--no-cache", "--compile-all");
  await once(); // writes the cache
  const cached = await once();
  await editOneModel(dir);
  const edited = await once();
  // A process that stays up: load, edit one file, load again (median of 5 edits): the whole
  // project looked at again (every file stat-ed), and the file a watcher names re-parsed alone.
  let project = await loadProject(dir);
  await new Promise((resolve) => setTimeout(resolve, 2_100)); // files older than the racy window
  project = await loadProject(dir);
  const edits: Timing[] = [];
  const partial: Timing[] = [];
  for (let i = 0; i < 5; i++) {
    await editOneModel(dir);
    edits.push(await cpuTimed(async () => project = await loadProject(dir)));
  }
  for (let i = 0; i < 9; i++) {
    const path = await editOneModel(dir);
    const name = path.slice(path.lastIndexOf("/") + 1, -".sql".length);
    partial.push(
      await cpuTimed(async () => {
        project = await reloadProject(project, [path]);
        void project.models.get(name)?.compiledCode; // and its SQL, as a dev loop shows it
      }),
    );
  }
  const medianOf = (list: readonly Timing[]) => ({
    wall: median(list.map((t) => t.wall)),
    cpu: median(list.map((t) => t.cpu)),
    main: median(list.map((t) => t.main)),
  });
  const warmEdit = medianOf(edits);
  const partialEdit = medianOf(partial);
  const floor = await cpuTimed(() => readAndParse(dir));
  const [load1] = Deno.loadavg();
  console.log(
    `parse ${models} models (wall / cpu all threads / cpu main thread ms; goals: 10k cold <= 1000, ` +
      `edit <= 50; load average ` +
      `${load1?.toFixed(1)} on ${navigator.hardwareConcurrency} cores):`,
  );
  const row = (label: string, t: Timing) =>
    console.log(`  ${label.padEnd(48)} ${ms(t.wall)} / ${ms(t.cpu)} / ${ms(t.main)}`);
  row("new process, no cache (cold)", cold);
  row("  `dbt parse` (the same + manifest.json)", parseCommand);
  row("    of which writing manifest.json (new process)", manifest);
  console.log(
    `  ${"  `deno task dbt parse` (launcher + command)".padEnd(48)} ${ms(cli.wall)} / ${
      ms(cli.cpu)
    } / -`,
  );
  const processRow = (label: string, t: { wall: number; cpu: number }) =>
    console.log(`  ${label.padEnd(48)} ${ms(t.wall)} / ${ms(t.cpu)} / -`);
  processRow("    of which fixed (a project of no model; median of 5)", fixed);
  processRow("      the launcher alone (launch.ts --print)", launcher);
  processRow("      the command process alone", command);
  processRow("      Deno starting an empty module (each process)", denoStart);
  row("  the same without the static parser", coldStatic);
  row("  the same, then compiling every node's SQL", coldCompiled);
  row("new process, parse cache, unchanged", cached);
  row("new process, parse cache, 1 file edited", edited);
  row("same process, 1 file edited, all files stat-ed (median of 5)", warmEdit);
  row("same process, 1 file edited, reloadProject + its SQL (median of 9)", partialEdit);
  row("baseline: read files + parse YAML (yaml package)", floor);
  // Published figures, not measured here (other hardware): dbt Fusion, dbt Labs' Rust engine,
  // parses 10k models in under 0.6 s; dbt-core 1.x takes over 60 s cold for 20k models.
  const fusion = 600 * (models / 10_000);
  const core = 60_000 * (models / 20_000);
  console.log(
    `  published baselines scaled to ${models} models: dbt Fusion (Rust) < ${ms(fusion)} ms, ` +
      `dbt-core 1.x > ${ms(core)} ms cold; ours cold (wall) / Fusion ${
        (cold.wall / fusion).toFixed(1)
      }x, dbt-core / ours ${(core / cold.wall).toFixed(1)}x`,
  );
  console.log(
    `  ratios: cold/baseline ${(cold.wall / floor.wall).toFixed(2)}x, ` +
      `static parser speed-up ${(coldStatic.wall / cold.wall).toFixed(1)}x, ` +
      `re-parse/cold ${(warmEdit.wall / cold.wall).toFixed(2)}x, ` +
      `partial re-parse/cold ${(partialEdit.wall / cold.wall).toFixed(3)}x`,
  );
}

/**
 * `deno task dbt parse` as a user runs it, cold (no target/): the launcher
 * (launch.ts) and the command process it starts, from the task line in
 * deno.json. Wall from spawn to exit, and the CPU of both processes (the
 * children's times this process collects when they exit).
 */
async function taskDbtParse(dir: string): Promise<{ wall: number; cpu: number }> {
  const args = await dbtTaskArgs();
  await Deno.remove(`${dir}/target`, { recursive: true }).catch(() => {});
  return await processTimed([...args, "parse", "--project-dir", dir, "--profiles-dir", dir]);
}

/** The `deno` arguments of deno.json's `dbt` task (`run ... launch.ts dbt`). */
async function dbtTaskArgs(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    tasks: Record<string, string | { command: string }>;
  };
  // A task is `{description, command}` (what `deno task` lists) or a bare command line.
  const task = config.tasks.dbt ?? "";
  return (typeof task === "string" ? task : task.command).split(" ").slice(1);
}

/** The repository's root, where `deno task` runs. */
const ROOT = new URL("..", import.meta.url).pathname;

/**
 * `deno ARGS` run from the repository's root: wall from spawn to exit, and the CPU of
 * the process and its own children (this process collects their times when they exit).
 */
async function processTimed(args: readonly string[]): Promise<{ wall: number; cpu: number }> {
  const before = childrenCpu();
  const started = performance.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...args],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  const wall = performance.now() - started;
  if (!out.success) {
    throw new Error(
      `bench: deno ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return { wall, cpu: childrenCpu() - before };
}

/** The median wall and CPU of 5 runs (the fixed costs are small beside the machine's noise). */
async function medianRun(
  run: () => Promise<{ wall: number; cpu: number }>,
): Promise<{ wall: number; cpu: number }> {
  const runs = [];
  for (let i = 0; i < 5; i++) runs.push(await run());
  return { wall: median(runs.map((r) => r.wall)), cpu: median(runs.map((r) => r.cpu)) };
}

/** CPU ms of this process's exited children (Linux /proc, 10 ms ticks); NaN elsewhere. */
function childrenCpu(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1]?.split(" ");
    return (Number(fields?.[13]) + Number(fields?.[14])) * 10;
  } catch {
    return NaN;
  }
}

let edits = 0;

async function editOneModel(dir: string): Promise<string> {
  const path = `${dir}/models/layer_1`;
  const name = [...Deno.readDirSync(path)].map((e) => e.name).filter((n) => n.endsWith(".sql"))
    .sort()[0];
  await Deno.writeTextFile(
    `${path}/${name}`,
    `${await Deno.readTextFile(`${path}/${name}`)}\n-- edit ${++edits}`,
  );
  return `${path}/${name}`;
}

/** `deno task dbt deps` + `build` of jaffle_shop_modern in a child process per warehouse. */
async function benchJaffle(): Promise<void> {
  const run = async (warehouse: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      // The child is a module of its own run with the V8 flags of `deno task dbt build`, so it
      // loads what that command loads: this file's imports include DuckDB's native library
      // (resources/warehouse/mod.ts), which `dbt build` on PGlite never loads (~20 MiB of peak).
      args: [
        "run",
        "-A",
        v8FlagsOption(commandV8Flags(["dbt", "build"])),
        new URL("./_dbt_jaffle_child.ts", import.meta.url).pathname,
        warehouse,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    if (!out.success) throw new Error("bench: the --jaffle child failed");
    return JSON.parse(new TextDecoder().decode(out.stdout)) as {
      build: number;
      peakMiB: number;
      nodes: number;
    };
  };
  // PGlite: a brand-new data dir (pays initdb inside WASM), and one that exists already (the
  // usual case: .state/warehouse), initialised by another process first.
  const fresh = await run("pglite");
  const dir = await Deno.makeTempDir({ prefix: "bench-jaffle-wh-" });
  let existing;
  try {
    const init = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(import.meta.url).pathname, "--pglite-init", `${dir}/wh`],
    }).output();
    if (!init.success) throw new Error("bench: --pglite-init failed");
    existing = await run(`pglite:${dir}/wh`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const pg = await startPostgres({ databaseUrl: undefined });
  try {
    const postgres = await run(pg.url);
    console.log(`dbt build of jaffle_shop_modern (${fresh.nodes} nodes incl. seeds and tests):`);
    console.log(
      `  PGlite, new data dir      ${ms(fresh.build)} ms, process peak ${
        fresh.peakMiB.toFixed(0)
      } MiB (goal < 300; initdb runs in a short-lived child process of its own)`,
    );
    console.log(
      `  PGlite, existing data dir ${ms(existing.build)} ms, process peak ${
        existing.peakMiB.toFixed(0)
      } MiB (goal < 300)`,
    );
    console.log(
      `  PostgreSQL                ${ms(postgres.build)} ms; PGlite/PostgreSQL ${
        (existing.build / postgres.build).toFixed(2)
      }x`,
    );
  } finally {
    await pg.stop();
  }
}

/** Raw rows of the our-project build: 20 users a year, 5 places 60 days. */
const OUR_DAYS = 365;

/**
 * `dbt build` of dbt/ on each warehouse, in a child process each (its peak
 * memory is its own), from the same raw rows loaded by the warehouse's bulk
 * load; the build is timed without the load.
 */
async function benchOurProject(): Promise<void> {
  const pg = await startPostgres({ databaseUrl: undefined });
  const dir = await Deno.makeTempDir({ prefix: "bench-ours-" });
  try {
    type Result = { name: string; build: number; peakMiB: number; nodes: number };
    const results: Result[] = [];
    // Three rounds, the warehouses alternating; each warehouse's best build (a fresh
    // warehouse each time: a new PGlite data dir, DuckDB file, Postgres database).
    for (let round = 0; round < 3; round++) {
      for (
        const [name, url] of [
          ["PGlite", `pglite:${dir}/pglite-${round}`],
          ["DuckDB", `duckdb:${dir}/warehouse-${round}.duckdb`],
          ["PostgreSQL", await freshDatabase(pg.url, `bench_${round}`)],
        ]
      ) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", new URL(import.meta.url).pathname, "--ours", url as string],
          stdout: "piped",
          stderr: "inherit",
        }).output();
        if (!out.success) throw new Error(`bench: the --ours child failed on ${name}`);
        const result: Result = {
          name: name as string,
          ...JSON.parse(new TextDecoder().decode(out.stdout)),
        };
        const seen = results.find((r) => r.name === name);
        if (!seen) results.push(result);
        else if (result.build < seen.build) Object.assign(seen, result);
      }
    }
    const duck = results.find((r) => r.name === "DuckDB")?.build ?? NaN;
    console.log(
      `dbt build of our project, best of 3 (dbt/, ${results[0]?.nodes} nodes incl. tests; ` +
        `${OUR_DAYS} days x 20 users of activity, 60 days x 5 places of weather):`,
    );
    for (const r of results) {
      console.log(
        `  ${r.name.padEnd(10)} ${ms(r.build).padStart(6)} ms  x${(r.build / duck).toFixed(2)} ` +
          `of DuckDB, process peak ${r.peakMiB.toFixed(0)} MiB`,
      );
    }
    console.log(
      `  PGlite : DuckDB : PostgreSQL = ${
        results.map((r) => (r.build / duck).toFixed(2)).join(" : ")
      }`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await pg.stop();
  }
}

/** A new empty database on the server of `url`, and its URL. */
async function freshDatabase(url: string, name: string): Promise<string> {
  await using admin = await openWarehouse(url);
  await admin.execute(`create database ${name}`);
  const parsed = new URL(url);
  parsed.pathname = `/${name}`;
  return parsed.toString();
}

/** The child of {@linkcode benchOurProject}: prints build time, peak memory and nodes as JSON. */
async function oursChild(url: string): Promise<void> {
  const { rawRows, loadRaw } = await import("../tests/resources/dbt/_three_warehouses.ts");
  const dir = await Deno.makeTempDir({ prefix: "bench-ours-proj-" });
  try {
    await copyTree(new URL("../dbt", import.meta.url).pathname, dir);
    await using warehouse = await openWarehouse(url, { onNotice: () => {} });
    const rows = rawRows("2025-11-01", 60, OUR_DAYS, { users: 20, places: 5 });
    await loadRaw(warehouse, rows);
    const target = url.startsWith("duckdb:") ? "duckdb" : "embedded";
    const project = await loadProject(dir, { target, cache: false });
    // The same nodes everywhere: the lake models (DuckDB only) are left out.
    const common = new Set(
      [...project.nodes.keys(), ...project.tests.map((t) => t.uniqueId)].filter((id) =>
        !/spatial/.test(id)
      ),
    );
    const started = performance.now();
    const result = await runProject(project, warehouse, { writeArtifacts: false, select: common });
    const build = performance.now() - started;
    if (!result.success) {
      throw new Error(
        result.results.filter((r) => r.status === "error").map((r) => r.message).join("\n"),
      );
    }
    const status = await Deno.readTextFile("/proc/self/status");
    const peakKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
    console.log(JSON.stringify({ build, peakMiB: peakKiB / 1024, nodes: result.results.length }));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const e of Deno.readDir(from)) {
    if (e.name === "target") continue;
    if (e.isDirectory) await copyTree(`${from}/${e.name}`, `${to}/${e.name}`);
    else await Deno.copyFile(`${from}/${e.name}`, `${to}/${e.name}`);
  }
}

/**
 * Peak memory of the README's quick start (`deno task materialize`, sample
 * data, offline: weather fails fast, activity, spatial and the dbt marts
 * build) on DuckDB and on PGlite: the child's VmHWM, read every 20 ms (a
 * high-water mark, so the last read is its peak up to 20 ms before exit).
 */
async function benchQuickStartMemory(): Promise<void> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  console.log("quick start (deno task materialize, sample data, offline), whole process:");
  for (const [name, warehouse] of [["DuckDB", "duckdb:wh.duckdb"], ["PGlite", "pglite:wh"]]) {
    const dir = await Deno.makeTempDir({ prefix: "bench-quick-" });
    try {
      const started = performance.now();
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "materialize"],
        // From the clone, as the README runs it (sample data and config paths are relative).
        cwd: new URL("..", import.meta.url).pathname,
        env: {
          STATE_DIR: `${dir}/state`,
          LAKE_URL: `file://${dir}/lake`,
          LEDGER_URL: `sqlite:${dir}/ledger.db`,
          RUNS_URL: `sqlite:${dir}/runs.db`,
          WAREHOUSE_URL: (warehouse as string).replace(/:/, `:${dir}/`),
        },
        stdout: "null",
        stderr: "null",
      }).spawn();
      let peakKiB = 0;
      const poll = setInterval(() => {
        try {
          const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
          peakKiB = Math.max(peakKiB, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
        } catch {
          // exited between two reads
        }
      }, 20);
      const status = await child.status;
      clearInterval(poll);
      console.log(
        `  ${(name as string).padEnd(6)} peak ${(peakKiB / 1024).toFixed(0)} MiB, ` +
          `${ms(performance.now() - started)} ms, exit ${status.code} (1: weather offline)`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
}

/** Wall and CPU (user + system, all threads) time of one call. */
interface Timing {
  readonly wall: number;
  readonly cpu: number;
  /** CPU of the calling (main) thread alone: what bounds the load when the other core is free. */
  readonly main: number;
}

async function cpuTimed(fn: () => Promise<unknown>): Promise<Timing> {
  const cpu = process.cpuUsage();
  const main = threadCpu();
  const started = performance.now();
  await fn();
  const used = process.cpuUsage(cpu);
  return {
    wall: performance.now() - started,
    cpu: (used.user + used.system) / 1000,
    main: threadCpu() - main,
  };
}

/** CPU ms of this thread (Linux /proc, 10 ms ticks); NaN elsewhere. */
function threadCpu(): number {
  try {
    const fields = Deno.readTextFileSync("/proc/thread-self/stat").split(") ")[1]?.split(" ");
    return (Number(fields?.[11]) + Number(fields?.[12])) * 10;
  } catch {
    return NaN; // no /proc: the column reads NaN, the other figures stand
  }
}

function best(list: readonly Timing[], key: "wall" | "cpu" | "main"): number {
  return Math.min(...list.map((t) => t[key]));
}

async function readAndParse(dir: string): Promise<void> {
  const walk = async (path: string): Promise<void> => {
    for await (const entry of Deno.readDir(path)) {
      const full = `${path}/${entry.name}`;
      if (entry.isDirectory) await walk(full);
      else {
        const text = await Deno.readTextFile(full);
        if (entry.name.endsWith(".yml")) parseYaml(text);
      }
    }
  };
  await walk(dir);
}

async function benchRun(
  name: string,
  dir: string,
  models: number,
  open: () => Promise<Warehouse>,
): Promise<void> {
  const project = await loadProject(dir);
  // Native: the compiled SQL as plain `create or replace view`, in order.
  const native = await withWarehouse(open, async (warehouse) => {
    const schemas = new Set([...project.models.values()].map((m) => m.relation.schema));
    for (const schema of schemas) await warehouse.ensureSchema(schema);
    return await time(async () => {
      for (const model of project.models.values()) {
        await warehouse.execute(
          `create or replace view ${model.relation} as (\n${model.compiledCode}\n)`,
        );
      }
    });
  });
  const ours = await withWarehouse(open, (warehouse) =>
    time(async () => {
      const run = await runProject(project, warehouse, {
        select: new Set([...project.nodes.keys()]),
        writeArtifacts: true,
      });
      if (!run.success) throw new Error(`bench run failed: ${JSON.stringify(run.results[0])}`);
    }));
  const withTests = await withWarehouse(
    open,
    (warehouse) => time(() => runProject(project, warehouse, { writeArtifacts: false })),
  );
  console.log(
    `${name}: ${models} view models: runner ${ms(ours)} ms (${ms(ours / models)} ms/model), ` +
      `native create view ${ms(native)} ms (${ms(native / models)} ms/model); ` +
      `overhead ${ms((ours - native) / models)} ms/model, ratio ${(ours / native).toFixed(2)}x`,
  );
  console.log(
    `  with ${project.tests.length} tests: ${ms(withTests)} ms (${
      ms(withTests / models)
    } ms/model incl. tests)`,
  );
}

async function withWarehouse<T>(
  open: () => Promise<Warehouse>,
  fn: (warehouse: Warehouse) => Promise<T>,
): Promise<T> {
  const warehouse = await open();
  try {
    await warehouse.exec(
      "drop schema if exists bench cascade; drop schema if exists bench_base cascade",
    );
    return await fn(warehouse);
  } finally {
    await warehouse.close();
  }
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function ms(value: number): string {
  return value.toFixed(value < 10 ? 2 : 0);
}

if (import.meta.main) {
  if (Deno.args[0] === "--load-once") {
    const dir = Deno.args[1] ?? "";
    const flags = Deno.args.slice(2);
    const cache = !flags.includes("--no-cache");
    const staticParse = !flags.includes("--no-static");
    if (flags.includes("--dbt-parse")) {
      // What a user waits for: `dbt parse` on a project parsed never before (no partial
      // parse file), writing target/manifest.json.
      await Deno.remove(`${dir}/target`, { recursive: true }).catch(() => {});
      const { runDbtCli } = await import("../resources/dbt/cli.ts");
      const lines: string[] = [];
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
      let code = 0;
      const timing = await cpuTimed(async () => {
        code = await runDbtCli(["parse", "--project-dir", dir, "--profiles-dir", dir], io);
      });
      if (code !== 0) throw new Error(lines.join("\n"));
      console.log(JSON.stringify(timing));
      Deno.exit(0);
    }
    if (flags.includes("--write-manifest")) {
      const project = await loadProject(dir, { cache, staticParse });
      await Deno.remove(`${dir}/target`, { recursive: true }).catch(() => {});
      console.log(JSON.stringify(
        await cpuTimed(() => writeManifest(project, { invocationId: "bench" })),
      ));
      Deno.exit(0);
    }
    console.log(JSON.stringify(
      await cpuTimed(async () => {
        const project = await loadProject(dir, { cache, staticParse });
        if (flags.includes("--compile-all")) {
          for (const node of project.nodes.values()) void node.compiledCode;
        }
      }),
    ));
  } else if (Deno.args[0] === "--parse") {
    // Only the parse figures (and the jaffle_shop builds with PGlite's peak memory).
    for (const models of (Deno.args[1] ?? "1000,10000").split(",").map(Number)) {
      const dir = await Deno.makeTempDir({ prefix: "bench-dbt-" });
      try {
        await generate(dir, models);
        await benchColdProcess(dir, models);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    }
    await benchJaffle();
  } else if (Deno.args[0] === "--warehouses") {
    // Only the three-warehouse figures (our project's build, quick start memory).
    await benchOurProject();
    await benchQuickStartMemory();
  } else if (Deno.args[0] === "--ours") {
    await oursChild(Deno.args[1] ?? "pglite:memory:");
  } else if (Deno.args[0] === "--pglite-init") {
    const { openWarehouse: open } = await import("../resources/warehouse/mod.ts");
    await (await open(`pglite:${Deno.args[1]}`)).close();
  } else {
    await main(
      (Deno.args[0] ?? "1000,10000").split(",").map(Number),
      Number(Deno.args[1] ?? 200),
    );
  }
}
