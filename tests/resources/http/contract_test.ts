/**
 * The `HttpClient` contract: what an asset may rely on whichever client
 * `ctx.resources.http` is, checked by one table against the live client
 * (`FetchHttpClient`, on a loopback server) and its twin (`ReplayHttpClient`,
 * what `SAMPLE_DATA=true` selects), each given the same responses. What only
 * one of them does (retries, timeouts; sample names) is in its own test.
 */

import assert from "node:assert/strict";
import { CanceledError } from "../../../core/errors.ts";
import { FakeClock } from "../../../core/testing.ts";
import {
  FetchHttpClient,
  type HttpClient,
  HttpError,
  HttpErrorCode,
  ReplayHttpClient,
} from "../../../resources/http/mod.ts";
import { rejected } from "../../_helpers/assert_errors.ts";

/** The responses every client under test holds, by path. */
const HELD: Readonly<Record<string, string>> = {
  "/object": '{"latitude": 45.78, "hourly": {"t": [1.5, 2]}}',
  "/spaced": " [1, 2,\n 3] ",
  "/not-json": "<html>maintenance</html>",
};
const SECRET = "s3cr3t-KEY";

/** A client holding {@linkcode HELD}, the base URL to ask it on, and what it was asked. */
interface Subject {
  readonly http: HttpClient;
  readonly base: string;
  /** Paths requested so far (what reached the server or a replay source). */
  readonly asked: string[];
}

/** One promise of the contract. */
interface Clause {
  readonly name: string;
  readonly check: (subject: Subject) => Promise<void>;
}

const CONTRACT: readonly Clause[] = [
  {
    name: "a JSON body: parsed, the bytes as sent, status 200, one attempt, secrets out of the URL",
    async check({ http, base }) {
      const response = await http.getJson(`${base}/object?apikey=${SECRET}`);
      assert.deepEqual(response.body, { latitude: 45.78, hourly: { t: [1.5, 2] } });
      assert.equal(new TextDecoder().decode(response.bytes), HELD["/object"]);
      assert.equal(response.status, 200);
      assert.equal(response.attempts, 1);
      assert.equal(response.url, `${base}/object?apikey=***`);
      assert.ok(Number.isFinite(response.durationMs) && response.durationMs >= 0);
    },
  },
  {
    name: "the bytes are never re-serialised (white space and line breaks kept)",
    async check({ http, base }) {
      const response = await http.getJson(new URL(`${base}/spaced`));
      assert.deepEqual(response.body, [1, 2, 3]);
      assert.equal(new TextDecoder().decode(response.bytes), HELD["/spaced"]);
    },
  },
  {
    // Whether it is retryable differs on purpose: a live API's maintenance page goes away, a
    // sample does not change.
    name: "a body that is not JSON: http.invalid_json naming the URL without its secret",
    async check({ http, base }) {
      const error = await rejected(
        () => http.getJson(`${base}/not-json?apikey=${SECRET}`),
        HttpError,
      );
      assert.equal(error.code, HttpErrorCode.invalidJson);
      assert.equal(error.url, `${base}/not-json?apikey=***`);
      assert.ok(!error.message.includes(SECRET), error.message);
    },
  },
  {
    name: "a path it holds nothing for: an HttpError naming the URL, never a secret",
    async check({ http, base }) {
      const error = await rejected(
        () => http.getJson(`${base}/missing?apikey=${SECRET}`),
        HttpError,
      );
      assert.equal(error.retryable, false, "asking again later gives the same answer");
      assert.match(error.message, /\/missing\?apikey=\*\*\*/);
      assert.ok(!error.message.includes(SECRET), error.message);
      assert.ok(!String(error.stack).includes(SECRET));
    },
  },
  {
    name: "an aborted signal: CanceledError, and nothing is asked",
    async check({ http, base, asked }) {
      const stop = new AbortController();
      stop.abort();
      await rejected(() => http.getJson(`${base}/object`, { signal: stop.signal }), CanceledError);
      assert.deepEqual(asked, []);
    },
  },
];

/** A loopback server answering {@linkcode HELD} (404 for anything else). */
function serveHeld(asked: string[]) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const path = new URL(request.url).pathname;
    asked.push(path);
    const text = HELD[path];
    return text === undefined
      ? new Response("not found", { status: 404 })
      : new Response(text, { headers: { "content-type": "application/json" } });
  });
}

Deno.test("HttpClient contract: FetchHttpClient on a loopback server", async (t) => {
  for (const clause of CONTRACT) {
    await t.step(clause.name, async () => {
      const asked: string[] = [];
      const server = serveHeld(asked);
      try {
        const http = new FetchHttpClient({ clock: new FakeClock(0), random: () => 0.5 });
        await clause.check({ http, base: `http://127.0.0.1:${server.addr.port}`, asked });
      } finally {
        await server.shutdown();
      }
    });
  }
});

Deno.test("HttpClient contract: ReplayHttpClient (SAMPLE_DATA=true)", async (t) => {
  for (const clause of CONTRACT) {
    await t.step(clause.name, async () => {
      const asked: string[] = [];
      const http = new ReplayHttpClient([{
        description: "the contract's responses",
        answer(url) {
          asked.push(url.pathname);
          const text = HELD[url.pathname];
          return Promise.resolve(
            text === undefined
              ? undefined
              : { bytes: new TextEncoder().encode(text), source: `contract ${url.pathname}` },
          );
        },
      }], { clock: new FakeClock(0) });
      await clause.check({ http, base: "https://api.example", asked });
    });
  }
});
