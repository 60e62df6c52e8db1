/**
 * The Postgres run queue on a throwaway server: atomic moves under
 * concurrency (several coordinators admitting, several workers claiming),
 * leadership, graphile-worker jobs in step with admission and cancel,
 * errors that never show the password.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { parseLimits, planAdmission } from "../../../core/worker/admission.ts";
import type { NewQueuedRun } from "../../../core/worker/queue.ts";
import { MemoryRunQueue } from "../../../core/worker/memory_queue.ts";
import { openQueue } from "../../../resources/queue/open.ts";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { ResourceError } from "../../../core/errors.ts";
import { PostgresRunStore } from "../../../resources/run_store/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";

const run = (i: number, tags: Record<string, string> = {}): NewQueuedRun => ({
  runId: `run-${String(i).padStart(4, "0")}`,
  selection: "a",
  partitions: i % 2 ? { keys: [`p${i}`] } : null,
  tags,
  priority: i % 3,
  pools: ["warehouse"],
});

Deno.test({
  name: "postgres run queue: atomic under concurrency, jobs in step, leadership",
  ignore: await needs("postgres"),
}, async (t) => {
  await using pg = await startPostgres();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  try {
    await t.step("enqueue is idempotent and lists in admission order", async () => {
      await using q = await PostgresRunQueue.open(pg.url, { schema: "q1" });
      const added = await q.enqueue([run(1), run(2), run(3)], 1000);
      assert.deepEqual(added.sort(), ["run-0001", "run-0002", "run-0003"]);
      assert.deepEqual(await q.enqueue([run(1)], 2000), []);
      const listed = await q.list({ states: ["queued"] });
      assert.deepEqual(listed.map((r) => r.runId), ["run-0002", "run-0001", "run-0003"]);
      const one = await q.get("run-0001");
      assert.deepEqual(one?.partitions, { keys: ["p1"] });
      assert.equal(one?.enqueuedAt, 1000);
      await assert.rejects(() => q.enqueue([{ ...run(9), maxRetries: -1 }], 0), TypeError);
    });

    await t.step("four coordinators admitting at once never exceed the limits", async () => {
      const queues = await Promise.all(
        [0, 1, 2, 3].map(() => PostgresRunQueue.open(pg.url, { schema: "q2" })),
      );
      try {
        const first = queues[0] as PostgresRunQueue;
        await first.enqueue(
          Array.from({ length: 60 }, (_, i) => run(i, { group: i % 2 ? "a" : "b" })),
          0,
        );
        const limits = parseLimits({ maxConcurrentRuns: "10", tagLimits: "group=a:3" });
        const decide = (
          queued: Parameters<typeof planAdmission>[0],
          active: Parameters<
            typeof planAdmission
          >[1],
        ) => planAdmission(queued, active, limits).admit;
        const rounds = await Promise.all(queues.map((q) => q.admit(decide, { now: 1 })));
        const admitted = rounds.flat();
        assert.equal(admitted.length, 10);
        assert.equal(new Set(admitted).size, 10);
        const launched = await first.list({ states: ["launched"] });
        assert.equal(launched.filter((r) => r.tags.group === "a").length, 3);
        // Each admitted run has its graphile-worker job, keyed by the run id.
        const jobs = await sql.unsafe(
          "SELECT key FROM graphile_worker.jobs WHERE task_identifier = 'platform_run'",
        );
        assert.deepEqual(jobs.map((j) => j.key).sort(), [...admitted].sort());

        // Claims: eight workers race for every run; each is claimed once.
        const claims = await Promise.all(
          launched.flatMap((r) =>
            queues.flatMap((q, i) => [q.claim(r.runId, `w${i}`, 2), q.claim(r.runId, `x${i}`, 2)])
          ),
        );
        assert.equal(claims.filter(Boolean).length, launched.length);

        // Finishing with a retry is one step; a second finish changes nothing.
        const target = launched[0]?.runId as string;
        const retry = { ...run(900), retryOf: target, attempt: 2, rootRunId: target };
        const finishes = await Promise.all(
          queues.map((q) => q.finish(target, "failed: x", 3, retry)),
        );
        assert.equal(finishes.filter(Boolean).length, 1);
        assert.equal((await first.get("run-0900"))?.retryOf, target);

        // Cancel: a queued run leaves, an admitted one loses its job, a started one is asked.
        const queued = (await first.list({ states: ["queued"], limit: 1 }))[0]?.runId as string;
        assert.equal((await first.cancel(queued, "by test", 4))?.state, "canceled");
        await first.enqueue([run(901)], 5);
        await first.admit((q) => q.filter((r) => r.runId === "run-0901").map((r) => r.runId), {
          now: 6,
        });
        assert.equal((await first.cancel("run-0901", "by test", 7))?.state, "canceled");
        const left = await sql.unsafe("SELECT 1 FROM graphile_worker.jobs WHERE key = 'run-0901'");
        assert.equal(left.length, 0);
        const started = launched[1]?.runId as string;
        const asked = await first.cancel(started, "stop it", 8);
        assert.equal(asked?.state, "started");
        assert.equal(asked?.cancelRequested, "stop it");
        assert.equal(await first.cancel("nope", "x", 9), undefined);
        // Release puts an unrecorded claim back, same id.
        assert.ok(await first.release(launched[2]?.runId as string));
        assert.equal((await first.get(launched[2]?.runId as string))?.state, "queued");
      } finally {
        for (const q of queues) await q[Symbol.asyncDispose]();
      }
    });

    await t.step("leadership is exclusive and freed when its holder closes", async () => {
      const a = await PostgresRunQueue.open(pg.url, { schema: "q3" });
      await using b = await PostgresRunQueue.open(pg.url, { schema: "q3" });
      const lead = await a.tryLead("coordinator");
      assert.ok(lead);
      assert.ok(await lead.held());
      assert.equal(await b.tryLead("coordinator"), undefined);
      const other = await b.tryLead("daemon");
      assert.ok(other, "another role is free");
      await other.release();
      await a[Symbol.asyncDispose](); // the connection ends: so does the lock
      // The server frees the lock once its backend sees the connection gone (at once on a
      // quiet machine); the loop ends when it is taken, the deadline is for a loaded one.
      let taken;
      const deadline = Date.now() + 60_000;
      while (!taken && Date.now() < deadline) {
        taken = await b.tryLead("coordinator");
        if (!taken) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(taken, "the standby takes over");
      await taken.release();
    });

    await t.step(
      "a lead given back leaves its pooled connection without the lease's idle timeout",
      async () => {
        await using q = await PostgresRunQueue.open(pg.url, { schema: "q3b", maxConnections: 1 });
        const lead = await q.tryLead("coordinator", { leaseMs: 300 });
        assert.ok(lead);
        const [held] = await sql<{ pid: number }[]>`
        SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted`;
        assert.ok(held, "the lead's backend holds the lock");
        await lead.release();
        // Idle for more than the lease: the server would end a session that kept the timeout.
        await new Promise((r) => setTimeout(r, 1_500));
        const [alive] = await sql<{ n: number }[]>`
        SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${held.pid}`;
        assert.equal(alive?.n, 1, "the pooled connection was ended by idle_session_timeout");
        assert.deepEqual(await q.list({ states: ["queued"] }), []);
      },
    );

    await t.step("workers: heartbeat, list, forget", async () => {
      await using q = await PostgresRunQueue.open(pg.url, { schema: "q4" });
      const w = { workerId: "w1", host: "h", pid: 3, concurrency: 2 };
      await q.heartbeatWorker(w, 1000, 1500, 1, "running", ["gw-1"]);
      await q.heartbeatWorker(w, 2000, 1500, 0, "stopping", ["gw-1"]);
      const [record] = await q.listWorkers();
      assert.equal(record?.heartbeatAt, 2000);
      assert.equal(record?.startedAt, 1000);
      assert.equal(record?.status, "stopping");
      await q.forgetWorkers(["w1"]);
      assert.deepEqual(await q.listWorkers(), []);
      await q.publishLimits(parseLimits({ tagLimits: "g=x:1" }), 1);
      assert.equal((await q.publishedLimits())?.tagLimits[0]?.limit, 1);
    });

    await t.step(
      "a delivery whose fetch answer was lost (job locked, run never claimed) is freed after a while",
      async () => {
        await using q = await PostgresRunQueue.open(pg.url, { schema: "q6" });
        await q.enqueue([run(1), run(2)], 1000);
        await q.admit((waiting) => waiting.map((w) => w.runId), { now: 1100 });
        // A worker's fetch locked both jobs, but its answer never came back.
        await sql.unsafe(
          `UPDATE graphile_worker._private_jobs SET locked_by = 'pool-ghost',
             locked_at = now() - interval '30 seconds'
           WHERE key = ANY($1::text[])`,
          [["run-0001", "run-0002"]],
        );
        // run-0002 was claimed meanwhile (its worker has it): never freed.
        assert.ok(await q.claim("run-0002", "w1", 1200));
        assert.deepEqual(await q.unlockStaleDeliveries(60_000), []); // not old enough
        assert.deepEqual(await q.unlockStaleDeliveries(5_000), ["run-0001"]);
        const locks = await sql.unsafe<{ key: string; locked_by: string | null }[]>(
          `SELECT key, locked_by FROM graphile_worker._private_jobs
           WHERE key = ANY($1::text[]) ORDER BY key`,
          [["run-0001", "run-0002"]],
        );
        assert.deepEqual(locks.map((l) => [l.key, l.locked_by]), [
          ["run-0001", null],
          ["run-0002", "pool-ghost"],
        ]);
        // Its job gone without a claim (ended around a restart): a new job is made.
        await sql.unsafe(`DELETE FROM graphile_worker._private_jobs WHERE key = 'run-0001'`);
        assert.deepEqual(await q.unlockStaleDeliveries(5_000), ["run-0001"]);
        const again = await sql.unsafe(
          `SELECT 1 FROM graphile_worker._private_jobs WHERE key = 'run-0001' AND locked_by IS NULL`,
        );
        assert.equal(again.length, 1);
        assert.deepEqual(await q.unlockStaleDeliveries(5_000), []); // nothing more to do
      },
    );

    await t.step(
      "the run store's event feed shows a run queued, and leaving the queue unstarted",
      async () => {
        await using store = await PostgresRunStore.open(pg.url, { schema: "q5" });
        await using q = await PostgresRunQueue.open(pg.url, { schema: "q5" });
        await using again = await PostgresRunQueue.open(pg.url, { schema: "q5" }); // reopen: triggers once
        assert.ok(again);
        await q.enqueue([run(1, { run_key: "k1" }), run(2), run(3)], 1000);
        assert.deepEqual(await q.enqueue([run(1)], 1500), []); // idempotent: no second event
        const queued = await store.listEvents("run-0001");
        assert.deepEqual(queued.map((e) => [e.type, e.time]), [["run_queued", 1000]]);
        assert.deepEqual(queued[0]?.data, {
          selection: "a",
          exclude: "",
          partitions: { keys: ["p1"] },
          tags: { run_key: "k1" },
          priority: 1,
          attempt: 1,
          retry_of: null,
        });
        // Canceled while waiting: it leaves the queue with no run record.
        await q.cancel("run-0002", "not needed", 2000);
        assert.deepEqual(
          (await store.listEvents("run-0002")).map((e) => [e.type, e.time, e.data.state]),
          [["run_queued", 1000, undefined], ["run_dequeued", 2000, "canceled"]],
        );
        // Started and recorded: its own run events say how it ends, the queue adds none.
        await q.admit((waiting) => waiting.map((w) => w.runId), { now: 2100 });
        assert.ok(await q.claim("run-0003", "w1", 2200));
        await store.createRun({
          runId: "run-0003",
          status: "success",
          selection: "a",
          partitions: null,
          tags: {},
          startedAt: 2200,
          finishedAt: 2300,
          errorSummary: null,
        });
        await store.flush();
        assert.ok(await q.finish("run-0003", "success", 2400));
        assert.deepEqual((await store.listEvents("run-0003")).map((e) => e.type), ["run_queued"]);
        // Event ids follow commit order across the queue and the store.
        const ids =
          (await sql.unsafe<{ id: number }[]>(`SELECT id::int FROM q5.run_events ORDER BY id`))
            .map((r) => r.id);
        assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
        assert.equal(ids.length, 4);
      },
    );

    await t.step("a worker's own started runs cost the same with 30k runs of history", async () => {
      await using q = await PostgresRunQueue.open(pg.url, { schema: "q7" });
      const own = async () => await q.list({ states: ["started"], workerId: "w1", limit: 10_000 });
      await q.enqueue([run(1)], 0);
      await sql.unsafe(`UPDATE q7.run_queue SET state = 'started', worker_id = 'w1'`);
      const timed = async () => {
        const times: number[] = [];
        for (let i = 0; i < 15; i++) {
          const start = performance.now();
          assert.equal((await own()).length, 1);
          times.push(performance.now() - start);
        }
        return times.sort((a, b) => a - b)[7]!;
      };
      const before = await timed();
      // 30k ended runs of other workers, and the runs of another worker still going.
      await sql.unsafe(
        `INSERT INTO q7.run_queue (run_id, state, selection, root_run_id, enqueued_at, worker_id,
           started_at, finished_at)
         SELECT 'old-' || i, CASE WHEN i % 1000 = 0 THEN 'started' ELSE 'finished' END, 'a',
           'old-' || i, now(), 'w' || (2 + i % 3), now(), now()
         FROM generate_series(1, 30000) AS i;
         ANALYZE q7.run_queue`,
      );
      const listed = await own();
      assert.deepEqual(listed.map((r) => [r.runId, r.workerId, r.state]), [
        ["run-0001", "w1", "started"],
      ]);
      const after = await timed();
      // The plan reads this worker's rows only: through the partial index, nothing filtered out.
      const explained = await sql.unsafe<{ "QUERY PLAN": { Plan: Record<string, unknown> }[] }[]>(
        `EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM q7.run_queue
         WHERE state IN ('started') AND worker_id = $2 ORDER BY seq DESC LIMIT $1`,
        [10_000, "w1"],
      );
      const plan = explained[0]!["QUERY PLAN"][0]!;
      const examined = (node: Record<string, unknown>): number =>
        Number(node["Actual Rows"] ?? 0) + Number(node["Rows Removed by Filter"] ?? 0) +
        ((node.Plans as Record<string, unknown>[] | undefined) ?? [])
          .reduce((sum, child) => sum + examined(child), 0);
      assert.ok(examined(plan.Plan) < 10, JSON.stringify(plan.Plan));
      assert.match(JSON.stringify(plan.Plan), /run_queue_worker/);
      console.log(
        `worker heartbeat's own-runs query: ${before.toFixed(2)} ms with 1 run, ` +
          `${after.toFixed(2)} ms with 30,001 (ratio ${(after / before).toFixed(2)}); ` +
          `rows examined ${examined(plan.Plan)}`,
      );
      // The memory queue filters the same way.
      const memory = new MemoryRunQueue();
      await memory.enqueue([run(1), run(2)], 0);
      for (const [id, worker] of [["run-0001", "w1"], ["run-0002", "w2"]] as const) {
        await memory.admit(() => [id], { now: 1 });
        assert.ok(await memory.claim(id, worker, 2));
      }
      const mine = await memory.list({ states: ["started"], workerId: "w1" });
      assert.deepEqual(mine.map((r) => r.runId), ["run-0001"]);
      await assert.rejects(
        () => q.list({ states: ["started", "bogus" as "started"] }),
        RangeError,
      );
    });
    await t.step(
      "a job completion that fails once: graphile-worker is started again, every run delivered, the stop prompt",
      async () => {
        const said: string[] = [];
        await using q = await PostgresRunQueue.open(pg.url, {
          schema: "q7",
          onLibraryLog: (_level, message) => said.push(message),
        });
        // The completion of q7-1's job fails once, as when the server goes away while it
        // is written: graphile-worker 0.18's batcher then never settles its release.
        await sql.unsafe(`CREATE SEQUENCE q7.refusals`);
        await sql.unsafe(`CREATE FUNCTION q7.refuse_once() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF OLD.key = 'q7-1' AND nextval('q7.refusals') = 1 THEN
              RAISE EXCEPTION 'completion refused once';
            END IF;
            RETURN OLD;
          END $$`);
        await sql.unsafe(
          `CREATE TRIGGER q7_refuse_once BEFORE DELETE ON graphile_worker._private_jobs
          FOR EACH ROW EXECUTE FUNCTION q7.refuse_once()`,
        );
        try {
          const handled: string[] = [];
          const dispatcher = await q.serve({
            worker: { workerId: "w-q7", host: "test-host", pid: 1, concurrency: 1 },
            handler: (runId) => {
              // Jobs other steps left in graphile-worker's shared schema come here too.
              if (runId.startsWith("q7-")) handled.push(runId);
              return Promise.resolve();
            },
          });
          const ids = ["q7-1", "q7-2", "q7-3"];
          // The waits below end when their condition holds; the deadline is for a loaded machine.
          const deadline = Date.now() + 120_000;
          await q.enqueue([{ ...run(1), runId: "q7-1" }], 1000);
          await q.admit((waiting) => waiting.map((w) => w.runId), { now: 1100 });
          while (!said.some((m) => /Failed to complete jobs/.test(m)) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 50));
          }
          // The pool that failed shuts down; only a new one can deliver the next runs.
          await q.enqueue([{ ...run(2), runId: "q7-2" }, { ...run(3), runId: "q7-3" }], 1200);
          await q.admit((waiting) => waiting.map((w) => w.runId), { now: 1300 });
          while (new Set(handled).size < 3 && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 50));
          }
          assert.deepEqual([...new Set(handled)].sort(), ids);
          const started = Date.now();
          let timer: ReturnType<typeof setTimeout> | undefined;
          const ended = await Promise.race([
            dispatcher.stop(60_000).then(() => true),
            new Promise<false>((r) => timer = setTimeout(() => r(false), 50_000)),
          ]);
          clearTimeout(timer);
          assert.ok(ended, "the dispatcher stopped");
          assert.ok(
            said.some((m) => /Failed to complete jobs/.test(m)) &&
              said.some((m) => /starting it again|starting a new one/.test(m)),
            `the library's failure and the restart were reported: ${JSON.stringify(said)}`,
          );
          // Well before the 60 s stop timeout it was given: a stuck pool would only end there.
          assert.ok(Date.now() - started < 45_000, `stopped after ${Date.now() - started} ms`);
        } finally {
          await sql.unsafe(`DROP TRIGGER q7_refuse_once ON graphile_worker._private_jobs`);
        }
      },
    );
    await t.step(
      "the jobs a worker holds are named by the ids it records, so forgetting it (dead) frees them",
      async () => {
        await using q = await PostgresRunQueue.open(pg.url, { schema: "q8" });
        let held = () => {};
        const holding = new Promise<void>((r) => held = r);
        let finish = () => {};
        const finishing = new Promise<void>((r) => finish = r);
        const dispatcher = await q.serve({
          worker: { workerId: "w-q8", host: "test-host", pid: 1, concurrency: 1 },
          handler: async (runId) => {
            if (runId !== "q8-1") return; // other steps' jobs in graphile-worker's shared schema
            held();
            await finishing;
          },
        });
        try {
          await q.enqueue([{ ...run(1), runId: "q8-1" }], 1000);
          await q.admit((waiting) => waiting.map((w) => w.runId), { now: 1100 });
          await holding; // its job is locked by this worker's graphile-worker pool now
          const [job] = await sql.unsafe<{ locked_by: string | null }[]>(
            `SELECT locked_by FROM graphile_worker._private_jobs WHERE key = 'q8-1'`,
          );
          assert.ok(job?.locked_by, "the job is locked while its run is handled");
          // What the worker records with its heartbeat is what forgetWorkers unlocks: the
          // lock's owner must be among them, or a worker killed -9 keeps its jobs locked.
          assert.ok(
            dispatcher.dispatchIds().includes(job.locked_by),
            `${job.locked_by} in ${JSON.stringify(dispatcher.dispatchIds())}`,
          );
          await q.heartbeatWorker(
            { workerId: "w-q8", host: "test-host", pid: 1, concurrency: 1 },
            1200,
            3000,
            1,
            "running",
            dispatcher.dispatchIds(),
          );
          await q.forgetWorkers(["w-q8"]);
          const [after] = await sql.unsafe<{ locked_by: string | null }[]>(
            `SELECT locked_by FROM graphile_worker._private_jobs WHERE key = 'q8-1'`,
          );
          // Freed for another worker (this one's single slot is busy: it fetches nothing).
          assert.equal(after?.locked_by, null);
        } finally {
          finish();
          await dispatcher.stop(10_000);
        }
      },
    );
  } finally {
    await sql.end({ timeout: 5 });
  }
});

Deno.test("openQueue: the embedded store has no queue; an unreachable server never shows its password", async () => {
  await assert.rejects(
    () => openQueue("sqlite:.state/runs.db"),
    /The run queue needs a Postgres run store, but RUNS_URL is 'sqlite:.state\/runs.db'/,
  );
  const error = await openQueue("postgres://u:sup3rsecret@127.0.0.1:9/db", {
    connectTimeoutSeconds: 1,
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof ResourceError);
  assert.equal(error.code, "queue.unreachable");
  assert.match(error.message, /RUNS_URL/);
  assert.doesNotMatch(error.message + String(error.cause), /sup3rsecret/);
  assert.equal((await openQueue("memory:")).description, "memory");
});
