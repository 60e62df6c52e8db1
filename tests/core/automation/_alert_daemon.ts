/**
 * A daemon process for the alert handover test: one asset that fails, an
 * `onRunFailure` alert posting to a webhook, a SQLite run store shared with
 * the test. `deno run -A _alert_daemon.ts DB_PATH WEBHOOK_URL DELIVERY DAEMON_ID`;
 * prints `ready` once its first tick is done, then runs until killed.
 *
 * @module
 */

import { defineAsset } from "../../../core/asset.ts";
import { type DeliveryGuarantee, onRunFailure } from "../../../core/automation/alerts.ts";
import type { Notifier } from "../../../core/automation/notification.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { SqliteRunStore } from "../../../resources/run_store/sqlite.ts";
import { openNotifier } from "../../../resources/notifier/open.ts";

const [db, url, delivery, daemonId] = Deno.args as [string, string, DeliveryGuarantee, string];
const store = SqliteRunStore.open(db);
const alert = onRunFailure({ delivery, retryDelayMs: 200 });
const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
  assets: [defineAsset({
    key: "mart",
    materialize: () => {
      throw new Error("relation raw.raw_weather does not exist");
    },
  })],
  sensors: [alert],
  resources: { notifiers: [openNotifier(`${url}#hook`)] },
});
const controller = new AbortController();
Deno.addSignalListener("SIGTERM", () => controller.abort());
const daemon = new SensorDaemon(graph, {
  runStore: store,
  intervalMs: 100,
  daemonId,
  signal: controller.signal,
});
await daemon.tick();
console.log("ready");
await daemon.run();
await alert.idle();
await store[Symbol.asyncDispose]();
