/**
 * Malformed input everywhere: every page and API route with every query
 * parameter set to values a user or a script can send by mistake (numbers
 * out of range, markup, control characters, broken percent-encoding, very
 * long text). No answer is a 5xx, none shows a stack or a secret, and the
 * values the server cannot use are a 400 with a message naming them.
 *
 * @module
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { dataServer } from "./_data_fixture.ts";
import { fixtureServer, SCRIPT, SECRET } from "./_fixture.ts";

/** Values each parameter is tried with (already URL-encoded where raw). */
const VALUES: readonly string[] = [
  "abc",
  "-1",
  "0",
  "1e400",
  "1.5",
  "99999999999999999999999",
  "9007199254740993",
  "NaN",
  "",
  " ",
  "2020-13-45",
  "../../etc/passwd",
  "\u0000",
  "\u202e",
  "a".repeat(5000),
  "[]",
  '{"a":1}',
  SCRIPT,
  "1_2",
  "_",
  "north,south",
  `postgres://app:${SECRET}@db:5432/x`,
];

/** Raw query strings that are not valid percent-encoding. */
const RAW: readonly string[] = ["%", "%E0%A4%A", "%ZZ", "%C0%AF", "%FF%FE"];

const PARAMS: readonly string[] = [
  "q",
  "page",
  "before",
  "after",
  "limit",
  "status",
  "asset",
  "automation",
  "since",
  "until",
  "step",
  "level",
  "type",
  "selection",
  "exclude",
  "bucket",
  "prefix",
  "token",
  "key",
  "user",
  "batch",
  "fragment",
  "partition",
  "draw",
  "kind",
];

/** What no answer may hold: a stack frame, a source path, the secret. */
function assertClean(what: string, res: Response, text: string): void {
  const status = res.status;
  assert(status < 500, `${what} answered ${status}: ${text.slice(0, 300)}`);
  assert(!/\n\s+at |file:\/\/|\.ts:\d+/.test(text), `${what} shows a stack: ${text.slice(0, 300)}`);
  assert(!text.includes(SECRET), `${what} leaks the secret`);
  if ((res.headers.get("content-type") ?? "").includes("html")) {
    assert(!text.includes(SCRIPT), `${what} shows markup unescaped`);
  }
  if (status === 400) {
    if (text.startsWith("{")) {
      const body = JSON.parse(text);
      assert(typeof body.error === "string" && body.message.length > 0, `${what}: ${text}`);
    } else {
      assertMatch(text, /class="warn"/);
    }
  }
}

async function sweep(base: string, paths: readonly string[]): Promise<number> {
  let tried = 0;
  for (const path of paths) {
    for (const name of PARAMS) {
      const queries = [
        ...VALUES.map((v) => `${name}=${encodeURIComponent(v)}`),
        ...RAW.map((v) => `${name}=${v}`),
      ];
      for (const query of queries) {
        const res = await fetch(`${base}${path}?${query}`);
        assertClean(`GET ${path}?${query.slice(0, 60)}`, res, await res.text());
        tried++;
      }
    }
  }
  return tried;
}

Deno.test("malformed: every page and endpoint, every parameter, bad values: no 5xx, no stack, no secret", async () => {
  const { server, store } = await fixtureServer();
  await using _ = server;
  const [run] = await store.listRuns({ limit: 1 });
  assert(run);
  const tried = await sweep(server.url, [
    "/assets",
    "/assets/raw_events",
    `/assets/${encodeURIComponent("marts/summary")}`,
    "/runs",
    `/runs/${run.runId}`,
    "/launch",
    "/automation",
    "/automation/inbox",
    "/api",
    "/api/endpoints",
    "/api/assets",
    "/api/assets/raw_events",
    "/api/assets/raw_events/materializations",
    "/api/assets/raw_events/checks",
    "/api/assets/raw_events/partitions",
    "/api/assets/raw_events/preview",
    "/api/asset-states",
    "/api/graph",
    "/api/selection",
    "/api/runs",
    `/api/runs/${run.runId}`,
    `/api/runs/${run.runId}/events`,
    "/api/automation",
    "/api/automation/inbox/ticks",
    "/api/automation-records",
  ]);
  assert(tried > 10_000, `tried ${tried}`);
});

Deno.test("malformed: lake, ledger, map and preview routes with a lake behind them: no 5xx, no stack", async () => {
  await using data = await dataServer();
  const base = data.server.url;
  await sweep(base, [
    "/lake",
    "/lake/object",
    `/lake/doc/${data.doc.id}`,
    "/marts",
    "/map",
    "/api/lake/objects",
    "/api/lake/object",
    "/api/lake/quarantine",
    "/api/map/layers",
    "/api/assets/things_mart/preview",
  ]);
});

Deno.test("malformed: values the server cannot use are a 400 naming the parameter", async () => {
  const { server, store } = await fixtureServer();
  await using _ = server;
  const [run] = await store.listRuns({ limit: 1 });
  assert(run);
  const cases: [path: string, code: string, says: RegExp][] = [
    ["/api/assets/raw_events/materializations?before=abc", "bad_before", /before 'abc'/],
    [
      "/api/assets/raw_events/materializations?before=99999999999999999999999",
      "bad_before",
      /before/,
    ],
    ["/api/assets/raw_events/materializations?limit=0", "bad_limit", /from 1 to 500/],
    ["/api/assets/raw_events/materializations?limit=1e2", "bad_limit", /limit '1e2'/],
    ["/api/automation/inbox/ticks?before=-1", "bad_before", /tick id/],
    ["/api/automation/inbox/ticks?limit=501", "bad_limit", /from 1 to 500/],
    [`/api/runs/${run.runId}/events?after=1.5`, "bad_after", /after '1.5'/],
    [`/api/runs/${run.runId}/events?type=step_success,bogus`, "bad_type", /type 'bogus'/],
    ["/api/runs?status=done", "bad_filter", /status 'done'/],
    ["/api/runs?since=yesterday", "bad_filter", /since 'yesterday'/],
    ["/api/runs?limit=-5", "bad_limit", /limit '-5'/],
    ["/api/runs?before=garbage", "bad_cursor", /cursor 'garbage'/],
  ];
  for (const [path, code, says] of cases) {
    const res = await fetch(`${server.url}${path}`);
    const body = await res.json();
    assertEquals([res.status, body.error], [400, code], path);
    assertMatch(body.message, says);
  }
  const pages: [path: string, says: RegExp][] = [
    ["/assets?page=-1", /page '-1'/],
    ["/assets?draw=webgl", /draw 'webgl' is not one of svg, canvas/],
    ["/assets/raw_events?before=abc", /before 'abc'/],
    [`/runs/${run.runId}?level=loud`, /level/],
    [`/runs/${run.runId}?type=nope`, /type/],
    ["/runs?status=done", /status/],
    ["/runs?before=1_", /cursor/],
    ["/automation/inbox?before=x", /tick id/],
  ];
  for (const [path, says] of pages) {
    const res = await fetch(`${server.url}${path}`);
    const text = await res.text();
    assertEquals(res.status, 400, path);
    assertMatch(text.replaceAll("&#39;", "'"), says);
  }
});

Deno.test("malformed: broken paths are a 404, a broken JSON body is a 400", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  for (
    const path of [
      "/assets/%E0%A4%A",
      "/assets/%ZZ",
      "/runs/%",
      "/automation/%E0",
      "/api/assets/%ZZ",
      "/api/runs/%C0%AF/events",
      "/api/automation/%FF/ticks",
      "/static/..%2F..%2Fdeno.json",
      "/static/%2e%2e%2fserver.ts",
    ]
  ) {
    const res = await fetch(`${server.url}${path}`);
    const text = await res.text();
    assertClean(`GET ${path}`, res, text);
    assertEquals(res.status, 404, path);
  }
  for (const body of ["{not json", "[1,2", '"just a string"', "null"]) {
    const res = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body,
    });
    const text = await res.text();
    assertClean(`POST /actions/launch ${body}`, res, text);
    assertEquals(res.status, 400, body);
  }
});

Deno.test("malformed: a launch body that is not JSON or a form is a 400 that launches nothing; a multipart body without its boundary is a 400", async () => {
  // Before: a text/plain (or untyped) body was read as no fields and launched every asset
  // (200), and a multipart type without a boundary was a 500 from the form parser.
  const { server, release, store } = await fixtureServer();
  await using _ = server;
  try {
    const before = (await store.listRuns({ limit: 1000 })).length;
    for (
      const [path, type, body] of [
        ["/actions/launch", "text/plain", "{"],
        ["/actions/launch", "", "selection=raw_events"],
        ["/actions/launch", "multipart/form-data", "selection=raw_events"],
        ["/login", "multipart/form-data", "token=x"],
      ] as const
    ) {
      const headers: Record<string, string> = { origin: server.url };
      if (type) headers["content-type"] = type;
      const res = await fetch(`${server.url}${path}`, { method: "POST", headers, body });
      const text = await res.text();
      assertClean(`POST ${path} ${type}`, res, text);
      assertEquals(res.status, 400, `${path} ${type}: ${text.slice(0, 200)}`);
      assertMatch(text, /cannot be read/);
    }
    assertEquals((await store.listRuns({ limit: 1000 })).length, before, "nothing launched");
  } finally {
    release();
  }
});

Deno.test("malformed: a launch with fields it does not know is a 400 naming them and launches nothing", async () => {
  // Before: unknown fields were dropped, and with no selection left the launch ran every asset.
  const { server, release, store } = await fixtureServer();
  await using _ = server;
  try {
    const before = (await store.listRuns({ limit: 1000 })).length;
    for (
      const [type, body, named] of [
        [
          "application/x-www-form-urlencoded",
          "selectoin=raw_events",
          /'selectoin' \(did you mean 'selection'\?\)/,
        ],
        ["application/x-www-form-urlencoded", "foo=1&bar=%1b", /'foo'.*, 'bar'/],
        ["application/json", '{"selectoin": "raw_events", "tags": "a=b"}', /'selectoin'/],
        ["application/json", '{"select": {"key": "raw_events"}}', /'select'/],
      ] as const
    ) {
      const res = await fetch(`${server.url}/actions/launch`, {
        method: "POST",
        headers: { origin: server.url, "content-type": type, accept: "application/json" },
        body,
      });
      const text = await res.text();
      assertClean(`POST /actions/launch ${body}`, res, text);
      assertEquals(res.status, 400, `${body}: ${text.slice(0, 300)}`);
      assertMatch(text, /Unknown fields? in the launch request/);
      assertMatch(text, named);
    }
    // A browser form gets the launch page with the message.
    const page = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
      body: "x=1",
    });
    const html = await page.text();
    assertEquals(page.status, 400);
    assertMatch(
      html,
      /Unknown field in the launch request: &#39;x&#39;|Unknown field in the launch request: 'x'/,
    );
    assertEquals((await store.listRuns({ limit: 1000 })).length, before, "nothing launched");
  } finally {
    release();
  }
});

Deno.test("malformed: a lake listing with a prefix or page token the store refuses is a 400 naming it", async () => {
  // Before: /api/lake/objects answered 503 ('cannot read'), as if the lake were down.
  await using data = await dataServer();
  const base = `${data.server.url}/api/lake`;
  for (
    const [query, pattern] of [
      ["prefix=%00", /Invalid list prefix '\\u0000'/],
      [`prefix=${"a".repeat(2000)}`, /Invalid list prefix/],
      ["prefix=raw/&token=not-a-token", /continuation token was not returned/],
    ] as const
  ) {
    const res = await fetch(`${base}/objects?bucket=data-lake&${query}`);
    const text = await res.text();
    assertClean(`GET /api/lake/objects?${query.slice(0, 40)}`, res, text);
    assertEquals(res.status, 400, text.slice(0, 300));
    assertMatch(JSON.parse(text).message, pattern);
  }
  const key = await fetch(`${base}/object?bucket=data-lake&key=a%00`);
  assertEquals(key.status, 400);
  assertEquals((await key.json()).error, "bad_key");
});

Deno.test("malformed: control and bidirectional characters a request quotes come back escaped in messages", async () => {
  // Before: JSON escaped C0 controls only; DEL, C1 and U+202E (which reorders what a reader
  // sees) came back raw in the message, and raw in the HTML page of an unknown asset.
  const { server, release } = await fixtureServer();
  await using _ = server;
  try {
    const api = await fetch(`${server.url}/api/assets/x%E2%80%AEgnp.exe%7F%C2%9B`);
    assertEquals(api.status, 404);
    const { message } = await api.json();
    assertMatch(message, /Unknown asset 'x\\u202egnp\.exe\\u007f\\u009b'/);
    const html = await fetch(`${server.url}/assets/x%E2%80%AEgnp.exe`);
    assertEquals(html.status, 404);
    const text = await html.text();
    assert(!text.includes("\u202e"), "raw U+202E in the page");
    assertMatch(text, /No asset has key <b>x\\u202egnp\.exe<\/b>/);
  } finally {
    release();
  }
});

Deno.test("malformed: a launch whose JSON field is null is a 400 naming it and launches nothing", async () => {
  // Before: a null field was dropped as if not given, so {"selection": null} ran every asset.
  const { server, release, store } = await fixtureServer();
  await using _ = server;
  try {
    const before = (await store.listRuns({ limit: 1000 })).length;
    for (
      const [body, named] of [
        ['{"selection": null}', /'selection' is null.*every asset/],
        ['{"selection": "raw_events", "exclude": null}', /'exclude' is null/],
      ] as const
    ) {
      const res = await fetch(`${server.url}/actions/launch`, {
        method: "POST",
        headers: {
          origin: server.url,
          "content-type": "application/json",
          accept: "application/json",
        },
        body,
      });
      const text = await res.text();
      assertClean(`POST /actions/launch ${body}`, res, text);
      assertEquals(res.status, 400, `${body}: ${text.slice(0, 300)}`);
      assertMatch(text, named);
    }
    assertEquals((await store.listRuns({ limit: 1000 })).length, before, "nothing launched");
  } finally {
    release();
  }
});

Deno.test("malformed: a JSON launch whose selection is empty ([], [''], '', ',') or whose list/tag values are not text, or a JSON key or form field given twice, is a 400 and launches nothing", async () => {
  // Before: [] and [""] were joined to '' and ',' parsed as "every asset", so each launched every
  // asset; a tag value that is an object became 'a=[object Object]' and a tag value with a comma
  // was split into a broken second tag.
  const { server, release, store } = await fixtureServer();
  await using _ = server;
  try {
    const before = (await store.listRuns({ limit: 1000 })).length;
    for (
      const [body, named] of [
        ['{"selection": []}', /'selection' is an empty list.*leave 'selection' out/],
        ['{"selection": [""]}', /'selection' is an empty list/],
        ['{"selection": ["  ", ""]}', /'selection' is an empty list/],
        ['{"selection": ""}', /'selection' is empty.*leave 'selection' out/],
        ['{"selection": " "}', /'selection' is empty/],
        ['{"selection": ","}', /Selection ',' has no term/],
        ['{"selection": [{"key": "raw_events"}]}', /'selection' holds an object/],
        ['{"selection": [["raw_events"]]}', /'selection' holds a list/],
        ['{"selection": ["raw_events", null]}', /'selection' holds null/],
        ['{"selection": "raw_events", "exclude": []}', /'exclude' is an empty list/],
        ['{"selection": "raw_events", "tags": {"a": {"b": 1}}}', /tag 'a' is an object/],
        ['{"selection": "raw_events", "tags": {"team": "a,b"}}', /tag 'team'.*','/],
        ['{"selection": "raw_events", "tags": [{"a": 1}]}', /'tags' holds an object/],
        // JSON.parse kept the last: this ran 'raw_events' alone.
        [
          '{"selection": "nope",\n "selection": "raw_events"}',
          /key 'selection' appears twice in one object of the JSON body \(line 2\)/,
        ],
      ] as const
    ) {
      const res = await fetch(`${server.url}/actions/launch`, {
        method: "POST",
        headers: {
          origin: server.url,
          "content-type": "application/json",
          accept: "application/json",
        },
        body,
      });
      const text = await res.text();
      assertClean(`POST /actions/launch ${body}`, res, text);
      assertEquals(res.status, 400, `${body}: ${text.slice(0, 300)}`);
      assert(!text.includes("[object Object]"), text);
      assertMatch(JSON.parse(text).message, named);
    }
    // A form field given twice was cut to its last value: this ran 'raw_events' alone.
    const twice = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: {
        origin: server.url,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: "selection=nope&selection=raw_events",
    });
    const text = await twice.text();
    assertEquals(twice.status, 400, text.slice(0, 300));
    assertMatch(JSON.parse(text).message, /'selection' is given 2 times/);
    assertEquals((await store.listRuns({ limit: 1000 })).length, before, "nothing launched");
  } finally {
    release();
  }
});
