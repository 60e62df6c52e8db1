/**
 * `automation [ASSET]`: what the daemon's automation decided and why — the
 * automated assets with their condition, latest evaluation and freshness;
 * for one asset, its evaluation history with the condition tree (which
 * sub-conditions were true, for how many partitions); recent ticks; recent
 * notifications.
 *
 * @module
 */

import type { EvaluatedNode } from "../automation/evaluate.ts";
import type { StoredAutomationRecord } from "../run_store/types.ts";
import { nearest } from "../suggest.ts";
import { parseCommandArgs, wholeNumberOption } from "./_args.ts";
import { type CliApp, EXIT, UsageError } from "./app.ts";
import type { CliIo } from "./io.ts";
import { openStore } from "./_store.ts";
import { formatDuration, formatTime, table } from "./table.ts";

/** Usage of `automation`. */
export const AUTOMATION_USAGE = `Usage: automation [ASSET] [options]

What the daemon's automation decided and why.

  automation              automated assets: condition, last evaluation, freshness
  automation ASSET        its latest evaluations with the condition tree: which
                          sub-conditions were true, and for how many partitions
  automation ASSET --partition KEY
                          the evaluations that looked at that partition, and what
                          was true for it
  automation --ticks      recent evaluations of the whole graph (ticks)
  automation --notifications
                          recent notification attempts (sent / failed, why)

Options:
  --limit N   how many evaluations, ticks or notifications (default: 5 / 20)
  --json      one JSON object per record
`;

/** `automation`: see {@linkcode AUTOMATION_USAGE}. */
export async function automationCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseCommandArgs("automation", {
    args: [...args],
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      ticks: { type: "boolean" },
      notifications: { type: "boolean" },
      partition: { type: "string" },
      limit: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.out(AUTOMATION_USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 1) throw new UsageError("automation takes at most one asset key");
  const limit = values.limit === undefined
    ? undefined
    : wholeNumberOption("--limit", values.limit, 1);
  const graph = await app.loadGraph();
  await using store = await openStore(app, io);
  const json = values.json ?? false;
  const print = (records: readonly StoredAutomationRecord[]) => {
    for (const r of records) io.out(JSON.stringify(recordJson(r)) + "\n");
  };

  if (values.ticks || values.notifications) {
    const kind = values.ticks ? "tick" : "notification";
    const records = await store.listAutomationRecords({ kind, limit: limit ?? 20 });
    if (json) return print(records), EXIT.ok;
    io.out(
      kind === "tick"
        ? table(
          ["tick", "time", "daemon", "events", "evaluated", "requested", "runs", "ms"],
          records.map((r) => [
            String(r.data.tick),
            formatTime(r.time),
            String(r.data.daemon ?? ""),
            String(r.data.events_read ?? 0),
            `${r.data.partitions_evaluated} in ${r.data.assets_evaluated} asset(s)`,
            String(r.data.partitions_requested),
            String(r.data.runs),
            String(r.data.duration_ms),
          ]),
        )
        : table(
          ["time", "notifier", "event", "status", "attempt", "detail"],
          records.map((r) => [
            formatTime(r.time),
            r.name,
            `${r.data.event ?? ""} ${r.data.subject ?? ""}`.trim(),
            String(r.data.status ?? ""),
            String(r.data.attempt ?? ""),
            String(r.data.error ?? r.data.run_id ?? ""),
          ]),
          80,
        ),
    );
    return EXIT.ok;
  }

  const [key] = positionals;
  if (key !== undefined) {
    const asset = graph.assets.get(key);
    if (!asset) {
      throw new UsageError(
        `Unknown asset '${key}'${nearest(key, graph.assets.keys())}; 'list' shows the assets`,
      );
    }
    const partition = values.partition;
    if (partition !== undefined && !asset.partitions) {
      throw new UsageError(`Asset '${key}' is not partitioned: drop --partition`);
    }
    const evaluations = (await store.listAutomationRecords({
      kind: "evaluation",
      assetKey: key,
      limit: partition === undefined ? limit ?? 5 : 500,
    })).filter((r) =>
      partition === undefined ||
      (r.data.evaluated_keys as (string | null)[] | undefined ?? []).includes(partition)
    ).slice(0, limit ?? 5);
    const verdicts = await store.listAutomationRecords({
      kind: "freshness",
      assetKey: key,
      limit: 20,
    });
    const [freshness] = verdicts;
    if (json) return print([...evaluations, ...(freshness ? [freshness] : [])]), EXIT.ok;
    io.out(`${key}: ${asset.automation?.describe() ?? "no automation condition"}\n`);
    if (freshness) {
      io.out(`freshness: ${freshness.data.status}: ${freshness.data.description}\n`);
      // The changes of verdict (each one a check result; `show RUN_ID` has its facts).
      const changes = verdicts.filter((r) => r.data.transition !== false).slice(0, 5);
      for (const r of changes) {
        const overdue = Number(r.data.overdue_by_ms ?? 0);
        io.out(
          `  ${formatTime(r.time)}  ${String(r.data.previous ?? "-")} -> ${r.data.status}` +
            (overdue > 0 ? `, overdue by ${formatDuration(overdue)}` : "") +
            (r.data.run_id ? `  (check run ${String(r.data.run_id).slice(0, 8)})` : "") + "\n",
        );
      }
    }
    if (evaluations.length === 0 && partition !== undefined) {
      io.out(`no recent evaluation looked at partition ${partition}\n`);
      return EXIT.ok;
    }
    if (evaluations.length === 0) {
      io.out(
        asset.automation
          ? "not evaluated yet (is `deno task sensor` running?)\n"
          : "the daemon does not evaluate it: give it `automation: eager()` or another condition\n",
      );
      return EXIT.ok;
    }
    for (const r of evaluations) {
      const requested = Number(r.data.requestedCount ?? 0);
      const keys = (r.data.requested as (string | null)[] | undefined ?? []).filter((k) => k);
      io.out(
        `\ntick ${r.data.tick} at ${
          formatTime(r.time)
        }: ${r.data.evaluated} partition(s) evaluated, ` +
          (requested > 0
            ? `requested ${requested}${keys.length ? ` (${keys.slice(0, 10).join(", ")})` : ""}` +
              `${r.data.runKey ? ` in run key ${r.data.runKey}` : ""}`
            : Number(r.data.deferred ?? 0) > 0
            ? `deferred ${r.data.deferred} (its upstream partitions run first)`
            : "not requested") +
          "\n",
      );
      io.out(
        renderTree(r.data.tree as unknown as EvaluatedNode, Number(r.data.evaluated), partition),
      );
    }
    return EXIT.ok;
  }

  const rows: string[][] = [];
  const records: StoredAutomationRecord[] = [];
  for (const assetKey of graph.order) {
    const asset = graph.assets.get(assetKey);
    if (!asset?.automation && !asset?.freshness) continue;
    const [last] = await store.listAutomationRecords({ kind: "evaluation", assetKey, limit: 1 });
    const [fresh] = await store.listAutomationRecords({ kind: "freshness", assetKey, limit: 1 });
    if (last) records.push(last);
    if (fresh) records.push(fresh);
    rows.push([
      assetKey,
      asset.automation?.describe() ?? "-",
      last ? `${formatTime(last.time)} tick ${last.data.tick}` : "never",
      last
        ? (Number(last.data.requestedCount) > 0 ? `requested ${last.data.requestedCount}` : "no")
        : "-",
      fresh
        ? `${fresh.data.status}: ${fresh.data.description}`
        : asset.freshness
        ? "not judged yet"
        : "-",
    ]);
  }
  if (json) return print(records), EXIT.ok;
  if (rows.length === 0) {
    io.out("No asset has an automation condition or a freshness policy.\n");
    return EXIT.ok;
  }
  io.out(table(["asset", "condition", "last evaluation", "requested", "freshness"], rows, 70));
  return EXIT.ok;
}

function recordJson(r: StoredAutomationRecord) {
  return {
    id: r.id,
    kind: r.kind,
    time: new Date(r.time).toISOString(),
    asset: r.assetKey,
    name: r.name,
    ...r.data,
  };
}

/**
 * The evaluated tree, one node a line: ✓ true for some partition (for
 * `partition`, when given), ✗ for none, ? when the record lists too few
 * partitions to tell.
 */
export function renderTree(tree: EvaluatedNode, evaluated: number, partition?: string): string {
  const lines: string[] = [];
  const visit = (node: EvaluatedNode, depth: number) => {
    const mark = partition === undefined
      ? node.trueCount > 0 ? "✓" : "✗"
      : node.trueKeys.includes(partition)
      ? "✓"
      : node.trueKeys.length === node.trueCount
      ? "✗"
      : "?";
    const count = evaluated > 1 && partition === undefined
      ? ` (${node.trueCount}/${evaluated})`
      : "";
    const keys = partition === undefined && evaluated > 1 && node.trueCount > 0 &&
        node.trueKeys.some((k) => k !== null)
      ? ` [${node.trueKeys.slice(0, 5).join(", ")}${node.trueCount > 5 ? ", ..." : ""}]`
      : "";
    lines.push(`${"  ".repeat(depth + 1)}${mark} ${node.label}${count}${keys}`);
    for (const child of node.children ?? []) visit(child, depth + 1);
  };
  visit(tree, 0);
  return lines.join("\n") + "\n";
}
