/**
 * The asset catalog as a Dagster user filters it: by state (each count of
 * the summary opens its list), and "Materialize stale", which launches what
 * `deno task materialize --stale` runs.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { fixtureServer } from "./_fixture.ts";

/** Keys of the rows of the asset list in `html`. */
function listed(html: string): string[] {
  return [...html.matchAll(/<tr data-asset="([^"]+)"/g)].map((m) => m[1] as string);
}

Deno.test("catalog: the list filters by state; each count of the summary links to its list; a bad state is a 400", async () => {
  const { server, release } = await fixtureServer();
  try {
    const all = await fetch(`${server.url}/assets`).then((r) => r.text());
    assertEquals(listed(all).length, 5);
    assertMatch(all, /<a href="\/assets\?state=stale#all-assets">1 stale<\/a>/);
    assertMatch(all, /<a href="\/assets\?state=failed#all-assets">1 failed<\/a>/);
    assertEquals(listed(await fetch(`${server.url}/assets?state=stale`).then((r) => r.text())), [
      "marts/summary",
    ]);
    assertEquals(
      listed(await fetch(`${server.url}/assets?state=failed&q=marts`).then((r) => r.text())),
      ["marts/broken"],
    );
    const bad = await fetch(`${server.url}/assets?state=%3Cb%3E`);
    const text = await bad.text();
    assertEquals(bad.status, 400);
    assertMatch(text, /state &#39;&lt;b&gt;&#39; is not one of/);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("catalog: 'Materialize stale' launches what materialize --stale runs, tagged stale=true; with nothing stale it says so", async () => {
  const { server, release, store } = await fixtureServer();
  try {
    const page = await fetch(`${server.url}/assets`).then((r) => r.text());
    assertMatch(
      page,
      /<form method="post" action="\/actions\/launch"[^>]*><input type="hidden" name="stale" value="1"><button[^>]*>Materialize stale \(1\)<\/button>/,
    );
    const launch = (body: Record<string, unknown>) =>
      fetch(`${server.url}/actions/launch`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const first = await launch({ stale: true });
    assertEquals(first.status, 200, JSON.stringify(first.body));
    const run = await store.getRun(first.body.runId);
    assert(run, "the run is recorded");
    for (let i = 0; i < 200 && (await store.getRun(run.runId))?.status === "running"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const done = await store.getRun(run.runId);
    assertEquals(done?.status, "success");
    assertEquals(done?.selection, "marts/summary");
    assertEquals(done?.tags.stale, "true");
    assertEquals(done?.tags.launched_by, "ui");
    // The index refreshes at most every 250 ms: the list follows within a few.
    let stale = ["?"];
    for (let i = 0; i < 100 && stale.length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      stale = listed(await fetch(`${server.url}/assets?state=stale`).then((r) => r.text()));
    }
    assertEquals(stale, []);
    const again = await launch({ stale: true });
    assertEquals(again.status, 400);
    assertMatch(again.body.message, /Nothing is stale/);
    const partitioned = await launch({ stale: true, partition: "north" });
    assertEquals(partitioned.status, 400);
    assertMatch(partitioned.body.message, /leave partitions empty/);
    // A browser form: redirected to the run page.
    const form = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: server.url },
      body: "stale=1&selection=marts%2Fsummary",
      redirect: "manual",
    });
    await form.body?.cancel();
    assertEquals(form.status, 400, "nothing stale any more: the launch page says so");
  } finally {
    release();
    await server.close();
  }
});

Deno.test("catalog: the graph shows the lineage a selection picks (+key+ from the asset page), with only its edges; a typo is a 400 naming the nearest key", async () => {
  const { server, release } = await fixtureServer();
  try {
    const nodes = (html: string) =>
      [...html.matchAll(/<a class="node[^"]*" href="[^"]*" data-key="([^"]+)"/g)].map((m) => m[1]);
    const edges = (html: string) =>
      [...html.matchAll(/<path class="edge" data-from="([^"]+)" data-to="([^"]+)"/g)].map((m) =>
        `${m[1]}>${m[2]}`
      );
    const asset = await fetch(`${server.url}/assets/clean_events`).then((r) => r.text());
    const link = /<a data-lineage href="([^"]+)"/.exec(asset)?.[1];
    assertEquals(link, "/assets?select=%2Bclean_events%2B");
    const lineage = await fetch(`${server.url}${link}`).then((r) => r.text());
    assertEquals(nodes(lineage), ["raw_events", "clean_events", "marts/summary"]);
    assertEquals(edges(lineage), ["raw_events>clean_events", "clean_events>marts/summary"]);
    assertEquals(listed(lineage), ["raw_events", "clean_events", "marts/summary"]);
    assertMatch(lineage, /<b>\+clean_events\+<\/b>: 3 of 5 assets/);
    assertMatch(
      lineage,
      /<a href="\/assets\?select=%2Bclean_events%2B&amp;state=stale#all-assets">1 stale<\/a>/,
    );
    // The live parts refresh the same selection.
    const fragment = await fetch(`${server.url}${link}&fragment=list`).then((r) => r.text());
    assertEquals(listed(fragment), ["raw_events", "clean_events", "marts/summary"]);
    const downstream = await fetch(`${server.url}/assets?select=clean_events%2B`).then((r) =>
      r.text()
    );
    assertEquals(nodes(downstream), ["clean_events", "marts/summary"]);
    const typo = await fetch(`${server.url}/assets?select=raw_event`);
    const text = await typo.text();
    assertEquals(typo.status, 400);
    assertMatch(text, /did you mean &#39;raw_events&#39;/);
    // Everything selected is the whole graph.
    assertEquals(
      nodes(await fetch(`${server.url}/assets?select=*`).then((r) => r.text())).length,
      5,
    );
  } finally {
    release();
    await server.close();
  }
});
