import assert from "node:assert/strict";
import { parseRetryAfter } from "../../../resources/http/mod.ts";

Deno.test("parseRetryAfter reads seconds and HTTP dates", () => {
  const now = Date.parse("2026-11-23T12:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter("0", now), 0);
  assert.equal(parseRetryAfter("Mon, 23 Nov 2026 12:00:30 GMT", now), 30_000);
  assert.equal(parseRetryAfter("Mon, 23 Nov 2026 11:00:00 GMT", now), 0, "a past date: no wait");
  assert.equal(parseRetryAfter(null, now), undefined);
  assert.equal(parseRetryAfter("-5", now), undefined);
  assert.equal(parseRetryAfter("1.5", now), undefined);
  assert.equal(parseRetryAfter("soon", now), undefined);
});
