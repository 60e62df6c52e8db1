/**
 * The Deno permissions each command needs, derived from the configuration:
 * least privilege instead of `-A`, so that a compromised dependency can read
 * only the project, the npm cache and the places the platform writes, write
 * only those places, and reach only the hosts the `*_URL` variables name.
 * `launch.ts` (every `deno task` but `test`, `bench` and `check`) computes
 * them with {@linkcode taskPermissions} and starts `main.ts` with
 * {@linkcode permissionFlags}.
 *
 * What each permission is for (the README's "Security" section says the same
 * for users):
 *
 * - **read**: the project (code, `sample_data/`, `dbt/`, `config/`, `.env`),
 *   the npm cache (`$DENO_DIR/npm`: PGlite, gdal3.js and parquet-wasm read
 *   their WASM files there), every writable place, `DBT_PROJECT_DIR`,
 *   `DBT_PROFILES_DIR`, `WEATHER_PLACES_FILE`, the folder of `PLATFORM_GRAPH`
 *   and Postgres socket folders (`?host=/run/postgresql`).
 * - **write**: the places of {@linkcode writablePlaces} (`STATE_DIR`, the
 *   embedded stores' folders, the local lake, `TMPDIR`); `dbt` also its
 *   project folder and `--target-path`, as dbt-core writes there.
 * - **net**: the host:port of every server URL (`LAKE_URL`, `LEDGER_URL`,
 *   `WAREHOUSE_URL`, `RUNS_URL`, `SPATIAL_URL`, the Open-Meteo URLs; `s3://`
 *   without a host is AWS: `*.amazonaws.com` and the instance credential
 *   endpoints; `mongodb+srv://` the SRV domain), the UI's `--host`/`--port`
 *   and the Unix socket behind its front door (`ui`, `dev`), `NOTIFY_URLS` (`sensor`, `dev`), `DBT_PACKAGE_HUB_URL`
 *   and the Postgres hosts of the `profiles.yml` it reads (`dbt`; a DuckDB
 *   target's folder is written). The embedded defaults need none but Open-Meteo's.
 * - **run**: the Deno executable when native GDAL may be used
 *   (`GDAL_ENGINE` auto/native: its host processes) or a new PGlite data dir
 *   is to be made (initdb in a child); `kill` (`kill -0`: the PGlite lock's
 *   and the run owners' liveness checks, as `/proc` is not granted);
 *   `readlink` (the pid namespace run owners live in, `/proc/self/ns/pid`);
 *   `exec://` notifier programs; `git` and `tar` for `dbt deps`.
 * - **ffi**: only DuckDB (`WAREHOUSE_URL=duckdb:`, or `dbt` on a DuckDB
 *   target), limited to the npm cache where its native addon lives.
 * - **sys**: `hostname` (run owners and the warehouse lock tell this
 *   machine's processes from another's).
 * - **env**: the configuration's variables and those the code and its
 *   dependencies read by name ({@linkcode ENV_ALLOWED}: `PG*` for postgres.js,
 *   `AWS_*` for the AWS SDK, `DBT_*` for dbt's `env_var()`, ...). Any other
 *   variable reads as unset (`--ignore-env`), so a dependency that probes one
 *   gets `undefined` instead of an exception, and no code in the process can
 *   see, say, a shell's `GITHUB_TOKEN`.
 * - Reads outside the grants fail as `NotFound` (`--ignore-read`) rather than
 *   `NotCapable`: dependencies that look for optional files up the folder
 *   tree (graphile-worker's cosmiconfig search up to `/`, the AWS SDK's
 *   `~/.aws/config`) then carry on as if there were none.
 *
 * Widening: `PLATFORM_ALLOW_READ`, `PLATFORM_ALLOW_WRITE`,
 * `PLATFORM_ALLOW_NET`, `PLATFORM_ALLOW_RUN`, `PLATFORM_ALLOW_ENV`
 * (comma-separated, added to the computed lists), or `PLATFORM_PERMISSIONS=all` (plain `-A`, for
 * debugging).
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "node:path";
import { ConfigError } from "../core/errors.ts";
import { type Config, ConfigSchema } from "./config.ts";
import { writablePlaces } from "./writable.ts";
// The dbt command's own reader (PyYAML's YAML 1.1 values, as dbt reads profiles.yml), and light:
// js-yaml loads in a third of the time the `yaml` package took at every `deno task`.
import { loadPyYaml } from "./dbt/project/yaml_value.ts";

/** The permissions of one process; lists hold paths, hosts or program names. */
export interface TaskPermissions {
  /** Everything (`-A`): only when `PLATFORM_PERMISSIONS=all` asks for it. */
  readonly all: boolean;
  /** Files and folders it may read. */
  readonly read: readonly string[];
  /** Files and folders it may write. */
  readonly write: readonly string[];
  /** `host` or `host:port` it may connect to (or listen on). */
  readonly net: readonly string[];
  /** Programs it may start. */
  readonly run: readonly string[];
  /** Native libraries it may load (paths), empty for none. */
  readonly ffi: readonly string[];
  /** System information it may read (`hostname`, ...). */
  readonly sys: readonly string[];
  /** Environment variables it may read (`NAME` or `PREFIX*`); others read as unset. */
  readonly env: readonly string[];
}

/**
 * Variables every command may read besides the configuration's: the
 * platform's own (`PLATFORM_*`, `UI_TOKEN`, `GDAL_LIBRARY_PATH`, `INIT_CWD`),
 * the process basics, and those dependencies read by name: postgres.js
 * (`PG*`), graphile-worker (`GRAPHILE_*`), the AWS SDK (`AWS_*`), Node
 * compatibility (`NODE_*`), dbt projects (`DBT_*`, through `env_var()`).
 */
export const ENV_ALLOWED: readonly string[] = [
  "PLATFORM_*",
  "UI_TOKEN",
  "GDAL_LIBRARY_PATH",
  "INIT_CWD",
  "HOME",
  "USER",
  "USERPROFILE",
  "LOCALAPPDATA",
  "XDG_CACHE_HOME",
  "PATH",
  "TMPDIR",
  "TZ",
  "LANG",
  "LC_*",
  "TERM",
  "NO_COLOR",
  "FORCE_COLOR",
  "CI",
  "DENO_*",
  "NODE_*",
  "PG*",
  "GRAPHILE_*",
  "AWS_*",
  "DBT_*",
];

/** Where the process runs: what {@linkcode taskPermissions} reads besides the configuration. */
export interface PermissionContext {
  /** The project folder (where deno.json and main.ts are), absolute. */
  readonly projectDir: string;
  /** The environment (for `DENO_DIR`, `HOME`, `TMPDIR`, `INIT_CWD`, `PLATFORM_GRAPH`). */
  readonly env: { get(name: string): string | undefined };
  /** The Deno executable (`Deno.execPath()`). */
  readonly execPath: string;
  /** The working folder the relative paths of the configuration are resolved from. */
  readonly cwd: string;
  /**
   * Whether a path exists (the launcher stats; tests pass their own).
   * @default {Deno.statSync, false when it throws}
   */
  readonly exists?: (path: string) => boolean;
  /**
   * A file's text, or undefined when it cannot be read (the launcher reads `profiles.yml`;
   * tests pass their own).
   * @default {Deno.readTextFileSync, undefined when it throws}
   */
  readonly readText?: (path: string) => string | undefined;
  /**
   * The operating system, for the npm cache's default place.
   * @default {Deno.build.os}
   */
  readonly os?: typeof Deno.build.os;
  /**
   * The pid of launch.ts, which names the Unix socket the UI's HTTP server
   * listens on behind its front door ({@linkcode uiSocketPath}).
   * @default {undefined: no socket granted; the UI then serves without its front door}
   */
  readonly launcherPid?: number;
}

/**
 * The Unix socket the UI's HTTP server listens on when launch.ts (pid
 * `launcherPid`) started it: a path known before main.ts starts, so that
 * exactly it is granted (Deno asks net access for a socket's path).
 */
export function uiSocketPath(tmpdir: string | undefined, launcherPid: string | number): string {
  return join(resolve(tmpdir || "/tmp"), `platform-ui-${launcherPid}.sock`);
}

/** The commands whose needs differ; every other command gets the common set. */
const DAEMONS = new Set(["sensor", "dev"]);
const SERVERS = new Set(["ui", "dev"]);
/** Commands that serve the health endpoint when HEALTH_PORT is set. */
const HEALTH_SERVED = new Set(["sensor", "worker", "dev"]);

/**
 * The permissions `command` (the CLI's first argument: `materialize`,
 * `sensor`, `worker`, `ui`, `dev`, `doctor`, `dbt`, `list`, ...) needs under
 * `config`, its arguments `args` (for `--host`/`--port` of the UI and the
 * folders `dbt` takes). `compile` gets the union of every command's set (one
 * binary serves them all).
 */
export function taskPermissions(
  command: string,
  args: readonly string[],
  config: Config,
  context: PermissionContext,
): TaskPermissions {
  const env = context.env;
  const exists = context.exists ?? pathExists;
  const at = (path: string) => resolve(context.cwd, path);
  const read = new Set<string>();
  const write = new Set<string>();
  const net = new Set<string>();
  const run = new Set<string>();
  const ffi = new Set<string>();
  const npmCache = npmCacheDir(env, context.os ?? Deno.build.os);
  const everything = command === "compile";
  const envNames = new Set([...Object.keys(ConfigSchema.shape), ...ENV_ALLOWED]);

  read.add(context.projectDir);
  read.add(npmCache);
  for (const place of writablePlaces(config, env)) {
    read.add(place.path);
    write.add(place.path);
  }
  read.add(at(config.WEATHER_PLACES_FILE));
  if (config.DBT_PROJECT_DIR) read.add(at(config.DBT_PROJECT_DIR));
  if (config.DBT_PROFILES_DIR) read.add(at(config.DBT_PROFILES_DIR));
  const graph = env.get("PLATFORM_GRAPH");
  if (graph) read.add(dirname(at(graph)));

  for (const url of [config.WAREHOUSE_URL, config.RUNS_URL, config.SPATIAL_URL]) {
    for (const host of postgresHosts(url)) {
      if (isAbsolute(host)) {
        read.add(host);
        write.add(host);
      } else {
        net.add(host);
      }
    }
  }
  for (const host of lakeHosts(config.LAKE_URL)) net.add(host);
  for (const host of mongoHosts(config.LEDGER_URL)) net.add(host);
  for (const url of [config.OPEN_METEO_ARCHIVE_URL, config.OPEN_METEO_FORECAST_URL]) {
    const host = httpHost(url);
    if (host) net.add(host);
  }

  const pglite = /^pglite:/.test(config.WAREHOUSE_URL);
  if (config.GDAL_ENGINE !== "wasm" || (pglite && !pgliteCreated(config, at, exists))) {
    run.add(context.execPath);
  }
  // `kill -0`: the PGlite lock's liveness check, and how run owners, tick claims and alert
  // deliveries of a process killed on this host are known dead at once (no /proc grant).
  run.add("kill");
  // `readlink /proc/self/ns/pid`: which pid namespace run owners live in (core/owner.ts), so a
  // container sharing this host name is not judged by this one's pids (Deno grants
  // /proc/self/ns only with -A).
  run.add("readlink");
  if (/^duckdb:/.test(config.WAREHOUSE_URL)) ffi.add(npmCache);
  const sys = new Set(["hostname"]);
  // graphile-worker (the Postgres run queue) looks up os.homedir() at start.
  if (config.RUN_QUEUE !== "off" && /^postgres(ql)?:\/\//i.test(config.RUNS_URL)) {
    sys.add("homedir");
  }

  if (DAEMONS.has(command) || everything) {
    for (const url of config.NOTIFY_URLS.split(/\s+/).filter(Boolean)) {
      const target = notifierTarget(url);
      if (target?.kind === "net") net.add(target.value);
      if (target?.kind === "run") run.add(target.value);
    }
  }
  // The health endpoint of the long-running commands (HEALTH_PORT; 0 serves none).
  if ((HEALTH_SERVED.has(command) || everything) && config.HEALTH_PORT > 0) {
    const host = config.HEALTH_HOST.includes(":") ? `[${config.HEALTH_HOST}]` : config.HEALTH_HOST;
    net.add(`${host}:${config.HEALTH_PORT}`);
  }
  const listen = SERVERS.has(command) || everything ? listenAddress(args) : undefined;
  if (listen !== undefined) net.add(listen);
  if (listen !== undefined && context.launcherPid !== undefined) {
    net.add(`unix:${uiSocketPath(env.get("TMPDIR"), context.launcherPid)}`);
  }
  if (command === "dbt" || everything) {
    dbtNeeds(args, env, context, { read, write, net, run, ffi, npmCache });
  }

  for (
    const [name, set] of [
      ["PLATFORM_ALLOW_READ", read],
      ["PLATFORM_ALLOW_WRITE", write],
      ["PLATFORM_ALLOW_NET", net],
      ["PLATFORM_ALLOW_RUN", run],
      ["PLATFORM_ALLOW_ENV", envNames],
    ] as const
  ) {
    for (const item of (env.get(name) ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
      checkWidening(name, item);
      set.add(/^PLATFORM_ALLOW_(READ|WRITE)$/.test(name) ? at(item) : item);
    }
  }
  for (const path of write) read.add(path);

  const mode = (env.get("PLATFORM_PERMISSIONS") ?? "").trim();
  if (mode !== "" && mode !== "all") {
    throw new ConfigError(
      "config.invalid",
      `PLATFORM_PERMISSIONS must be 'all' (plain -A) or unset, got '${mode}'`,
      { input: "PLATFORM_PERMISSIONS" },
    );
  }
  return {
    all: mode === "all",
    read: outermost(read),
    write: outermost(write),
    net: [...net],
    run: [...run],
    ffi: [...ffi],
    sys: [...sys],
    env: [...envNames],
  };
}

/**
 * The `deno run` flags of `permissions` (`-A` when `all`). A list that is
 * empty gives no flag, so that permission is refused; reads outside the
 * grants fail as missing files and other variables read as unset.
 */
export function permissionFlags(permissions: TaskPermissions): string[] {
  if (permissions.all) return ["-A"];
  const flags: string[] = ["--ignore-read", "--ignore-env"];
  const add = (name: string, values: readonly string[]) => {
    if (values.length > 0) flags.push(`--allow-${name}=${values.join(",")}`);
  };
  add("read", permissions.read);
  add("write", permissions.write);
  add("net", permissions.net);
  add("run", permissions.run);
  add("ffi", permissions.ffi);
  add("sys", permissions.sys);
  add("env", permissions.env);
  return flags;
}

/** The npm cache Deno reads packages from: `$DENO_DIR/npm`, else the OS's cache folder's. */
export function npmCacheDir(
  env: { get(name: string): string | undefined },
  os: typeof Deno.build.os = Deno.build.os,
): string {
  const denoDir = env.get("DENO_DIR");
  if (denoDir) return join(resolve(denoDir), "npm");
  const home = env.get("HOME") ?? env.get("USERPROFILE") ?? "/";
  if (os === "darwin") return join(home, "Library", "Caches", "deno", "npm");
  if (os === "windows") {
    return join(env.get("LOCALAPPDATA") ?? join(home, "AppData", "Local"), "deno", "npm");
  }
  return join(env.get("XDG_CACHE_HOME") || join(home, ".cache"), "deno", "npm");
}

/** Throws a {@linkcode ConfigError} naming `variable` when `item` is not what Deno's flag takes. */
function checkWidening(variable: string, item: string): void {
  const shapes: Record<string, [RegExp, string]> = {
    PLATFORM_ALLOW_NET: [
      /^(\*\.)?[a-z0-9_.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i,
      "host or host:port (no scheme, no path)",
    ],
    PLATFORM_ALLOW_ENV: [/^[A-Za-z_][A-Za-z0-9_]*\*?$/, "a variable name, or a prefix ending in *"],
  };
  const [shape, expected] = shapes[variable] ?? [/^[^,]+$/, "a path"];
  if (!shape.test(item)) {
    throw new ConfigError(
      "config.invalid",
      `${variable} ('${item}'): each entry must be ${expected}`,
      { input: variable },
    );
  }
}

/** The paths not inside another of `paths` (a grant covers everything below it), in order. */
function outermost(paths: Iterable<string>): string[] {
  const list = [...paths];
  const inside = (path: string, parent: string) =>
    path !== parent && (parent === "/" || path.startsWith(`${parent}/`));
  return list.filter((path) => !list.some((other) => inside(path, other)));
}

function readTextOrUndefined(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Adds what the outputs of a `profiles.yml` reach: a Postgres target's `host:port` (5432 by
 * default; a socket folder is read), a DuckDB file's folder (written: DuckDB keeps its WAL
 * beside it). A value is taken as written or from `{{ env_var('NAME', 'default') }}`; any
 * other Jinja grants nothing (PLATFORM_ALLOW_NET widens), nor does a file that is no YAML
 * (the dbt command reports it).
 */
function profileNeeds(
  text: string,
  env: { get(name: string): string | undefined },
  project: string,
  sets: { read: Set<string>; write: Set<string>; net: Set<string> },
): void {
  let profiles: unknown;
  try {
    profiles = loadPyYaml(text);
  } catch {
    return;
  }
  for (const profile of Object.values(asRecord(profiles))) {
    for (const output of Object.values(asRecord(asRecord(profile).outputs))) {
      const fields = asRecord(output);
      const type = plainValue(fields.type, env);
      if (type === "postgres") {
        const host = plainValue(fields.host, env);
        if (!host) continue; // no host: the embedded PGlite
        if (host.startsWith("/")) sets.read.add(host);
        else sets.net.add(`${host}:${plainValue(fields.port, env) || "5432"}`);
      } else if (type === "duckdb") {
        const path = plainValue(fields.path, env);
        if (!path || path === ":memory:" || /^[a-z]+:/i.test(path)) continue;
        const folder = dirname(resolve(project, path));
        sets.read.add(folder);
        sets.write.add(folder);
      }
    }
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? value as Record<string, unknown>
    : {};
}

/** A profile value as written, or its `env_var('NAME', 'default')` (filters after it ignored). */
function plainValue(
  value: unknown,
  env: { get(name: string): string | undefined },
): string | undefined {
  if (typeof value === "number") return String(value);
  if (typeof value !== "string") return undefined;
  if (!value.includes("{{")) return value.trim();
  const call =
    /^\s*\{\{\s*env_var\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"]?)([^'")]*)\3\s*)?\)\s*(?:\|\s*\w+\s*)*\}\}\s*$/
      .exec(value);
  if (!call) return undefined;
  return env.get(call[2] as string) ?? call[4];
}

function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether the PGlite data dir of `WAREHOUSE_URL` exists already (no initdb needed). */
function pgliteCreated(
  config: Config,
  at: (path: string) => string,
  exists: (path: string) => boolean,
): boolean {
  const location = config.WAREHOUSE_URL.slice("pglite:".length).replace(/^\/\/(?=[./])/, "");
  if (location === "" || location.includes("memory:")) return true;
  return exists(join(at(location), "PG_VERSION"));
}

/** `host:port` of an http(s) URL (default ports filled in), or undefined. */
function httpHost(url: string): string | undefined {
  const parsed = URL.parse(url);
  if (!parsed || !/^https?:$/.test(parsed.protocol) || !parsed.hostname) return undefined;
  const port = parsed.port || (parsed.protocol === "https:" ? "443" : "80");
  return `${parsed.hostname}:${port}`;
}

/** The `host:port`s (or socket folders) of a `postgres://` URL; none for embedded URLs. */
function postgresHosts(url: string): string[] {
  if (!/^postgres(ql)?:\/\//i.test(url)) return [];
  const query = new URLSearchParams(/\?([^#]*)/.exec(url)?.[1] ?? "");
  const socket = query.get("host");
  if (socket?.startsWith("/")) return [socket];
  const port = query.get("port") ?? "5432";
  // postgres.js takes several hosts separated by commas in the authority.
  // The userinfo runs to the last '@' of the authority: a password may hold an unencoded one.
  const authority = /^[a-z]+:\/\/(?:[^/?#]*@)?([^/?#@]*)/i.exec(url)?.[1] ?? "";
  const hosts = authority.split(",").filter(Boolean).flatMap((entry) => {
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(entry);
    return match ? [`${match[1]}:${match[2] ?? port}`] : [];
  });
  if (socket) hosts.push(`${socket}:${port}`);
  return hosts.length > 0 ? hosts : [`localhost:${port}`];
}

/** The hosts an object store URL reaches: its endpoint, or AWS for a bare `s3://`. */
function lakeHosts(url: string): string[] {
  const parsed = URL.parse(url);
  if (!parsed) return [];
  if (parsed.protocol === "s3:") {
    if (parsed.host) return [`${parsed.hostname}:${parsed.port || "443"}`];
    // AWS: the regional endpoints and buckets' virtual hosts, STS, and the
    // EC2/ECS credential endpoints of the SDK's default chain.
    return ["*.amazonaws.com", "169.254.169.254:80", "169.254.170.2:80"];
  }
  const host = httpHost(url);
  return host ? [host] : [];
}

/** The hosts of a MongoDB URL; for `mongodb+srv://` every host of its SRV domain. */
function mongoHosts(url: string): string[] {
  // The userinfo runs to the last '@': a password may hold an unencoded one.
  const match = /^(mongodb(?:\+srv)?):\/\/(?:[^/?#]*@)?([^/?#@]*)/i.exec(url);
  if (!match) return [];
  const entries = (match[2] ?? "").split(",").filter(Boolean);
  if (match[1]!.toLowerCase() === "mongodb+srv") {
    // SRV answers must share the domain of the name without its first label.
    return entries.flatMap((host) => {
      const domain = host.split(".").slice(1).join(".");
      return [host, ...(domain.includes(".") ? [`*.${domain}`] : [])];
    });
  }
  return entries.map((entry) => (/:\d+$/.test(entry) ? entry : `${entry}:27017`));
}

/** What one notifier URL reaches: a host, or a program it runs. */
function notifierTarget(url: string): { kind: "net" | "run"; value: string } | undefined {
  const parsed = URL.parse(url);
  if (!parsed) return undefined;
  const scheme = parsed.protocol.replace(/^(slack|webhook)\+/, "");
  if (scheme === "exec:") return { kind: "run", value: decodeURIComponent(parsed.pathname) };
  if (scheme === "smtp:" || scheme === "smtps:") {
    const port = parsed.port || (scheme === "smtps:" ? "465" : "587");
    return { kind: "net", value: `${parsed.hostname}:${port}` };
  }
  if (scheme === "http:" || scheme === "https:") {
    const port = parsed.port || (scheme === "https:" ? "443" : "80");
    return { kind: "net", value: `${parsed.hostname}:${port}` };
  }
  return undefined;
}

/** The value of `--name VALUE` / `--name=VALUE` in `args` (the last one wins). */
function flagValue(args: readonly string[], ...names: string[]): string | undefined {
  let value: string | undefined;
  args.forEach((arg, index) => {
    for (const name of names) {
      if (arg === name) value = args[index + 1];
      else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
    }
  });
  return value;
}

/** Where the UI listens: `--host` (default 127.0.0.1) with `--port` (default 3000; 0: any). */
function listenAddress(args: readonly string[]): string | undefined {
  const host = flagValue(args, "--host") ?? "127.0.0.1";
  const port = flagValue(args, "--port") ?? "3000";
  // A malformed --port or --host grants nothing: the command itself then refuses it as a
  // usage error naming the flag (exit 2). Put in --allow-net, Deno died on it with a stack
  // trace ('invalid port in '127.0.0.1:abc'').
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) return undefined;
  if (!/^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)$/.test(host)) {
    return undefined;
  }
  const shown = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
  return port === "0" ? shown : `${shown}:${port}`;
}

/** What `deno task dbt` adds: the dbt project's folder, profiles, packages and DuckDB. */
function dbtNeeds(
  args: readonly string[],
  env: { get(name: string): string | undefined },
  context: PermissionContext,
  sets: {
    read: Set<string>;
    write: Set<string>;
    net: Set<string>;
    run: Set<string>;
    ffi: Set<string>;
    npmCache: string;
  },
): void {
  // Folders are given relative to where the command was typed (INIT_CWD under deno task);
  // the project is the flag, DBT_PROJECT_DIR, that folder when it holds one, else ours.
  const base = env.get("INIT_CWD") ?? context.cwd;
  const at = (path: string) => resolve(base, path);
  const given = flagValue(args, "--project-dir") ?? env.get("DBT_PROJECT_DIR");
  const exists = context.exists ?? pathExists;
  const project = given
    ? at(given)
    : exists(join(base, "dbt_project.yml"))
    ? base
    : join(context.projectDir, "dbt");
  // dbt-core writes target/, logs/ and dbt_packages/ into the project folder.
  sets.read.add(project);
  sets.write.add(project);
  for (const name of ["--profiles-dir", "--state"]) {
    const value = flagValue(args, name);
    if (value) sets.read.add(at(value));
  }
  const targetPath = flagValue(args, "--target-path") ?? env.get("DBT_TARGET_PATH");
  if (targetPath) sets.write.add(at(targetPath));
  const home = env.get("HOME") ?? env.get("USERPROFILE");
  if (home) sets.read.add(join(home, ".dbt"));
  // The servers and files the profile's targets name, as a dbt user writes them in profiles.yml:
  // without them a `type: postgres` target with a host failed 'Requires net access'.
  const profilesDir = [
    flagValue(args, "--profiles-dir"),
    env.get("DBT_PROFILES_DIR"),
  ].find((dir) => dir !== undefined && dir !== "");
  const candidates = profilesDir
    ? [at(profilesDir)]
    : [project, base, ...(home ? [join(home, ".dbt")] : [])];
  // Each file itself, not its folder: the working folder may be the user's home.
  for (const dir of candidates) sets.read.add(join(dir, "profiles.yml"));
  const readText = context.readText ?? readTextOrUndefined;
  for (const dir of candidates) {
    const text = readText(join(dir, "profiles.yml"));
    if (text === undefined) continue;
    profileNeeds(text, env, project, sets);
    break;
  }
  const hub = httpHost(env.get("DBT_PACKAGE_HUB_URL") || "https://hub.getdbt.com");
  if (hub) sets.net.add(hub);
  sets.run.add("git");
  sets.run.add("tar");
  // A DuckDB target loads DuckDB's native addon from the npm cache.
  sets.ffi.add(sets.npmCache);
}
