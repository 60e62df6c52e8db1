/**
 * The `ui` and `dev` commands of this project: the UI wired to the
 * configured lake, ledger and warehouse (embedded defaults or servers, as
 * the environment says), with every configured secret kept out of pages.
 *
 * @module
 */

import type { CliApp, CliCommand } from "../core/cli/app.ts";
import type { Config } from "../resources/config.ts";
import { redactUrl, urlSecrets } from "../core/secrets.ts";
import { openLake } from "../resources/lake.ts";
import { openLedger } from "../resources/ledger/open.ts";
import { openWarehouse } from "../resources/warehouse/open.ts";
import type { UiSources } from "./context.ts";
import { uiCommand } from "./serve.ts";

/** The secrets of `config`: URL passwords and secret query values, the S3 secret key. */
export function configSecrets(config: Config): string[] {
  const urls = [
    config.LAKE_URL,
    config.LEDGER_URL,
    config.WAREHOUSE_URL,
    config.RUNS_URL,
    config.SPATIAL_URL,
  ];
  return [
    ...urls.flatMap((url) => urlSecrets(url)),
    ...(config.S3_SECRET_ACCESS_KEY ? [config.S3_SECRET_ACCESS_KEY] : []),
  ];
}

/** The data systems `config` names, each opened on first use. */
export function configSources(config: Config): UiSources {
  return {
    openLake: () => openLake(config),
    openLedger: () => openLedger(config.LEDGER_URL),
    openWarehouse: () => openWarehouse(config.WAREHOUSE_URL, { lockTimeoutMs: 3000 }),
    landingBucket: config.LANDING_BUCKET,
    lakeBucket: config.LAKE_BUCKET,
    descriptions: {
      lake: redactUrl(config.LAKE_URL),
      ledger: redactUrl(config.LEDGER_URL),
      warehouse: redactUrl(config.WAREHOUSE_URL),
      runs: redactUrl(config.RUNS_URL),
    },
  };
}

/** `ui` and `dev` for `app`, reading the configuration through `loadConfig`. */
export function uiCommands<R>(
  app: CliApp<R>,
  loadConfig: () => Promise<Config>,
): { ui: CliCommand; dev: CliCommand } {
  const setup = {
    sources: async () => {
      const config = await loadConfig();
      const token = Deno.env.get("UI_TOKEN")?.trim() || undefined;
      return { sources: configSources(config), secrets: configSecrets(config), token };
    },
  };
  return {
    ui: {
      summary: "web UI",
      run: (args, io, signal) => uiCommand(app, setup, args, io, { signal, daemon: false }),
    },
    dev: {
      summary: "web UI and sensor daemon",
      run: (args, io, signal) => uiCommand(app, setup, args, io, { signal, daemon: true }),
    },
  };
}
