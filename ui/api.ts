/**
 * The read-only JSON API under `/api`, which the pages' scripts use and
 * scripts may call. Errors are JSON `{ error, message }` with a meaningful
 * status: 404 for an unknown asset or run (with the nearest key), 400 for a
 * bad selection or filter (with the nearest key for a typo).
 *
 * @module
 */

import { type Context, Hono } from "hono";
import type { AssetDefinition } from "../core/asset.ts";
import type { AutomationRecordKind } from "../core/run_store/types.ts";
import { closest } from "../core/suggest.ts";
import { PlatformError, toError } from "../core/errors.ts";
import { printable } from "../core/printable.ts";
import { describePartitions, partitionKeys } from "../core/partitions.ts";
import type { AssetStatus } from "./asset_status.ts";
import type { UiContext } from "./context.ts";
import { etagged } from "./etag.ts";
import { layoutGraph } from "./layout.ts";
import { nodeSub } from "./pages/graph.ts";
import { kindsOf } from "./pages/asset.ts";
import { automations, automationStates, findAutomation } from "./pages/automation.ts";
import { batchLayers, spatialDocuments } from "./pages/map.ts";
import { checkHistory, materializationPage } from "./asset_history.ts";
import { resolve } from "./pages/launch.ts";
import { EVENT_TYPES, idParam, limitParam, oneOfParam, someOfParam } from "./params.ts";
import { automationTags, cursorOf, parseRunFilter, queryRuns } from "./run_query.ts";
import { readPreview, relationOf } from "./warehouse_preview.ts";
import { LedgerReadError, readLedgerDocument } from "./ledger_read.ts";
import { queueJson, readQueue } from "./pages/queue.ts";

/** Every endpoint, for the API page and `GET /api/`. */
export const ENDPOINTS: readonly { path: string; summary: string }[] = [
  { path: "GET /api/endpoints", summary: "this list" },
  {
    path: "GET /api/assets",
    summary: "every asset: key, group, tags, kinds, state, partition health, last materialization",
  },
  {
    path: "GET /api/assets/{key}",
    summary:
      "one asset (key URL-encoded): definition, state, upstream, downstream, checks; 404 with the nearest key",
  },
  {
    path: "GET /api/assets/{key}/materializations?before=&limit=",
    summary:
      "materializations over every run with metadata and duration, newest first; keyset pages (`next` → `before`)",
  },
  {
    path: "GET /api/assets/{key}/checks",
    summary: "check definitions with their recent evaluations",
  },
  {
    path: "GET /api/assets/{key}/partitions",
    summary: "each partition with the status of its latest step",
  },
  {
    path: "GET /api/assets/{key}/preview",
    summary: "first rows of the warehouse relation the asset writes, and its compiled SQL",
  },
  {
    path: "GET /api/asset-states",
    summary: "state of every asset (what the graph colours by); supports ETag",
  },
  {
    path: "GET /api/graph",
    summary: "the laid-out graph: groups, nodes with positions and states, edges",
  },
  {
    path: "GET /api/selection?selection=&exclude=",
    summary: "what a selection picks; 400 with the nearest key when it names none",
  },
  {
    path: "GET /api/runs?status=&asset=&automation=&tag=KEY=VALUE&since=&until=&before=&limit=",
    summary: "runs, newest first, filtered; keyset pages (`next` → `before`)",
  },
  { path: "GET /api/runs/{id}", summary: "a run with its steps; 404 when unknown" },
  {
    path: "GET /api/runs/{id}/events?after=&type=",
    summary: "a run's events in order; `after` an event id to tail",
  },
  {
    path: "GET /api/automation",
    summary: "sensors and schedules: on/off state, cursor, next tick, latest ticks and runs",
  },
  {
    path: "GET /api/automation-records?kind=&asset=&before=&limit=",
    summary:
      "the automation's records, newest first: evaluations (condition tree, requested or not), ticks, freshness verdicts, notifications; keyset pages",
  },
  {
    path: "GET /api/automation/{name}/ticks?before=&limit=",
    summary:
      "one sensor's or schedule's tick records, newest first; keyset pages (`next` → `before`)",
  },
  {
    path: "GET /api/queue",
    summary:
      "the run queue: counts, limits, waiting runs in admission order with why each waits, running, ended, workers; 404 without a queue",
  },
  { path: "GET /api/lake/objects?bucket=&prefix=&token=", summary: "one folder level of a bucket" },
  {
    path: "GET /api/lake/object?bucket=&key=",
    summary: "an object's head and its ledger document",
  },
  {
    path: "GET /api/ledger/{id}",
    summary:
      "a ledger document; 404 when the ledger has none, 503/500 naming the document when it cannot be read",
  },
  { path: "GET /api/lake/quarantine", summary: "quarantined inputs with their error reports" },
  {
    path: "GET /api/map/layers?batch=",
    summary: "GeoJSON of a batch's GeoParquet layers and COG footprints",
  },
  {
    path: "POST /actions/launch",
    summary:
      "launch a run: selection, exclude, partition | from/to, tags (form or JSON); token + same origin",
  },
  {
    path: "POST /actions/automation/{name}",
    summary: "turn a sensor or schedule on or off: enabled=true|false; token + same origin",
  },
  {
    path: "POST /actions/runs/{id}/cancel",
    summary:
      "cancel a running run: at once when it runs in this process, else its process stops it at its next heartbeat (202); token + same origin",
  },
  {
    path: "POST /actions/runs/{id}/reexecute",
    summary: "re-execute a run (from_failure=1: its failed/skipped steps); token + same origin",
  },
];

/** Kinds of automation records (`kind=` of `/api/automation-records`). */
const AUTOMATION_RECORD_KINDS: readonly AutomationRecordKind[] = [
  "evaluation",
  "tick",
  "freshness",
  "notification",
];

/** An asset's status as JSON. */
export function statusJson(s: AssetStatus | undefined) {
  return s
    ? {
      state: s.state,
      why: s.why,
      partitions: s.partitions ?? null,
      lastMaterialization: s.lastMaterialization ?? null,
      latestStep: s.latestStep ?? null,
      checks: Object.fromEntries(
        [...s.checks].map(([k, v]) => [k, { passed: v.passed, time: v.time, runId: v.runId }]),
      ),
    }
    : { state: "never", why: "never materialized", partitions: null, lastMaterialization: null };
}

function assetJson(asset: AssetDefinition) {
  return {
    key: asset.key,
    group: asset.group,
    tags: asset.tags,
    kinds: kindsOf(asset),
    description: asset.description,
    codeVersion: asset.codeVersion,
    partitions: asset.partitions ? describePartitions(asset.partitions) : null,
    deps: asset.deps,
    metadata: asset.metadata,
  };
}

/** A JSON error response. */
export function jsonError(
  c: Context,
  status: 400 | 401 | 403 | 404 | 405 | 409 | 500 | 503,
  error: string,
  message: string,
  extra: Record<string, unknown> = {},
) {
  // Messages quote the request's input (a key, an id, a parameter): JSON escapes C0
  // controls, not DEL, C1 or the bidirectional overrides that reorder what a reader sees.
  return c.json({ error, message: printable(message), ...extra }, status);
}

/** A ledger read failure as JSON: its code, the document, the ledger's code and bad fields. */
function ledgerError(c: Context, error: LedgerReadError) {
  return jsonError(c, error.status, error.code, error.message, {
    document: error.documentId,
    ledgerCode: error.ledgerCode ?? null,
    issues: error.issues,
  });
}

function unknownAsset(c: Context, ctx: UiContext, key: string) {
  const suggestion = closest(key, ctx.graph.assets.keys());
  return jsonError(
    c,
    404,
    "unknown_asset",
    `Unknown asset '${key}'${suggestion ? ` (did you mean '${suggestion}'?)` : ""}`,
    suggestion ? { suggestion } : {},
  );
}

/**
 * 404 for a sensor or schedule `name` the graph does not have, naming the
 * nearest one (the API's answer and the toggle action's).
 */
export function unknownAutomation(c: Context, ctx: UiContext, name: string) {
  const suggestion = closest(name, automations(ctx).map((a) => a.name));
  return jsonError(
    c,
    404,
    "unknown_automation",
    `No sensor or schedule is named '${name}'${
      suggestion ? ` (did you mean '${suggestion}'?)` : ""
    }`,
    suggestion ? { suggestion } : {},
  );
}

/** The `/api` routes. */
export function apiRoutes(ctx: UiContext): Hono {
  const api = new Hono();
  const asset = (c: Context) => ctx.graph.assets.get(c.req.param("key") ?? "");

  api.get("/endpoints", (c) => c.json({ endpoints: ENDPOINTS }));

  api.get("/assets", async (c) => {
    const statuses = await ctx.statuses();
    return etagged(
      c,
      JSON.stringify({
        assets: ctx.graph.order.map((key) => ({
          ...assetJson(ctx.graph.assets.get(key) as AssetDefinition),
          ...statusJson(statuses.get(key)),
        })),
      }),
      "application/json",
    );
  });

  api.get("/asset-states", async (c) => {
    const statuses = await ctx.statuses();
    const states: Record<string, { state: string; why: string; sub: string }> = {};
    for (const [key, s] of statuses) {
      states[key] = {
        state: s.state,
        why: s.why,
        sub: nodeSub(s),
      };
    }
    return etagged(c, JSON.stringify({ states }), "application/json");
  });

  api.get("/graph", async (c) => {
    const statuses = await ctx.statuses();
    const layout = layoutGraph(ctx.graph);
    return etagged(
      c,
      JSON.stringify({
        width: layout.width,
        height: layout.height,
        groups: layout.groups,
        nodes: layout.nodes.map((n) => ({ ...n, state: statuses.get(n.key)?.state ?? "never" })),
        edges: layout.edges,
      }),
      "application/json",
    );
  });

  api.get("/assets/:key", async (c) => {
    const a = asset(c);
    if (!a) return unknownAsset(c, ctx, c.req.param("key"));
    const statuses = await ctx.statuses();
    return c.json({
      ...assetJson(a),
      ...statusJson(statuses.get(a.key)),
      upstream: ctx.graph.upstream(a.key),
      downstream: ctx.graph.downstream(a.key),
      checks: ctx.graph.checksFor(a.key).map((ch) => ({
        name: ch.name,
        description: ch.description,
        severity: ch.severity,
        blocking: ch.blocking,
      })),
    });
  });

  api.get("/assets/:key/materializations", async (c) => {
    const a = asset(c);
    if (!a) return unknownAsset(c, ctx, c.req.param("key"));
    const before = idParam("before", c.req.query("before"), "an event id");
    const limit = limitParam(c.req.query("limit"), 100, 500);
    const page = await materializationPage(ctx, a.key, { before, limit });
    return etagged(
      c,
      JSON.stringify({ materializations: page.materializations, next: page.next ?? null }),
      "application/json",
    );
  });

  api.get("/assets/:key/checks", async (c) => {
    const a = asset(c);
    if (!a) return unknownAsset(c, ctx, c.req.param("key"));
    const history = await checkHistory(ctx, a.key, 1000);
    return c.json({
      checks: ctx.graph.checksFor(a.key).map((ch) => ({
        name: ch.name,
        description: ch.description,
        severity: ch.severity,
        blocking: ch.blocking,
        evaluations: history.filter((e) => e.name === ch.name).slice(0, 100),
      })),
    });
  });

  api.get("/assets/:key/partitions", async (c) => {
    const a = asset(c);
    if (!a) return unknownAsset(c, ctx, c.req.param("key"));
    if (!a.partitions) return c.json({ partitioned: false, partitions: [] });
    await ctx.index.refresh();
    const def = a.partitions;
    const dynamic = def.kind === "dynamic" ? await ctx.store.dynamicPartitions(def.name) : [];
    const keys = partitionKeys(def, { now: ctx.clock.now(), dynamicKeys: () => dynamic });
    const latest = (await ctx.statuses()).get(a.key)?.latestByPartition ?? new Map();
    return c.json({
      partitioned: true,
      definition: describePartitions(def),
      partitions: keys.map((key) => ({
        key,
        status: latest.get(key)?.status ?? "missing",
        runId: latest.get(key)?.runId ?? null,
      })),
    });
  });

  api.get("/assets/:key/preview", async (c) => {
    const a = asset(c);
    if (!a) return unknownAsset(c, ctx, c.req.param("key"));
    const statuses = await ctx.statuses();
    const relations = relationOf(a, statuses.get(a.key)?.lastMaterialization?.metadata);
    const previews = [];
    for (const relation of relations) {
      try {
        const p = await readPreview(ctx, relation);
        previews.push({
          relation: `${relation.schema}.${relation.name}`,
          columns: p.columns,
          types: p.types,
          exists: p.columns.length > 0,
          rows: p.rows.map((row) => row.map(jsonCell)),
          total: p.total,
        });
      } catch (error) {
        previews.push({
          relation: `${relation.schema}.${relation.name}`,
          error: toError(error).message,
        });
      }
    }
    const sql = a.metadata.compiled_sql;
    return c.json({ previews, compiledSql: typeof sql === "string" ? sql : null });
  });

  api.get("/selection", (c) => {
    const r = resolve(ctx.graph, c.req.query("selection") ?? "", c.req.query("exclude") ?? "");
    if (!r.ok) {
      return jsonError(c, 400, r.code, r.message, r.suggestion ? { suggestion: r.suggestion } : {});
    }
    return c.json({ keys: r.keys });
  });

  api.get("/runs", async (c) => {
    let filter;
    try {
      filter = parseRunFilter(c.req.query());
    } catch (error) {
      return jsonError(c, 400, "bad_filter", toError(error).message);
    }
    if (filter.asset && !ctx.graph.assets.has(filter.asset)) {
      return unknownAsset(c, ctx, filter.asset);
    }
    if (filter.automation) {
      try {
        automationTags(ctx, filter.automation);
      } catch (error) {
        return jsonError(c, 404, "unknown_automation", toError(error).message);
      }
    }
    const limit = limitParam(c.req.query("limit"), 50, 500);
    try {
      const page = await queryRuns(ctx, filter, c.req.query("before"), limit);
      return etagged(
        c,
        JSON.stringify({
          runs: page.runs.map((r) => ({ ...r, cursor: cursorOf(r) })),
          next: page.next ?? null,
        }),
        "application/json",
      );
    } catch (error) {
      if (error instanceof RangeError) return jsonError(c, 400, "bad_cursor", error.message);
      throw error;
    }
  });

  api.get("/runs/:id", async (c) => {
    const run = await ctx.store.getRun(c.req.param("id"));
    if (!run) return jsonError(c, 404, "unknown_run", `No run has id '${c.req.param("id")}'`);
    const steps = await ctx.store.listSteps(run.runId);
    return etagged(
      c,
      JSON.stringify({
        run,
        steps,
        cancelable: run.status === "running" && run.cancelRequestedAt === null &&
          (run.owner !== null || ctx.launcher.running.includes(run.runId)),
        launchedHere: ctx.launcher.running.includes(run.runId),
      }),
      "application/json",
    );
  });

  api.get("/runs/:id/events", async (c) => {
    const run = await ctx.store.getRun(c.req.param("id"));
    if (!run) return jsonError(c, 404, "unknown_run", `No run has id '${c.req.param("id")}'`);
    const after = idParam("after", c.req.query("after"), "an event id");
    const types = someOfParam("type", c.req.query("type"), EVENT_TYPES);
    const events = await ctx.store.listEvents(run.runId, {
      ...(after !== undefined ? { afterId: after } : {}),
      ...(types ? { types } : {}),
    });
    return etagged(c, JSON.stringify({ events: events.slice(0, 5000) }), "application/json");
  });

  api.get("/automation", async (c) => {
    const now = ctx.clock.now();
    const states = await automationStates(ctx);
    const items = [];
    for (const item of automations(ctx)) {
      const runs = (await queryRuns(ctx, { automation: item.name }, undefined, 10)).runs;
      const state = states.get(item.name);
      items.push({
        name: item.name,
        kind: item.kind,
        description: item.description,
        ...(item.kind === "schedule"
          ? {
            cron: item.cron,
            timezone: item.timezone,
            selection: item.selection,
            nextTick: item.nextTick(new Date(now))?.toISOString() ?? null,
          }
          : { intervalMs: item.intervalMs ?? null }),
        enabled: state?.enabled !== false,
        state: state ?? null,
        cursor: (await ctx.store.getCursor(item.name)) ?? null,
        ticks: await ctx.store.listTicks(item.name, { limit: 10 }),
        runs,
      });
    }
    return etagged(c, JSON.stringify({ automations: items }), "application/json");
  });

  api.get("/automation-records", async (c) => {
    const kind = oneOfParam("kind", c.req.query("kind"), AUTOMATION_RECORD_KINDS);
    const asset = c.req.query("asset") || undefined;
    if (asset !== undefined && !ctx.graph.assets.has(asset)) return unknownAsset(c, ctx, asset);
    const before = idParam("before", c.req.query("before"), "a record id");
    const limit = limitParam(c.req.query("limit"), 50, 1000);
    const records = await ctx.store.listAutomationRecords({
      limit: limit + 1,
      ...(kind ? { kind } : {}),
      ...(asset ? { assetKey: asset } : {}),
      ...(before !== undefined ? { beforeId: before } : {}),
    });
    const page = records.slice(0, limit);
    return etagged(
      c,
      JSON.stringify({
        records: page,
        next: records.length > limit ? String(page.at(-1)?.id) : null,
      }),
      "application/json",
    );
  });

  api.get("/automation/:name/ticks", async (c) => {
    const item = findAutomation(ctx, c.req.param("name"));
    if (!item) return unknownAutomation(c, ctx, c.req.param("name"));
    const before = idParam("before", c.req.query("before"), "a tick id");
    const limit = limitParam(c.req.query("limit"), 50, 500);
    const ticks = await ctx.store.listTicks(item.name, {
      limit: limit + 1,
      ...(before !== undefined ? { beforeId: before } : {}),
    });
    const page = ticks.slice(0, limit);
    return etagged(
      c,
      JSON.stringify({
        ticks: page,
        next: ticks.length > limit ? String(page.at(-1)?.id) : null,
      }),
      "application/json",
    );
  });

  api.get("/lake/objects", async (c) => {
    const lake = await ctx.lake();
    if (!lake) return jsonError(c, 503, "no_lake", "This UI was started without a lake");
    const bucket = c.req.query("bucket") ?? "";
    if (![ctx.landingBucket, ctx.lakeBucket].includes(bucket)) {
      return jsonError(
        c,
        400,
        "unknown_bucket",
        `Bucket '${bucket}' is not one of ${ctx.landingBucket}, ${ctx.lakeBucket}`,
      );
    }
    const token = c.req.query("token");
    try {
      const page = await lake.list(bucket, {
        prefix: c.req.query("prefix") ?? "",
        delimiter: "/",
        pageSize: 500,
        ...(token ? { continuationToken: token } : {}),
      });
      return c.json(page);
    } catch (error) {
      // A prefix or token the store refuses is the caller's (it was a 503).
      if (isBadObjectInput(error)) return jsonError(c, 400, "bad_prefix", error.message);
      throw error;
    }
  });

  api.get("/lake/object", async (c) => {
    const lake = await ctx.lake();
    if (!lake) return jsonError(c, 503, "no_lake", "This UI was started without a lake");
    const bucket = c.req.query("bucket") ?? "", key = c.req.query("key") ?? "";
    if (![ctx.landingBucket, ctx.lakeBucket].includes(bucket)) {
      return jsonError(
        c,
        400,
        "unknown_bucket",
        `Bucket '${bucket}' is not one of ${ctx.landingBucket}, ${ctx.lakeBucket}`,
      );
    }
    let head;
    try {
      head = await lake.head(bucket, key);
    } catch (error) {
      // Only a key the store refuses is the caller's: a store that is down stays a 503.
      if (isBadObjectInput(error)) return jsonError(c, 400, "bad_key", error.message);
      throw error;
    }
    if (!head) return jsonError(c, 404, "unknown_object", `No object '${key}' in ${bucket}`);
    const ledgerOpen = ctx.ledger();
    const id = head.metadata.mongodb_doc_id ?? head.metadata["mongodb-doc-id"];
    let doc;
    try {
      doc = ledgerOpen
        ? (id ? await readLedgerDocument(ledgerOpen, id) : undefined) ??
          await (await ledgerOpen).findByKey(bucket, key)
        : undefined;
    } catch (error) {
      if (error instanceof LedgerReadError) return ledgerError(c, error);
      throw error;
    }
    return c.json({ bucket, key, head, ledger: doc ?? null });
  });

  api.get("/queue", async (c) => {
    if (!ctx.queue) {
      return jsonError(
        c,
        404,
        "no_queue",
        "This UI has no run queue (runs execute in its process); a queue needs RUNS_URL=postgres://...",
      );
    }
    return etagged(
      c,
      JSON.stringify(queueJson(await readQueue(ctx.queue, ctx.clock.now()))),
      "application/json",
    );
  });

  api.get("/ledger/:id", async (c) => {
    const ledgerOpen = ctx.ledger();
    if (!ledgerOpen) return jsonError(c, 503, "no_ledger", "This UI was started without a ledger");
    const id = c.req.param("id");
    let doc;
    try {
      doc = await readLedgerDocument(ledgerOpen, id);
    } catch (error) {
      if (error instanceof LedgerReadError) return ledgerError(c, error);
      throw error;
    }
    if (!doc) return jsonError(c, 404, "unknown_document", `The ledger has no document '${id}'`);
    return c.json(doc);
  });

  api.get("/lake/quarantine", async (c) => {
    const lake = await ctx.lake();
    if (!lake) return jsonError(c, 503, "no_lake", "This UI was started without a lake");
    const reports = [];
    let token: string | undefined;
    do {
      const page = await lake.list(ctx.landingBucket, {
        prefix: "quarantine/",
        ...(token ? { continuationToken: token } : {}),
      });
      for (const o of page.objects) {
        if (!o.key.endsWith(".error.json")) continue;
        let report: unknown;
        try {
          report = JSON.parse(
            new TextDecoder().decode(await lake.getBytes(ctx.landingBucket, o.key)),
          );
        } catch (error) {
          report = { error: `unreadable report: ${toError(error).message}` };
        }
        reports.push({ key: o.key, report });
      }
      token = page.nextContinuationToken;
    } while (token && reports.length < 500);
    return c.json({ bucket: ctx.landingBucket, reports });
  });

  api.get("/map/layers", async (c) => {
    if (!ctx.ledger()) {
      return jsonError(c, 503, "no_ledger", "This UI was started without a ledger");
    }
    const docs = await spatialDocuments(ctx);
    const batch = c.req.query("batch") ?? docs[0]?.batch_id ?? undefined;
    const mine = docs.filter((d) => (d.batch_id ?? d.partition) === batch);
    if (batch !== undefined && mine.length === 0) {
      return jsonError(c, 404, "unknown_batch", `No spatial output of batch '${batch}'`);
    }
    const layers = await batchLayers(ctx, mine);
    return c.json({
      batch: batch ?? null,
      layers: layers.map((l) => ({
        key: l.key,
        format: l.format,
        total: l.total,
        geojson: { type: "FeatureCollection", features: l.features },
      })),
    });
  });

  return api;
}

function jsonCell(value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array) return `<${value.byteLength} bytes>`;
  return value;
}

/** Whether the object store refused a key, prefix or continuation token the request gave. */
function isBadObjectInput(error: unknown): error is PlatformError {
  return error instanceof PlatformError &&
    /^object_store\.invalid_(key|bucket|continuation_token)$/.test(error.code);
}
