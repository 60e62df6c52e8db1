/**
 * HTTP method and path rules: a path served with other methods is a 405
 * listing them in `Allow` (not a 404 saying nothing is there); HEAD answers
 * like GET without a body; an asset key with slashes opens as Dagster writes
 * it, unencoded.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { fixtureServer } from "./_fixture.ts";

Deno.test("methods: a path served with another method is a 405 with Allow; unknown paths stay 404", async () => {
  const { server, release } = await fixtureServer();
  try {
    const origin = { origin: server.url };
    const cases: [string, string, string, RegExp][] = [
      ["POST", "/assets", "GET, HEAD", /text\/html/],
      ["POST", "/runs/nope", "GET, HEAD", /text\/html/],
      ["GET", "/actions/launch", "POST", /application\/json/],
      ["HEAD", "/actions/runs/x/cancel", "POST", /application\/json/],
      ["POST", "/api/assets", "GET, HEAD", /application\/json/],
      ["PUT", "/api/assets", "GET, HEAD", /application\/json/],
      ["DELETE", "/actions/launch", "POST", /application\/json/],
    ];
    for (const [method, path, allow, type] of cases) {
      const res = await fetch(`${server.url}${path}`, { method, headers: origin });
      const text = await res.text();
      assertEquals(res.status, 405, `${method} ${path}: ${text.slice(0, 200)}`);
      assertEquals(res.headers.get("allow"), allow, `${method} ${path}`);
      assertMatch(res.headers.get("content-type") ?? "", type);
      if (method !== "HEAD") assertMatch(text, new RegExp(`use ${allow.split(", ")[0]}`));
    }
    for (const [method, path] of [["GET", "/nothing/here"], ["POST", "/nothing/here"]] as const) {
      const res = await fetch(`${server.url}${path}`, { method, headers: origin });
      await res.body?.cancel();
      assertEquals(res.status, 404, `${method} ${path}`);
    }
  } finally {
    release();
    await server.close();
  }
});

Deno.test("methods: HEAD answers like GET with no body; an asset key with slashes opens unencoded", async () => {
  const { server, release } = await fixtureServer();
  try {
    const head = await fetch(`${server.url}/assets/marts%2Fsummary`, { method: "HEAD" });
    assertEquals(head.status, 200);
    assertMatch(head.headers.get("content-type") ?? "", /text\/html/);
    assertEquals(await head.text(), "");
    for (const path of ["/assets/marts/summary", "/assets/marts%2Fsummary"]) {
      const res = await fetch(`${server.url}${path}`);
      const text = await res.text();
      assertEquals(res.status, 200, `${path}: ${text.slice(0, 200)}`);
      assert(text.includes("<h1>marts/summary</h1>") || /<h1[^>]*>marts\/summary/.test(text), path);
    }
    const unknown = await fetch(`${server.url}/assets/marts/nope`);
    const text = await unknown.text();
    assertEquals(unknown.status, 404);
    assertMatch(text, /No asset has key <b>marts\/nope<\/b>/);
  } finally {
    release();
    await server.close();
  }
});

/** Sends `raw` on a new connection and returns what comes back until it closes. */
async function rawExchange(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  let text = "";
  try {
    await conn.write(new TextEncoder().encode(raw));
    const buffer = new Uint8Array(8192);
    const guard = setTimeout(() => conn.close(), 5_000);
    try {
      for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
        text += new TextDecoder().decode(buffer.subarray(0, n));
      }
    } catch {
      // Closed by the guard: what arrived is the answer.
    } finally {
      clearTimeout(guard);
    }
  } finally {
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }
  return text;
}

Deno.test("methods: TRACE and CONNECT are a 405, a request without Host a 400, each with a line of text", async () => {
  // Before: each was a 500 ('Method is forbidden', 'Invalid URL' with a stack in the log):
  // the request could not be turned into a fetch Request.
  const { server, release } = await fixtureServer();
  await using _ = server;
  try {
    const host = `Host: ${new URL(server.url).host}`;
    for (const method of ["TRACE", "CONNECT"]) {
      const target = method === "CONNECT" ? "127.0.0.1:22" : "/";
      const text = await rawExchange(server.url, `${method} ${target} HTTP/1.1\r\n${host}\r\n\r\n`);
      assertMatch(text, /^HTTP\/1\.1 405 /);
      assertMatch(text, /allow: GET, HEAD, POST/i);
      assertMatch(text, new RegExp(`${method} is not served here; use GET, HEAD or POST`));
    }
    for (const raw of ["GET / HTTP/1.0\r\n\r\n", "GET /runs HTTP/1.1\r\n\r\n"]) {
      const text = await rawExchange(server.url, raw);
      assertMatch(text, /^HTTP\/1\.[01] 400 /);
      assertMatch(text, /The request has no Host header; send one/);
    }
    // The server goes on.
    assertEquals(
      await fetch(`${server.url}/runs`).then(async (r) => (await r.body?.cancel(), r.status)),
      200,
    );
  } finally {
    release();
  }
});
