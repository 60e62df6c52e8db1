/**
 * Off loopback (a server with UI_TOKEN on a network address) pages and JSON
 * are gzipped for clients that accept it, still redacted, and ETags still
 * answer 304 (the compressed answer's tag is weak); on loopback nothing is
 * compressed.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { createApp } from "../../ui/server.ts";
import { fixtureServer, SECRET } from "./_fixture.ts";

async function gunzip(res: Response): Promise<string> {
  const body = res.body?.pipeThrough(new DecompressionStream("gzip"));
  return await new Response(body).text();
}

Deno.test("compress: off loopback, pages and JSON are gzipped, redacted, and their ETags still give 304", async () => {
  const { server, release } = await fixtureServer();
  try {
    const app = await createApp(server.context, {
      host: "192.0.2.10",
      token: "tok-123",
      secrets: [SECRET],
    });
    const get = (path: string, headers: Record<string, string> = {}) =>
      app.request(`http://192.0.2.10${path}`, {
        headers: { "accept-encoding": "gzip", ...headers },
      });
    const page = await get("/assets/marts%2Fbroken");
    assertEquals(page.status, 200);
    assertEquals(page.headers.get("content-encoding"), "gzip");
    assertMatch(page.headers.get("vary") ?? "", /Accept-Encoding/);
    const html = await gunzip(page);
    assertMatch(html, /<h1[^>]*>marts\/broken/);
    assert(!html.includes(SECRET), "the secret is redacted before compression");
    assert(html.includes("***"), "redaction marker");
    const states = await get("/api/asset-states");
    assertEquals(states.headers.get("content-encoding"), "gzip");
    const etag = states.headers.get("etag") ?? "";
    assertMatch(etag, /^W\/"[0-9a-f]+"$/);
    assertEquals(JSON.parse(await gunzip(states)).states["raw_events"].state, "materialized");
    const again = await get("/api/asset-states", { "if-none-match": etag });
    assertEquals(again.status, 304);
    await again.body?.cancel();
    // A client that does not ask for gzip gets the body as it is.
    const plain = await app.request("http://192.0.2.10/api/asset-states");
    assertEquals(plain.headers.get("content-encoding"), null);
    assertMatch(await plain.text(), /"states"/);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("compress: on loopback nothing is compressed", async () => {
  const { server, release } = await fixtureServer();
  try {
    // In process: fetch would undo a compression and hide its header.
    const app = await createApp(server.context, { host: "127.0.0.1", token: undefined });
    const res = await app.request("http://127.0.0.1/assets", {
      headers: { "accept-encoding": "gzip" },
    });
    assertMatch(await res.text(), /<h1>Assets<\/h1>/);
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-encoding"), null);
    assertEquals(res.headers.get("vary"), null);
  } finally {
    release();
    await server.close();
  }
});
