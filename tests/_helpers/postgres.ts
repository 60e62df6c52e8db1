/**
 * Throwaway PostgreSQL for tests and benchmarks.
 *
 * {@linkcode startPostgres} gives each caller its own database, so test files
 * run with `deno test --parallel` never see each other's tables:
 *
 * - with `DATABASE_URL` set, it creates a uniquely named database on that
 *   server and drops it on `stop()` (the role needs `CREATEDB`);
 * - otherwise it creates a whole cluster per call (initdb in a temp dir, a
 *   free loopback port, the unix socket inside the temp dir, fsync off) and
 *   `stop()` kills it and deletes the dir. A cluster per call costs about 2 s
 *   but shares nothing (no port, socket or data dir), which is what makes
 *   parallel test files safe without any cross-process coordination.
 *
 * When a test process dies without calling `stop()`, its cluster keeps
 * running until the next `startPostgres()` on the machine: each cluster dir
 * (`$TMPDIR/pgtest-*`) records its owner's pid, and clusters of dead owners
 * are stopped and deleted then. `pg_ctl stop -D <dir>/data` ends one by hand.
 *
 * @example
 * ```ts
 * import { startPostgres } from "./postgres.ts";
 * await using pg = await startPostgres();
 * console.log(pg.url); // postgres://postgres@127.0.0.1:54321/postgres
 * ```
 *
 * @module
 */

import { dirname } from "node:path";
import postgres from "postgres";

/** A running throwaway database; `stop()` (or `await using`) removes it. */
export interface ThrowawayPostgres extends AsyncDisposable {
  /** Connection URL without a password, e.g. `postgres://postgres@127.0.0.1:54321/postgres`. */
  readonly url: string;
  /** Stops the cluster (or drops the database) and removes its files. Safe to call twice. */
  stop(): Promise<void>;
  /**
   * Crashes the server and starts it again on the same port and data, as
   * `pg_ctl restart -m immediate` does (every connection is cut, in-flight
   * transactions are lost), staying down `downMs` in between. Only for a
   * throwaway cluster: `undefined` on `DATABASE_URL`'s server.
   */
  readonly restart?: (options?: RestartOptions) => Promise<void>;
}

/** Options of {@linkcode ThrowawayPostgres.restart}. */
export interface RestartOptions {
  /** How long the server stays down (milliseconds). @default {0} */
  readonly downMs?: number;
  /**
   * Called while the server is down (after `downMs`), started again once it
   * resolves or rejects: to start a process that finds no server, and wait
   * until it said so, whatever the load.
   */
  readonly whileDown?: () => Promise<void>;
}

/** Options of {@linkcode startPostgres}. */
export interface StartPostgresOptions {
  /**
   * Server to create a throwaway database on instead of starting a cluster.
   * @default Deno.env.get("DATABASE_URL")
   */
  databaseUrl?: string | undefined;
  /**
   * How long to wait for a new cluster to accept connections, in seconds
   * (`pg_ctl start -w` returns as soon as it does; the bound is for a loaded
   * CI machine, where a start after a crash replays WAL on a fraction of a core).
   * @default 120
   */
  startTimeoutSeconds?: number;
  /**
   * Keep every commit across a server crash (`synchronous_commit = on`), for
   * tests that crash the server (`restart`). Off by default: faster, and a
   * crash is not part of most tests.
   * @default false
   */
  durable?: boolean;
}

const PORT_ATTEMPTS = 5;
/** Default of {@linkcode StartPostgresOptions.startTimeoutSeconds}, and of a restart. */
const START_TIMEOUT_SECONDS = 120;
/** File in a cluster's temp dir holding the pid of the process that started it. */
const OWNER_FILE = "owner.pid";

/**
 * Starts a throwaway PostgreSQL: a database on `DATABASE_URL`'s server, or a
 * fresh local cluster. Throws a clear error when neither is possible.
 */
export async function startPostgres(
  options: StartPostgresOptions = {},
): Promise<ThrowawayPostgres> {
  const databaseUrl = "databaseUrl" in options ? options.databaseUrl : Deno.env.get("DATABASE_URL");
  if (databaseUrl) return await createThrowawayDatabase(databaseUrl);
  return await startCluster(
    options.startTimeoutSeconds ?? START_TIMEOUT_SECONDS,
    options.durable ?? false,
  );
}

/**
 * Runs `CREATE EXTENSION IF NOT EXISTS postgis` on the database at `url`.
 * Throws when PostGIS is not installed on the server (Debian package
 * `postgresql-15-postgis-3`).
 */
export async function ensurePostgis(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await sql.unsafe("CREATE EXTENSION IF NOT EXISTS postgis");
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Directory holding `initdb`, `pg_ctl` and `postgres`, or `undefined` when none is installed. */
export async function findPostgresBinDir(): Promise<string | undefined> {
  const fromPgConfig = await pgConfigBinDir();
  if (fromPgConfig && await isFile(`${fromPgConfig}/initdb`)) return fromPgConfig;
  const root = "/usr/lib/postgresql";
  const versions: number[] = [];
  try {
    for await (const entry of Deno.readDir(root)) {
      const version = Number(entry.name);
      if (Number.isFinite(version) && await isFile(`${root}/${entry.name}/bin/initdb`)) {
        versions.push(version);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const newest = versions.sort((a, b) => b - a)[0];
  return newest === undefined ? undefined : `${root}/${newest}/bin`;
}

async function pgConfigBinDir(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("pg_config", { args: ["--bindir"], stderr: "null" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : undefined;
  } catch {
    return undefined; // pg_config missing: fall back to the Debian layout
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

async function createThrowawayDatabase(serverUrl: string): Promise<ThrowawayPostgres> {
  const name = `test_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } catch (error) {
    await admin.end({ timeout: 5 });
    throw new Error(
      `Cannot create a throwaway database on DATABASE_URL: ${messageOf(error)} ` +
        "(the role needs CREATEDB)",
      { cause: error },
    );
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await admin.end({ timeout: 5 });
    }
  };
  return { url: url.href, stop, [Symbol.asyncDispose]: stop };
}

interface Cluster {
  readonly binDir: string;
  readonly root: string;
  readonly dataDir: string;
  readonly asPostgres: boolean;
  /** Commits survive a server crash (see `StartPostgresOptions.durable`). */
  readonly durable?: boolean;
}

async function startCluster(timeoutSeconds: number, durable: boolean): Promise<ThrowawayPostgres> {
  const binDir = await findPostgresBinDir();
  if (!binDir) {
    throw new Error(
      "Cannot start a throwaway PostgreSQL: no PostgreSQL binaries found " +
        "(looked at `pg_config --bindir` and /usr/lib/postgresql/*/bin). " +
        "Install them (`apt-get install -y postgresql`) or set DATABASE_URL.",
    );
  }
  const cluster = { ...(await initCluster(binDir)), durable };
  try {
    const port = await startOnFreePort(cluster, timeoutSeconds);
    return runningCluster(cluster, port);
  } catch (error) {
    await Deno.remove(cluster.root, { recursive: true });
    throw error;
  }
}

async function initCluster(binDir: string): Promise<Cluster> {
  const asPostgres = Deno.uid() === 0; // initdb refuses to run as root
  const root = await Deno.makeTempDir({ prefix: "pgtest-" });
  const cluster = { binDir, root, dataDir: `${root}/data`, asPostgres };
  try {
    await Deno.writeTextFile(`${root}/${OWNER_FILE}`, String(Deno.pid));
    await reapOrphans(cluster);
    if (asPostgres) await chownToPostgres(root);
    await run(cluster, "initdb", [
      "-D",
      cluster.dataDir,
      "-A",
      "trust",
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--no-sync",
      "--locale=C",
    ]);
    return cluster;
  } catch (error) {
    await Deno.remove(root, { recursive: true });
    throw error;
  }
}

/**
 * Stops and deletes clusters left by test processes that died before calling
 * `stop()`: each cluster dir records its owner's pid, and a dead owner's
 * cluster can only be garbage. Best effort: a failure here never fails a test.
 */
async function reapOrphans(ours: Cluster): Promise<void> {
  const parent = dirname(ours.root);
  for await (const entry of Deno.readDir(parent)) {
    const root = `${parent}/${entry.name}`;
    if (!entry.isDirectory || !entry.name.startsWith("pgtest-") || root === ours.root) continue;
    const owner = Number(await Deno.readTextFile(`${root}/${OWNER_FILE}`).catch(() => NaN));
    // An empty owner file (created, its pid not yet written) reads as 0: a folder
    // being made by a live process, not a dead owner's.
    if (!Number.isInteger(owner) || owner <= 0 || await isAlive(owner)) continue;
    const orphan = { ...ours, root, dataDir: `${root}/data` };
    await run(orphan, "pg_ctl", ["stop", "-D", orphan.dataDir, "-m", "immediate", "-w"])
      .catch(() => {}); // never started, or already stopped
    await Deno.remove(root, { recursive: true }).catch(() => {});
  }
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch {
    if (await isFile("/proc/self/stat")) return false;
  }
  return (await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" }).output())
    .success;
}

async function chownToPostgres(path: string): Promise<void> {
  const uid = Number(await capture("id", ["-u", "postgres"]));
  const gid = Number(await capture("id", ["-g", "postgres"]));
  await Deno.chown(path, uid, gid);
}

/** The port is probed free, then bound by postgres: another process may win the race, so retry. */
async function startOnFreePort(cluster: Cluster, timeoutSeconds: number): Promise<number> {
  let lastError: unknown;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const port = freePort();
    try {
      await run(cluster, "pg_ctl", pgCtlStartArgs(cluster, port, timeoutSeconds));
      return port;
    } catch (error) {
      lastError = error;
      const log = await Deno.readTextFile(`${cluster.root}/server.log`).catch(() => "");
      if (!/could not bind|address already in use/i.test(log)) break;
    }
  }
  throw lastError;
}

function pgCtlStartArgs(cluster: Cluster, port: number, timeoutSeconds: number): string[] {
  const serverOptions = [
    `-p ${port}`,
    `-k ${cluster.root}`,
    "-c listen_addresses=127.0.0.1",
    "-c fsync=off",
    // A crash of the server alone (not of the machine) loses nothing with fsync off,
    // but an unsynchronized commit is lost with the WAL buffers.
    `-c synchronous_commit=${cluster.durable ? "on" : "off"}`,
    "-c full_page_writes=off",
    "-c TimeZone=UTC",
  ].join(" ");
  return [
    "start",
    "-D",
    cluster.dataDir,
    "-l",
    `${cluster.root}/server.log`,
    "-w",
    "-t",
    String(timeoutSeconds),
    "-o",
    serverOptions,
  ];
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function runningCluster(cluster: Cluster, port: number): ThrowawayPostgres {
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await run(cluster, "pg_ctl", ["stop", "-D", cluster.dataDir, "-m", "immediate", "-w"]);
    } finally {
      await Deno.remove(cluster.root, { recursive: true });
    }
  };
  const restart = async ({ downMs = 0, whileDown }: RestartOptions = {}) => {
    await run(cluster, "pg_ctl", ["stop", "-D", cluster.dataDir, "-m", "immediate", "-w"]);
    try {
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await whileDown?.();
    } finally {
      await run(cluster, "pg_ctl", pgCtlStartArgs(cluster, port, START_TIMEOUT_SECONDS));
    }
  };
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    restart,
    [Symbol.asyncDispose]: stop,
  };
}

async function run(cluster: Cluster, tool: string, args: string[]): Promise<void> {
  const binary = `${cluster.binDir}/${tool}`;
  const command = cluster.asPostgres
    ? new Deno.Command("runuser", { args: ["-u", "postgres", "--", binary, ...args] })
    : new Deno.Command(binary, { args });
  const out = await command.output();
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr).trim();
    const log = await Deno.readTextFile(`${cluster.root}/server.log`).catch(() => "");
    throw new Error(
      `Cannot run ${tool} for the throwaway PostgreSQL (exit ${out.code}): ${stderr}` +
        (log ? `\nserver log:\n${log.trim()}` : ""),
    );
  }
}

async function capture(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args }).output();
  if (!out.success) throw new Error(`Cannot run ${cmd} ${args.join(" ")}`);
  return new TextDecoder().decode(out.stdout).trim();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
