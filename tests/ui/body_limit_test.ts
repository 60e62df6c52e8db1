import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { fixtureServer } from "./_fixture.ts";

// /login is the one POST that needs no token, so without a size limit anyone
// who reaches a token-protected server could make it buffer gigabytes.
const BIG = 3 * 1024 * 1024;

Deno.test("security: a POST body over the limit is a 413 before it is read, also to /login without a token", async () => {
  const token = "tok-" + "y".repeat(24);
  const { server } = await fixtureServer({ token });
  await using _ = server;
  const login = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: "token=" + "a".repeat(BIG),
  });
  assertEquals(login.status, 413);
  const body = await login.json();
  assertEquals(body.error, "body_too_large");
  assertMatch(body.message, /1 MiB/);

  // A body sent in chunks (no Content-Length) is cut off at the limit too.
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      const chunk = new TextEncoder().encode(`"${"b".repeat(64 * 1024)}`);
      for (let i = 0; i < BIG / chunk.length; i++) controller.enqueue(chunk);
      controller.close();
    },
  });
  const launch = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: chunks,
  });
  assertEquals(launch.status, 413);
  await launch.body?.cancel();

  // A body under the limit still works, and the server still answers.
  const ok = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ selection: "marts/summary", tags: { note: "x".repeat(1000) } }),
  });
  assertEquals(ok.status, 200);
  assert((await ok.json()).runId, "a launch under the limit returns its run id");
  await server.context.launcher.drain();
});
