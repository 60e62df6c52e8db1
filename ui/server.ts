/**
 * The UI's HTTP application (Hono): server-rendered pages, the JSON API under
 * `/api`, the mutating actions under `/actions` (POST, token, same origin),
 * and the static files under `/static`.
 *
 * Pages are rendered on the server (every value escaped by `html.ts`); a
 * small script (`static/app.js`) adds zoom/pan/search to the graph and
 * refreshes each page's live regions by polling the same URL with
 * `?fragment=ID` and `If-None-Match`.
 *
 * @module
 */

import { type Context, Hono } from "hono";
import { compress } from "hono/compress";
import { setCookie } from "hono/cookie";
import { secureHeaders } from "hono/secure-headers";
import {
  ConfigError,
  isTransientError,
  PlatformError,
  ResourceError,
  SelectionError,
  toError,
} from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { PartitionSelection } from "../core/plan.ts";
import { closest, nearest } from "../core/suggest.ts";
import { clip, printable, quote } from "../core/printable.ts";
import { duplicateJsonKey } from "../formats/json_keys.ts";
import { apiRoutes, ENDPOINTS, jsonError, unknownAutomation } from "./api.ts";
import type { UiContext } from "./context.ts";
import { etagged } from "./etag.ts";
import { empty, h, type Html, page, runHref } from "./html.ts";
import { assetPage } from "./pages/asset.ts";
import {
  automationHistoryPage,
  automationPage,
  automations,
  findAutomation,
} from "./pages/automation.ts";
import { graphPage } from "./pages/graph.ts";
import { launchPage, resolutionView, resolve } from "./pages/launch.ts";
import { lakePage, ledgerDocPage, ledgerErrorView, objectPage } from "./pages/lake.ts";
import { LedgerReadError } from "./ledger_read.ts";
import { mapPage } from "./pages/map.ts";
import { martsPage } from "./pages/marts.ts";
import { queuedRunPage, queuePage } from "./pages/queue.ts";
import { runPage, runsPage } from "./pages/runs.ts";
import { BadParamError, EVENT_TYPES, idParam, LOG_LEVELS, oneOfParam } from "./params.ts";
import { parseRunFilter } from "./run_query.ts";
import {
  bodyLimitMiddleware,
  bodyTimeoutMiddleware,
  hasToken,
  isLoopback,
  redactMiddleware,
  securityMiddleware,
  type SecurityOptions,
  TOKEN_COOKIE,
  tokenMatches,
} from "./security.ts";

/** Options of {@linkcode createApp}. */
export interface AppOptions extends SecurityOptions {
  /** Strings never to show (passwords of configured URLs, keys, the token). */
  readonly secrets?: readonly string[];
  /** Where requests that fail on the server's side (5xx) are logged. */
  readonly log?: Logger;
  /**
   * How long a request body may take to arrive before the answer is a 408.
   * @default {BODY_TIMEOUT_MS (10 s)}
   */
  readonly bodyTimeoutMs?: number;
}

const STATIC_TYPES: Readonly<Record<string, string>> = {
  "app.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "favicon.svg": "image/svg+xml",
};

/** Reads the static files shipped in `ui/static/`. */
export async function loadStatic(): Promise<Map<string, Uint8Array>> {
  const files = new Map<string, Uint8Array>();
  for (const name of Object.keys(STATIC_TYPES)) {
    files.set(name, await Deno.readFile(new URL(`./static/${name}`, import.meta.url)));
  }
  return files;
}

/** Builds the Hono application for `ctx`. */
export async function createApp(ctx: UiContext, options: AppOptions): Promise<Hono> {
  const files = await loadStatic();
  const app = new Hono();
  // Off loopback the pages travel a network: the 10,000-asset graph page is 1.4 MB of HTML
  // (157 KB gzipped) and its state poll 1.1 MB of JSON (28 KB). Outermost, so what it
  // compresses is the redacted body. On loopback it would only cost CPU.
  if (!isLoopback(options.host)) app.use("*", compress());
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: "same-origin",
    }),
  );
  app.use(
    "*",
    redactMiddleware([...(options.secrets ?? []), ...(options.token ? [options.token] : [])]),
  );
  app.use("*", securityMiddleware({ ...options, allowed: (path) => methodsAt(path) }));
  app.use("*", bodyTimeoutMiddleware(options.bodyTimeoutMs));
  app.use("*", bodyLimitMiddleware());

  app.onError((error, c) => {
    // Shown on the page: the message may quote the request's input, control characters and all.
    const e = { message: printable(toError(error).message) };
    // Bad input is the caller's to fix (400); a system the UI reads that fails (the run
    // store damaged, locked, full or down) is 503, the UI itself being fine; anything else
    // is ours (500). None shows a stack.
    const bad = error instanceof BadParamError ||
      (error instanceof ConfigError && error.code === "ui.bad_json");
    const unavailable = !bad && error instanceof ResourceError;
    const status = bad ? 400 : unavailable ? 503 : 500;
    if (!bad) {
      // The page says it to the visitor; the operator reads the server's log.
      options.log?.error(`${c.req.method} ${c.req.path}: ${e.message}`, {
        status,
        ...(error instanceof PlatformError ? { code: error.code } : {}),
      });
    }
    // A lock held by another process passes: say when to ask again.
    if (unavailable && isTransientError(error)) c.header("Retry-After", "5");
    if (c.req.path.startsWith("/api/") || c.req.path.startsWith("/actions/")) {
      const code = error instanceof BadParamError || error instanceof PlatformError
        ? error.code
        : "internal";
      return jsonError(c, status, code, e.message);
    }
    return c.html(
      page(
        bad ? "Bad request" : unavailable ? "Unavailable" : "Error",
        bad
          ? h`<h1>Bad request</h1><p class="warn">${e.message}</p><p><a href="${c.req.path}">without parameters</a></p>`
          : unavailable
          ? h`<h1>Cannot read or write what this page needs</h1><p class="warn">${e.message}</p><p>The UI itself is up: reload this page once that is fixed.</p>`
          : h`<h1>Something went wrong</h1><p class="warn">${e.message}</p>`,
        opts(c),
      ),
      status,
    );
  });
  app.notFound((c) => {
    // A handler's own "no such thing" (c.notFound()) is served by a route of this method.
    const allowed = methodsAt(c.req.path);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) return methodNotAllowed(c, allowed);
    return c.req.path.startsWith("/api/") || c.req.path.startsWith("/actions/")
      ? jsonError(
        c,
        404,
        "not_found",
        `No endpoint ${c.req.method} ${c.req.path}; GET /api/endpoints lists them`,
      )
      : c.html(
        page("Not found", h`<h1>Not found</h1>${empty(`Nothing at ${c.req.path}.`)}`, opts(c)),
        404,
      );
  });

  const opts = (c: Context, active?: string) => ({
    ...(active ? { active } : {}),
    tokenRequired: options.token !== undefined,
    signedIn: hasToken(c, options.token),
    ...(ctx.queue ? { extraNav: [["/queue", "Queue"]] as const } : {}),
  });

  /** A full page, or one live fragment of it (`?fragment=ID`, ETag'd). */
  const respond = (
    c: Context,
    title: string,
    active: string,
    result: { body: Html; fragments?: Record<string, Html> },
  ) => {
    const fragment = c.req.query("fragment");
    if (fragment !== undefined) {
      const part = result.fragments?.[fragment];
      if (part === undefined) {
        return jsonError(c, 404, "unknown_fragment", `No live part '${fragment}'`);
      }
      return etagged(c, String(part), "text/html");
    }
    return c.html(page(title, result.body, opts(c, active)));
  };

  app.get("/static/:name", (c) => {
    const name = c.req.param("name");
    const body = files.get(name);
    if (!body) return c.notFound();
    return new Response(body as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": STATIC_TYPES[name] as string, "cache-control": "no-cache" },
    });
  });

  app.get("/", (c) => c.redirect("/assets"));
  app.get(
    "/assets",
    async (c) =>
      respond(
        c,
        "Assets",
        "/assets",
        await graphPage(ctx, {
          q: c.req.query("q"),
          select: c.req.query("select"),
          state: c.req.query("state"),
          page: c.req.query("page"),
          draw: c.req.query("draw"),
        }),
      ),
  );
  // `{.+}`: a key with slashes also opens as Dagster writes it, /assets/spatial/raster_cog
  // (links encode the slash: /assets/spatial%2Fraster_cog).
  app.get("/assets/:key{.+}", async (c) => {
    const key = c.req.param("key");
    const asset = ctx.graph.assets.get(key);
    if (!asset) {
      const near = closest(key, ctx.graph.assets.keys());
      return c.html(
        page(
          "Unknown asset",
          h`<h1>Unknown asset</h1><p class="warn">No asset has key <b>${printable(key)}</b>.${
            near ? h` Did you mean <a href="/assets/${encodeURIComponent(near)}">${near}</a>?` : ""
          }</p>`,
          opts(c, "/assets"),
        ),
        404,
      );
    }
    return respond(
      c,
      asset.key,
      "/assets",
      await assetPage(ctx, asset, { before: c.req.query("before") }),
    );
  });
  app.get("/runs", async (c) => {
    const bad = (error: unknown) =>
      c.html(
        page(
          "Runs",
          h`<h1>Runs</h1><p class="warn">${toError(error).message}</p><a href="/runs">all runs</a>`,
          opts(c, "/runs"),
        ),
        400,
      );
    let result;
    try {
      result = await runsPage(ctx, parseRunFilter(c.req.query()), c.req.query());
    } catch (error) {
      // A bad filter, an unknown sensor or a cursor this server never gave.
      if (error instanceof RangeError) return bad(error);
      throw error;
    }
    return respond(c, "Runs", "/runs", result);
  });
  app.get("/queue", async (c) => {
    if (!ctx.queue) {
      return c.html(
        page(
          "Queue",
          h`<h1>Run queue</h1>${
            empty(
              "This UI has no run queue: runs execute in the process that launches them. " +
                "A queue needs RUNS_URL=postgres://... (and RUN_QUEUE=auto), shared with the workers.",
            )
          }`,
          opts(c, "/queue"),
        ),
        404,
      );
    }
    return respond(c, "Queue", "/queue", await queuePage(ctx, ctx.queue));
  });
  app.get("/runs/:id", async (c) => {
    const run = await ctx.store.getRun(c.req.param("id"));
    const entry = run ? undefined : await ctx.queue?.get(c.req.param("id"));
    if (!run && entry && ctx.queue) {
      // Queued, not yet recorded by a worker: the queue's view of it, live until it starts.
      return respond(
        c,
        `Run ${entry.runId.slice(0, 8)}`,
        "/runs",
        await queuedRunPage(ctx, ctx.queue, entry),
      );
    }
    if (run && c.req.query("fragment") === "queued") {
      // A page opened while the run waited in the queue: a worker has recorded it since.
      return etagged(
        c,
        String(
          h`<p data-reload>Run started: <a href="${runHref(run.runId)}">open its page</a>.</p>`,
        ),
        "text/html",
      );
    }
    if (!run) {
      return c.html(
        page(
          "Unknown run",
          h`<h1>Unknown run</h1>${empty(`No run has id ${c.req.param("id")}.`)}`,
          opts(c, "/runs"),
        ),
        404,
      );
    }
    return respond(
      c,
      `Run ${run.runId.slice(0, 8)}`,
      "/runs",
      await runPage(ctx, run, {
        step: c.req.query("step"),
        level: oneOfParam("level", c.req.query("level"), LOG_LEVELS),
        type: oneOfParam("type", c.req.query("type"), EVENT_TYPES),
        q: c.req.query("q"),
      }),
    );
  });
  app.get("/launch", (c) => {
    if (c.req.query("fragment") === "resolution") {
      const r = resolve(ctx.graph, c.req.query("selection") ?? "", c.req.query("exclude") ?? "");
      return etagged(c, String(resolutionView(ctx.graph, r)), "text/html");
    }
    return c.html(page("Launch", launchPage(ctx, c.req.query()), opts(c, "/launch")));
  });
  app.get(
    "/automation",
    async (c) => respond(c, "Automation", "/automation", await automationPage(ctx)),
  );
  app.get("/automation/:name", async (c) => {
    const item = findAutomation(ctx, c.req.param("name"));
    if (!item) {
      const near = closest(
        c.req.param("name"),
        automations(ctx).map((a) => a.name),
      );
      return c.html(
        page(
          "Unknown sensor",
          h`<h1>Unknown sensor or schedule</h1><p class="warn">Nothing is named <b>${
            c.req.param("name")
          }</b>.${near ? h` Did you mean <a href="/automation/${near}">${near}</a>?` : ""}</p>`,
          opts(c, "/automation"),
        ),
        404,
      );
    }
    const before = idParam("before", c.req.query("before"), "a tick id");
    return respond(c, item.name, "/automation", await automationHistoryPage(ctx, item, before));
  });
  app.get("/lake", async (c) =>
    c.html(page(
      "Lake & lineage",
      await lakePage(ctx, {
        bucket: c.req.query("bucket"),
        prefix: c.req.query("prefix"),
        token: c.req.query("token"),
      }),
      opts(c, "/lake"),
    )));
  app.get("/lake/object", async (c) => {
    const bucket = c.req.query("bucket") ?? "", key = c.req.query("key") ?? "";
    if (![ctx.landingBucket, ctx.lakeBucket].includes(bucket)) {
      return c.html(
        page(
          "Lake",
          h`<h1>Unknown bucket</h1>${empty(`'${bucket}' is not a bucket of this lake.`)}`,
          opts(c, "/lake"),
        ),
        404,
      );
    }
    let body: Html | undefined;
    try {
      body = await objectPage(ctx, bucket, key);
    } catch (error) {
      return c.html(
        page(
          "Lake",
          h`<h1>Cannot read ${key}</h1><p class="warn">${toError(error).message}</p>`,
          opts(c, "/lake"),
        ),
        400,
      );
    }
    if (!body) {
      return c.html(
        page(
          "Lake",
          h`<h1>Not found</h1>${empty(`No object ${bucket}/${key}.`)}`,
          opts(c, "/lake"),
        ),
        404,
      );
    }
    return c.html(page(key, body, opts(c, "/lake")));
  });
  app.get("/lake/doc/:id", async (c) => {
    const id = c.req.param("id");
    let body: Html | undefined;
    try {
      body = await ledgerDocPage(ctx, id);
    } catch (error) {
      if (!(error instanceof LedgerReadError)) throw error;
      return c.html(
        page(
          "Ledger document",
          h`<h1>Cannot read ledger document <span class="mono">${id}</span></h1>${
            ledgerErrorView(error)
          }`,
          opts(c, "/lake"),
        ),
        error.status,
      );
    }
    if (!body) {
      return c.html(
        page(
          "Ledger",
          h`<h1>Not found</h1>${empty(`The ledger has no document '${id}'.`)}`,
          opts(c, "/lake"),
        ),
        404,
      );
    }
    return c.html(page("Ledger document", body, opts(c, "/lake")));
  });
  app.get(
    "/marts",
    async (c) =>
      c.html(page("Marts", await martsPage(ctx, { user: c.req.query("user") }), opts(c, "/marts"))),
  );
  app.get(
    "/map",
    async (c) =>
      c.html(page("Map", await mapPage(ctx, { batch: c.req.query("batch") }), opts(c, "/map"))),
  );
  app.get("/api", (c) => c.html(page("API", apiDocs(ctx), opts(c, "/api"))));
  app.route("/api", apiRoutes(ctx));

  app.get(
    "/login",
    (c) =>
      c.html(page(
        "Sign in",
        h`<h1>Sign in</h1>${
          options.token
            ? h`<form method="post" action="/login"><label>UI token <input type="password" name="token" autocomplete="current-password"></label><button type="submit">Sign in</button></form>`
            : h`<p>This server needs no token: it only listens on this machine.</p>`
        }`,
        opts(c),
      )),
  );
  app.post("/login", async (c) => {
    const form = await readForm(c);
    if (!options.token || !tokenMatches(form.token, options.token)) {
      return c.html(
        page(
          "Sign in",
          h`<h1>Sign in</h1><p class="warn">Wrong token.</p><a href="/login">try again</a>`,
          opts(c),
        ),
        401,
      );
    }
    setCookie(c, TOKEN_COOKIE, options.token, { httpOnly: true, sameSite: "Strict", path: "/" });
    return c.redirect("/assets", 303);
  });

  app.post("/actions/launch", async (c) => {
    const input = await readInput(c);
    const request = launchRequest(input);
    if ("error" in request) return actionError(c, input, request.error);
    try {
      if (input.backfill === "1" || input.backfill === "true") {
        const { backfillId, runIds } = await ctx.launcher.backfill(request);
        return wantsJson(c)
          ? c.json({ backfill: backfillId, runIds, url: "/queue" })
          : c.redirect("/queue", 303);
      }
      if (input.stale === "1" || input.stale === "true") {
        // `materialize --stale`: one run per connected set of stale assets, or none.
        const runIds = await ctx.launcher.launchStale(request);
        if (runIds.length === 0) {
          return actionError(c, input, "Nothing is stale in this selection: nothing was launched");
        }
        if (runIds.length === 1) return actionDone(c, runIds[0] as string);
        const url = "/runs?tag=stale%3Dtrue";
        return wantsJson(c) ? c.json({ runIds, url }) : c.redirect(url, 303);
      }
      const runId = await ctx.launcher.launch(request);
      return actionDone(c, runId);
    } catch (error) {
      if (error instanceof SelectionError) {
        return actionError(c, input, error.message, error.suggestion);
      }
      if (error instanceof RangeError || error instanceof TypeError) {
        return actionError(c, input, error.message); // a priority without a queue, a bad number
      }
      throw error;
    }
  });
  app.post("/actions/automation/:name", async (c) => {
    const item = findAutomation(ctx, c.req.param("name"));
    if (!item) return unknownAutomation(c, ctx, c.req.param("name"));
    const input = await readInput(c);
    const enabled = input.enabled === "true" || input.enabled === "1"
      ? true
      : input.enabled === "false" || input.enabled === "0"
      ? false
      : undefined;
    if (enabled === undefined) {
      return jsonError(
        c,
        400,
        "bad_enabled",
        `enabled must be true or false, got '${input.enabled ?? ""}'`,
      );
    }
    const state = await ctx.store.setAutomationState(item.name, {
      enabled,
      time: ctx.clock.now(),
      by: "ui",
    });
    return wantsJson(c) ? c.json(state) : c.redirect(`/automation#${item.name}`, 303);
  });
  app.post("/actions/runs/:id/cancel", async (c) => {
    const run = await ctx.store.getRun(c.req.param("id"));
    if (!run && ctx.queue) {
      const entry = await ctx.queue.get(c.req.param("id"));
      if (entry) return await cancelQueuedRun(c, entry.runId);
    }
    if (!run) return jsonError(c, 404, "unknown_run", `No run has id '${c.req.param("id")}'`);
    if (run.status !== "running") {
      return jsonError(
        c,
        409,
        "not_running",
        `Run '${run.runId}' has already ended (${run.status})`,
      );
    }
    const outcome = await ctx.launcher.cancel(run, "canceled from the UI");
    if (outcome === "not_running") {
      return jsonError(c, 409, "not_running", `Run '${run.runId}' ended before it could cancel`);
    }
    if (outcome === "no_owner") {
      return jsonError(
        c,
        409,
        "no_owner",
        `Run '${run.runId}' has no owner process recorded (it was started by an older version), ` +
          "so no process can be asked to stop it: stop the process that runs it",
      );
    }
    if (wantsJson(c)) {
      return c.json({ runId: run.runId, url: runHref(run.runId), outcome }, 202);
    }
    return c.redirect(runHref(run.runId), 303);
  });
  app.post("/actions/runs/:id/reexecute", async (c) => {
    const run = await ctx.store.getRun(c.req.param("id"));
    if (!run) return jsonError(c, 404, "unknown_run", `No run has id '${c.req.param("id")}'`);
    if (run.status === "running") {
      return jsonError(c, 409, "still_running", `Run '${run.runId}' is still running`);
    }
    const input = await readInput(c);
    try {
      const runId = await ctx.launcher.reexecute(
        run,
        input.from_failure === "1" || input.from_failure === "true",
        input.step ? parseStepId(input.step) : undefined,
      );
      return actionDone(c, runId);
    } catch (error) {
      if (error instanceof RangeError || error instanceof SelectionError) {
        return jsonError(c, 400, "cannot_reexecute", error.message);
      }
      throw error;
    }
  });

  /** Cancels a run that is in the queue and not in the run store (yet). */
  const cancelQueuedRun = async (c: Context, runId: string) => {
    const reason = "canceled from the UI";
    const before = await ctx.queue?.get(runId);
    const after = before?.state === "finished" || before?.state === "canceled"
      ? before // left the queue already: nothing to cancel
      : await ctx.launcher.cancelQueued(runId, reason);
    if (after === undefined) {
      return jsonError(c, 404, "unknown_run", `No run has id '${runId}'`);
    }
    let outcome: string;
    if (after !== before && after.state === "canceled") {
      outcome = "dequeued"; // it left the queue now and never runs
    } else if (after.state === "started") {
      // A worker is recording it: ask through the run store too, for when it has.
      await ctx.store.requestCancel(runId, { time: ctx.clock.now(), reason });
      outcome = "requested";
    } else {
      return jsonError(
        c,
        409,
        "not_running",
        `Run '${runId}' already left the queue (${after.outcome ?? after.state})`,
      );
    }
    if (wantsJson(c)) {
      return c.json({ runId, url: runHref(runId), outcome, queueState: after.state }, 202);
    }
    return c.redirect(c.req.header("referer")?.endsWith("/queue") ? "/queue" : runHref(runId), 303);
  };

  /** Redirects a browser form to the run page; answers JSON to scripts. */
  const actionDone = (c: Context, runId: string) =>
    wantsJson(c)
      ? c.json({ runId, url: runHref(runId), ...(ctx.queue ? { state: "queued" } : {}) })
      : c.redirect(runHref(runId), 303);

  const actionError = (
    c: Context,
    input: Record<string, string>,
    message: string,
    suggestion?: string,
  ) =>
    wantsJson(c)
      ? jsonError(c, 400, "bad_launch", message, suggestion ? { suggestion } : {})
      : c.html(page("Launch", launchPage(ctx, input, message), opts(c, "/launch")), 400);

  /** The methods served at `path` (GET implying HEAD), from the routes above. */
  const routes = app.routes
    .filter((r) => (r.method === "GET" || r.method === "POST") && !r.path.includes("*"))
    .map((r) => ({ method: r.method, pattern: routePattern(r.path) }));
  const methodsAt = (path: string): string[] => {
    const methods = new Set(routes.filter((r) => r.pattern.test(path)).map((r) => r.method));
    return [
      ...(methods.has("GET") ? ["GET", "HEAD"] : []),
      ...(methods.has("POST") ? ["POST"] : []),
    ];
  };

  return app;
}

/** A Hono route path (`/runs/:id`, `/assets/:key{.+}`) as a regular expression. */
function routePattern(path: string): RegExp {
  const source = path.split("/").map((part) => {
    const param = /^:\w+(?:\{(.+)\})?$/.exec(part);
    if (param) return param[1] ? `(?:${param[1]})` : "[^/]+";
    return part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }).join("/");
  return new RegExp(`^${source}/?$`);
}

/**
 * 405 for a path served with other methods (RFC 9110: with `Allow`), as JSON
 * under `/api` and `/actions`, else as a page.
 */
export function methodNotAllowed(c: Context, allowed: readonly string[]): Response {
  c.header("Allow", allowed.join(", "));
  const message = `${c.req.method} is not served at ${c.req.path}: use ${allowed.join(" or ")}${
    allowed.includes("POST") && !allowed.includes("GET")
      ? " (a change: from a form of the UI, or a script with a JSON body)"
      : ""
  }`;
  return c.req.path.startsWith("/api/") || c.req.path.startsWith("/actions/")
    ? jsonError(c, 405, "method_not_allowed", message)
    : c.html(page("Method not allowed", h`<h1>Method not allowed</h1>${empty(message)}`), 405);
}

/** `key` or `key[partition]` (the run page's step ids) as an asset key and partition. */
function parseStepId(id: string): { assetKey: string; partition: string | null } {
  const open = id.indexOf("[");
  return open > 0 && id.endsWith("]")
    ? { assetKey: id.slice(0, open), partition: id.slice(open + 1, -1) }
    : { assetKey: id, partition: null };
}

function wantsJson(c: Context): boolean {
  return (c.req.header("content-type") ?? "").includes("application/json") ||
    (c.req.header("accept") ?? "").startsWith("application/json");
}

/**
 * The fields of a form body; a body that is not the form its type says (a
 * multipart type without its boundary, a broken part) is a 400, not a 500.
 */
async function readForm(c: Context): Promise<Record<string, unknown>> {
  try {
    // Every value of a field kept (`all`), so that a field given twice is refused, not cut to its last.
    return await c.req.parseBody({ all: true });
  } catch (error) {
    throw new BadParamError(
      "body",
      `The form in the request body cannot be read (${toError(error).message}); send it as ` +
        "application/x-www-form-urlencoded, or multipart/form-data with its boundary",
    );
  }
}

async function readInput(c: Context): Promise<Record<string, string>> {
  const type = c.req.header("content-type") ?? "";
  let raw: Record<string, unknown>;
  if (type.includes("application/json")) {
    let parsed: unknown;
    let text: string;
    try {
      text = await c.req.text();
      parsed = JSON.parse(text);
    } catch {
      throw new ConfigError("ui.bad_json", "The request body is not JSON");
    }
    const twice = duplicateJsonKey(text);
    if (twice) {
      // JSON.parse keeps the last: {"selection": "a", "selection": "b"} ran 'b' alone.
      throw new BadParamError(
        "body",
        `The key ${
          quote(twice.key)
        } appears twice in one object of the JSON body (line ${twice.line}); which value was meant is unclear: give it once`,
      );
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new ConfigError(
        "ui.bad_json",
        'The request body must be a JSON object, e.g. {"selection": "KEY"}',
      );
    }
    return jsonFields(parsed as Record<string, unknown>);
  } else if (type.includes("form")) {
    raw = await readForm(c);
  } else {
    // Read as nothing, a body of another type (text/plain, none given) launched every asset.
    if ((await c.req.text()).trim() !== "") {
      throw new BadParamError(
        "body",
        `A request body of type '${type || "none"}' cannot be read here; send JSON ` +
          "(Content-Type: application/json) or a form (application/x-www-form-urlencoded)",
      );
    }
    raw = {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) {
    if (Array.isArray(v)) {
      // Only the last was read: `selection=a&selection=b` ran 'b' alone.
      throw new BadParamError(
        k,
        `The field ${quote(clip(k, 60))} is given ${v.length} times: give it once ` +
          "(several assets: one value with commas, e.g. 'a,b')",
      );
    }
    if (typeof v !== "string") {
      throw new BadParamError(
        k,
        `The field ${quote(clip(k, 60))} is a file upload: send it as text`,
      );
    }
    out[k] = v;
  }
  return out;
}

/** What a JSON value is, for a message (`an object`, `a list`, `null`). */
function jsonKind(value: unknown): string {
  return value === null
    ? "null"
    : Array.isArray(value)
    ? "a list"
    : `a${typeof value === "object" ? "n" : ""} ${typeof value}`;
}

/**
 * A JSON body's fields as the form fields a launch reads. A value that cannot
 * stand for one (null, an empty list, an object in a list) is a 400 naming the
 * field: dropped or joined to '', it launched every asset.
 */
function jsonFields(raw: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  const all = (k: string) => k === "selection" || k === "exclude";
  const leaveOut = (k: string) =>
    k === "selection" ? "; leave 'selection' out to launch every asset" : "";
  for (const [k, v] of Object.entries(raw)) {
    if (v === null) {
      // Dropped as if not given, `{"selection": null}` (a script's unset variable) launched
      // every asset.
      throw new BadParamError(
        k,
        `The field '${k}' is null: give it a value, or leave it out` +
          (k === "selection" ? " (a launch without a selection runs every asset)" : ""),
      );
    }
    if (typeof v === "string") {
      if (all(k) && v.trim() === "") {
        // `{"selection": "$SEL"}` with SEL unset reads as '', which launched every asset.
        throw new BadParamError(
          k,
          `The field '${k}' is empty: name assets (KEY, +KEY, group:NAME, tag:NAME)${leaveOut(k)}`,
        );
      }
      out[k] = v;
    } else if (typeof v === "number" || typeof v === "boolean") out[k] = String(v);
    else if (Array.isArray(v)) {
      const bad = v.find((item) => typeof item !== "string" && typeof item !== "number");
      if (bad !== undefined) {
        throw new BadParamError(
          k,
          `The field '${k}' holds ${jsonKind(bad)}: give a list of text, e.g. ["raw_weather"]`,
        );
      }
      if (v.every((item) => String(item).trim() === "")) {
        throw new BadParamError(
          k,
          `The field '${k}' is an empty list: name assets (KEY, +KEY, group:NAME, tag:NAME)${
            leaveOut(k)
          }`,
        );
      }
      out[k] = v.map(String).join(",");
    } else if (k === "tags") out[k] = jsonTags(v as Record<string, unknown>);
    else out[k] = JSON.stringify(v); // kept to be refused by name, not dropped as if not given
  }
  return out;
}

/** A JSON tags object (`{"team": "geo"}`) as `KEY=VALUE,...`; values are text, without commas. */
function jsonTags(tags: Record<string, unknown>): string {
  return Object.entries(tags).map(([name, value]) => {
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw new BadParamError(
        "tags",
        `The tag ${quote(clip(name, 60))} is ${jsonKind(value)}: a tag's value is text`,
      );
    }
    const text = `${name}${String(value)}`;
    if (text.includes(",") || name.includes("=") || name.trim() === "") {
      throw new BadParamError(
        "tags",
        `The tag ${quote(clip(name, 60))} cannot be stored: a tag's name is not empty and ` +
          "holds no '=' or ',', and its value holds no ','",
      );
    }
    return `${name}=${String(value)}`;
  }).join(",");
}

/** The fields a launch request may carry (the launch forms' inputs, the JSON API's keys). */
const LAUNCH_FIELDS: readonly string[] = [
  "selection",
  "exclude",
  "upstream",
  "downstream",
  "partition",
  "from",
  "to",
  "tags",
  "priority",
  "max_retries",
  "stale",
  "backfill",
];

/**
 * Turns form or JSON input into a launch request, or the reason it is wrong
 * (a field it does not know is refused: it could only be a misspelt one).
 */
export function launchRequest(input: Record<string, string>):
  | {
    selection: string;
    exclude?: string;
    partitions?: PartitionSelection;
    tags: Record<string, string>;
    priority?: number;
    maxRetries?: number;
  }
  | { error: string } {
  const unknown = Object.keys(input).filter((name) => !LAUNCH_FIELDS.includes(name));
  if (unknown.length > 0) {
    // A misspelt field ("selectoin") was dropped, and the empty selection launched every asset.
    const shown = unknown.slice(0, 5).map((name) =>
      `${quote(clip(name, 60))}${nearest(name, LAUNCH_FIELDS)}`
    );
    return {
      error:
        `Unknown field${unknown.length > 1 ? "s" : ""} in the launch request: ${shown.join(", ")}${
          unknown.length > 5 ? ` and ${unknown.length - 5} more` : ""
        }; nothing was launched. ` +
        `Known fields: ${LAUNCH_FIELDS.join(", ")} (no selection launches every asset)`,
    };
  }
  const whole = (name: string, min: number): number | { error: string } | undefined => {
    const text = (input[name] ?? "").trim();
    if (text === "") return undefined;
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
      return {
        error: `${name} must be a whole number${
          min > -Infinity ? ` >= ${min}` : ""
        }, got '${text}'`,
      };
    }
    return value;
  };
  const priority = whole("priority", -Infinity);
  if (typeof priority === "object") return priority;
  const maxRetries = whole("max_retries", 0);
  if (typeof maxRetries === "object") return maxRetries;
  let selection = (input.selection ?? "").trim();
  if (selection && (input.upstream === "1" || input.downstream === "1")) {
    selection = selection.split(",").map((term) =>
      `${input.upstream === "1" ? "+" : ""}${term.trim()}${input.downstream === "1" ? "+" : ""}`
    ).join(",");
  }
  const keys = (input.partition ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  const from = (input.from ?? "").trim(), to = (input.to ?? "").trim();
  if (keys.length > 0 && (from || to)) {
    return { error: "Give partition keys or a from/to range, not both" };
  }
  const tags: Record<string, string> = {};
  for (const pair of (input.tags ?? "").split(",").map((t) => t.trim()).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at < 1) return { error: `Tag '${pair}' must be KEY=VALUE` };
    tags[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  const partitions: PartitionSelection | undefined = keys.length > 0
    ? { keys }
    : from || to
    ? { ...(from ? { from } : {}), ...(to ? { to } : {}) }
    : undefined;
  const exclude = (input.exclude ?? "").trim();
  return {
    selection,
    ...(exclude ? { exclude } : {}),
    ...(partitions ? { partitions } : {}),
    tags,
    ...(priority !== undefined ? { priority } : {}),
    ...(maxRetries !== undefined ? { maxRetries } : {}),
  };
}

/** A summary's `code` spans (Markdown, as /api/endpoints gives them) as <code>, escaped. */
function codeSpans(text: string): Html[] {
  return text.split("`").map((part, i) => i % 2 === 1 ? h`<code>${part}</code>` : h`${part}`);
}

function apiDocs(ctx: UiContext): Html {
  return h`<h1>API</h1>
<p>Read-only JSON under <code>/api</code>; changes under <code>/actions</code> (POST only, same origin${
    ctx.tokenRequired ? ", and the token: <code>Authorization: Bearer $UI_TOKEN</code>" : ""
  }). Errors are <code>{"error": code, "message": text}</code> with status 400 (bad input), 401 (token), 403 (cross-origin), 404 (unknown asset, run, object) or 409 (conflict). JSON lists send an ETag: send it back in <code>If-None-Match</code> to get 304 when nothing changed.</p>
<table class="list"><thead><tr><th>endpoint</th><th>what it returns</th></tr></thead><tbody>${
    ENDPOINTS.map((e) =>
      h`<tr><td class="mono">${e.path}</td><td>${codeSpans(e.summary)}</td></tr>`
    )
  }</tbody></table>
<h2>Examples</h2>
<pre>curl -s http://127.0.0.1:3000/api/assets/${encodeURIComponent(ctx.graph.order[0] ?? "KEY")}
curl -s 'http://127.0.0.1:3000/api/runs?status=failed&amp;limit=10'
curl -s -X POST -H 'content-type: application/json' ${
    ctx.tokenRequired ? '-H "authorization: Bearer $UI_TOKEN" ' : ""
  }\\
  -d '{"selection": "+fct_weather_daily"}' http://127.0.0.1:3000/actions/launch</pre>
${
    ctx.sources.descriptions
      ? h`<h2>This server reads</h2><table class="kv">${
        Object.entries(ctx.sources.descriptions).map(([k, v]) =>
          h`<tr><th>${k}</th><td>${v}</td></tr>`
        )
      }</table>`
      : ""
  }`;
}
