import { assertEquals, assertMatch } from "./_assert.ts";
import { fixtureServer, postLaunch } from "./_fixture.ts";

// Without UI_TOKEN (the loopback default) a POST with neither Origin nor
// Referer is accepted, for curl and scripts. A browser marks every request
// with Sec-Fetch-Site, so one that says it came from another site is refused
// even when a browser quirk or extension dropped its Origin.
Deno.test("security: a POST a browser marks cross-site or same-site is refused without an Origin; scripts still work", async () => {
  const { server, store } = await fixtureServer();
  await using _ = server;
  const before = (await store.listRuns({})).length;
  const launch = (headers: Record<string, string>) => postLaunch(server.url, headers);
  for (const site of ["cross-site", "same-site", "bogus"]) {
    const refused = await launch({ "sec-fetch-site": site });
    assertEquals(refused.status, 403, site);
    assertEquals(refused.body.error, "cross_origin");
    assertMatch(refused.body.message ?? "", new RegExp(site));
  }
  assertEquals((await store.listRuns({})).length, before, "a refused POST launched a run");
  assertEquals((await launch({ "sec-fetch-site": "same-origin" })).status, 200);
  assertEquals((await launch({ origin: server.url, "sec-fetch-site": "same-origin" })).status, 200);
  assertEquals((await launch({})).status, 200); // curl: no Origin, no Sec-Fetch-Site
  await server.context.launcher.drain();
});
