import assert from "node:assert/strict";
import { parseRetryAfter, redactSecrets } from "../../../resources/http/mod.ts";

Deno.test("redactSecrets hides credentials and keeps the rest of the URL", () => {
  assert.equal(
    redactSecrets(
      "https://customer-archive-api.open-meteo.com/v1/archive?latitude=1&apikey=abc123",
    ),
    "https://customer-archive-api.open-meteo.com/v1/archive?latitude=1&apikey=***",
  );
  assert.equal(
    redactSecrets("https://u:pa55@api.example/v1?API_KEY=x&token=y&hourly=a,b"),
    "https://u:***@api.example/v1?API_KEY=***&token=***&hourly=a,b",
  );
  assert.equal(
    redactSecrets(new URL("http://127.0.0.1:8080/v1/forecast")),
    "http://127.0.0.1:8080/v1/forecast",
  );
  assert.equal(redactSecrets("not a url?key=zzz&x=1"), "not a url?key=***&x=1");
});

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
