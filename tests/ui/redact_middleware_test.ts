import { assert, assertEquals } from "./_assert.ts";
import { Hono } from "hono";
import { redactMiddleware } from "../../ui/security.ts";
import { clearSecrets } from "../../core/secrets.ts";
import { objectHref } from "../../ui/pages/lake.ts";

Deno.test("UI redaction masks secrets but keeps the UI's own key= and token= links", async () => {
  clearSecrets();
  try {
    const app = new Hono();
    app.use("*", redactMiddleware(["s3cretValue", "apiKEYvalue"]));
    const link = objectHref("data-lake", "raw/events/2026-11-01.jsonl").replaceAll("&", "&amp;");
    app.get("/", (c) =>
      c.html(
        `<a href="${link}">o</a><a href="/lake?bucket=b&amp;token=pageTOKEN1">next</a>` +
          `<p>postgres://u:s3cretValue@h/db https://w/x?apikey=apiKEYvalue&amp;q=1 ` +
          `postgres://v:unregistered@h/db</p>`,
      ));
    const text = await (await app.request("/")).text();
    assert(text.includes(link), text);
    assert(text.includes("token=pageTOKEN1"), text);
    assert(!text.includes("s3cretValue") && !text.includes("apiKEYvalue"), text);
    assert(!text.includes("unregistered"), text);
    assertEquals(text.match(/\*\*\*/g)?.length, 3, text);
  } finally {
    clearSecrets();
  }
});
