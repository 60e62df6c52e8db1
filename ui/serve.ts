/**
 * Serving the web UI ({@linkcode serveUi}) and the `ui`/`dev` command that
 * does it from the CLI ({@linkcode uiCommand}).
 *
 * @module
 */

import { dirname } from "node:path";
import type { CliIo } from "../core/cli/io.ts";
import { parseCommandArgs, wholeNumberOption } from "../core/cli/_args.ts";
import { type CliApp, EXIT, UsageError } from "../core/cli/app.ts";
import { systemClock } from "../core/clock.ts";
import type { Clock } from "../core/clock.ts";
import { SensorDaemon } from "../core/daemon.ts";
import { reapDeadRuns } from "../core/reaper.ts";
import { ConfigError, toError } from "../core/errors.ts";
import type { Graph } from "../core/graph.ts";
import { createLogger, type Logger } from "../core/logger.ts";
import type { Metadata } from "../core/metadata.ts";
import type { ResourceSources } from "../core/resource.ts";
import { redact, redactDeep } from "../core/secrets.ts";
import type { RunStore } from "../core/run_store/types.ts";
import { queueMode } from "../core/worker/daemon_mode.ts";
import type { RunQueue } from "../core/worker/queue.ts";
import { RunWorker } from "../core/worker/worker.ts";
import { UiContext, type UiSources } from "./context.ts";
import { Launcher } from "./launcher.ts";
import { checkBind } from "./security.ts";
import { uiSocketPath } from "../resources/permissions.ts";
import { removeOrphanSockets, socketFolder } from "./_socket_folders.ts";
import { LAUNCHER_PID_VARIABLE } from "../core/cli/stop.ts";
import { type HealthState, openHealth } from "../core/cli/health.ts";
import { type Front, serveFront } from "./_front.ts";
import { createApp } from "./server.ts";

/** Options of {@linkcode serveUi}. */
export interface ServeUiOptions<R> {
  /** The definitions. */
  readonly graph: Graph<R>;
  /** The run store (the UI does not close it). */
  readonly store: RunStore;
  /** Data systems. @default {{}} */
  readonly sources?: UiSources;
  /** Bind address. @default {"127.0.0.1"} */
  readonly host?: string;
  /** Port; 0 picks a free one. @default {3000} */
  readonly port?: number;
  /** Token mutating requests need (UI_TOKEN). */
  readonly token?: string;
  /** Strings never shown (passwords of configured URLs...). */
  readonly secrets?: readonly string[];
  /** Resources replacing the graph's for launched runs (tests). */
  readonly resources?: Partial<ResourceSources<R>>;
  /** Time source. @default {systemClock} */
  readonly clock?: Clock;
  /** Where the server and its runs log. */
  readonly log?: Logger;
  /** Heartbeat interval of the runs it launches. @default {10000} */
  readonly heartbeatIntervalMs?: number;
  /**
   * The run queue: launched runs go there (the UI does not close it), and
   * the queue page shows it. Without one, runs execute in the UI's process.
   */
  readonly queue?: RunQueue;
  /** Run retries of queued runs that set none (QUEUE_MAX_RETRIES). @default {0} */
  readonly maxRetries?: number;
  /**
   * The sensor daemon's tick interval (SENSOR_INTERVAL_MS, `dev --interval`),
   * shown for sensors that set none of their own.
   * @default {1000}
   */
  readonly daemonIntervalMs?: number;
  /**
   * How long a request's headers may take to arrive before the connection is
   * answered 408 and closed (slow clients hold no connection for ever).
   * @default {10000}
   */
  readonly headTimeoutMs?: number;
  /**
   * How long a request's body may take to arrive once its headers have,
   * before the answer is a 408 (ui/security.ts).
   * @default {10000}
   */
  readonly bodyTimeoutMs?: number;
  /**
   * The Unix socket the HTTP server listens on behind the front door (a
   * stale file there is removed); the process needs net access to
   * `unix:<path>`. Without that access the UI serves without its front door,
   * saying so in the log.
   * @default {a new temporary folder's `http.sock`}
   */
  readonly socketPath?: string;
}

/** A running UI server. */
export interface UiServer extends AsyncDisposable {
  /** Its base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string;
  /** The context its routes read. */
  readonly context: UiContext;
  /** Stops serving, cancels runs it launched and closes what it opened. */
  close(): Promise<void>;
}

/** `log` with every message and field masked of the secrets registered when it is written. */
function redactingLogger(log: Logger): Logger {
  const at =
    (write: (message: string, fields?: Metadata) => void) => (message: string, fields?: Metadata) =>
      write(redact(message), fields === undefined ? undefined : redactDeep(fields));
  return {
    debug: at((m, f) => log.debug(m, f)),
    info: at((m, f) => log.info(m, f)),
    warn: at((m, f) => log.warn(m, f)),
    error: at((m, f) => log.error(m, f)),
  };
}

/**
 * Serves the UI until closed.
 * @throws {ConfigError} `ui.token_required` on a non-loopback host without a token.
 */
export async function serveUi<R>(options: ServeUiOptions<R>): Promise<UiServer> {
  const host = options.host ?? "127.0.0.1";
  checkBind(host, options.token);
  const clock = options.clock ?? systemClock;
  // Errors that are not ours (a driver's, a handler's TypeError) carry their text unmasked;
  // the answers are redacted, and so must be what the operator's log keeps.
  const log = options.log ? redactingLogger(options.log) : undefined;
  const launcher = new Launcher(options.graph, options.store, {
    ...(options.resources ? { resources: options.resources } : {}),
    clock,
    ...(log ? { log } : {}),
    ...(options.heartbeatIntervalMs ? { heartbeatIntervalMs: options.heartbeatIntervalMs } : {}),
    ...(options.queue ? { queue: options.queue } : {}),
    ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
  });
  const context = new UiContext({
    graph: options.graph as Graph<unknown>,
    store: options.store,
    launcher: launcher as Launcher<unknown>,
    sources: options.sources ?? {},
    clock,
    tokenRequired: options.token !== undefined,
    daemonIntervalMs: options.daemonIntervalMs,
  });
  const app = await createApp(context, {
    host,
    token: options.token,
    secrets: options.secrets ?? [],
    ...(log ? { log } : {}),
    ...(options.bodyTimeoutMs === undefined ? {} : { bodyTimeoutMs: options.bodyTimeoutMs }),
  });
  const port = options.port ?? 3000;
  // The HTTP server listens on a private Unix socket; the front door (ui/_front.ts) listens
  // on the address and passes it each request whose head arrived in time and within limits.
  // Lock-owned, and those of killed UIs swept first (ui/_socket_folders.ts).
  const socketDir = options.socketPath === undefined ? await socketFolder() : undefined;
  const socketPath = options.socketPath ?? `${socketDir?.path}/http.sock`;
  // A socket left by a process killed with the same pid would make the listen fail.
  if (options.socketPath !== undefined) {
    await Deno.remove(socketPath).catch(() => {});
    // Those of UIs killed under launchers that have ended since (ui/_socket_folders.ts).
    await removeOrphanSockets(dirname(socketPath)).catch(() => []);
  }
  const removeSocket = async () => {
    if (socketDir) await socketDir.remove().catch(() => {});
    else await Deno.remove(socketPath).catch(() => {});
  };
  const listening = Promise.withResolvers<Deno.NetAddr | undefined>();
  let server: Deno.HttpServer;
  let front: Front | undefined;
  try {
    server = Deno.serve(
      { path: socketPath, onListen: () => listening.resolve(undefined) },
      (request) => unservable(request) ?? app.fetch(asHttp(request)),
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) {
      await context.close();
      await removeSocket();
      throw error;
    }
    log?.warn(
      `UI without its front door (no timeout for slow clients, no 414 for long URLs): ` +
        `grant --allow-net=unix:${socketPath} (deno task ui does)`,
    );
    try {
      server = Deno.serve(
        { hostname: host, port, onListen: (a) => listening.resolve(a) },
        (r) => app.fetch(r),
      );
    } catch (direct) {
      await context.close();
      throw listenError(host, port, direct);
    }
  }
  let addr = await listening.promise;
  if (addr === undefined) {
    try {
      front = serveFront({
        hostname: host,
        port,
        backendPath: socketPath,
        ...(options.headTimeoutMs === undefined ? {} : { headTimeoutMs: options.headTimeoutMs }),
        onError: (error) => log?.warn(`UI connection failed: ${error.message}`),
      });
    } catch (error) {
      await server.shutdown();
      await removeSocket();
      await context.close();
      throw listenError(host, port, error);
    }
    addr = front.addr;
  }
  // The first page of a big graph needs the run index, the states and the layout: start now.
  void context.warm((error) =>
    log?.warn(`UI warm-up failed (the first page retries): ${toError(error).message}`)
  );
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const url = `http://${shown.includes(":") ? `[${shown}]` : shown}:${addr.port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    front?.close();
    await server.shutdown();
    await removeSocket();
    await context.close();
  };
  return { url, context, close, [Symbol.asyncDispose]: close };
}

/** Methods a `Request` cannot be made with (fetch forbids them), so never served. */
const FORBIDDEN_METHODS = new Set(["CONNECT", "TRACE", "TRACK"]);

/**
 * The answer to a request that cannot be passed on as a `Request` (see
 * {@linkcode asHttp}), or `undefined`: a TRACE or CONNECT (fetch forbids the
 * method) and a request without a `Host` header (HTTP/1.0; its URL names the
 * socket) each made `new Request` throw, a 500 with a stack in the log.
 */
function unservable(request: Request): Response | undefined {
  const text = (status: number, message: string, headers: Record<string, string> = {}) =>
    new Response(`${message}\n`, {
      status,
      headers: { "content-type": "text/plain; charset=utf-8", ...headers },
    });
  if (FORBIDDEN_METHODS.has(request.method.toUpperCase())) {
    return text(405, `${request.method} is not served here; use GET, HEAD or POST.`, {
      allow: "GET, HEAD, POST",
    });
  }
  if (!request.headers.has("host")) {
    return text(
      400,
      "The request has no Host header; send one (e.g. 'Host: 127.0.0.1:3000'), as HTTP/1.1 requires.",
    );
  }
  return undefined;
}

/**
 * `request` as the browser sent it: Deno names a Unix socket's requests
 * `http+unix://HOST/...`. Built from its parts, not with `new Request(url,
 * request)`, which reads `request.signal` and so makes Deno print a warning
 * about its legacy abort behaviour.
 */
function asHttp(request: Request): Request {
  const url = request.url.replace(/^http\+unix:/, "http:");
  return request.body === null
    ? new Request(url, { method: request.method, headers: request.headers })
    : new Request(url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      // A streamed body is sent as it comes (fetch's name for it).
      duplex: "half",
    } as RequestInit);
}

/**
 * The error of a UI that cannot listen: the port taken by another process, an
 * address this machine does not have, a port below 1024 without the right to
 * it. All are the user's setting to change, so a {@linkcode ConfigError}
 * (exit 2) naming the address and the option, never Deno's bare `AddrInUse`
 * with a stack.
 */
function listenError(host: string, port: number, error: unknown): ConfigError {
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new ConfigError(
      "ui.address_in_use",
      `Cannot serve the UI on ${address}: another process listens there. Stop it, or pick ` +
        `another port with --port (--port 0 picks a free one)`,
      { input: address, cause: error },
    );
  }
  return new ConfigError(
    "ui.cannot_listen",
    `Cannot serve the UI on ${address}: ${toError(error).message}. Check --host and --port`,
    { input: address, cause: error },
  );
}

/** Usage of `ui` and `dev`. */
export const UI_USAGE = `Usage: ui [--host HOST] [--port PORT]
       dev [--host HOST] [--port PORT] [--interval MS]

ui serves the web UI; dev serves it and runs the sensor daemon in the same
process (sensors and schedules launch runs while you look).

With a run queue (RUNS_URL=postgres://..., RUN_QUEUE=auto) runs launched from
the UI go to the queue and the Queue page shows it; dev then also leads the
daemon and the coordinator (like 'sensor') and runs one worker in process, so
queued runs execute without a separate 'deno task worker'.

Options:
  --host HOST      address to listen on (default 127.0.0.1; any other needs UI_TOKEN)
  --port PORT      port (default 3000; 0 picks a free one)
  --interval MS    dev only: daemon tick interval (default SENSOR_INTERVAL_MS)
  -h, --help       show this help

Prints UI_URL=<url> once listening. Ctrl-C stops (runs launched here are canceled).

Exit status: 0 stopped, 1 failure, 2 usage or configuration error (a bad flag,
the port taken, another --host without UI_TOKEN).
`;

/** What the `ui` and `dev` commands need from the project besides the CLI app. */
export interface UiCommandSetup {
  /** Data systems, secrets and the token, from the configuration. */
  sources(): Promise<{ sources: UiSources; secrets: string[]; token: string | undefined }>;
}

/** Parses the arguments of `command` (`ui`, or `dev`: the UI with the daemon). */
export function parseUiArgs(
  args: readonly string[],
  command: "ui" | "dev" = "ui",
): { host: string; port: number; intervalMs: number | undefined } | "help" {
  // Named as typed: `dev --typo` said "for ui; 'ui --help' lists the options".
  const { values, positionals } = parseCommandArgs(command, {
    args: [...args],
    allowPositionals: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      interval: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  if (positionals.length > 0) throw new UsageError(`Unexpected argument '${positionals[0]}'`);
  // Digits only: Number() read '' as 0 (any port), '0x10' as 16 and '1e3' as 1000.
  const port = values.port === undefined ? 3000 : Number(values.port);
  if (values.port !== undefined && !/^\d{1,5}$/.test(values.port) || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got '${values.port}'`);
  }
  let intervalMs: number | undefined;
  if (values.interval !== undefined && command === "ui") {
    // Accepted and ignored would be a promise not kept: ui runs no daemon.
    throw new UsageError("--interval is the daemon's tick: it applies to dev, not ui");
  }
  if (values.interval !== undefined) {
    intervalMs = wholeNumberOption("--interval", values.interval, 1);
  }
  const host = values.host ?? "127.0.0.1";
  if (host.trim() === "") throw new UsageError("--host must not be empty");
  if (!/^(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*)$/.test(host)) {
    throw new UsageError(
      `--host must be an IP address or a host name (e.g. 127.0.0.1, 0.0.0.0, ::1), got '${host}'`,
    );
  }
  return { host, port, intervalMs };
}

/**
 * Runs `ui` (or `dev`, with the daemon) until `signal` aborts; returns the
 * exit code.
 */
export async function uiCommand<R>(
  app: CliApp<R>,
  setup: UiCommandSetup,
  args: readonly string[],
  io: CliIo,
  options: { signal?: AbortSignal | undefined; daemon: boolean },
): Promise<number> {
  const parsed = parseUiArgs(args, options.daemon ? "dev" : "ui");
  if (parsed === "help") {
    io.out(UI_USAGE);
    return EXIT.ok;
  }
  const graph = await app.loadGraph();
  const { sources, secrets, token } = await setup.sources();
  // dev runs the daemon, so an orchestrator probes it as it probes `sensor` (HEALTH_PORT):
  // live while the daemon ticks (or stands by), ready while the run store also answers.
  await using health = openHealth(
    options.daemon ? await app.health?.() : undefined,
    app.clock ?? systemClock,
  );
  await using store = await app.openRunStore();
  health.state.watchStore(() => store.listRuns({ limit: 1 }));
  const queue = await app.openQueue?.();
  await using _queue = {
    [Symbol.asyncDispose]: async () => await queue?.[Symbol.asyncDispose](),
  };
  const clock = app.clock ?? systemClock;
  const log = createLogger((record) =>
    io.out(
      `${new Date(record.time).toISOString()} ${
        record.level.toUpperCase().padEnd(5)
      } ${record.message}\n`,
    )
  );
  const launcherPid = Deno.env.get(LAUNCHER_PID_VARIABLE);
  const server = await serveUi({
    graph,
    store,
    sources,
    host: parsed.host,
    port: parsed.port,
    ...(token ? { token } : {}),
    secrets,
    log,
    clock,
    ...(app.heartbeatIntervalMs ? { heartbeatIntervalMs: app.heartbeatIntervalMs() } : {}),
    ...(queue ? { queue, maxRetries: app.queueMaxRetries?.() ?? 0 } : {}),
    daemonIntervalMs: parsed.intervalMs ?? app.sensorIntervalMs?.() ?? 1000,
    // Under launch.ts (every deno task), the socket it granted.
    ...(launcherPid ? { socketPath: uiSocketPath(Deno.env.get("TMPDIR"), launcherPid) } : {}),
  });
  io.out(`UI_URL=${server.url}\n`);
  io.out(
    `Serving the UI at ${server.url} (run store ${store.description}${
      queue ? `; runs go to the queue ${queue.description}` : ""
    }); Ctrl-C stops\n`,
  );
  const stop = options.signal ?? new AbortController().signal;
  try {
    if (options.daemon) {
      await runDaemon(app, graph, store, queue, clock, log, stop, parsed.intervalMs, health.state);
    } else if (!stop.aborted) {
      await reapUntil(store, clock, log, stop, app.heartbeatIntervalMs?.() ?? 10_000);
    }
  } finally {
    await server.close();
  }
  return EXIT.ok;
}

/**
 * `ui` without the daemon: fails the runs whose owner died, at once and then
 * every heartbeat interval (at least 1 s), until `stop`. Every other command
 * does this when it starts and the daemon on every tick; a UI left open alone
 * showed a `materialize` killed with -9 as running for ever (and a cancel of
 * it from the UI never took effect).
 */
async function reapUntil(
  store: RunStore,
  clock: Clock,
  log: Logger,
  stop: AbortSignal,
  heartbeatMs: number,
): Promise<void> {
  const everyMs = Math.max(1000, heartbeatMs);
  while (!stop.aborted) {
    try {
      await reapDeadRuns(store, { clock, log });
    } catch (error) {
      log.error(`cannot fail the runs of dead processes: ${toError(error).message}`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, everyMs);
      stop.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        stop.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}

/**
 * `dev`'s background work: the sensor daemon; with a queue, as `sensor`
 * runs it (daemon lock, coordinator, runs to the queue) plus one worker in
 * this process that executes the queued runs.
 */
async function runDaemon<R>(
  app: CliApp<R>,
  graph: Graph<R>,
  store: RunStore,
  queue: RunQueue | undefined,
  clock: Clock,
  log: Logger,
  stop: AbortSignal,
  intervalMs: number | undefined,
  health: HealthState,
): Promise<void> {
  const heartbeat = app.heartbeatIntervalMs
    ? { heartbeatIntervalMs: app.heartbeatIntervalMs() }
    : {};
  // The worker executes queued runs even while this daemon stands by for another's lock.
  const worker = queue
    ? new RunWorker(graph, { queue, runStore: store, clock, log, ...heartbeat }).run(stop)
      .catch((error) => log.error(`worker stopped: ${toError(error).message}`))
    : undefined;
  health.waiting();
  await using queued = await queueMode(app, graph, store, clock, log, stop);
  if (queued.standbyEnded) {
    await worker;
    return;
  }
  const signal = queued.signal ?? stop;
  const daemon = new SensorDaemon(graph, {
    ...(queued.launch ? { launch: queued.launch } : {}),
    runStore: store,
    clock,
    intervalMs: intervalMs ?? app.sensorIntervalMs?.() ?? 1000,
    log,
    signal,
    ...heartbeat,
    // Runs executed here are retried as the queue retries its runs (QUEUE_MAX_RETRIES).
    ...(!queued.launch && app.queueMaxRetries ? { maxRetries: app.queueMaxRetries() } : {}),
    onTick: () => health.beat(),
  });
  try {
    await daemon.run();
  } finally {
    await worker;
  }
}
