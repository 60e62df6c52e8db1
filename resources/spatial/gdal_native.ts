/**
 * The `native` {@linkcode GdalEngine}: the machine's libgdal (Debian
 * `gdal-bin` / `libgdal32`, >= 3.6), called through Deno FFI inside a GDAL
 * host process (`_gdal_host.ts`) that stays up for the life of the
 * application and serves every call: describing layers, resolving CRSs and
 * GDAL's utilities as a library (`GDALVectorTranslate` = ogr2ogr,
 * `GDALTranslate` = gdal_translate, `GDALInfo` = gdalinfo).
 *
 * Why a host process with FFI, and not gdal-bin subprocesses nor FFI in the
 * application's own process:
 *
 * - **Speed.** Every gdal-bin tool pays loading libgdal and its ~100 shared
 *   libraries (0.15-0.3 s here) on each call, and a one-file batch made six
 *   of them (ogrinfo, gdalsrsinfo x3, ogr2ogr, gdalinfo): that start-up, not
 *   GDAL's work, made small batches 2-5x slower than one bare ogr2ogr. The
 *   host loads libgdal once; a call then costs a JSON line each way
 *   (bench/spatial.ts).
 * - **Isolation.** A corrupt file that crashes GDAL (a segfault) kills the
 *   host, not the sensor daemon: the call fails with `spatial.gdal_crashed`
 *   naming the user's file, the batch is quarantined, and the next call
 *   starts a new host. Long conversions never block the application's
 *   event loop (heartbeats, other runs).
 * - **Least privilege.** Only the host runs with `--allow-ffi`; the
 *   application needs `--allow-run` for it, as it did for gdal-bin.
 *
 * Hosts are pooled: a call borrows an idle host or starts one (at most
 * {@linkcode MAX_HOSTS} at once), so batches running in parallel convert in
 * parallel. An idle host holds no event-loop reference and exits when its
 * parent does (its stdin closes).
 *
 * @example
 * ```ts
 * import { detectNativeGdal } from "./gdal_native.ts";
 * const gdal = await detectNativeGdal();
 * if (gdal) console.log(gdal.version);
 * ```
 *
 * @module
 */

import path from "node:path";
import { createOwnedFolder, removeAbandonedFolders } from "../_owned_folders.ts";
import {
  CRS_ADVICE,
  driverExtension,
  type GdalEngine,
  GdalError,
  gdalFailure,
  type GdalOps,
  type GdalScratch,
  labelOf,
  type OpenOptions,
  unversioned,
} from "./gdal.ts";

/** Oldest GDAL the native engine accepts. */
export const MIN_NATIVE_VERSION = [3, 6] as const;

/** Most GDAL host processes alive at once (calls beyond wait for one). */
export const MAX_HOSTS = Math.max(2, navigator.hardwareConcurrency ?? 2);

/** Idle hosts kept for the next calls (the others exit). */
const MAX_IDLE_HOSTS = 2;

/**
 * Settings for GDAL's work files: see `gdal_wasm.ts` (durability buys
 * nothing in a scratch). Unlike gdal3.js, no larger SQLite page cache: the
 * scratch GeoPackages are written in rowid order without a spatial index, so
 * a 256 MB cache bought no time (ogr2ogr -makevalid of 388k polygons to GPKG:
 * 4.1 vs 4.6 CPU s, within noise) and cost 155 MB of the host's peak memory
 * (212 vs 58 MB; bench/spatial.ts large inputs). Pages of 64 KiB instead
 * of 4 KiB for the GeoPackages GDAL creates (a no-op on existing files, such
 * as a user's GeoPackage it reads): a few features per page instead of one
 * or two and fewer B-tree splits, 10-20 % less CPU converting 388k polygons
 * (4.0-4.5 vs 4.6-5.2 CPU s) and a faster read for the GeoParquet writer;
 * the rows are the same.
 */
const GDAL_ENV = {
  OGR_SQLITE_SYNCHRONOUS: "OFF",
  OGR_SQLITE_JOURNAL: "OFF",
  OGR_SQLITE_PRAGMA: "page_size=65536",
  GDAL_CACHEMAX: "256",
  CPL_DEBUG: "OFF",
};

/** Signals that mean GDAL itself crashed (as opposed to being killed from outside). */
const CRASH_SIGNALS = new Set(["SIGSEGV", "SIGBUS", "SIGABRT", "SIGILL", "SIGFPE"]);

/** Whether the host died of GDAL crashing. */
function isCrash(error: HostDied): boolean {
  return error.signal !== null && CRASH_SIGNALS.has(error.signal);
}

const HOST_SCRIPT = new URL("./_gdal_host.ts", import.meta.url);

/** What a host says when it starts. */
interface Ready {
  version: string;
  library: string;
}

/** A reply line of the host. */
interface Reply {
  id?: number;
  ok?: unknown;
  error?: { messages: string[] };
  warnings?: string[];
  /** CE_Failure messages of a call that still succeeded. */
  errors?: string[];
  ready?: Ready;
  fatal?: string;
}

/** The GDAL host died while serving a call. */
class HostDied extends Error {
  constructor(readonly signal: string | null, readonly exitCode: number) {
    super(`the GDAL host exited (${signal ?? `code ${exitCode}`})`);
  }
}

/** A GDAL call failed inside the host; `messages` are GDAL's own. */
class HostCallFailed extends Error {
  constructor(readonly messages: string[]) {
    super(messages.join(" | "));
  }
}

/** One GDAL host process, serving one call at a time. */
class GdalHost {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffered = "";
  #nextId = 1;
  #dead = false;
  ready: Ready | undefined;
  /** GDAL's warnings during the last call that succeeded. */
  warnings: string[] = [];
  /** GDAL's errors during the last call that succeeded. */
  errors: string[] = [];

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reader = child.stdout.getReader();
  }

  /** The host's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process can still serve calls. */
  get alive(): boolean {
    return !this.#dead;
  }

  /** Starts a host and waits for it to load libgdal. */
  static async start(): Promise<GdalHost> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-config",
          "--allow-ffi",
          "--allow-read",
          "--allow-env",
          HOST_SCRIPT.href,
        ],
        env: GDAL_ENV,
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
    } catch (error) {
      throw new GdalError(
        "spatial.native_gdal_missing",
        `Cannot start the GDAL host (${error instanceof Error ? error.message : error}); ` +
          "set GDAL_ENGINE=wasm to use the embedded GDAL.",
        { input: "GDAL_ENGINE", cause: error },
      );
    }
    const host = new GdalHost(child);
    const first = await host.#readReply().finally(() => {
      // An idle host never keeps the application alive; it exits when its stdin closes.
      child.unref();
    });
    if (first.ready === undefined) {
      host.kill();
      throw new GdalError(
        "spatial.native_gdal_missing",
        `Cannot load libgdal: ${first.fatal ?? "the GDAL host did not start"}; install GDAL >= ` +
          `${MIN_NATIVE_VERSION.join(".")} (Debian: apt-get install gdal-bin) or set ` +
          "GDAL_ENGINE=wasm.",
        { input: "GDAL_ENGINE" },
      );
    }
    host.ready = first.ready;
    return host;
  }

  /** Runs one operation; rejects with {@linkcode HostCallFailed} or {@linkcode HostDied}. */
  async call(op: string, args: unknown[]): Promise<unknown> {
    if (this.#dead) throw new HostDied(null, -1);
    const id = this.#nextId++;
    // While a call is in flight the reply must keep the event loop alive.
    this.#child.ref();
    try {
      try {
        await this.#writer.write(
          new TextEncoder().encode(`${JSON.stringify({ id, op, args })}\n`),
        );
      } catch {
        throw await this.#died();
      }
      for (;;) {
        const reply = await this.#readReply();
        if (reply.id !== id) continue;
        if (reply.error) throw new HostCallFailed(reply.error.messages);
        this.warnings = reply.warnings ?? [];
        this.errors = reply.errors ?? [];
        return reply.ok;
      }
    } finally {
      if (!this.#dead) this.#child.unref();
    }
  }

  async #readReply(): Promise<Reply> {
    for (;;) {
      let newline: number;
      while ((newline = this.#buffered.indexOf("\n")) >= 0) {
        const line = this.#buffered.slice(0, newline);
        this.#buffered = this.#buffered.slice(newline + 1);
        const at = line.indexOf("\u001e");
        if (at < 0) continue;
        try {
          return JSON.parse(line.slice(at + 1)) as Reply;
        } catch {
          continue;
        }
      }
      const { value, done } = await this.#reader.read();
      if (done) throw await this.#died();
      this.#buffered += this.#decoder.decode(value, { stream: true });
    }
  }

  async #died(): Promise<HostDied> {
    this.#dead = true;
    const status = await this.#child.status;
    return new HostDied(status.signal, status.code);
  }

  /** Stops the process (idempotent). */
  kill(): void {
    if (this.#dead) return;
    this.#dead = true;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    this.#writer.close().catch(() => {});
  }
}

const idle: GdalHost[] = [];
let live = 0;
const waiting: (() => void)[] = [];
let unloadHooked = false;

/**
 * Borrows a host for the duration of `fn`: an idle one, else a new one while
 * fewer than {@linkcode MAX_HOSTS} live, else the next one given back. Every
 * host given back (kept idle or stopped) wakes one waiting call, so a call
 * waiting for a host is never left behind while hosts sit idle.
 */
async function withHost<T>(fn: (host: GdalHost) => Promise<T>): Promise<T> {
  const host = await borrowHost();
  try {
    return await fn(host);
  } finally {
    if (host.alive && idle.length < MAX_IDLE_HOSTS) idle.push(host);
    else {
      host.kill();
      live--;
    }
    waiting.shift()?.();
  }
}

async function borrowHost(): Promise<GdalHost> {
  for (;;) {
    const host = idle.pop();
    if (host !== undefined) return host;
    if (live < MAX_HOSTS) break;
    // Woken when a host is given back; another call may take it first, then wait again.
    await new Promise<void>((resolve) => waiting.push(resolve));
  }
  live++;
  try {
    const host = await GdalHost.start();
    if (!unloadHooked) {
      unloadHooked = true;
      globalThis.addEventListener("unload", () => idle.forEach((h) => h.kill()));
    }
    return host;
  } catch (error) {
    live--;
    waiting.shift()?.();
    throw error;
  }
}

/** Replaces scratch paths in GDAL's messages with the user's name for the file. */
function scrub(message: string, file: string, label: string, dir: string): string {
  return message.replaceAll(`/vsizip/${file}`, label).replaceAll(`CSV:${file}`, label)
    .replaceAll(file, label).replaceAll(`${dir}/`, "");
}

/** The path GDAL opens for a staged file: zipped inputs (or a file inside one, a KMZ's KML) through `/vsizip/`. */
function vsiPath(file: string): string {
  return /\.zip(\/|$)|\.kmz\//i.test(file) ? `/vsizip/${file}` : file;
}

/**
 * PROJJSON and WKT of the CRSs resolved so far, for the whole process: a
 * batch asks for the same few CRSs again and again.
 */
const crsCache = new Map<string, { wkt: string; projjson: Record<string, unknown> }>();

function opsOf(dir: string): GdalOps {
  const outputOf = (name: string, options: readonly string[]) =>
    path.join(dir, `${name}${driverExtension(options)}`);
  /** Runs `op` for `file`, mapping failures to the user's file name. */
  const call = async (
    action: string,
    file: string,
    open: OpenOptions | undefined,
    op: string,
    args: unknown[],
  ) => {
    const label = labelOf(file, open);
    const served = (host: GdalHost) =>
      host.call(op, args).then((ok) => {
        open?.warnings?.push(...host.warnings.map((w) => scrub(w, file, label, dir)));
        open?.errors?.push(...host.errors.map((e) => scrub(e, file, label, dir)));
        return ok;
      });
    try {
      try {
        return await withHost(served);
      } catch (error) {
        // A host serves several calls, and has aborted under heavy load with
        // files that convert fine alone: only a file that crashes a fresh
        // host again is blamed.
        if (!(error instanceof HostDied && isCrash(error))) throw error;
        return await withHost(served);
      }
    } catch (error) {
      if (error instanceof HostCallFailed) {
        // Once each: gdal_translate -stats reads a damaged block twice (the statistics, then
        // the copy), and GDAL said the same three errors twice over.
        const said = [...new Set(error.messages)].join(" | ");
        throw gdalFailure(action, label, scrub(said, file, label, dir), error);
      }
      if (error instanceof HostDied) {
        if (isCrash(error)) {
          throw new GdalError(
            "spatial.gdal_crashed",
            `Cannot ${action} '${label}': GDAL crashed on it (${error.signal}). The file is ` +
              "probably corrupt or crafted; check it with a GIS tool, or try GDAL_ENGINE=wasm.",
            { input: label, gdalMessage: `GDAL crashed (${error.signal})`, cause: error },
          );
        }
        throw new GdalError(
          "spatial.gdal_host_died",
          `Cannot ${action} '${label}': ${error.message} (killed from outside, e.g. out of ` +
            "memory); run the batch again.",
          { input: label, cause: error },
        );
      }
      throw error;
    }
  };
  return {
    async crsInfo(crs) {
      const known = crsCache.get(crs);
      if (known) return known;
      try {
        const found = await withHost((host) => host.call("crsInfo", [crs])) as {
          wkt: string;
          projjson: Record<string, unknown>;
        };
        const info = { wkt: found.wkt, projjson: unversioned(found.projjson) };
        crsCache.set(crs, info);
        return info;
      } catch (error) {
        if (!(error instanceof HostCallFailed)) throw error;
        throw gdalFailure("resolve the CRS", crs, error.message, error, CRS_ADVICE);
      }
    },
    async vectorInfo(file, open) {
      const info = await call("read the vector dataset", file, open, "vectorInfo", [
        vsiPath(file),
        open?.openOptions ?? [],
        open?.where ?? null,
        open?.drivers ?? [],
      ]) as Awaited<ReturnType<GdalOps["vectorInfo"]>>;
      return info;
    },
    async rasterInfo(file, options = [], open) {
      return await call("read the raster", file, open, "rasterInfo", [
        vsiPath(file),
        options,
        open?.openOptions ?? [],
      ]) as Record<string, unknown>;
    },
    async ogr2ogr(file, options, outputName, open) {
      const target = outputOf(outputName, options);
      await call("convert the vector dataset", file, open, "vectorTranslate", [
        vsiPath(file),
        options,
        target,
        open?.openOptions ?? [],
        open?.layers ?? [],
        open?.config ?? {},
        open?.drivers ?? [],
      ]);
      return target;
    },
    async arrowDump(file, layer, outputName, open) {
      const target = path.join(dir, `${outputName}.ograrrow`);
      const result = await call("read the vector dataset", file, open, "arrowDump", [
        vsiPath(file),
        layer,
        target,
        open?.openOptions ?? [],
        open?.drivers ?? [],
      ]) as { rows: number } | { unsupported: string };
      return "rows" in result ? { path: target, rows: result.rows } : result;
    },
    async translate(file, options, outputName, open) {
      const target = outputOf(outputName, options);
      await call("convert the raster", file, open, "translate", [
        vsiPath(file),
        options,
        target,
        open?.openOptions ?? [],
      ]);
      return target;
    },
    async warp(file, options, outputName, open) {
      const target = outputOf(outputName, options);
      await call("warp the raster", file, open, "warp", [
        vsiPath(file),
        options,
        target,
        open?.openOptions ?? [],
      ]);
      return target;
    },
  };
}

const SCRATCH_PREFIX = "gdal-native-";
/** This process's sweep of the scratch folders killed processes left (once, at its first scratch). */
let abandonedRemoved: Promise<unknown> | undefined;

/**
 * Removes the native scratch folders whose owner is gone (killed with -9
 * mid-conversion: its `finally` never ran), live ones kept whatever process
 * (or pid namespace) owns them: see `resources/_owned_folders.ts`. Returns the
 * folders removed.
 */
export function removeAbandonedScratch(tempDir?: string): Promise<string[]> {
  return removeAbandonedFolders(SCRATCH_PREFIX, tempDir);
}

/**
 * A scratch folder `<TMPDIR>/gdal-native-XXXX.owned`, locked by this process
 * until disposed; the first one of a process removes those of killed ones.
 */
async function createScratch(): Promise<GdalScratch & AsyncDisposable> {
  await (abandonedRemoved ??= removeAbandonedScratch().catch((error) => {
    abandonedRemoved = undefined; // The temp folder unreadable now: the next scratch tries again.
    throw error;
  }));
  const owned = await createOwnedFolder(SCRATCH_PREFIX);
  const hostDir = owned.path;
  return {
    hostDir,
    gdalPath: (relative) => path.join(hostDir, relative),
    hostPath: (relative) => path.join(hostDir, relative),
    toHost: (gdalPath) => gdalPath,
    gdal: opsOf(hostDir),
    [Symbol.asyncDispose]: () => owned.remove(),
  };
}

/**
 * The version of the libgdal the host loads, or `undefined` when no libgdal
 * can be loaded (GDAL not installed, or the host cannot start). The host
 * that answered stays in the pool for the next calls.
 */
export async function nativeGdalVersion(): Promise<string | undefined> {
  return (await loadedLibrary())?.version;
}

/** Version and path of the libgdal a host loads, or `undefined` when none loads. */
async function loadedLibrary(): Promise<{ version: string; library: string } | undefined> {
  try {
    return await withHost((host) => Promise.resolve(host.ready));
  } catch (error) {
    if (error instanceof GdalError && error.code === "spatial.native_gdal_missing") {
      return undefined;
    }
    throw error;
  }
}

/** Whether `version` is at least {@linkcode MIN_NATIVE_VERSION}. */
export function supportedVersion(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > MIN_NATIVE_VERSION[0] ||
    (major === MIN_NATIVE_VERSION[0] && minor >= MIN_NATIVE_VERSION[1]);
}

/**
 * A native engine over libgdal `version` found at `library` (see
 * {@linkcode detectNativeGdal}).
 */
export function nativeGdal(version: string, library = "libgdal"): GdalEngine {
  return {
    kind: "native",
    version,
    detail: `libgdal ${version} (${library}) in a GDAL host process`,
    createScratch,
  };
}

/**
 * Peak resident memory (KiB) and CPU seconds of the idle GDAL hosts, summed,
 * for benchmarks: read by this process from `/proc/<pid>/` (Linux; needs
 * the read permission on /proc, i.e. `-A`: Deno lets a process read even its
 * own `/proc/self` only with all permissions, which the host does not have).
 * Throws when they cannot be read, rather than reporting zeros.
 */
export async function nativeHostStats(): Promise<{ peakRssKiB: number; cpuSeconds: number }> {
  let peakRssKiB = 0;
  let cpuSeconds = 0;
  for (const host of [...idle]) {
    const status = await Deno.readTextFile(`/proc/${host.pid}/status`);
    peakRssKiB += Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    const stat = await Deno.readTextFile(`/proc/${host.pid}/stat`);
    // Fields after the command name: state is 0, utime 11, stime 12 (clock ticks, 100 a second).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    cpuSeconds += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return { peakRssKiB, cpuSeconds };
}

/** Stops every idle GDAL host (tests that check for leaked processes; a new call starts one). */
export function stopNativeHosts(): void {
  for (const host of idle.splice(0)) {
    host.kill();
    live--;
    waiting.shift()?.();
  }
}

/** The native engine when libgdal >= 3.6 can be loaded, else `undefined`. */
export async function detectNativeGdal(): Promise<GdalEngine | undefined> {
  const loaded = await loadedLibrary();
  return loaded !== undefined && supportedVersion(loaded.version)
    ? nativeGdal(loaded.version, loaded.library)
    : undefined;
}
