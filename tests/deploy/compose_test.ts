/**
 * compose.yaml against the application (CI checks its syntax with
 * `docker-compose config`; this checks what that cannot): every setting the
 * app's services get is one the app reads, every command exists, and a
 * worker's graceful shutdown fits in its stop period.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { usage } from "../../core/cli/mod.ts";
import { DEFAULT_CANCEL_GRACE_MS } from "../../core/executor.ts";
import { ConfigSchema } from "../../resources/config.ts";

interface ComposeService {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  stop_signal?: string;
  stop_grace_period?: string;
}

const COMPOSE = new URL("../../compose.yaml", import.meta.url);
const APP_IMAGE = "deno-data-platform:latest";

async function appServices(): Promise<[string, ComposeService][]> {
  const doc = parse(await Deno.readTextFile(COMPOSE), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  return Object.entries(doc.services).filter(([, s]) => s.image === APP_IMAGE);
}

/** A compose duration (`90s`, `1m30s`, `2m`) in milliseconds. */
function durationMs(text: string): number {
  const match = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  assert.ok(match && text !== "", `'${text}' is a duration`);
  const [, h = "0", m = "0", s = "0"] = match;
  return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
}

Deno.test("compose: the app's services get known settings and run existing commands", async () => {
  const services = await appServices();
  assert.deepEqual(services.map(([name]) => name).sort(), ["app", "sensor", "worker"]);
  const known = new Set([...Object.keys(ConfigSchema.shape), "UI_TOKEN"]);
  const commands = usage({
    name: "x",
    loadGraph: () => Promise.reject(),
    openRunStore: () => Promise.reject(),
    commands: { ui: { summary: "", run: () => Promise.resolve(0) } },
  });
  for (const [name, service] of services) {
    for (const key of Object.keys(service.environment ?? {})) {
      assert.ok(known.has(key), `${name}: unknown setting ${key}`);
    }
    const command = service.command?.[0] ?? "";
    assert.match(commands, new RegExp(`\\n  ${command} `), `${name}: command ${command}`);
  }
});

Deno.test("compose: a worker's graceful shutdown fits in its stop period", async () => {
  const worker = new Map(await appServices()).get("worker");
  assert.ok(worker?.command);
  assert.equal(worker.stop_signal, "SIGTERM");
  const args = worker.command;
  const grace = Number(args[args.indexOf("--grace") + 1]);
  assert.ok(Number.isSafeInteger(grace), `--grace in ${args.join(" ")}`);
  // --grace, then the cancel grace of steps slow to stop, then 10 s for the release.
  const period = durationMs(worker.stop_grace_period ?? "10s");
  assert.ok(
    grace + DEFAULT_CANCEL_GRACE_MS + 10_000 <= period,
    `--grace ${grace} + ${DEFAULT_CANCEL_GRACE_MS} + 10000 ms within ${worker.stop_grace_period}`,
  );
  assert.throws(() => durationMs("soon"));
});
