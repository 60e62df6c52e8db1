// FetchHttpClient against a loopback Open-Meteo: retries, Retry-After,
// timeouts, unreachable hosts and the errors a person reads.

import assert from "node:assert/strict";
import { CanceledError } from "../../../core/errors.ts";
import { FakeClock } from "../../../core/testing.ts";
import {
  FetchHttpClient,
  type FetchHttpClientOptions,
  HttpError,
  HttpStatusError,
  HttpTimeoutError,
  HttpUnreachableError,
} from "../../../resources/http/mod.ts";
import {
  BILLINGS,
  closedPort,
  fixtureBytes,
  RECORDED,
  startOpenMeteo,
} from "../../_helpers/open_meteo.ts";
import { recordingSystemClock } from "../../_helpers/recording_clock.ts";

const T0 = Date.parse("2026-11-23T12:00:00Z");

function recordedArchiveUrl(origin: string, extra = ""): string {
  return `${origin}/v1/archive?latitude=${BILLINGS.latitude}&longitude=${BILLINGS.longitude}` +
    `&start_date=${RECORDED.archive.day}&end_date=${RECORDED.archive.day}` +
    `&hourly=temperature_2m&daily=temperature_2m_max${extra}`;
}

/** A client on a fake clock with no jitter, unless a test says otherwise. */
function client(options: FetchHttpClientOptions = {}) {
  const clock = new FakeClock(T0);
  return { clock, http: new FetchHttpClient({ clock, random: () => 0.5, ...options }) };
}

/** How long the loopback API stalls a "slow" answer. */
const SLOW_MS = 60_000;

/**
 * A request whose attempts time out in milliseconds ends long before a
 * stalled answer would come: far above the expected time (a loaded machine
 * stretches it by seconds, not a minute), far below what holding the request
 * until the answer costs.
 */
function assertBeforeSlowAnswer(elapsedMs: number): void {
  assert.ok(elapsedMs < SLOW_MS / 2, `took ${Math.round(elapsedMs)} ms`);
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Error);
    return error;
  }
  assert.fail("expected a rejection");
}

Deno.test("FetchHttpClient", async (t) => {
  await using api = await startOpenMeteo();
  const url = recordedArchiveUrl(api.origin);

  await t.step("returns the parsed body and the exact bytes", async () => {
    const { http, clock } = client();
    const response = await http.getJson(url);
    assert.deepEqual(response.bytes, await fixtureBytes(RECORDED.archive.file));
    assert.equal((response.body as { latitude: number }).latitude, 45.784023);
    assert.equal(response.status, 200);
    assert.equal(response.attempts, 1);
    assert.equal(response.url, url);
    assert.deepEqual(clock.sleeps, []);
  });

  await t.step("retries a 429 after the seconds Retry-After asks for", async () => {
    const { http, clock } = client();
    const before = api.requests.length;
    api.failNext(
      { kind: "status", status: 429, retryAfter: "2" },
      { kind: "status", status: 429, retryAfter: "7" },
    );
    const response = await http.getJson(url);
    assert.equal(response.attempts, 3);
    assert.deepEqual(clock.sleeps, [2_000, 7_000]);
    assert.equal(api.requests.length - before, 3);
  });

  await t.step("honours a Retry-After HTTP date", async () => {
    const { http, clock } = client();
    api.failNext({ kind: "status", status: 503, retryAfter: new Date(T0 + 5_000).toUTCString() });
    await http.getJson(url);
    assert.deepEqual(clock.sleeps, [5_000]);
  });

  await t.step("caps a long Retry-After", async () => {
    const { http, clock } = client({ maxRetryAfterMs: 20_000 });
    api.failNext({ kind: "status", status: 429, retryAfter: "3600" });
    await http.getJson(url);
    assert.deepEqual(clock.sleeps, [20_000]);
  });

  await t.step("backs off exponentially on 5xx, with jitter", async () => {
    const { http, clock } = client();
    api.failNext({ kind: "status", status: 500 }, { kind: "status", status: 502 }, {
      kind: "status",
      status: 503,
    });
    const response = await http.getJson(url);
    assert.equal(response.attempts, 4);
    assert.deepEqual(clock.sleeps, [500, 1_000, 2_000]);

    const low = client({ random: () => 0 });
    api.failNext({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    await low.http.getJson(url);
    assert.deepEqual(low.clock.sleeps, [400, 800], "-20 % jitter at random() = 0");
  });

  await t.step("gives up on a 5xx after its retries, naming URL and attempts", async () => {
    const { http, clock } = client({ retries: 2 });
    api.failNext(...Array(3).fill({ kind: "status", status: 500 }));
    const error = await rejection(http.getJson(url));
    assert.ok(error instanceof HttpStatusError);
    assert.equal(error.code, "http.status");
    assert.equal(error.status, 500);
    assert.equal(error.attempts, 3);
    assert.equal(error.retryable, true);
    assert.match(error.message, /failed with HTTP 500/);
    assert.ok(error.message.includes(url), error.message);
    assert.match(error.message, /after 3 attempts/);
    assert.deepEqual(clock.sleeps, [500, 1_000]);
  });

  await t.step("fails at once on a 4xx with the URL and the server's reason", async () => {
    const { http, clock } = client();
    const before = api.requests.length;
    api.failNext({
      kind: "status",
      status: 400,
      body: new TextDecoder().decode(await fixtureBytes("error_400.json")),
    });
    const error = await rejection(http.getJson(url));
    assert.ok(error instanceof HttpStatusError);
    assert.equal(error.status, 400);
    assert.equal(error.retryable, false);
    assert.equal(api.requests.length - before, 1, "a 4xx is not retried");
    assert.deepEqual(clock.sleeps, []);
    assert.ok(error.message.includes(`GET ${url} failed with HTTP 400`), error.message);
    assert.match(error.message, /Parameter 'start_date' is out of allowed range/);
    assert.equal(error.input, url);
  });

  await t.step("a 404 on an unknown path is a 4xx error too", async () => {
    const { http } = client();
    const error = await rejection(http.getJson(`${api.origin}/v1/nowhere`));
    assert.ok(error instanceof HttpStatusError);
    assert.equal(error.status, 404);
    assert.match(error.message, /Unknown endpoint/);
  });

  await t.step("never shows an API key, in errors or retry notices", async () => {
    const notices: string[] = [];
    const { http } = client({ onRetry: (info) => notices.push(JSON.stringify(info)) });
    const secretUrl = recordedArchiveUrl(api.origin, "&apikey=s3cr3t-KEY");
    api.failNext({ kind: "status", status: 503 }, { kind: "status", status: 401 });
    const error = await rejection(http.getJson(secretUrl));
    assert.ok(error instanceof HttpStatusError);
    assert.equal(error.status, 401);
    assert.ok(!error.message.includes("s3cr3t"), error.message);
    assert.match(error.message, /apikey=\*\*\*/);
    assert.match(error.message, /check the API key/);
    assert.equal(notices.length, 1);
    assert.ok(!notices.join().includes("s3cr3t"));
    const ok = await http.getJson(secretUrl);
    assert.ok(!ok.url.includes("s3cr3t"));
    assert.ok(api.requests.at(-1)?.url.includes("apikey=s3cr3t-KEY"), "the real key is sent");
  });

  await t.step("times out a slow attempt and retries it", async () => {
    const { http, clock } = client({ timeoutMs: 150 });
    api.failNext({ kind: "slow", delayMs: SLOW_MS });
    const started = performance.now();
    const response = await http.getJson(url);
    // Two attempts prove the timer fired; the bound proves the stalled request was
    // abandoned at once, not held until the slow answer came (SLOW_MS away).
    assertBeforeSlowAnswer(performance.now() - started);
    assert.equal(response.attempts, 2);
    assert.deepEqual(clock.sleeps, [500]);
  });

  await t.step("fails with a timeout error when every attempt is slow", async () => {
    const { http } = client({ timeoutMs: 100, retries: 1 });
    api.failNext({ kind: "slow", delayMs: SLOW_MS }, { kind: "slow", delayMs: SLOW_MS });
    const started = performance.now();
    const error = await rejection(http.getJson(url));
    assertBeforeSlowAnswer(performance.now() - started);
    assert.ok(error instanceof HttpTimeoutError);
    assert.equal(error.code, "http.timeout");
    assert.equal(error.timeoutMs, 100);
    assert.match(error.message, /timed out after 100 ms/);
    assert.match(error.message, /HTTP_TIMEOUT_MS/);
  });

  await t.step("a malformed body is an error naming the URL, not retried", async () => {
    const { http, clock } = client();
    api.failNext({ kind: "malformed" });
    const error = await rejection(http.getJson(url));
    assert.ok(error instanceof HttpError);
    assert.equal(error.code, "http.invalid_json");
    assert.ok(error.message.includes(url));
    assert.match(error.message, /not JSON/);
    assert.deepEqual(clock.sleeps, []);
  });

  await t.step("stops retrying when the total budget would be exceeded", async () => {
    const { http, clock } = client({ retries: 10, totalTimeoutMs: 3_000 });
    api.failNext(...Array(3).fill({ kind: "status", status: 500 }));
    const error = await rejection(http.getJson(url));
    assert.ok(error instanceof HttpError);
    assert.equal(error.code, "http.deadline");
    assert.match(error.message, /HTTP 500.*3000 ms budget/);
    assert.deepEqual(clock.sleeps, [500, 1_000], "a third wait would end past 3 s");
    assert.equal(error.attempts, 3);
  });

  await t.step("cancels a retry wait when the signal aborts", async () => {
    const controller = new AbortController();
    const clock = new FakeClock(T0);
    clock.sleep = (ms: number, signal?: AbortSignal) => {
      controller.abort();
      return FakeClock.prototype.sleep.call(clock, ms, signal);
    };
    const http = new FetchHttpClient({ clock });
    api.failNext({ kind: "status", status: 503 });
    const error = await rejection(http.getJson(url, { signal: controller.signal }));
    assert.ok(error instanceof CanceledError);
    const before = api.requests.length;
    await assert.rejects(http.getJson(url, { signal: controller.signal }), CanceledError);
    assert.equal(api.requests.length, before, "an aborted signal sends nothing");
  });
});

Deno.test("FetchHttpClient: an unreachable host fails fast with a clear message", async (t) => {
  const port = closedPort();
  const url = `http://127.0.0.1:${port}/v1/archive?latitude=1&apikey=hidden`;

  await t.step("with the default options, after one short wait", async () => {
    // The real clock, only recording what the client asks of it: the time an
    // unreachable host costs is its retry waits (a refused connect is immediate;
    // an attempt that waited out its timeout would be an HttpTimeoutError), so
    // the waits are asserted, not the wall time a loaded machine stretches.
    const clock = recordingSystemClock();
    const http = new FetchHttpClient({ clock });
    const error = await rejection(http.getJson(url));
    const waits = clock.sleeps;
    assert.equal(waits.length, 1, `waits ${JSON.stringify(waits)}`);
    assert.ok(waits[0]! >= 400 && waits[0]! <= 600, `waited ${waits[0]} ms (500 ms ± 20 %)`);
    assert.ok(error instanceof HttpUnreachableError);
    assert.equal(error.code, "http.unreachable");
    assert.equal(error.retryable, false, "asset-level retries would only delay the same answer");
    assert.equal(error.attempts, 2);
    assert.match(error.message, /^Cannot reach 127\.0\.0\.1: no network\?/);
    assert.match(error.message, /connection refused/);
    assert.ok(!error.message.includes("hidden"));
  });

  await t.step("retries only unreachableRetries times", async () => {
    const { http, clock } = client({ unreachableRetries: 2 });
    const error = await rejection(http.getJson(url));
    assert.ok(error instanceof HttpUnreachableError);
    assert.equal(error.attempts, 3);
    assert.deepEqual(clock.sleeps, [500, 1_000]);
  });
});

Deno.test("FetchHttpClient: a connection dropped mid-request is retried", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })();
  try {
    const { http, clock } = client({ retries: 2 });
    const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/v1/archive`;
    const error = await rejection(http.getJson(url));
    assert.ok(error instanceof HttpError);
    assert.equal(error.code, "http.network");
    assert.equal(error.retryable, true);
    assert.equal(accepted, 3);
    assert.deepEqual(clock.sleeps, [500, 1_000]);
  } finally {
    listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("FetchHttpClient: a body past maxBodyBytes is http.too_large, not read into memory", async (t) => {
  // Before: the whole body was read with arrayBuffer(), whatever its size (a URL pointing at a
  // download, a server streaming without end within the timeout).
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    if (new URL(req.url).pathname === "/declared") {
      return new Response(new Uint8Array(300_000), { headers: { "content-length": "300000" } });
    }
    // No length: a stream that never ends.
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        served += chunk.length;
        controller.enqueue(chunk);
      },
    });
    return new Response(body);
  });
  try {
    const origin = `http://127.0.0.1:${server.addr.port}`;
    for (const path of ["/endless", "/declared"]) {
      await t.step(path, async () => {
        const { http, clock } = client({ maxBodyBytes: 256 * 1024 });
        const error = await rejection(http.getJson(`${origin}${path}?apikey=sekrit99`));
        assert.ok(error instanceof HttpError);
        assert.equal(error.code, "http.too_large");
        assert.equal(error.retryable, false);
        assert.match(error.message, /more than 262144 bytes/);
        assert.doesNotMatch(error.message, /sekrit99/);
        assert.deepEqual(clock.sleeps, [], "not retried");
      });
    }
    assert.ok(served < 16 * 1024 * 1024, `the endless body was read on: ${served} bytes`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("FetchHttpClient: rejects bad options", () => {
  const cases: [FetchHttpClientOptions, RegExp][] = [
    [
      { timeoutMs: 0 },
      /^Cannot create the HTTP client with timeoutMs 0: expected milliseconds > 0$/,
    ],
    [{ retries: -1 }, /with retries -1: expected a whole number >= 0/],
    [{ jitter: 2 }, /with jitter 2: expected a fraction between 0 and 1/],
    [{ baseDelayMs: -5 }, /with baseDelayMs -5: expected milliseconds >= 0/],
    [{ totalTimeoutMs: Number.NaN }, /with totalTimeoutMs NaN/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new FetchHttpClient(options),
      (e) => e instanceof RangeError && message.test(e.message),
    );
  }
});
