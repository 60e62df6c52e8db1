/**
 * The UI's front door (ui/_front.ts) over plain TCP: a client that sends its
 * headers slowly (slowloris) or never finishes them is answered 408 and
 * closed instead of holding a connection for ever, and a URL or headers too
 * long get a 414 or 431 with a line of text instead of the runtime's empty
 * 400. Ordinary requests pass unchanged, bodies included.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureGraph, ranStore } from "./_fixture.ts";

async function server(headTimeoutMs = 400) {
  const { graph, release } = fixtureGraph();
  const store = await ranStore(graph);
  const ui = await serveUi({ graph, store, port: 0, headTimeoutMs });
  return {
    url: ui.url,
    port: Number(new URL(ui.url).port),
    async [Symbol.asyncDispose]() {
      release();
      await ui.close();
    },
  };
}

/** Everything the server sends on one raw connection until it closes it (or `limitMs` passes). */
async function raw(
  port: number,
  send: (conn: Deno.Conn) => Promise<void>,
  limitMs = 5_000,
): Promise<{ text: string; closedAfterMs: number }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const started = performance.now();
  const chunks: Uint8Array[] = [];
  const reading = (async () => {
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const n = await conn.read(buffer).catch(() => null);
      if (n === null) return;
      chunks.push(buffer.slice(0, n));
    }
  })();
  const sending = send(conn).catch(() => {});
  const timer = setTimeout(() => conn.close(), limitMs);
  await reading;
  clearTimeout(timer);
  await sending;
  try {
    conn.close();
  } catch {
    // closed by the timer
  }
  const text = new TextDecoder().decode(
    chunks.reduce((all, c) => new Uint8Array([...all, ...c]), new Uint8Array()),
  );
  return { text, closedAfterMs: performance.now() - started };
}

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("ui front: headers sent a byte at a time (slowloris) get a 408 with text and the connection closes", async () => {
  // Before: Deno.serve waited for the headers for ever; the connection was still open at 5 s.
  await using ui = await server(400);
  let stop = false;
  const { text, closedAfterMs } = await raw(ui.port, async (conn) => {
    await conn.write(encode("GET / HTTP/1.1\r\nHost: x\r\n"));
    for (let i = 0; !stop && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await conn.write(encode("X")); // a header that never ends
    }
  });
  stop = true;
  assertMatch(text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  assertMatch(text, /\r\n\r\nThe request's headers did not arrive within 0\.4 s/);
  assert(closedAfterMs < 3_000, `closed after ${Math.round(closedAfterMs)} ms`);
});

Deno.test("ui front: a connection that sends nothing is closed after the head timeout", async () => {
  await using ui = await server(300);
  const { text, closedAfterMs } = await raw(ui.port, () => Promise.resolve());
  assertMatch(text, /^HTTP\/1\.1 408 /);
  assert(closedAfterMs < 3_000, `closed after ${Math.round(closedAfterMs)} ms`);
});

Deno.test("ui front: a very long URL is a 414 with text, very large headers a 431", async () => {
  // Before: 100 KiB of URL got an empty 400 from the runtime (content-length: 0).
  await using ui = await server(5_000);
  for (const length of [20_000, 100_000, 1_000_000]) {
    const { text } = await raw(
      ui.port,
      (conn) =>
        conn.write(encode(`GET /runs?q=${"a".repeat(length)} HTTP/1.1\r\nHost: x\r\n\r\n`)).then(
          () => {},
        ),
    );
    assertMatch(text, /^HTTP\/1\.1 414 URI Too Long\r\n/);
    assertMatch(text, /content-type: text\/plain; charset=utf-8/i);
    assertMatch(text, /The request's URL is longer than 16384 bytes; shorten it/);
  }
  const cookie = `Cookie: c=${"x".repeat(8_000)}\r\n`.repeat(10);
  const { text } = await raw(
    ui.port,
    (conn) => conn.write(encode(`GET / HTTP/1.1\r\nHost: x\r\n${cookie}\r\n`)).then(() => {}),
  );
  assertMatch(text, /^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
  assertMatch(text, /headers are larger than 65536 bytes/);
});

Deno.test("ui front: ordinary requests pass unchanged, with their bodies and odd bytes", async () => {
  await using ui = await server(5_000);
  const page = await fetch(`${ui.url}/runs?limit=5`);
  assertEquals(page.status, 200);
  assertMatch(await page.text(), /<html/i);
  const head = await fetch(`${ui.url}/runs`, { method: "HEAD" });
  assertEquals(head.status, 200);
  await head.body?.cancel();
  // A JSON body and a long-but-allowed URL arrive whole.
  const posted = await fetch(`${ui.url}/actions/launch`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ selection: "nope".repeat(2_000) }),
  });
  assert(posted.status >= 400 && posted.status < 500, `status ${posted.status}`);
  assertMatch(await posted.text(), /nope/);
  const long = await fetch(`${ui.url}/runs?q=${"b".repeat(10_000)}`);
  assert(long.status < 500, `status ${long.status}`);
  await long.body?.cancel();
  // A path that is not UTF-8 reaches the UI's own 404/400, not a crash.
  const { text } = await raw(
    ui.port,
    (conn) =>
      conn.write(encode(`GET /assets/%FF%FE HTTP/1.1\r\nHost: 127.0.0.1:${ui.port}\r\n\r\n`)).then(
        () => {},
      ),
  );
  assertMatch(text, /^HTTP\/1\.1 (400|404) /);
  // Several requests in a row, each on its own connection, all answered.
  const statuses = await Promise.all(
    Array.from({ length: 20 }, () =>
      fetch(`${ui.url}/runs`).then(async (r) => {
        await r.body?.cancel();
        return r.status;
      })),
  );
  assertEquals(new Set(statuses), new Set([200]));
});

Deno.test("ui front: requests the runtime refuses get a 400 saying what is wrong, not an empty 400 or a closed connection", async () => {
  // Before: the runtime answered these with an empty 400 (content-length: 0), and closed a
  // broken chunked body's connection with no answer at all.
  await using ui = await server(5_000);
  const host = `Host: 127.0.0.1:${ui.port}\r\n`;
  const cases: readonly (readonly [string, RegExp])[] = [
    [
      `POST /actions/launch HTTP/1.1\r\n${host}Content-Type: application/json\r\n` +
      "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
      /chunked encoding is broken/,
    ],
    [`GET /a b HTTP/1.1\r\n${host}\r\n`, /The request line 'GET \/a b HTTP\/1\.1' is not/],
    [
      `GET / HTTP/1.1\r\n${host}X-A: a\x01b\r\n\r\n`,
      /header 'X-A' has a control character.*\\u0001/,
    ],
    [`GET / HTTP/1.1\r\n${host}no colon here\r\n\r\n`, /header line 'no colon here' is not/],
    [
      `POST /actions/launch HTTP/1.1\r\n${host}Content-Length: 2\r\n` +
      "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
      /both Content-Length and Transfer-Encoding/,
    ],
    [
      `POST /actions/launch HTTP/1.1\r\n${host}Content-Length: 2x\r\n\r\n{}`,
      /'2x' is not a number/,
    ],
  ];
  for (const [request, expected] of cases) {
    const { text } = await raw(ui.port, (conn) => conn.write(encode(request)).then(() => {}));
    const where = JSON.stringify(request.slice(0, 60));
    for (
      const pattern of [/^HTTP\/1\.1 400 Bad Request\r\n/, /content-type: text\/plain/i, expected]
    ) {
      assert(pattern.test(text), `${where}: ${pattern} not in ${JSON.stringify(text)}`);
    }
  }
  // The app's own 400s pass unchanged.
  const app = await fetch(`${ui.url}/actions/launch`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{",
  });
  assertEquals(app.status, 400);
  assertMatch(await app.text(), /"error"/);
});
