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

Deno.test("security: a POST body that trickles in is a 408 once its time is up, and the server goes on", async () => {
  // Before: no deadline on the body; a client sending it a byte now and then (slowloris on
  // POST) held its request, and the launch handler awaiting it, for ever.
  const { server } = await fixtureServer({ bodyTimeoutMs: 300 });
  await using _ = server;
  const { hostname, port } = new URL(server.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const head = `POST /actions/launch HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
      "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{";
    await conn.write(new TextEncoder().encode(head));
    const answer = new Uint8Array(4096);
    const read = conn.read(answer);
    // A byte now and then, never the whole body.
    const trickle = setInterval(
      () => conn.write(new TextEncoder().encode(" ")).catch(() => {}),
      100,
    );
    const guard = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 5_000));
    const n = await Promise.race([read, guard]).finally(() => clearInterval(trickle));
    assert(n !== "hung", "no answer within 5 s: the body read has no deadline");
    const text = new TextDecoder().decode(answer.subarray(0, n ?? 0));
    assertMatch(text, /^HTTP\/1\.1 408 /);
    assertMatch(
      text,
      /did not arrive within 0\.3 s of its headers; send the whole request at once/,
    );
  } finally {
    conn.close();
  }
  // Other clients are served meanwhile and after.
  assertEquals(
    await fetch(`${server.url}/api/assets`).then(async (r) => (await r.body?.cancel(), r.status)),
    200,
  );
});

Deno.test("security: a chunked POST body that stops coming is a 408 too", async () => {
  // Before: hono's body limit read a chunked body itself, with no deadline: held for ever.
  const { server } = await fixtureServer({ bodyTimeoutMs: 300 });
  await using _ = server;
  const { hostname, port } = new URL(server.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    await conn.write(new TextEncoder().encode(
      `POST /actions/launch HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n",
    ));
    const answer = new Uint8Array(4096);
    const guard = new Promise<"hung">((resolve) => setTimeout(() => resolve("hung"), 5_000));
    const n = await Promise.race([conn.read(answer), guard]);
    assert(n !== "hung", "no answer within 5 s");
    assertMatch(new TextDecoder().decode(answer.subarray(0, n ?? 0)), /^HTTP\/1\.1 408 /);
  } finally {
    conn.close();
  }
});
