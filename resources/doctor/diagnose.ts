/**
 * `doctor`: for each resource, which implementation the configuration picks
 * and whether it answers, with the latency of one round trip. Each probe is
 * bounded in time so a server that does not answer is reported, never waited
 * for.
 *
 * @module
 */

import { resolve } from "node:path";
import type { Config } from "../config.ts";
import { redactUrl } from "../../core/secrets.ts";
import { openLedger } from "../ledger/open.ts";
import { openLake } from "../lake.ts";
import { openRunStore } from "../run_store/open.ts";
import { openGdal, openSpatialEngine } from "../spatial/open.ts";
import type { DuckdbWarehouse } from "../warehouse/duckdb.ts";
import { openWarehouse } from "../warehouse/open.ts";
import { toError } from "../../core/errors.ts";

/** The outcome of probing one resource. */
export interface Diagnosis {
  /** Resource key, e.g. `lake`. */
  readonly resource: string;
  /** Implementation picked by the URL's scheme, e.g. `sqlite`. */
  readonly implementation: string;
  /** The configured URL, password redacted. */
  readonly url: string;
  /** Whether it answered. */
  readonly ok: boolean;
  /** Milliseconds from opening to the answer (or the failure). */
  readonly latencyMs: number;
  /** Why it did not answer, or `null`. */
  readonly error: string | null;
  /** What else the probe found worth knowing (DuckDB: version and extensions), or `null`. */
  readonly detail: string | null;
}

/** Options of {@linkcode diagnose}. */
export interface DiagnoseOptions {
  /**
   * Longest time one probe may take, in milliseconds.
   * @default 10000
   */
  readonly timeoutMs?: number;
  /**
   * Told what a probe is waiting for when it takes longer than usual by design
   * (a new PGlite data dir being created), so a long wait is not taken for a hang.
   * @default {() => {}}
   */
  readonly onProgress?: (message: string) => void;
}

/**
 * How long a warehouse whose PGlite data dir does not exist yet gets: initdb
 * takes ~10 s on a quiet machine and several times that on a loaded one, and a
 * warehouse still being made is starting, not down.
 */
const CREATION_BUDGET_MS = 180_000;

/**
 * One resource's probe: opens it, makes one round trip, closes it; may return
 * a detail, or the implementation it found when the setting does not name one
 * (`GDAL_ENGINE=auto`) with a detail.
 */
interface Probe {
  readonly resource: string;
  readonly url: string;
  /** The implementation when the URL's scheme does not name it. */
  readonly implementation?: string;
  run(
    extend: (budgetMs: number) => void,
  ): Promise<string | void | { implementation: string; detail: string }>;
}

/** The extensions a DuckDB warehouse is asked about: the ones lake-native marts use. */
const DUCKDB_EXTENSIONS = ["parquet", "json", "httpfs", "spatial"];

/**
 * Probes every resource `config` names, all at once, and returns one
 * diagnosis per resource in a fixed order.
 *
 * @example
 * ```ts
 * import { diagnose } from "./diagnose.ts";
 * import { loadConfig } from "../config.ts";
 * const report = await diagnose(loadConfig());
 * const allUp = report.every((d) => d.ok);
 * ```
 */
export async function diagnose(
  config: Config,
  options: DiagnoseOptions = {},
): Promise<Diagnosis[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const progress = options.onProgress ?? (() => {});
  return await Promise.all(
    probes(config, timeoutMs, progress).map((probe) => measure(probe, timeoutMs)),
  );
}

/**
 * The data dir of a `pglite:<dir>` URL when it holds no database yet (so
 * opening it runs initdb), else `undefined`. Its `PG_VERSION` is what
 * `isDataDir` looks for; read here so the check does not load PGlite.
 */
function pgliteToCreate(url: string): string | undefined {
  const rest = /^pglite:(?:\/\/)?(.*)$/.exec(url)?.[1];
  if (!rest || rest === "memory:") return undefined;
  try {
    // Synchronous: the budget must be extended before the other probes' start-up blocks this thread.
    Deno.statSync(`${resolve(rest)}/PG_VERSION`);
    return undefined;
  } catch {
    return resolve(rest);
  }
}

function probes(config: Config, timeoutMs: number, progress: (message: string) => void): Probe[] {
  return [
    {
      resource: "lake",
      url: config.LAKE_URL,
      run: async () => {
        await using store = await openLake(config);
        for (const bucket of [config.LANDING_BUCKET, config.LAKE_BUCKET]) {
          await store.list(bucket, { pageSize: 1 });
        }
      },
    },
    {
      resource: "ledger",
      url: config.LEDGER_URL,
      run: async () => {
        const ledger = await openLedger(config.LEDGER_URL, {
          serverSelectionTimeoutMS: Math.max(500, timeoutMs - 500),
        });
        try {
          await ledger.ping();
        } finally {
          await closeResource(ledger);
        }
      },
    },
    {
      resource: "warehouse",
      url: config.WAREHOUSE_URL,
      run: async (extend) => {
        // A first start (this probe's initdb, or another process's holding the lock meanwhile):
        // waited for within its own budget, not reported as down.
        const creating = pgliteToCreate(config.WAREHOUSE_URL);
        const budget = Math.max(timeoutMs, CREATION_BUDGET_MS);
        if (creating) {
          extend(budget);
          progress(
            `warehouse: PGlite is creating its data dir ${creating} (first start: about 10 s, ` +
              `waiting up to ${budget / 1000} s)`,
          );
        }
        const started = performance.now();
        await using warehouse = await openWarehouse(config.WAREHOUSE_URL, {
          lockTimeoutMs: creating ? budget : Math.min(timeoutMs, 2000),
          connectTimeoutSeconds: Math.max(1, Math.ceil(timeoutMs / 1000)),
          downloadTimeoutMs: Math.max(500, timeoutMs - 1000),
          onLockWait: () => {},
          onNotice: () => {}, // the detail below says it
        });
        await warehouse.ping();
        if (creating) {
          return `first start: its data dir was created in ${
            Math.round(performance.now() - started)
          } ms`;
        }
        // By backend, not instanceof: importing duckdb.ts loads DuckDB's native addon, which
        // needs --allow-ffi (granted only when WAREHOUSE_URL is duckdb:).
        if (warehouse.backend !== "duckdb") return;
        const duckdb = warehouse as unknown as DuckdbWarehouse;
        const requested = duckdb.extensions.map((e) => e.name);
        const statuses = await duckdb.inspectExtensions([...DUCKDB_EXTENSIONS, ...requested]);
        return `DuckDB ${duckdb.version}; ` +
          statuses.map((e) => `${e.name}: ${e.available ? "" : "MISSING, "}${e.detail}`).join("; ");
      },
    },
    {
      resource: "spatial",
      url: config.SPATIAL_URL,
      run: async () => {
        // A workspace round trip proves what a batch needs: PostGIS (or gdal3.js) and CREATE rights.
        await using engine = await openSpatialEngine(config.SPATIAL_URL, { janitor: false });
        const workspace = await engine.createWorkspace(`doctor_${crypto.randomUUID().slice(0, 8)}`);
        await workspace.drop();
      },
    },
    {
      resource: "gdal",
      url: `GDAL_ENGINE=${config.GDAL_ENGINE}`,
      implementation: config.GDAL_ENGINE,
      run: async () => {
        // Which build a batch would get, and one round trip through it (PROJ's database included).
        const gdal = await openGdal(config.GDAL_ENGINE);
        await using scratch = await gdal.createScratch();
        await scratch.gdal.crsInfo("EPSG:4326");
        const why = config.GDAL_ENGINE !== "auto"
          ? ""
          : gdal.kind === "native"
          ? "; picked by GDAL_ENGINE=auto"
          : Deno.build.standalone
          ? "; picked by GDAL_ENGINE=auto: a compiled binary uses its embedded GDAL (the native " +
            "engine needs 'deno task ...' or the Docker image)"
          : "; picked by GDAL_ENGINE=auto: no libgdal >= 3.6 could be loaded (install gdal-bin " +
            "for the native engine)";
        return {
          implementation: `${gdal.kind} (GDAL ${gdal.version})`,
          detail: `${gdal.detail}${why}`,
        };
      },
    },
    {
      resource: "runs",
      url: config.RUNS_URL,
      run: async () => {
        const store = await openRunStore(config.RUNS_URL);
        try {
          await store.listRuns({ limit: 1 });
        } finally {
          await closeResource(store);
        }
      },
    },
  ];
}

async function measure(probe: Probe, timeoutMs: number): Promise<Diagnosis> {
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let fail: (error: Error) => void = () => {};
  const timeout = new Promise<never>((_, reject) => {
    fail = reject;
  });
  const arm = (budgetMs: number) => {
    clearTimeout(timer);
    const left = Math.max(0, budgetMs - (performance.now() - started));
    timer = setTimeout(() => fail(new Error(`no answer within ${budgetMs} ms`)), left);
  };
  arm(timeoutMs);
  let error: string | null = null;
  let detail: string | null = null;
  let implementation = probe.implementation ?? implementationOf(probe.url);
  try {
    const found = await Promise.race([probe.run(arm), timeout]);
    if (typeof found === "object") {
      implementation = found.implementation;
      detail = found.detail;
    } else detail = found ?? null;
  } catch (cause) {
    error = toError(cause).message;
  } finally {
    clearTimeout(timer);
  }
  return {
    resource: probe.resource,
    implementation,
    url: redactUrl(probe.url),
    ok: error === null,
    latencyMs: Math.round((performance.now() - started) * 10) / 10,
    error,
    detail,
  };
}

/** The implementation a URL's scheme selects, as `doctor` names it. */
export function implementationOf(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase() ?? "?";
  const names: Record<string, string> = {
    file: "local folder",
    http: "s3 (endpoint)",
    https: "s3 (endpoint)",
    s3: "s3",
    memory: "in-memory",
    sqlite: "sqlite",
    spatialite: "spatialite (gdal3.js)",
    pglite: "pglite",
    postgres: "postgres",
    postgresql: "postgres",
    duckdb: "duckdb",
    mongodb: "mongodb",
    "mongodb+srv": "mongodb",
  };
  return names[scheme] ?? scheme;
}

/** Closes what a probe opened, by whichever of the two protocols it has. */
async function closeResource(resource: object): Promise<void> {
  const dispose = (resource as Partial<AsyncDisposable>)[Symbol.asyncDispose];
  const close = (resource as { close?: () => Promise<void> | void }).close;
  if (dispose) await dispose.call(resource);
  else if (close) await close.call(resource);
}
