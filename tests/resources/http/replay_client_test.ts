import assert from "node:assert/strict";
import { CanceledError } from "../../../core/errors.ts";
import { FakeClock } from "../../../core/testing.ts";
import {
  HttpError,
  HttpErrorCode,
  ReplayHttpClient,
  type ReplaySource,
} from "../../../resources/http/mod.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** A source holding one response per exact path. */
function source(held: Record<string, string>, description = "test responses"): ReplaySource & {
  asked: string[];
} {
  const asked: string[] = [];
  return {
    description,
    asked,
    answer(url) {
      asked.push(url.href);
      const text = held[url.pathname];
      return Promise.resolve(
        text === undefined ? undefined : { bytes: encode(text), source: `sample ${url.pathname}` },
      );
    },
  };
}

/** Fails the test if anything reaches for the network while `fn` runs. */
async function offline<T>(fn: () => Promise<T>): Promise<T> {
  const real = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error("the replay client used the network"));
  try {
    return await fn();
  } finally {
    globalThis.fetch = real;
  }
}

Deno.test("replay: the first source holding the URL answers, bytes verbatim, never the network", async () => {
  const first = source({ "/a": '{"n": 1}' });
  const second = source({ "/a": '{"n": 2}', "/b": ' {"n":3} ' });
  const http = new ReplayHttpClient([first, second], { clock: new FakeClock(0) });
  const a = await offline(() => http.getJson("https://api.example/a?apikey=SECRET1"));
  assert.deepEqual(a.body, { n: 1 });
  assert.equal(new TextDecoder().decode(a.bytes), '{"n": 1}');
  assert.equal(a.source, "sample /a");
  assert.equal(a.status, 200);
  assert.equal(a.attempts, 1);
  assert.equal(a.url, "https://api.example/a?apikey=***");
  assert.match(a.headers.get("content-type") ?? "", /application\/json/);
  const b = await offline(() => http.getJson(new URL("https://api.example/b")));
  assert.equal(new TextDecoder().decode(b.bytes), ' {"n":3} ', "not re-serialised");
  assert.equal(b.source, "sample /b");
  assert.deepEqual(second.asked, ["https://api.example/b"]);
});

Deno.test("replay: a request no source holds fails with http.no_sample, naming it and the samples", async () => {
  const http = new ReplayHttpClient([source({}, "5 places over a fortnight")], {
    hint: "set SAMPLE_DATA=false to call the live API",
  });
  const error = await offline(() =>
    http.getJson("https://u:pw@api.example/missing?token=SECRET2").catch((e) => e)
  );
  assert.ok(error instanceof HttpError);
  assert.equal(error.code, HttpErrorCode.noSample);
  assert.equal(error.retryable, false, "retrying cannot make a sample appear");
  assert.equal(
    error.message,
    "No sample response for GET https://u:***@api.example/missing?token=***: the samples hold " +
      "5 places over a fortnight; set SAMPLE_DATA=false to call the live API",
  );
  assert.doesNotMatch(error.message, /SECRET2|pw@/);
  const none = await new ReplayHttpClient([]).getJson("https://x.example/").catch((e) => e);
  assert.match(none.message, /no sample data is configured/);
});

Deno.test("replay: a sample that is not JSON names the sample, not the network", async () => {
  const http = new ReplayHttpClient([source({ "/bad": "{truncated" })]);
  const error = await http.getJson("https://api.example/bad").catch((e) => e);
  assert.ok(error instanceof HttpError);
  assert.equal(error.code, HttpErrorCode.invalidJson);
  assert.match(error.message, /\(sample \/bad\) is not JSON/);
});

Deno.test("replay: an aborted signal cancels before any source is asked", async () => {
  const held = source({ "/a": "{}" });
  const controller = new AbortController();
  controller.abort();
  const error = await new ReplayHttpClient([held]).getJson("https://api.example/a", {
    signal: controller.signal,
  }).catch((e) => e);
  assert.ok(error instanceof CanceledError);
  assert.deepEqual(held.asked, []);
});
