/**
 * Health of a long-running process (`sensor`, `worker`) for an orchestrator
 * (Kubernetes probes, Compose healthchecks): a small HTTP endpoint, off
 * unless a port is given, that answers from what the process itself keeps
 * up to date.
 *
 * - `GET /livez`: 200 while the process's main loop has gone round within
 *   `staleAfterMs` (the daemon's tick, the worker's heartbeat loop), or the
 *   process is waiting on purpose (for its store to answer at start, as a
 *   standby for the daemon lock); 503 once the loop has stalled. A store
 *   that cannot be reached does not make it fail: restarting the process
 *   would not bring the store back.
 * - `GET /readyz`: 200 when live, not waiting, and the run store answers a
 *   read within `timeoutMs`; 503 otherwise, saying which.
 *
 * Both answer JSON: `{ "status": "ok" | "unhealthy", "loop_age_ms", "waiting",
 * "store": { "reachable", "error"? } }`.
 *
 * @module
 */

import { type Clock, systemClock } from "../clock.ts";
import { PlatformError, toError } from "../errors.ts";

/** Where the endpoint listens and when it says the loop stalled. */
export interface HealthSettings {
  /** Address to bind (`127.0.0.1` for a check inside the container, `0.0.0.0` for a kubelet). */
  readonly hostname: string;
  /** Port (`0`: any free port; see {@linkcode HealthServer.port}). */
  readonly port: number;
  /** With no loop round for longer than this, the process is not live (ms). */
  readonly staleAfterMs: number;
  /**
   * How long the store's read may take before it counts as unreachable (ms).
   * @default {2000}
   */
  readonly timeoutMs?: number;
}

/** What the process tells the endpoint as it goes. */
export class HealthState {
  readonly #clock: Clock;
  #lastBeat: number;
  #waiting = true;
  #check: (() => Promise<unknown>) | undefined;

  /** A state that is waiting (live, not ready) until the first {@linkcode HealthState.beat}. */
  constructor(clock: Clock = systemClock) {
    this.#clock = clock;
    this.#lastBeat = clock.now();
  }

  /** The main loop went round: the process is live, and no longer waiting. */
  beat(): void {
    this.#lastBeat = this.#clock.now();
    this.#waiting = false;
  }

  /** The process waits on purpose (a store not up yet, a standby): live, not ready. */
  waiting(): void {
    this.#waiting = true;
    this.#lastBeat = this.#clock.now();
  }

  /** The read that shows the run store answers (until set, the process is not ready). */
  watchStore(check: () => Promise<unknown>): void {
    this.#check = check;
  }

  /** Milliseconds since the last loop round. */
  loopAgeMs(): number {
    return Math.max(0, this.#clock.now() - this.#lastBeat);
  }

  /** Whether the process waits on purpose. */
  isWaiting(): boolean {
    return this.#waiting;
  }

  /** The store's read, bounded by `timeoutMs`: `undefined` when it answered, else why not. */
  async storeProblem(timeoutMs: number): Promise<string | undefined> {
    const check = this.#check;
    if (!check) return "the run store is not open yet";
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        check(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${timeoutMs} ms`)),
            timeoutMs,
          );
        }),
      ]);
      return undefined;
    } catch (error) {
      return toError(error).message;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A listening health endpoint; `await using` closes it. */
export interface HealthServer extends AsyncDisposable {
  /** The port it listens on (the one chosen when 0 was asked). */
  readonly port: number;
}

/**
 * Serves `/livez` and `/readyz` for `state` (see the module doc).
 *
 * @example
 * ```ts
 * import { HealthState, serveHealth } from "./health.ts";
 * const state = new HealthState();
 * await using server = serveHealth(state, { hostname: "127.0.0.1", port: 0, staleAfterMs: 60_000 });
 * const live = await fetch(`http://127.0.0.1:${server.port}/livez`);
 * await live.body?.cancel();
 * live.status; // 200: waiting counts as live
 * ```
 */
export function serveHealth(state: HealthState, settings: HealthSettings): HealthServer {
  const timeoutMs = settings.timeoutMs ?? 2_000;
  const server = Deno.serve({
    hostname: settings.hostname,
    port: settings.port,
    onListen: () => {},
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("only GET\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (path !== "/livez" && path !== "/readyz") {
      return new Response("not found: /livez and /readyz are served here\n", { status: 404 });
    }
    const loopAgeMs = state.loopAgeMs();
    const waiting = state.isWaiting();
    const live = waiting || loopAgeMs <= settings.staleAfterMs;
    const body: Record<string, unknown> = { loop_age_ms: loopAgeMs, waiting };
    let ok = live;
    if (!live) body.problem = `the main loop has not gone round for ${loopAgeMs} ms`;
    if (path === "/readyz") {
      const problem = await state.storeProblem(timeoutMs);
      body.store = problem === undefined
        ? { reachable: true }
        : { reachable: false, error: problem };
      if (problem !== undefined) body.problem ??= `the run store: ${problem}`;
      if (waiting) body.problem ??= "waiting (for the run store at start, or as a standby)";
      ok = live && !waiting && problem === undefined;
    }
    return Response.json({ status: ok ? "ok" : "unhealthy", ...body }, {
      status: ok ? 200 : 503,
      headers: { "cache-control": "no-store" },
    });
  });
  return {
    port: server.addr.port,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** The state a command keeps up to date, and its endpoint when one is served. */
export interface HealthEndpoint extends AsyncDisposable {
  /** What the command tells the endpoint. */
  readonly state: HealthState;
  /** The endpoint, or `undefined` when health is off. */
  readonly server: HealthServer | undefined;
}

/**
 * Serves the health endpoint of a long-running command when `settings` are
 * given (a state alone otherwise, so the command keeps it up to date either
 * way).
 *
 * @throws {PlatformError} `health.listen_failed` when the address cannot be bound.
 */
export function openHealth(
  settings: HealthSettings | undefined,
  clock: Clock = systemClock,
): HealthEndpoint {
  const state = new HealthState(clock);
  let server: HealthServer | undefined;
  if (settings) {
    try {
      server = serveHealth(state, settings);
    } catch (error) {
      throw new PlatformError(
        "health.listen_failed",
        `Cannot serve the health endpoint on ${settings.hostname}:${settings.port} ` +
          `(HEALTH_HOST, HEALTH_PORT): ${toError(error).message}; set HEALTH_PORT to a free ` +
          "port, or 0 to serve none",
        { cause: error },
      );
    }
  }
  return {
    state,
    server,
    async [Symbol.asyncDispose]() {
      await server?.[Symbol.asyncDispose]();
    },
  };
}
