/**
 * `deno task sensor` and `deno task dev` with HEALTH_PORT set, started through the launcher as
 * a container starts it (so the port is among the permissions it grants):
 * `/livez` and `/readyz` answer 200 while the daemon ticks on its run store,
 * and SIGTERM still stops it cleanly. Without HEALTH_PORT nothing listens.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sandbox, spawnMain, untilValue } from "../../_helpers/main_process.ts";
import { taskCommand } from "../../_helpers/deno_tasks.ts";

/** `deno run ... launch.ts`: what `deno task <task>` runs. */
function launcher(task: string): string[] {
  return taskCommand(task).split(/\s+/).slice(1, -1).map((arg) =>
    arg === "launch.ts" ? fileURLToPath(new URL("../../../launch.ts", import.meta.url)) : arg
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function probe(port: number, path: string): Promise<number | undefined> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return undefined; // not listening yet
  }
}

for (
  const [task, args] of [
    ["sensor", ["--interval", "100"]],
    // dev runs the same daemon beside the UI; before, HEALTH_PORT was ignored there.
    ["dev", ["--port", "0", "--interval", "100"]],
  ] as const
) {
  Deno.test({
    name: `deno task ${task} with HEALTH_PORT answers /livez and /readyz while it ticks`,
    // The child's pipes are ours; the sanitizers would see them.
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    await using box = await sandbox();
    const port = freePort();
    const env = {
      ...box.env,
      PLATFORM_GRAPH: await box.graph(
        "health_graph",
        `export const graph = defineGraph({ assets: [
          defineAsset({ key: "a", materialize: () => Promise.resolve({}) }),
        ]});`,
      ),
      HEALTH_PORT: String(port),
    };
    await using daemon = spawnMain([task, ...args], {
      cwd: box.dir,
      env,
      denoArgs: launcher(task),
    });
    const ready = await untilValue(`the ${task} daemon is ready`, async () => {
      const status = await probe(port, "/readyz");
      return status === 200 ? status : undefined;
    }, { timeoutMs: 120_000, pollMs: 100 });
    assert.equal(ready, 200);
    assert.equal(await probe(port, "/livez"), 200);
    daemon.kill("SIGTERM");
    const stopped = await daemon.finish();
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(await probe(port, "/livez"), undefined, "closed with the daemon");
  });
}
