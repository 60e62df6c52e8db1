/**
 * Configuration, parsed once with zod from the environment and an optional
 * `.env` file. Each resource is chosen by the scheme of one URL variable; a bad
 * value fails at start naming the variable and what was expected. The secrets
 * of every variable are registered for redaction as soon as they are read
 * (core/secrets.ts), so no output ever shows them.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { z } from "zod";
import { ConfigError, toError } from "../core/errors.ts";
import { redactUrl, registerSecretsOf } from "../core/secrets.ts";
import { printable, quote } from "../core/printable.ts";

/**
 * The places file shipped with the project, wherever the command is run from
 * (a path set in WEATHER_PLACES_FILE is relative to the working folder).
 */
export const DEFAULT_PLACES_FILE: string = fileURLToPath(
  new URL("../config/places.json", import.meta.url),
);

/** Schemes whose URLs have one host and port, so a URL that does not parse is a typo. */
const PARSED_SCHEMES = /^(?:https?|postgres(?:ql)?|s3):/i;
import { type LimitSettings, parseLimits } from "../core/worker/admission.ts";
import { bucketProblem } from "./object_store/_keys.ts";
import { nativeGdalInBinaryError } from "./spatial/_standalone.ts";

/**
 * Whether each `host[:port]` of a MongoDB URL's host list (after the last `@`)
 * is a host name or bracketed IPv6 address with a port of 1-65535: such a
 * URL has several hosts, so `URL` cannot check it.
 */
function mongoHostsValid(value: string): boolean {
  if (!/^mongodb(?:\+srv)?:\/\//i.test(value)) return true;
  const hosts = /^[a-z+]+:\/\/(?:[^/?#]*@)?([^/?#@]*)/i.exec(value)?.[1] ?? "";
  return hosts !== "" && hosts.split(",").every((entry) => {
    const match = /^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$/.exec(entry);
    return match !== null && (match[1] === undefined || Number(match[1]) >= 1) &&
      Number(match[1] ?? 1) <= 65535;
  });
}

/**
 * An ASCII host name (underscores allowed: Docker and Compose service names
 * have them; a final dot too), IPv4 or bracketed IPv6 address, with an optional port.
 */
const HOST =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/**
 * What the part after the scheme of `value` lacks, for the schemes whose
 * emptiness `URL` accepts (`file://`, `sqlite:`) or whose host it quietly
 * converts (`s3://bücket` became `xn--bcket-kva`, then the S3 client failed
 * with a Rust stack at the first call), or `undefined` when it is fine.
 */
function urlShapeProblem(value: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(value)?.[1]?.toLowerCase() ?? "";
  const rest = value.slice(scheme.length + 1);
  const path = rest.replace(/^\/\//, "").replace(/[?#].*$/, "");
  switch (scheme) {
    case "file":
      return path === ""
        ? "names no folder; use file://./data_lake (relative) or file:///absolute/path"
        : undefined;
    case "sqlite":
      return path === ""
        ? "names no database file; use sqlite:.state/NAME.db or sqlite::memory:"
        : undefined;
    case "pglite":
      return path === ""
        ? "names no data folder; use pglite:.state/warehouse or pglite:memory:"
        : undefined;
    case "duckdb":
      return path === ""
        ? "names no database file; use duckdb:.state/warehouse.duckdb or duckdb::memory:"
        : undefined;
    case "http":
    case "https":
    case "s3":
    case "postgres":
    case "postgresql": {
      if (!rest.startsWith("//")) return `needs '${scheme}://' before the host`;
      const authority = /^\/\/([^/?#]*)/.exec(rest)?.[1] ?? "";
      const host = /^(?:.*@)?(.*)$/.exec(authority)?.[1] ?? "";
      if (
        scheme !== "http" && scheme !== "https" && rest.slice(2 + authority.length).includes("@")
      ) {
        // postgres://u:p@ss/w@h/db: the password's '/' ends the host early, so the driver
        // connected to 'ss' (ENOTFOUND ss: a piece of the password in the error).
        return `has an '@' after its host: a '/', '?', '#' or '@' in the user name or password ` +
          "must be percent-encoded as %2F, %3F, %23 or %40";
      }
      if (host === "") {
        // s3:// alone is AWS for the region; postgres:// alone is the driver's defaults.
        return scheme === "http" || scheme === "https" ? "names no host" : undefined;
      }
      // Postgres takes a list of hosts (libpq's multi-host form) and a socket folder,
      // percent-encoded, in the host's place.
      const hosts = scheme.startsWith("postgres") ? host.split(",") : [host];
      return hosts.every((one) =>
          HOST.test(one) || (scheme.startsWith("postgres") && /^%2F/i.test(one))
        )
        ? undefined
        : `host${hostShown(host, rest.slice(2 + authority.length))} is not a host name ` +
          "(ASCII letters, digits, '-' and '.'), an IP address or [IPv6], with an optional :port" +
          (scheme === "s3"
            ? "; s3://HOST names the endpoint, LANDING_BUCKET and LAKE_BUCKET the buckets"
            : "");
    }
    default:
      return undefined;
  }
}

/**
 * The host quoted for a message (` 'db.example'`), or, when an '@' follows it
 * (`postgres://u:p@ss:w/ord@h/db`: the password's '/' ended the host early,
 * so what reads as the host is a piece of the password), what to encode in
 * its place: quoting it printed part of the password.
 */
function hostShown(host: string, after: string): string {
  return after.includes("@")
    ? " (before an '@' further on: a '/', '?', '#' or '@' in the user name or password must " +
      "be percent-encoded as %2F, %3F, %23 or %40)"
    : ` '${host}'`;
}

/** Schemes of NOTIFY_URLS (resources/notifier/open.ts picks the notifier by them). */
const NOTIFY_SCHEMES = new Set([
  "slack+https:",
  "slack+http:",
  "webhook+https:",
  "webhook+http:",
  "https:",
  "http:",
  "smtp:",
  "smtps:",
  "exec:",
  "memory:",
]);

/**
 * What is wrong with one NOTIFY_URLS entry, checked at start like the other
 * URLs: an unknown scheme or a bad timeout_ms failed the daemon with exit 1,
 * and a non-ASCII host (smtp://bü) crashed the launcher with a Rust stack
 * (Deno refused the network permission built from it).
 */
function notifyUrlProblem(url: string): string | undefined {
  if (!URL.canParse(url)) return "is not a URL";
  const parsed = new URL(url);
  if (!NOTIFY_SCHEMES.has(parsed.protocol)) {
    return `has the unknown scheme '${parsed.protocol}' (use slack+https, https, smtp, smtps or exec)`;
  }
  if (parsed.protocol !== "exec:" && parsed.protocol !== "memory:") {
    const authority = /^[a-z+]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? "";
    const host = /^(?:.*@)?(.*)$/.exec(authority)?.[1] ?? "";
    if (host === "") return "names no host";
    if (!HOST.test(host)) {
      const after = url.slice(url.indexOf("//") + 2 + authority.length);
      return `has the host${hostShown(host, after)}, not a host name (ASCII letters, digits, ` +
        "'-' and '.'), an IP address or [IPv6], with an optional :port";
    }
  }
  const timeout = parsed.searchParams.get("timeout_ms");
  if (timeout !== null && (!/^\d{1,6}$/.test(timeout) || +timeout < 1 || +timeout > 600_000)) {
    return `has timeout_ms '${timeout}': give a whole number of milliseconds from 1 to 600000`;
  }
  return undefined;
}

/** A bucket variable: the S3 naming rules, checked at start rather than at the first call. */
const bucketName = (name: string, fallback: string) =>
  z.string().trim().default(fallback).superRefine((value, ctx) => {
    const problem = bucketProblem(value);
    if (problem !== undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${name} is not a valid bucket name (${problem}): use 3 to 63 lowercase ` +
          "letters, digits, hyphens or dots, starting and ending with a letter or digit",
      });
    }
  });

const urlWithScheme = (name: string, schemes: readonly string[], fallback: string) =>
  z.string().trim().min(1).default(fallback).refine(
    (value) => schemes.some((scheme) => value.startsWith(scheme)),
    { message: `${name} must start with ${schemes.map((s) => `'${s}'`).join(" or ")}` },
  ).refine(
    (value) =>
      (!PARSED_SCHEMES.test(value) || URL.canParse(value) && new URL(value).port !== "0") &&
      mongoHostsValid(value) &&
      // A '%' not followed by two hex digits ('p%ss' for a password 'p%ss'): the drivers'
      // decodeURIComponent threw 'URI malformed' at the first connection, naming nothing.
      !/%(?![0-9A-Fa-f]{2})/.test(value),
    {
      message: `${name} is not a valid URL: check the host, the port (1-65535) and that ` +
        "special characters in the user name and password are percent-encoded",
    },
  ).superRefine((value, ctx) => {
    const problem = urlShapeProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${name} ${problem}` });
  });

/** The longest delay a timer takes: setTimeout fires at once for anything longer. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * A number variable written in plain decimal (`-`, digits, one `.`), then
 * checked by `number`: `z.coerce.number()` alone took `0x10` as 16, `1e3` as
 * 1000 and `Infinity`, and read `99999999999999999999` as a number it
 * cannot hold.
 */
const decimal = (name: string, example: string, number: z.ZodNumber) =>
  z.string().trim().regex(/^-?(?:\d{1,15}(?:\.\d+)?|\.\d+)$/, {
    error: `${name} must be a number in decimal digits, e.g. ${example}`,
  }).transform(Number).pipe(number);

/**
 * The zod schema of the configuration: the single source of its shape and
 * defaults. {@linkcode loadConfig} derives the defaults of LEDGER_URL,
 * WAREHOUSE_URL and RUNS_URL from STATE_DIR (the `.state` ones below are
 * what parsing this schema alone gives).
 */
export const ConfigSchema = z.object({
  STATE_DIR: z.string().trim().min(1).default(".state"),
  LAKE_URL: urlWithScheme(
    "LAKE_URL",
    ["file:", "s3:", "http:", "https:", "memory:"],
    "file://./data_lake",
  ),
  S3_REGION: z.string().trim().min(1).default("us-east-1"),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  LEDGER_URL: urlWithScheme(
    "LEDGER_URL",
    ["sqlite:", "mongodb:", "mongodb+srv:", "memory:"],
    "sqlite:.state/ledger.db",
  ),
  WAREHOUSE_URL: urlWithScheme(
    "WAREHOUSE_URL",
    ["pglite:", "postgres:", "postgresql:", "duckdb:"],
    "pglite:.state/warehouse",
  ),
  RUNS_URL: urlWithScheme(
    "RUNS_URL",
    ["sqlite:", "postgres:", "postgresql:", "memory:"],
    "sqlite:.state/runs.db",
  ),
  LANDING_BUCKET: bucketName("LANDING_BUCKET", "landing-zone"),
  LAKE_BUCKET: bucketName("LAKE_BUCKET", "data-lake"),
  SPATIAL_URL: urlWithScheme(
    "SPATIAL_URL",
    ["spatialite:", "postgres:", "postgresql:"],
    "spatialite:",
  ),
  GDAL_ENGINE: z.enum(["auto", "native", "wasm"], {
    error: "GDAL_ENGINE must be auto, native (the machine's GDAL >= 3.6) or wasm (gdal3.js)",
  }).default("auto"),
  TARGET_CRS: z.string().trim().regex(/^EPSG:\d+$/, "TARGET_CRS must look like EPSG:4326").default(
    "EPSG:4326",
  ),
  WEATHER_START_DATE: z.string().trim().regex(
    /^\d{4}-\d{2}-\d{2}$/,
    "WEATHER_START_DATE must be YYYY-MM-DD",
  )
    .refine(
      (day) => !Number.isNaN(Date.parse(day)) && new Date(day).toISOString().startsWith(day),
      "WEATHER_START_DATE must be a real date, e.g. 2026-11-01",
    )
    // Every day before it failed at run time, one partition each (1900: 14,600 failed runs).
    .refine(
      (day) => day >= "1940-01-01",
      "WEATHER_START_DATE must be 1940-01-01 or later: Open-Meteo's archive starts there",
    )
    .default("2026-11-01"),
  WEATHER_PLACES_FILE: z.string().trim().min(1).default(DEFAULT_PLACES_FILE),
  OPEN_METEO_ARCHIVE_URL: urlWithScheme(
    "OPEN_METEO_ARCHIVE_URL",
    ["http:", "https:"],
    "https://archive-api.open-meteo.com/v1/archive",
  ),
  OPEN_METEO_FORECAST_URL: urlWithScheme(
    "OPEN_METEO_FORECAST_URL",
    ["http:", "https:"],
    "https://api.open-meteo.com/v1/forecast",
  ),
  WEATHER_ARCHIVE_LAG_DAYS: decimal(
    "WEATHER_ARCHIVE_LAG_DAYS",
    "5",
    z.number().int().min(0).max(92),
  )
    .default(5),
  HTTP_TIMEOUT_MS: decimal(
    "HTTP_TIMEOUT_MS",
    "10000",
    z.number().int().positive().max(MAX_TIMER_MS),
  )
    .default(10_000),
  ACTIVITY_BAD_ROW_TOLERANCE: decimal(
    "ACTIVITY_BAD_ROW_TOLERANCE",
    "0.02",
    z.number().min(0).max(1),
  )
    .default(0.02),
  DBT_FULL_REFRESH: z.stringbool().default(false),
  // dbt (graph.ts and `deno task dbt`). Paths are checked here so a typo fails at start.
  DBT_PROJECT_DIR: z.string().trim().min(1).refine(
    (dir) => isFile(`${dir}/dbt_project.yml`),
    { message: "DBT_PROJECT_DIR must be a folder holding a dbt_project.yml" },
  ).optional(),
  DBT_PROFILES_DIR: z.string().trim().min(1).refine(
    (dir) => isFolder(dir),
    { message: "DBT_PROFILES_DIR must be an existing folder (where profiles.yml is)" },
  ).optional(),
  DBT_TARGET: z.string().trim().regex(
    /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/,
    "DBT_TARGET must be the name of an output of profiles.yml, e.g. dev",
  ).optional(),
  DBT_TARGET_PATH: z.string().trim().min(1).optional(),
  DBT_PACKAGE_HUB_URL: z.string().trim().refine(
    (url) => /^https?:\/\/[^/]/.test(url),
    { message: "DBT_PACKAGE_HUB_URL must be an http(s) URL, e.g. https://hub.getdbt.com" },
  ).optional(),
  SAMPLE_DATA: z.stringbool().default(true),
  /**
   * How long a committed spatial manifest whose files are not all in the
   * landing zone yet waits for them before it is quarantined naming them, in
   * milliseconds (0: at once).
   */
  MANIFEST_FILE_WAIT_MS: decimal(
    "MANIFEST_FILE_WAIT_MS",
    "300000",
    z.number().int().min(0).max(MAX_TIMER_MS),
  ).default(300_000),
  SENSOR_INTERVAL_MS: decimal(
    "SENSOR_INTERVAL_MS",
    "1000",
    z.number().int().positive().max(MAX_TIMER_MS),
  )
    .default(1_000),
  /**
   * Port of the health endpoint of `sensor`, `worker` and `dev` (`/livez`,
   * `/readyz`, for Kubernetes probes and Compose healthchecks); 0 (the
   * default) serves none.
   */
  HEALTH_PORT: decimal("HEALTH_PORT", "8081", z.number().int().min(0).max(65_535)).default(0),
  /**
   * Address the health endpoint binds: loopback by default (a check run
   * inside the container); `0.0.0.0` for a kubelet probing the pod's IP.
   */
  HEALTH_HOST: z.string().trim().regex(/^[A-Za-z0-9._:-]+$/, {
    error: "HEALTH_HOST must be an address or host name, e.g. 127.0.0.1 or 0.0.0.0",
  }).default("127.0.0.1"),
  /**
   * With no round of its main loop (the daemon's tick, the worker's
   * heartbeat) for this long, in milliseconds, `/livez` says the process
   * stalled (503).
   */
  HEALTH_STALE_MS: decimal(
    "HEALTH_STALE_MS",
    "60000",
    z.number().int().min(1_000).max(MAX_TIMER_MS),
  ).default(60_000),
  /**
   * How often a process running a run records that it is alive (its
   * heartbeat), in milliseconds. A run whose owner misses 4 heartbeats in a
   * row is failed as "owner process died" by the next daemon tick or CLI start.
   */
  RUN_HEARTBEAT_INTERVAL_MS: decimal(
    "RUN_HEARTBEAT_INTERVAL_MS",
    "10000",
    z.number().int().min(50).max(3_600_000),
  ).default(10_000),
  /**
   * Where alerts go, separated by spaces: `slack+https://hooks...`,
   * `https://...` (JSON webhook), `smtp://user:pass@host:587?from=..&to=..`,
   * `exec:///path/to/hook`; a `#name` fragment names one. None by default.
   */
  NOTIFY_URLS: z.string().trim().default("").superRefine((value, ctx) => {
    for (const url of value.split(/\s+/).filter(Boolean)) {
      const problem = notifyUrlProblem(url);
      if (problem !== undefined) {
        ctx.addIssue({ code: "custom", message: `NOTIFY_URLS: '${redactUrl(url)}' ${problem}` });
      }
    }
  }),
  /** Base URL of the web UI, for links in notifications (e.g. `http://localhost:3000`). */
  UI_URL: z.string().trim().optional().refine(
    (v) => v === undefined || v === "" || /^https?:\/\/\S+$/.test(v),
    "UI_URL must be an http(s) URL",
  ),
  /**
   * `auto`: with a Postgres run store, launched runs (sensors, schedules,
   * `materialize --queue`, backfills, the UI) go to the run queue and workers
   * execute them; `off`: they execute in the process that launches them.
   */
  RUN_QUEUE: z.enum(["auto", "off"], {
    error: "RUN_QUEUE must be auto (queue runs when RUNS_URL is Postgres) or off",
  }).default("auto"),
  /** Most queued runs launched or running at once; empty for no limit. */
  QUEUE_MAX_RUNS: z.string().trim().default("").refine(
    (v) => v === "" || /^[1-9]\d*$/.test(v),
    "QUEUE_MAX_RUNS must be a whole number >= 1, or empty for no limit",
  ),
  /** Limits per tag: `KEY=VALUE:N`, `KEY:N` or `KEY=*:N`, comma-separated (e.g. group=spatial:2). */
  QUEUE_TAG_LIMITS: z.string().trim().default("").superRefine((v, ctx) => {
    const problem = limitsParse({ tagLimits: v });
    if (problem) ctx.addIssue({ code: "custom", message: `QUEUE_TAG_LIMITS: ${problem}` });
  }),
  /** Limits per pool (resource key): `POOL=N`, comma-separated (e.g. warehouse=2). */
  QUEUE_POOL_LIMITS: z.string().trim().default("").superRefine((v, ctx) => {
    const problem = limitsParse({ poolLimits: v });
    if (problem) ctx.addIssue({ code: "custom", message: `QUEUE_POOL_LIMITS: ${problem}` });
  }),
  /**
   * What QUEUE_POOL_LIMITS counts: `run` (runs using the resource, decided
   * at admission) or `step` (steps using it at once across every worker).
   */
  QUEUE_POOL_GRANULARITY: z.enum(["run", "step"], {
    error: "QUEUE_POOL_GRANULARITY must be run (pool limits count runs) or step (they count steps)",
  }).default("run"),
  /**
   * Run retries of queued runs that set none (Dagster's max_retries); without a
   * run queue, of the sensor and schedule runs the `sensor` daemon executes.
   */
  QUEUE_MAX_RETRIES: decimal("QUEUE_MAX_RETRIES", "3", z.number().int().min(0).max(100)).default(0),
});

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false; // missing or unreadable: the refinement's message says what is expected
  }
}

function isFolder(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** The problem with limit settings, or `undefined` when they parse. */
function limitsParse(settings: LimitSettings): string | undefined {
  try {
    parseLimits(settings);
    return undefined;
  } catch (error) {
    return toError(error).message;
  }
}

/** The parsed configuration. */
export type Config = z.infer<typeof ConfigSchema>;

/** Variables whose values are secrets in full. */
const SECRET_VARIABLES = new Set(["S3_SECRET_ACCESS_KEY"]);

/**
 * Parses the configuration from `env` (the process environment by default)
 * over the values of a `.env` file when one exists; the environment wins.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * const config = loadConfig({ env: { RUNS_URL: "memory:" }, dotenvPath: null });
 * config.RUNS_URL; // "memory:"
 * ```
 */
export function loadConfig(
  options: {
    env?: Record<string, string | undefined>;
    dotenvPath?: string | null;
    /**
     * Whether this process is a `deno compile` binary, where `GDAL_ENGINE=native`
     * cannot run (a `config.native_gdal_in_binary` error at start, not a broken batch).
     *
     * @default {Deno.build.standalone}
     */
    standalone?: boolean;
  } = {},
): Config {
  const dotenv = options.dotenvPath === null ? {} : readDotenv(options.dotenvPath ?? ".env");
  const env = options.env ?? Deno.env.toObject();
  // An empty value means unset, in the environment and in `.env` alike.
  // Secrets from `.env` are redacted from every output like those of the environment.
  registerSecretsOf({ ...dotenv, ...env });
  const typed = fromTypingFolder(pickDefined(env), env.INIT_CWD);
  const input: Record<string, string> = { ...pickDefined(dotenv), ...typed };
  // The embedded stores live under STATE_DIR unless their URL is set, so one
  // variable moves everything the platform writes besides the local lake.
  const state = (input.STATE_DIR ?? "").trim() || ".state";
  input.LEDGER_URL ??= `sqlite:${state}/ledger.db`;
  input.WAREHOUSE_URL ??= `pglite:${state}/warehouse`;
  input.RUNS_URL ??= `sqlite:${state}/runs.db`;
  const parsed = ConfigSchema.safeParse(input);
  if (parsed.success) {
    if (parsed.data.GDAL_ENGINE === "native" && (options.standalone ?? Deno.build.standalone)) {
      throw nativeGdalInBinaryError();
    }
    return parsed.data;
  }
  const problems = parsed.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? "?");
    const given = input[name];
    const shown = given === undefined
      ? "unset"
      : SECRET_VARIABLES.has(name)
      ? "'***'"
      : quote(clip(redactUrl(given)));
    // Some rules quote the value in their message (QUEUE_TAG_LIMITS' parser): escaped and
    // clipped like the value shown before it.
    return `${name} (${shown}): ${printable(clip(issue.message, 600))}`;
  });
  throw new ConfigError("config.invalid", `Invalid configuration: ${problems.join("; ")}`, {
    input: String(parsed.error.issues[0]?.path[0] ?? ""),
  });
}

/** Variables holding a path, and those holding an embedded store's or a local lake's URL. */
const PATH_VARIABLES = [
  "STATE_DIR",
  "WEATHER_PLACES_FILE",
  "DBT_PROJECT_DIR",
  "DBT_PROFILES_DIR",
  "DBT_TARGET_PATH",
];
const URL_VARIABLES = ["LEDGER_URL", "WAREHOUSE_URL", "RUNS_URL", "LAKE_URL"];

/**
 * `env`'s relative paths made absolute from `base`, the folder the command
 * was typed in (`INIT_CWD`, which `deno task` sets: it runs the task in the
 * repository, so `STATE_DIR=state` typed in ~/work named the repository's
 * state/). `.env` values and the defaults are not given here: they stay
 * relative to the working folder, the repository's.
 */
function fromTypingFolder(
  env: Record<string, string>,
  base: string | undefined,
): Record<string, string> {
  if (!base || !isAbsolute(base)) return env;
  const out = { ...env };
  for (const name of PATH_VARIABLES) {
    const value = out[name]?.trim();
    if (value && !isAbsolute(value)) out[name] = resolve(base, value);
  }
  for (const name of URL_VARIABLES) {
    const value = out[name]?.trim();
    const match = value ? /^(sqlite|pglite|duckdb|file):(.*)$/i.exec(value) : null;
    if (!match) continue;
    const scheme = match[1]!.toLowerCase();
    // `sqlite://./x.db` and `file://./lake` are relative too (the stores read them so).
    const path = (match[2] ?? "").replace(/^\/\/(?=\.)/, "");
    if (path === "" || path.includes("memory:") || /^[/?#]/.test(path)) continue;
    if (scheme === "file") {
      let decoded: string;
      try {
        decoded = decodeURIComponent(path);
      } catch {
        continue; // refused by the lake with its own message
      }
      out[name] = pathToFileURL(resolve(base, decoded)).href;
    } else {
      out[name] = `${match[1]}:${resolve(base, path)}`;
    }
  }
  return out;
}

/** At most `max` characters of a value shown in a message: a value may be very long. */
function clip(value: string, max = 200): string {
  return value.length > max ? `${value.slice(0, max)}... (${value.length} characters)` : value;
}

function pickDefined(env: Record<string, string | undefined>): Record<string, string> {
  const keys = Object.keys(ConfigSchema.shape);
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] =>
      keys.includes(entry[0]) && entry[1] !== undefined && entry[1] !== ""
    ),
  );
}

/** Reads `KEY=VALUE` lines (see {@linkcode parseDotenv}); a missing file is no error. */
export function readDotenv(path: string): Record<string, string> {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw new ConfigError("config.dotenv", `Cannot read ${path}: ${(error as Error).message}`, {
      input: path,
      cause: error,
    });
  }
  try {
    return parseDotenv(text);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError("config.dotenv", `Cannot read ${path}: ${error.message}`, {
      input: path,
    });
  }
}

/**
 * Parses the text of a `.env` file: `KEY=VALUE` or `export KEY=VALUE` lines,
 * blank lines and `#` comments. A value in single quotes is taken as written;
 * in double quotes `\n` becomes a newline; either may be followed by a
 * comment. Unquoted, ` #` starts a comment. A line of another shape throws a
 * {@linkcode ConfigError} naming its number (the value is not shown: it may be
 * a secret).
 */
export function parseDotenv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const nul = text.indexOf("\u0000");
  if (nul !== -1) {
    // No environment value can hold one (a NUL in STATE_DIR failed later, as the run store's
    // path, exit 1), and a file of them is UTF-16, whose lines read as "not KEY=VALUE".
    const line = text.slice(0, nul).split("\n").length;
    const head = text.slice(0, 64);
    const zeros = head.split("\u0000").length - 1;
    throw new ConfigError(
      "config.dotenv",
      zeros * 3 >= head.length
        ? "the file is UTF-16 text (every other byte is zero); save it as UTF-8"
        : `line ${line} holds a NUL byte; remove it (no environment value can hold one)`,
    );
  }
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    const [, key = "", value = ""] = match ?? [];
    const quoted = /^(['"])(.*?)\1\s*(?:#.*)?$/.exec(value);
    if (!match || (/^['"]/.test(value) && !quoted)) {
      throw new ConfigError(
        "config.dotenv",
        `line ${index + 1} is not KEY=VALUE (with matching quotes, if quoted)`,
      );
    }
    if (!quoted) {
      values[key] = value.replace(/\s+#.*$/, "");
    } else {
      const inner = quoted[2] ?? "";
      values[key] = quoted[1] === '"' ? inner.replaceAll("\\n", "\n") : inner;
    }
  });
  return values;
}
