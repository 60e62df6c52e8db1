/**
 * Run filters a Dagster user reaches for: the run list by tag (a run's tags
 * link to it), and the run's event log by text.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { fixtureServer } from "./_fixture.ts";

/** Run ids of the rows of the run list in `html`. */
function rows(html: string): string[] {
  return [...html.matchAll(/<tr class="run-row" data-run="([^"]+)"/g)].map((m) => m[1] as string);
}

Deno.test("runs filters: by tag on the page and the API; a run's tags link to their runs; a bad tag is a 400", async () => {
  const { server, release, store } = await fixtureServer();
  try {
    const runs = await store.listRuns({});
    const tagged = runs.find((r) => r.tags.sensor === "inbox");
    assert(tagged, "the fixture's first run carries sensor=inbox");
    assertEquals(rows(await fetch(`${server.url}/runs`).then((r) => r.text())).length, 2);
    assertEquals(
      rows(await fetch(`${server.url}/runs?tag=sensor%3Dinbox`).then((r) => r.text())),
      [tagged.runId],
    );
    const api = await fetch(`${server.url}/api/runs?tag=sensor%3Dinbox`).then((r) => r.json());
    assertEquals(api.runs.map((r: { runId: string }) => r.runId), [tagged.runId]);
    assertEquals(
      rows(await fetch(`${server.url}/runs?tag=sensor%3Dother`).then((r) => r.text())),
      [],
    );
    const page = await fetch(`${server.url}/runs/${tagged.runId}`).then((r) => r.text());
    assertMatch(page, /<a class="tag" href="\/runs\?tag=sensor%3Dinbox"[^>]*>sensor=inbox<\/a>/);
    const bad = await fetch(`${server.url}/runs?tag=%3Cb%3E`);
    const text = await bad.text();
    assertEquals(bad.status, 400);
    assertMatch(text, /tag &#39;&lt;b&gt;&#39; must be KEY=VALUE/);
    assertEquals((await fetch(`${server.url}/api/runs?tag=nokey`)).status, 400);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("runs filters: the event log filters by text, ignoring case, live fragment included", async () => {
  const { server, release, store } = await fixtureServer();
  try {
    const run = (await store.listRuns({})).find((r) => r.tags.sensor === "inbox");
    assert(run, "the fixture's first run");
    const events = (html: string) =>
      [...html.matchAll(/<li class="event [^"]*" data-type="([^"]+)"/g)].map((m) => m[1]);
    const all = events(await fetch(`${server.url}/runs/${run.runId}`).then((r) => r.text()));
    assert(all.length > 5, `the run has events: ${all}`);
    const page = await fetch(`${server.url}/runs/${run.runId}?q=CANNOT%20REACH`).then((r) =>
      r.text()
    );
    assertEquals(events(page), ["step_failed"]);
    assertMatch(page, /<input type="search" name="q" value="CANNOT REACH"/);
    const fragment = await fetch(`${server.url}/runs/${run.runId}?q=cannot%20reach&fragment=log`)
      .then((r) => r.text());
    assertEquals(events(fragment), ["step_failed"]);
    const none = await fetch(`${server.url}/runs/${run.runId}?q=zzz-nothing`).then((r) => r.text());
    assertEquals(events(none), []);
    assertMatch(none, /No event matches/);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("runs: re-execute one step (asset and partition) of a finished run; a step it never had is a 400", async () => {
  const { server, release, store } = await fixtureServer();
  try {
    const run = (await store.listRuns({})).find((r) => r.tags.sensor === "inbox");
    assert(run, "the fixture's first run");
    const page = await fetch(`${server.url}/runs/${run.runId}`).then((r) => r.text());
    assertMatch(
      page,
      /<select name="step" aria-label="step to re-execute">[^]*<option>clean_events\[east\]<\/option>/,
    );
    const post = (step: string) =>
      fetch(`${server.url}/actions/runs/${run.runId}/reexecute`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ step }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const again = await post("clean_events[east]");
    assertEquals(again.status, 200, JSON.stringify(again.body));
    await server.context.launcher.drain();
    const child = await store.getRun(again.body.runId);
    assertEquals(child?.selection, "clean_events");
    assertEquals(child?.partitions, "east");
    assertEquals(child?.tags.reexecution, "step");
    assertEquals(child?.tags.parent_run_id, run.runId);
    assertEquals(
      (await store.listSteps(again.body.runId)).map((s) => `${s.assetKey}[${s.partition}]`),
      ["clean_events[east]"],
    );
    const unknown = await post("clean_events[west]");
    assertEquals(unknown.status, 400);
    assertMatch(unknown.body.message, /has no step 'clean_events\[west\]'/);
  } finally {
    release();
    await server.close();
  }
});
