/**
 * Run stores shared by processes: two `deno run` writers at once on one
 * SQLite file (and one Postgres database) lose and corrupt nothing; what one
 * process writes, another reads back; of two processes racing to claim the
 * same run keys, exactly one wins each key.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import type { RunStore } from "../../../core/mod.ts";
import { openRunStore } from "../../../resources/run_store/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import {
  expectedEvents,
  expectedRun,
  expectedSteps,
  runIdOf,
  sharedTime,
  WRITERS,
} from "./_workload.ts";

const WRITER = new URL("./_writer.ts", import.meta.url).pathname;
const RUNS_PER_WRITER = 100;
const KEYS = 600;

/** A child process running `_writer.ts`. */
interface Child {
  /** Resolves once the child opened the store. */
  readonly ready: Promise<void>;
  /** Lets the child start its work. */
  go(): Promise<void>;
  /** The child's result line, parsed; rejects when it fails. */
  readonly result: Promise<unknown>;
}

function spawn(url: string, mode: string, writer: string, count: number, schema = "ops"): Child {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WRITER, url, mode, writer, String(count), schema],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const stdout = (async () => {
    let buffered = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffered += chunk;
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const line of parts) {
        if (line === '{"ready":true}') onReady();
        else if (line.trim() !== "") lines.push(line);
      }
    }
  })();
  const stderr = new Response(child.stderr).text();
  const writer$ = child.stdin.getWriter();
  const result = (async () => {
    const [status, , errors] = await Promise.all([child.status, stdout, stderr]);
    if (!status.success) throw new Error(`${mode} ${writer} exited ${status.code}:\n${errors}`);
    const last = lines.at(-1);
    if (last === undefined) throw new Error(`${mode} ${writer} printed nothing:\n${errors}`);
    return JSON.parse(last) as unknown;
  })();
  result.catch(() => onReady()); // a child that dies before "ready" must not hang the test
  return {
    ready,
    go: async () => {
      await writer$.write(new TextEncoder().encode("go\n"));
      await writer$.close();
    },
    result,
  };
}

/** Starts `children` together once all have opened the store; returns their results. */
async function together(children: Child[]): Promise<unknown[]> {
  await Promise.all(children.map((child) => child.ready));
  await Promise.all(children.map((child) => child.go()));
  return await Promise.all(children.map((child) => child.result));
}

async function assertWorkload(store: RunStore, writers: readonly string[]): Promise<void> {
  let latestShared = { writer: "", i: -1, time: -Infinity };
  for (const writer of writers) {
    for (let i = 0; i < RUNS_PER_WRITER; i++) {
      const runId = runIdOf(writer, i);
      assertEquals(await store.getRun(runId), expectedRun(writer, i), runId);
      assertEquals(await store.listSteps(runId), expectedSteps(writer, i), runId);
      const events = await store.listEvents(runId);
      assertEquals(events.map(({ id: _id, ...event }) => event), expectedEvents(writer, i), runId);
      if (sharedTime(writer, i) > latestShared.time) {
        latestShared = { writer, i, time: sharedTime(writer, i) };
      }
    }
  }
  const total = await store.listRuns({ limit: 1_000_000 });
  assertEquals(total.length, writers.length * RUNS_PER_WRITER, "no run more, none less");
  const shared = await store.lastMaterialization("shared");
  assertEquals(shared?.runId, runIdOf(latestShared.writer, latestShared.i));
  assertEquals(shared?.metadata, { writer: latestShared.writer, i: latestShared.i });
  for (let p = 0; p < 5; p++) {
    const latest = await store.lastMaterialization("raw_weather", `p${p}`);
    assert(latest !== undefined, `raw_weather p${p} was materialized`);
    const newest = Math.max(
      ...writers.flatMap((w) =>
        Array.from({ length: RUNS_PER_WRITER }, (_, i) => i)
          .filter((i) => i % 5 === p).map((i) => expectedEvents(w, i)[1]?.time ?? 0)
      ),
    );
    assertEquals(latest.time, newest, `raw_weather p${p}`);
  }
}

async function twoWritersAtOnce(url: string, schema = "ops"): Promise<void> {
  const windows = await together(
    WRITERS.map((w) => spawn(url, "write", w, RUNS_PER_WRITER, schema)),
  ) as {
    start: number;
    end: number;
  }[];
  const [a, b] = windows;
  assert(
    a && b && a.start < b.end && b.start < a.end,
    `writers overlapped: ${JSON.stringify(windows)}`,
  );
  await using store = await openRunStore(url, { schema });
  await assertWorkload(store, WRITERS);
  // Event ids are unique across both writers.
  const ids = new Set<number>();
  for (const writer of WRITERS) {
    for (let i = 0; i < RUNS_PER_WRITER; i++) {
      for (const event of await store.listEvents(runIdOf(writer, i))) ids.add(event.id);
    }
  }
  const expected = WRITERS.reduce(
    (sum, w) =>
      sum + Array.from({ length: RUNS_PER_WRITER }, (_, i) => expectedEvents(w, i).length)
        .reduce((x, y) => x + y, 0),
    0,
  );
  assertEquals(ids.size, expected);
}

async function writeThenReadElsewhere(url: string, schema = "ops"): Promise<void> {
  await together([spawn(url, "write", "w1", RUNS_PER_WRITER, schema)]);
  const [read] = await together([spawn(url, "read", "w1", RUNS_PER_WRITER, schema)]) as {
    runs: unknown[];
    shared: unknown;
    total: number;
  }[];
  assertEquals(read?.total, RUNS_PER_WRITER);
  assertEquals(
    read?.runs,
    Array.from({ length: RUNS_PER_WRITER }, (_, i) => ({
      run: expectedRun("w1", i),
      steps: expectedSteps("w1", i),
      events: expectedEvents("w1", i),
    })),
  );
  assertEquals(
    (read?.shared as { runId?: string } | undefined)?.runId,
    runIdOf("w1", RUNS_PER_WRITER - 1),
  );
}

async function claimRace(url: string, schema = "ops"): Promise<void> {
  type Claim = { key: string; claimed: boolean; runId: string };
  const results = await together(
    WRITERS.map((w) => spawn(url, "claim", w, KEYS, schema)),
  ) as Claim[][];
  const [a = [], b = []] = results;
  assertEquals(a.length, KEYS);
  assertEquals(b.length, KEYS);
  let winsA = 0;
  for (let i = 0; i < KEYS; i++) {
    const [x, y] = [a[i], b[i]];
    assert(x && y && x.key === `k${i}` && y.key === `k${i}`);
    assert(x.claimed !== y.claimed, `exactly one process claims k${i}: ${JSON.stringify([x, y])}`);
    const winner = x.claimed ? runIdOf("w1", i) : runIdOf("w2", i);
    assertEquals([x.runId, y.runId], [winner, winner], `both see the winner of k${i}`);
    if (x.claimed) winsA++;
  }
  await using store = await openRunStore(url, { schema });
  assertEquals(
    (await store.claimRunKey("race", "k0", "late")).claimed,
    false,
    "a third claimant loses too",
  );
  console.log(`claim race: w1 won ${winsA} of ${KEYS} keys, w2 ${KEYS - winsA}`);
}

Deno.test("run store across processes on SQLite", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "run_store_mp_" });
  try {
    await t.step(
      "two writers at once lose and corrupt nothing",
      () => twoWritersAtOnce(`sqlite:${dir}/both.db`),
    );
    await t.step(
      "one process writes, another reads it back",
      () => writeThenReadElsewhere(`sqlite:${dir}/handoff.db`),
    );
    await t.step(
      "claimRunKey race: exactly one process wins each key",
      () => claimRace(`sqlite:${dir}/claims.db`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "run store across processes on Postgres",
  ignore: await needs("postgres"),
  async fn(t) {
    await using pg = await startPostgres();
    const url = pg.url;
    // One database; each step has its own schema, as if on its own server.
    await t.step(
      "two writers at once lose and corrupt nothing",
      () => twoWritersAtOnce(url, "mp_write"),
    );
    await t.step(
      "one process writes, another reads it back",
      () => writeThenReadElsewhere(url, "mp_handoff"),
    );
    await t.step(
      "claimRunKey race: exactly one process wins each key",
      () => claimRace(url, "mp_claims"),
    );
  },
});
