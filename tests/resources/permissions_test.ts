import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ConfigError } from "../../core/errors.ts";
import { loadConfig } from "../../resources/config.ts";
import {
  ENV_ALLOWED,
  npmCacheDir,
  type PermissionContext,
  permissionFlags,
  taskPermissions,
  uiSocketPath,
} from "../../resources/permissions.ts";

const PROJECT = "/srv/platform";
const DENO = "/usr/local/bin/deno";

/** The working folder (the writable places resolve against the process's). */
const CWD = Deno.cwd();

/** The permissions of `command` under `vars` (no `.env`), from {@linkcode CWD}. */
function permissions(
  command: string,
  vars: Record<string, string>,
  args: string[] = [],
  existing: string[] = [],
  files: Record<string, string> = {},
) {
  const env = { HOME: "/home/ann", TMPDIR: "/tmp/ann", ...vars };
  const context: PermissionContext = {
    projectDir: PROJECT,
    env: { get: (name) => env[name as keyof typeof env] },
    execPath: DENO,
    cwd: CWD,
    exists: (path) => existing.includes(path),
    readText: (path) => files[path],
    os: "linux",
  };
  return taskPermissions(command, args, loadConfig({ env, dotenvPath: null }), context);
}

Deno.test("embedded defaults: the project, the npm cache and the writable places; no host but Open-Meteo", () => {
  const p = permissions("materialize", {});
  assert.deepEqual(p.read, [
    PROJECT,
    "/home/ann/.cache/deno/npm",
    `${CWD}/.state`,
    `${CWD}/data_lake`,
    "/tmp/ann",
    // The shipped places file (under the real project, not the one this test pretends).
    resolve(new URL("../../config/places.json", import.meta.url).pathname),
  ]);
  assert.deepEqual(p.write, [`${CWD}/.state`, `${CWD}/data_lake`, "/tmp/ann"]);
  assert.deepEqual(p.net, ["archive-api.open-meteo.com:443", "api.open-meteo.com:443"]);
  // GDAL_ENGINE=auto may start native GDAL hosts; a new PGlite dir is made by a child; kill for its lock.
  assert.deepEqual(p.run, [DENO, "kill", "readlink"]);
  assert.deepEqual(p.ffi, []);
  assert.deepEqual(p.sys, ["hostname"]);
  assert.ok(!p.read.some((path) => path === "/home/ann" || path === "/"));
  assert.equal(p.all, false);
});

Deno.test("run: no Deno child once the PGlite dir exists and GDAL is wasm", () => {
  const p = permissions("materialize", { GDAL_ENGINE: "wasm" }, [], [
    `${CWD}/.state/warehouse/PG_VERSION`,
  ]);
  assert.deepEqual(p.run, ["kill", "readlink"]);
  const fresh = permissions("materialize", { GDAL_ENGINE: "wasm" });
  assert.deepEqual(fresh.run, [DENO, "kill", "readlink"]);
});

Deno.test("servers: each URL's host:port, socket folders, AWS for a bare s3://, SRV domains", () => {
  const p = permissions("materialize", {
    WAREHOUSE_URL: "postgres://u:secret@db.internal:6432/w",
    RUNS_URL: "postgresql://u@a.example,b.example:5433/runs",
    SPATIAL_URL: "postgres://u@localhost/gis?host=/run/postgresql",
    LAKE_URL: "http://minio:9000",
    LEDGER_URL: "mongodb+srv://u:p@cluster0.abcde.mongodb.net/ledger",
    OPEN_METEO_ARCHIVE_URL: "http://127.0.0.1:8089/v1/archive",
    GDAL_ENGINE: "wasm",
  });
  assert.deepEqual(p.net.toSorted(), [
    "*.abcde.mongodb.net",
    "127.0.0.1:8089",
    "a.example:5432",
    "api.open-meteo.com:443",
    "b.example:5433",
    "cluster0.abcde.mongodb.net",
    "db.internal:6432",
    "minio:9000",
  ]);
  assert.ok(p.read.includes("/run/postgresql") && p.write.includes("/run/postgresql"));
  assert.deepEqual(p.run, ["kill", "readlink"]); // no PGlite, no native GDAL: run owners' liveness
  const aws = permissions("materialize", { LAKE_URL: "s3://?region=eu-west-1" });
  assert.ok(aws.net.includes("*.amazonaws.com"));
  const mongo = permissions("materialize", { LEDGER_URL: "mongodb://m1,m2:27018/ledger" });
  assert.ok(mongo.net.includes("m1:27017") && mongo.net.includes("m2:27018"));
});

Deno.test("a postgres password holding an unencoded '@' grants the host, not the password's tail", () => {
  // Before: the authority ran to the first '@', so '--allow-net=ss@db:5432' made Deno print
  // 'invalid host 'ss@db'' with a stack trace: a piece of the password, and no configuration error.
  const p = permissions("materialize", {
    WAREHOUSE_URL: "postgres://u:p@ss@db:5433/x",
    RUNS_URL: "postgres://u:a@b@c@runs/x",
    LEDGER_URL: "mongodb://u:p@ss@m1,m2:27018/db",
  });
  assert.deepEqual(p.net.filter((h) => !h.includes("open-meteo")), [
    "db:5433",
    "runs:5432",
    "m1:27017",
    "m2:27018",
  ]);
});

Deno.test("a malformed --port or --host grants nothing (the UI then refuses it, exit 2)", () => {
  // Before: '--allow-net=127.0.0.1:abc', on which Deno itself died with a stack trace (exit 1).
  for (const args of [["--port", "abc"], ["--port", "70000"], ["--host", "bad host"]]) {
    const net = permissions("ui", {}, args).net;
    assert.deepEqual(net.filter((h) => !h.includes("open-meteo")), [], args.join(" "));
  }
});

Deno.test("ui/dev listen on --host/--port; the daemon reaches NOTIFY_URLS; materialize does not", () => {
  assert.ok(permissions("ui", {}).net.includes("127.0.0.1:3000"));
  assert.ok(
    permissions("ui", {}, ["--host", "0.0.0.0", "--port=8080"]).net.includes("0.0.0.0:8080"),
  );
  assert.ok(permissions("dev", {}, ["--port", "0"]).net.includes("127.0.0.1"));
  const notify = {
    NOTIFY_URLS:
      "slack+https://hooks.slack.com/services/x smtp://u:p@mail.example?from=a@b&to=c@d " +
      "exec:///opt/hooks/page.sh",
  };
  const daemon = permissions("sensor", notify);
  assert.ok(daemon.net.includes("hooks.slack.com:443"));
  assert.ok(daemon.net.includes("mail.example:587"));
  assert.ok(daemon.run.includes("/opt/hooks/page.sh"));
  const run = permissions("materialize", notify);
  assert.ok(!run.net.includes("hooks.slack.com:443") && !run.run.includes("/opt/hooks/page.sh"));
  assert.ok(!run.net.some((host) => host.startsWith("127.0.0.1")));
});

Deno.test("sensor, worker and dev listen on HEALTH_HOST:HEALTH_PORT when it is set; nothing else does", () => {
  const health = { HEALTH_PORT: "8081", HEALTH_HOST: "0.0.0.0" };
  assert.ok(permissions("sensor", health).net.includes("0.0.0.0:8081"));
  assert.ok(permissions("worker", health).net.includes("0.0.0.0:8081"));
  assert.ok(permissions("dev", health).net.includes("0.0.0.0:8081"));
  assert.ok(!permissions("ui", health).net.includes("0.0.0.0:8081"));
  assert.ok(permissions("sensor", { HEALTH_PORT: "8081" }).net.includes("127.0.0.1:8081"));
  assert.ok(!permissions("materialize", health).net.includes("0.0.0.0:8081"));
  assert.ok(!permissions("sensor", {}).net.some((host) => host.endsWith(":8081")));
});

Deno.test("dbt: its project folder (flag, DBT_PROJECT_DIR, the working folder, else ours), ~/.dbt, the hub, git", () => {
  const ours = permissions("dbt", {}, ["build"]);
  assert.ok(ours.write.includes(`${PROJECT}/dbt`));
  assert.ok(ours.read.includes("/home/ann/.dbt"));
  assert.ok(ours.net.includes("hub.getdbt.com:443"));
  assert.ok(ours.run.includes("git") && ours.run.includes("tar"));
  assert.deepEqual(ours.ffi, ["/home/ann/.cache/deno/npm"]); // a DuckDB target
  const typed = permissions("dbt", { INIT_CWD: "/home/ann/shop" }, ["run"], [
    "/home/ann/shop/dbt_project.yml",
  ]);
  assert.ok(typed.write.includes("/home/ann/shop"));
  const flagged = permissions("dbt", { INIT_CWD: "/home/ann" }, [
    "build",
    "--project-dir",
    "jaffle",
    "--target-path=/out/target",
  ]);
  assert.ok(flagged.write.includes("/home/ann/jaffle") && flagged.write.includes("/out/target"));
  assert.ok(!flagged.read.includes("/home/ann"));
  // dbt-core reads profiles.yml in the folder the command was typed in (before: denied, so
  // `deno task --config <repo>/deno.json dbt` in a project's folder found no profile).
  assert.ok(flagged.read.includes("/home/ann/profiles.yml"), flagged.read.join(" "));
  // Other commands get neither dbt's folders nor git.
  assert.ok(!permissions("materialize", {}).run.includes("git"));
});

Deno.test("dbt: the hosts and DuckDB files of profiles.yml's targets are granted", () => {
  // A dbt user's Postgres target: before, 'deno task dbt build' failed 'Requires net access'.
  const profiles = `shop:
  target: dev
  outputs:
    dev:
      type: postgres
      host: db.internal
      port: 5433
      user: u
      dbname: d
      schema: s
    ci:
      type: postgres
      host: "{{ env_var('DBT_HOST', 'localhost') }}"
      port: "{{ env_var('DBT_PORT') | int }}"
      user: u
      dbname: d
      schema: s
    sock:
      type: postgres
      host: /run/postgresql
      user: u
      dbname: d
      schema: s
    embedded:
      type: postgres
      host: ""
      schema: s
    opaque:
      type: postgres
      host: "{{ var('h') }}"
      schema: s
    duck:
      type: duckdb
      path: ../data/shop.duckdb
    mem:
      type: duckdb
      path: ":memory:"
config:
  send_anonymous_usage_stats: false
`;
  const p = permissions(
    "dbt",
    { INIT_CWD: "/home/ann", DBT_PORT: "6543" },
    [
      "build",
      "--project-dir",
      "shop",
    ],
    [],
    { "/home/ann/shop/profiles.yml": profiles },
  );
  const net = p.net.filter((h) => !h.includes("open-meteo") && !h.includes("getdbt"));
  assert.deepEqual(net.sort(), ["db.internal:5433", "localhost:6543"]);
  assert.ok(p.read.includes("/run/postgresql"));
  assert.ok(p.write.includes("/home/ann/data") && p.read.includes("/home/ann/data"));
  // --profiles-dir wins over the project's file; a file that is no YAML grants nothing.
  const flagged = permissions(
    "dbt",
    { INIT_CWD: "/home/ann" },
    [
      "build",
      "--project-dir",
      "shop",
      "--profiles-dir=/etc/dbt",
    ],
    [],
    {
      "/home/ann/shop/profiles.yml": profiles,
      "/etc/dbt/profiles.yml": "p:\n  outputs:\n    o: {type: postgres, host: pg.example}\n",
    },
  );
  assert.ok(flagged.net.includes("pg.example:5432") && !flagged.net.includes("db.internal:5433"));
  // The port as dbt reads it (PyYAML's YAML 1.1: a leading 0 is octal, `015433` is 6939), the
  // port the dbt command connects to; before, the launcher read YAML 1.2 and granted 15433.
  const octal = permissions("dbt", {}, ["build", "--profiles-dir", "/etc/dbt"], [], {
    "/etc/dbt/profiles.yml": "p:\n  outputs:\n    o: {type: postgres, host: pg.example, " +
      "port: 015433}\n",
  });
  assert.ok(octal.net.includes("pg.example:6939"), octal.net.join(" "));
  const broken = permissions("dbt", {}, ["build", "--profiles-dir", "/etc/dbt"], [], {
    "/etc/dbt/profiles.yml": "p: [unclosed",
  });
  assert.deepEqual(
    broken.net.filter((h) => !h.includes("open-meteo") && !h.includes("getdbt")),
    [],
  );
});

Deno.test("DuckDB warehouse: ffi limited to the npm cache; graphile-worker's homedir with the Postgres queue", () => {
  assert.deepEqual(permissions("materialize", { WAREHOUSE_URL: "duckdb:x.duckdb" }).ffi, [
    "/home/ann/.cache/deno/npm",
  ]);
  const queue = permissions("worker", { RUNS_URL: "postgres://u@db/runs" });
  assert.deepEqual(queue.sys, ["hostname", "homedir"]);
  const off = permissions("worker", { RUNS_URL: "postgres://u@db/runs", RUN_QUEUE: "off" });
  assert.deepEqual(off.sys, ["hostname"]);
});

Deno.test("PLATFORM_ALLOW_* widen the lists; PLATFORM_PERMISSIONS=all gives -A", () => {
  const p = permissions("materialize", {
    PLATFORM_ALLOW_NET: "geo.example:443, 10.0.0.5",
    PLATFORM_ALLOW_READ: "shared/inputs",
    PLATFORM_ALLOW_WRITE: "/mnt/out",
    PLATFORM_ALLOW_RUN: "ogr2ogr",
    PLATFORM_ALLOW_ENV: "MY_TOKEN",
  });
  assert.ok(p.net.includes("geo.example:443") && p.net.includes("10.0.0.5"));
  assert.ok(p.read.includes(`${CWD}/shared/inputs`));
  assert.ok(p.write.includes("/mnt/out") && p.read.includes("/mnt/out"));
  assert.ok(p.run.includes("ogr2ogr"));
  assert.ok(p.env.includes("MY_TOKEN"));
  assert.deepEqual(permissionFlags(permissions("materialize", { PLATFORM_PERMISSIONS: "all" })), [
    "-A",
  ]);
});

Deno.test("flags: lists joined, empty lists give no flag, other reads and variables read as missing", () => {
  const flags = permissionFlags(permissions("materialize", { GDAL_ENGINE: "wasm" }, [], [
    `${CWD}/.state/warehouse/PG_VERSION`,
  ]));
  assert.deepEqual(flags.slice(0, 2), ["--ignore-read", "--ignore-env"]);
  assert.ok(flags.includes("--allow-run=kill,readlink"));
  assert.ok(!flags.some((f) => f.startsWith("--allow-ffi")));
  assert.ok(!flags.some((f) => f === "-A" || /^--allow-(read|write|net|env|run|ffi|sys)$/.test(f)));
  const env = flags.find((f) => f.startsWith("--allow-env="))!;
  for (const name of ["STATE_DIR", "WAREHOUSE_URL", "PG*", "AWS_*", "DBT_*"]) {
    assert.ok(env.split(/[=,]/).includes(name), name);
  }
  assert.ok(!env.split(/[=,]/).includes("GITHUB_TOKEN"));
  assert.ok(ENV_ALLOWED.every((name) => env.includes(name)));
});

Deno.test("npm cache: DENO_DIR, else the OS's cache folder", () => {
  const get = (env: Record<string, string>) => ({ get: (name: string) => env[name] });
  assert.equal(npmCacheDir(get({ DENO_DIR: "/deno-dir" }), "linux"), "/deno-dir/npm");
  assert.equal(npmCacheDir(get({ HOME: "/h" }), "linux"), "/h/.cache/deno/npm");
  assert.equal(npmCacheDir(get({ HOME: "/h", XDG_CACHE_HOME: "/c" }), "linux"), "/c/deno/npm");
  assert.equal(npmCacheDir(get({ HOME: "/h" }), "darwin"), "/h/Library/Caches/deno/npm");
});

Deno.test("compile: one binary serves every command, so it gets the union", () => {
  const p = permissions("compile", { NOTIFY_URLS: "https://hooks.example/x" });
  assert.ok(p.net.includes("hooks.example:443"));
  assert.ok(p.net.includes("127.0.0.1:3000"));
  assert.ok(p.run.includes("git"));
});

Deno.test("a widening that Deno could not take, or an unknown PLATFORM_PERMISSIONS, fails naming the variable", () => {
  for (
    const [vars, name] of [
      [{ PLATFORM_PERMISSIONS: "yes" }, "PLATFORM_PERMISSIONS"],
      [{ PLATFORM_ALLOW_NET: "https://geo.example.com/" }, "PLATFORM_ALLOW_NET"],
      [{ PLATFORM_ALLOW_ENV: "MY-TOKEN" }, "PLATFORM_ALLOW_ENV"],
    ] as const
  ) {
    assert.throws(() => permissions("materialize", vars), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.input, name);
      assert.match(error.message, new RegExp(name));
      return true;
    });
  }
});

Deno.test("ui/dev under launch.ts: the Unix socket behind the UI's front door, and nothing for other commands", () => {
  // Without it the UI's HTTP server could not listen behind the front door (NotCapable).
  const env = { HOME: "/home/ann", TMPDIR: "/tmp/ann" };
  const context = (launcherPid: number): PermissionContext => ({
    projectDir: PROJECT,
    env: { get: (name) => env[name as keyof typeof env] },
    execPath: DENO,
    cwd: CWD,
    exists: () => false,
    os: "linux",
    launcherPid,
  });
  const config = loadConfig({ env, dotenvPath: null });
  assert.equal(uiSocketPath("/tmp/ann", 4242), "/tmp/ann/platform-ui-4242.sock");
  for (const command of ["ui", "dev"]) {
    const net = taskPermissions(command, ["--port", "0"], config, context(4242)).net;
    assert.ok(net.includes("unix:/tmp/ann/platform-ui-4242.sock"), `${command}: ${net}`);
  }
  const run = taskPermissions("materialize", [], config, context(4242)).net;
  assert.ok(!run.some((host) => host.startsWith("unix:")), String(run));
});
