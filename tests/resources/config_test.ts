import assert from "node:assert/strict";
import { ConfigError } from "../../core/errors.ts";
import {
  ConfigSchema,
  DEFAULT_PLACES_FILE,
  loadConfig,
  parseDotenv,
  readDotenv,
} from "../../resources/config.ts";

/** Loads from `env` alone: no `.env` file. */
const load = (env: Record<string, string | undefined>) => loadConfig({ env, dotenvPath: null });

/** The ConfigError `load(env)` throws. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    load(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error;
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

async function withTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "config_test_" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** dbt variables without a default (unset: the platform's own dbt/ and profiles). */
const DBT_OPTIONAL = [
  "DBT_PROJECT_DIR",
  "DBT_PROFILES_DIR",
  "DBT_TARGET",
  "DBT_TARGET_PATH",
  "DBT_PACKAGE_HUB_URL",
];

Deno.test("config: dbt variables are checked at start, naming the variable", () => {
  assert.equal(load({ DBT_PROJECT_DIR: "dbt" }).DBT_PROJECT_DIR, "dbt");
  assert.equal(load({ DBT_TARGET: "duckdb" }).DBT_TARGET, "duckdb");
  for (
    const [env, pattern] of [
      [
        { DBT_PROJECT_DIR: "no/such/dir" },
        /DBT_PROJECT_DIR \('no\/such\/dir'\): .*dbt_project\.yml/,
      ],
      [{ DBT_PROJECT_DIR: "sample_data" }, /DBT_PROJECT_DIR .*dbt_project\.yml/],
      [{ DBT_PROFILES_DIR: "no/such/dir" }, /DBT_PROFILES_DIR .*existing folder/],
      [{ DBT_TARGET: "two words" }, /DBT_TARGET \('two words'\)/],
      [{ DBT_PACKAGE_HUB_URL: "ftp://hub" }, /DBT_PACKAGE_HUB_URL .*http\(s\) URL/],
    ] as const
  ) {
    const error = configError({ ...env });
    assert.match(error.message, pattern);
  }
  for (const name of DBT_OPTIONAL) assert.equal(load({})[name as "DBT_TARGET"], undefined);
});

Deno.test("config: every variable has its documented default", async (t) => {
  const defaults = {
    STATE_DIR: ".state",
    LAKE_URL: "file://./data_lake",
    S3_REGION: "us-east-1",
    LEDGER_URL: "sqlite:.state/ledger.db",
    WAREHOUSE_URL: "pglite:.state/warehouse",
    RUNS_URL: "sqlite:.state/runs.db",
    LANDING_BUCKET: "landing-zone",
    LAKE_BUCKET: "data-lake",
    SPATIAL_URL: "spatialite:",
    TARGET_CRS: "EPSG:4326",
    GDAL_ENGINE: "auto",
    WEATHER_START_DATE: "2026-11-01",
    WEATHER_PLACES_FILE: DEFAULT_PLACES_FILE,
    OPEN_METEO_ARCHIVE_URL: "https://archive-api.open-meteo.com/v1/archive",
    OPEN_METEO_FORECAST_URL: "https://api.open-meteo.com/v1/forecast",
    WEATHER_ARCHIVE_LAG_DAYS: 5,
    HTTP_TIMEOUT_MS: 10_000,
    ACTIVITY_BAD_ROW_TOLERANCE: 0.02,
    DBT_FULL_REFRESH: false,
    SAMPLE_DATA: true,
    SENSOR_INTERVAL_MS: 1_000,
    MANIFEST_FILE_WAIT_MS: 300_000,
    HEALTH_PORT: 0,
    HEALTH_HOST: "127.0.0.1",
    HEALTH_STALE_MS: 60_000,
    RUN_HEARTBEAT_INTERVAL_MS: 10_000,
    NOTIFY_URLS: "",
    RUN_QUEUE: "auto",
    QUEUE_MAX_RUNS: "",
    QUEUE_TAG_LIMITS: "",
    QUEUE_POOL_LIMITS: "",
    QUEUE_POOL_GRANULARITY: "run",
    QUEUE_MAX_RETRIES: 0,
  };

  await t.step("an empty environment gives the embedded defaults", () => {
    const config = load({});
    assert.deepStrictEqual({ ...config }, defaults);
    assert.equal(config.S3_ACCESS_KEY_ID, undefined);
    assert.equal(config.S3_SECRET_ACCESS_KEY, undefined);
    assert.equal(config.UI_URL, undefined);
  });

  await t.step("every variable of the schema is covered here (update this test with it)", () => {
    assert.deepStrictEqual(
      Object.keys(ConfigSchema.shape).sort(),
      [
        ...Object.keys(defaults),
        "S3_ACCESS_KEY_ID",
        "S3_SECRET_ACCESS_KEY",
        "UI_URL",
        ...DBT_OPTIONAL,
      ].sort(),
    );
  });

  await t.step("an empty value means unset", () => {
    assert.equal(load({ RUNS_URL: "", HTTP_TIMEOUT_MS: "" }).RUNS_URL, defaults.RUNS_URL);
    assert.equal(load({ HTTP_TIMEOUT_MS: "" }).HTTP_TIMEOUT_MS, 10_000);
  });

  await t.step("unrelated variables are ignored", () => {
    assert.equal("PATH" in load({ PATH: "/usr/bin", POSTGRES_PASSWORD: "x" }), false);
  });

  await t.step(".env.example documents every variable", async () => {
    const example = await Deno.readTextFile(new URL("../../.env.example", import.meta.url));
    // A commented-out `# NAME=value` documents a variable whose default derives from another.
    const uncommented = example.replace(/^#\s*(?=[A-Z][A-Z0-9_]*=)/gm, "").replace(
      /\s{2,}\(unset:[^)]*\)$/gm,
      "",
    );
    const documented = Object.keys(parseDotenv(uncommented));
    for (const name of Object.keys(ConfigSchema.shape)) {
      assert.ok(documented.includes(name), `${name} is missing from .env.example`);
    }
  });

  await t.step(
    "a variable the code reads by name outside the schema is documented too",
    async () => {
      // GDAL_LIBRARY_PATH was read (resources/spatial/_gdal_ffi.ts) and documented nowhere.
      const root = new URL("../../", import.meta.url);
      const docs = (await Promise.all(
        [".env.example", "README.md"].map((f) => Deno.readTextFile(new URL(f, root))),
      )).join("\n");
      const processBasics = new Set(["HOME", "TMPDIR", "PATH"]);
      const read = new Set<string>();
      const scan = async (dir: URL): Promise<void> => {
        for await (const entry of Deno.readDir(dir)) {
          const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
          if (entry.isDirectory) await scan(url);
          else if (entry.name.endsWith(".ts")) {
            const text = await Deno.readTextFile(url);
            for (const m of text.matchAll(/Deno\.env\.get\("([A-Z][A-Z0-9_]*)"\)/g)) {
              read.add(m[1]!);
            }
          }
        }
      };
      for (const dir of ["core/", "resources/", "assets/", "sensors/", "ui/", "formats/"]) {
        await scan(new URL(dir, root));
      }
      for (const file of ["main.ts", "launch.ts", "graph.ts"]) {
        const text = await Deno.readTextFile(new URL(file, root));
        for (const m of text.matchAll(/Deno\.env\.get\("([A-Z][A-Z0-9_]*)"\)/g)) read.add(m[1]!);
      }
      assert.ok(read.has("UI_TOKEN"), [...read].join(", "));
      for (const name of read) {
        if (processBasics.has(name)) continue;
        assert.match(docs, new RegExp(`\\b${name}\\b`), `${name} is read but documented nowhere`);
      }
    },
  );
});

Deno.test("config: values are parsed and typed", () => {
  const config = load({
    HTTP_TIMEOUT_MS: "2500",
    SENSOR_INTERVAL_MS: " 50 ",
    ACTIVITY_BAD_ROW_TOLERANCE: "0.5",
    SAMPLE_DATA: "false",
    TARGET_CRS: "EPSG:3857",
    WEATHER_START_DATE: "2024-02-29",
    STATE_DIR: "  /var/lib/platform  ",
  });
  assert.equal(config.HTTP_TIMEOUT_MS, 2500);
  assert.equal(config.SENSOR_INTERVAL_MS, 50);
  assert.equal(config.ACTIVITY_BAD_ROW_TOLERANCE, 0.5);
  assert.equal(config.SAMPLE_DATA, false);
  assert.equal(load({ SAMPLE_DATA: "0" }).SAMPLE_DATA, false);
  assert.equal(load({ SAMPLE_DATA: "yes" }).SAMPLE_DATA, true);
  assert.equal(config.TARGET_CRS, "EPSG:3857");
  assert.equal(config.WEATHER_START_DATE, "2024-02-29");
  assert.equal(config.STATE_DIR, "/var/lib/platform");
});

Deno.test("config: the embedded stores follow STATE_DIR unless their own URL is set", () => {
  const moved = load({ STATE_DIR: "/var/lib/platform" });
  assert.deepEqual([moved.LEDGER_URL, moved.WAREHOUSE_URL, moved.RUNS_URL], [
    "sqlite:/var/lib/platform/ledger.db",
    "pglite:/var/lib/platform/warehouse",
    "sqlite:/var/lib/platform/runs.db",
  ]);
  const own = load({ STATE_DIR: "/var/lib/platform", RUNS_URL: "memory:" });
  assert.equal(own.RUNS_URL, "memory:");
  assert.equal(own.LEDGER_URL, "sqlite:/var/lib/platform/ledger.db");
  const plain = load({});
  assert.deepEqual([plain.LEDGER_URL, plain.WAREHOUSE_URL, plain.RUNS_URL], [
    "sqlite:.state/ledger.db",
    "pglite:.state/warehouse",
    "sqlite:.state/runs.db",
  ]);
});

Deno.test("config: each URL variable accepts its schemes and rejects others, naming itself", async (t) => {
  const cases: Record<string, { ok: string[]; bad: string[] }> = {
    LAKE_URL: {
      ok: [
        "file://./data_lake",
        "file:///srv/lake",
        "s3://",
        "http://localhost:9000",
        "https://s3.example.com",
        "memory:",
      ],
      bad: ["./data_lake", "ftp://host", "sqlite:lake.db", "postgres://db/x"],
    },
    LEDGER_URL: {
      ok: [
        "sqlite:.state/ledger.db",
        "mongodb://host:27017/db",
        "mongodb+srv://cluster.example/db",
        "memory:",
      ],
      bad: ["mongo://host", "postgres://db/x", "ledger.db"],
    },
    WAREHOUSE_URL: {
      ok: [
        "pglite:.state/warehouse",
        "postgres://u@db:5432/x",
        "postgresql://u@db/x",
        "duckdb:.state/warehouse.duckdb?threads=2",
        "duckdb::memory:",
      ],
      bad: ["sqlite:w.db", "mysql://db/x", "pg://db", "duck:x.db"],
    },
    RUNS_URL: {
      ok: ["sqlite:.state/runs.db", "postgres://db/x", "postgresql://db/x", "memory:"],
      bad: ["mongodb://host", "runs.db", "pglite:x"],
    },
    SPATIAL_URL: {
      ok: ["spatialite:", "postgres://db/gis", "postgresql://db/gis"],
      bad: ["gdal:", "sqlite:x"],
    },
    OPEN_METEO_ARCHIVE_URL: {
      ok: ["http://127.0.0.1:8080/archive", "https://archive-api.open-meteo.com/v1/archive"],
      bad: ["file:///tmp/x", "archive-api.open-meteo.com"],
    },
    OPEN_METEO_FORECAST_URL: {
      ok: ["http://127.0.0.1:8080/forecast"],
      bad: ["ws://host"],
    },
  };
  for (const [name, { ok, bad }] of Object.entries(cases)) {
    await t.step(name, () => {
      for (const value of ok) {
        assert.equal(load({ [name]: value })[name as keyof ReturnType<typeof load>], value);
      }
      for (const value of bad) {
        const error = configError({ [name]: value });
        assert.equal(error.code, "config.invalid");
        assert.equal(error.input, name);
        assert.match(error.message, new RegExp(`${name} \\('[^']*'\\): ${name} must start with '`));
      }
    });
  }
});

Deno.test("config: a URL naming no folder, file or host, or a bad host or bucket, fails at start naming the variable and the rule", () => {
  const cases: [name: string, value: string, rule: RegExp][] = [
    ["LAKE_URL", "file://", /LAKE_URL names no folder; use file:\/\/\.\/data_lake/],
    ["LAKE_URL", "file:", /LAKE_URL names no folder/],
    [
      "LAKE_URL",
      "s3://bücket",
      /LAKE_URL host 'bücket' is not a host name.*LAKE_BUCKET the buckets/,
    ],
    ["LAKE_URL", "http://", /LAKE_URL (names no host|is not a valid URL)/],
    [
      "LAKE_URL",
      "https://a!b.example",
      /LAKE_URL (host 'a!b\.example' is not a host name|is not a valid URL)/,
    ],
    ["RUNS_URL", "sqlite:", /RUNS_URL names no database file; use sqlite:/],
    ["LEDGER_URL", "sqlite://", /LEDGER_URL names no database file/],
    ["WAREHOUSE_URL", "pglite:", /WAREHOUSE_URL names no data folder/],
    ["WAREHOUSE_URL", "duckdb:", /WAREHOUSE_URL names no database file/],
    ["SPATIAL_URL", "postgres://ü.example/gis", /SPATIAL_URL host 'ü\.example' is not a host name/],
    [
      "OPEN_METEO_ARCHIVE_URL",
      "http:archive",
      /OPEN_METEO_ARCHIVE_URL needs 'http:\/\/' before the host/,
    ],
    ["LANDING_BUCKET", "Landing_Zone", /LANDING_BUCKET is not a valid bucket name .*lowercase/],
    ["LAKE_BUCKET", "ab", /LAKE_BUCKET is not a valid bucket name \(it has 2 characters\)/],
  ];
  for (const [name, value, rule] of cases) {
    const error = configError({ [name]: value });
    assert.equal(error.code, "config.invalid", `${name}=${value}`);
    assert.equal(error.input, name);
    assert.match(error.message, rule);
  }
  // A password never shows, even next to a bad host.
  const secret = configError({ LAKE_URL: "s3://key:SECRETPASS@bücket" });
  assert.doesNotMatch(secret.message, /SECRETPASS/);
  // Control characters and very long values are shown escaped and clipped.
  const odd = configError({ RUNS_URL: `mysql:\x1b[2J${"x".repeat(5000)}` });
  assert.match(odd.message, /RUNS_URL \('mysql:\\u001b\[2Jx+\.\.\. \(5010 characters\)'\)/);
  assert.ok(odd.message.length < 1000, `${odd.message.length} characters`);
  // Still fine: relative and absolute folders, AWS, a local endpoint, memory stores.
  for (
    const [name, value] of [
      ["LAKE_URL", "file://data_lake"],
      ["LAKE_URL", "s3://"],
      ["LAKE_URL", "s3://127.0.0.1:9000"],
      ["LAKE_URL", "http://[::1]:9000"],
      ["RUNS_URL", "sqlite::memory:"],
      ["WAREHOUSE_URL", "pglite:memory:"],
      ["WAREHOUSE_URL", "postgres://"],
      // libpq's host list and a socket folder in the host's place.
      ["RUNS_URL", "postgresql://u@a.example,b.example:5433/runs"],
      ["WAREHOUSE_URL", "postgres://u@%2Fvar%2Frun%2Fpostgresql/w"],
      // A Compose service name with an underscore.
      ["LAKE_URL", "http://minio_1:9000"],
    ]
  ) assert.equal(load({ [name as string]: value as string })[name as "LAKE_URL"], value);
});

Deno.test("config: a MongoDB host list is checked like a parsed URL's host, secrets masked", () => {
  // Before: accepted, then the launcher granted '--allow-net=h1:99999' (or 'ss@h1' for a
  // password with an unencoded '@') and Deno died on it with a stack trace, exit 1.
  for (
    const value of [
      "mongodb://u:pw@h1:99999/db",
      "mongodb://u:pw@h1:0/db",
      "mongodb://u:pw@h1,h 2/db",
      "mongodb://u:pw@/db",
      "mongodb+srv://u:pw@clu$ter/db",
    ]
  ) {
    const error = configError({ LEDGER_URL: value });
    assert.equal(error.code, "config.invalid", value);
    assert.match(error.message, /LEDGER_URL is not a valid URL: check the host, the port/);
    assert.doesNotMatch(error.message, /pw/);
  }
  for (
    const value of [
      "mongodb://u:p%40ss@h1:27017,h2,[::1]:27019/db?replicaSet=rs0",
      "mongodb://h1/db",
      "mongodb+srv://u:pw@cluster0.example.net/db",
    ]
  ) {
    assert.equal(load({ LEDGER_URL: value }).LEDGER_URL, value);
  }
});

Deno.test("config: other bad values fail with the variable's name and what was expected", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ HTTP_TIMEOUT_MS: "soon" }, /HTTP_TIMEOUT_MS \('soon'\): .*must be a number in decimal/],
    // Read by z.coerce.number() as 16, 1000, Infinity and 1e20 before, and taken.
    [
      { HTTP_TIMEOUT_MS: "0x10" },
      /HTTP_TIMEOUT_MS \('0x10'\): HTTP_TIMEOUT_MS must be a number in decimal digits, e\.g\. 10000/,
    ],
    [{ SENSOR_INTERVAL_MS: "1e3" }, /SENSOR_INTERVAL_MS \('1e3'\): .*decimal digits/],
    [
      { WEATHER_ARCHIVE_LAG_DAYS: "Infinity" },
      /WEATHER_ARCHIVE_LAG_DAYS \('Infinity'\): .*decimal/,
    ],
    [{ QUEUE_MAX_RETRIES: "0b11" }, /QUEUE_MAX_RETRIES \('0b11'\): .*decimal/],
    [
      { ACTIVITY_BAD_ROW_TOLERANCE: "2e-2" },
      /ACTIVITY_BAD_ROW_TOLERANCE \('2e-2'\): .*e\.g\. 0\.02/,
    ],
    [
      { RUN_HEARTBEAT_INTERVAL_MS: "99999999999999999999" },
      /RUN_HEARTBEAT_INTERVAL_MS \('9+'\): .*decimal/,
    ],
    // setTimeout fires at once for a delay above 2^31-1 ms: a 25-day timeout was none.
    [{ HTTP_TIMEOUT_MS: "3000000000" }, /HTTP_TIMEOUT_MS \('3000000000'\): .*<=2147483647/],
    [{ HTTP_TIMEOUT_MS: "0" }, /HTTP_TIMEOUT_MS \('0'\): .*>0/],
    [{ HTTP_TIMEOUT_MS: "1.5" }, /HTTP_TIMEOUT_MS \('1.5'\): .*int/],
    [{ SENSOR_INTERVAL_MS: "-5" }, /SENSOR_INTERVAL_MS \('-5'\)/],
    [{ RUN_HEARTBEAT_INTERVAL_MS: "10" }, /RUN_HEARTBEAT_INTERVAL_MS \('10'\): .*>=50/],
    [{ RUN_HEARTBEAT_INTERVAL_MS: "2.5" }, /RUN_HEARTBEAT_INTERVAL_MS \('2.5'\): .*int/],
    [{ ACTIVITY_BAD_ROW_TOLERANCE: "2" }, /ACTIVITY_BAD_ROW_TOLERANCE \('2'\): .*<=1/],
    [{ SAMPLE_DATA: "maybe" }, /SAMPLE_DATA \('maybe'\): .*"true"/],
    [{ GDAL_ENGINE: "fast" }, /GDAL_ENGINE \(.fast.\): GDAL_ENGINE must be auto, native/],
    [{ TARGET_CRS: "4326" }, /TARGET_CRS \('4326'\): TARGET_CRS must look like EPSG:4326/],
    [{ WEATHER_START_DATE: "01/11/2026" }, /WEATHER_START_DATE \('01\/11\/2026'\): .*YYYY-MM-DD/],
    [{ WEATHER_START_DATE: "2026-02-30" }, /WEATHER_START_DATE \('2026-02-30'\): .*real date/],
    // Before: accepted, and each day before 1940 failed at run time (Open-Meteo has none).
    [
      { WEATHER_START_DATE: "1900-01-01" },
      /WEATHER_START_DATE \('1900-01-01'\): .*1940-01-01 or later: Open-Meteo's archive starts there/,
    ],
    [{ LANDING_BUCKET: "x" }, /LANDING_BUCKET \('x'\)/],
    [{ WEATHER_ARCHIVE_LAG_DAYS: "-1" }, /WEATHER_ARCHIVE_LAG_DAYS \('-1'\): .*>=0/],
  ];
  for (const [env, pattern] of cases) {
    const error = configError(env);
    assert.match(error.message, /^Invalid configuration: /);
    assert.match(error.message, pattern);
    assert.equal(error.input, Object.keys(env)[0]);
  }
});

Deno.test("config: every bad variable is reported at once", () => {
  const error = configError({ RUNS_URL: "mysql://x", HTTP_TIMEOUT_MS: "never" });
  assert.match(error.message, /RUNS_URL \('mysql:\/\/x'\)/);
  assert.match(error.message, /HTTP_TIMEOUT_MS \('never'\)/);
});

Deno.test("config: secrets never appear in an error message", async (t) => {
  await t.step("passwords in URLs", () => {
    const secrets = ["hunter2", "p@ss/w?rd#1", "s3cr3t"];
    for (
      const [name, value] of [
        ["RUNS_URL", "mysql://admin:hunter2@db:3306/runs"],
        ["LEDGER_URL", "couchdb://admin:p@ss/w?rd#1@db/ledger"],
        ["WAREHOUSE_URL", "mssql://sa:s3cr3t@db/x?password=s3cr3t"],
      ] as const
    ) {
      const error = configError({ [name]: value });
      for (const secret of secrets) assert.ok(!error.message.includes(secret), error.message);
      assert.match(error.message, new RegExp(`${name} \\('[a-z]+://[a-z]+:\\*\\*\\*@`));
    }
  });

  await t.step(
    "URLs that do not parse fail at start, naming the variable, never the password",
    () => {
      for (
        const [name, value] of [
          ["WAREHOUSE_URL", "postgres://user:SECRETPASS@127.0.0.1:99999/x"],
          ["SPATIAL_URL", "postgresql://user:SECRETPASS@127.0.0.1:99999/x"],
          ["RUNS_URL", "postgres://user:SECRETPASS@[::1/x"],
          ["LAKE_URL", "http://user:SECRETPASS@127.0.0.1:70000"],
          ["OPEN_METEO_ARCHIVE_URL", "http://127.0.0.1:99999/v1/archive?apikey=SECRETPASS"],
          ["OPEN_METEO_FORECAST_URL", "https://x y/v1/forecast?apikey=SECRETPASS"],
        ] as const
      ) {
        const error = configError({ [name]: value });
        assert.equal(error.input, name);
        assert.match(error.message, new RegExp(`${name} \\('.*'\\): ${name} is not a valid URL`));
        assert.doesNotMatch(`${error.message}\n${error.stack}`, /SECRETPASS/);
      }
      // A MongoDB URI may list several hosts, which URL cannot parse: the driver checks it.
      assert.equal(
        load({ LEDGER_URL: "mongodb://u:p@h1:1,h2:2/db" }).LEDGER_URL,
        "mongodb://u:p@h1:1,h2:2/db",
      );
    },
  );

  await t.step("S3_SECRET_ACCESS_KEY never shows, even next to a bad value", () => {
    const error = configError({
      S3_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG",
      LAKE_URL: "ftp://AKIA:wJalrXUtnFEMI/K7MDENG@host",
    });
    assert.ok(!error.message.includes("wJalrXUtnFEMI"), error.message);
    assert.ok(!String(error.stack).includes("wJalrXUtnFEMI"));
  });

  await t.step("a bad .env line is reported by number, not by value", async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/.env`;
      await Deno.writeTextFile(
        path,
        `RUNS_URL=memory:\nS3_SECRET_ACCESS_KEY="unterminated-s3cret\n`,
      );
      const error = (() => {
        try {
          readDotenv(path);
        } catch (e) {
          return e;
        }
      })();
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.code, "config.dotenv");
      assert.equal(error.input, path);
      assert.match(error.message, new RegExp(`Cannot read ${path}: line 2 is not KEY=VALUE`));
      assert.ok(!error.message.includes("s3cret"));
    });
  });
});

Deno.test(".env: parsing", async (t) => {
  await t.step("KEY=VALUE, export, spaces, comments, quotes", () => {
    assert.deepStrictEqual(
      parseDotenv(
        [
          "# a comment",
          "",
          "   ",
          "PLAIN=value",
          "export EXPORTED=yes",
          "  SPACED  =  padded  ",
          "TRAILING=value # a comment",
          "HASH=a#b",
          'DOUBLE="two words"',
          "SINGLE='it # is not a comment'",
          'QUOTED_COMMENT="quoted" # and a comment',
          'NEWLINE="line1\\nline2"',
          "LITERAL='line1\\nline2'",
          "EQUALS=postgres://u:p@h/db?a=b",
          "EMPTY=",
          'EMPTY_QUOTED=""',
          "WINDOWS=crlf\r",
          "LATER=first",
          "LATER=second",
        ].join("\n"),
      ),
      {
        PLAIN: "value",
        EXPORTED: "yes",
        SPACED: "padded",
        TRAILING: "value",
        HASH: "a#b",
        DOUBLE: "two words",
        SINGLE: "it # is not a comment",
        QUOTED_COMMENT: "quoted",
        NEWLINE: "line1\nline2",
        LITERAL: "line1\\nline2",
        EQUALS: "postgres://u:p@h/db?a=b",
        EMPTY: "",
        EMPTY_QUOTED: "",
        WINDOWS: "crlf",
        LATER: "second",
      },
    );
  });

  await t.step("a line of another shape is an error naming its number", () => {
    for (
      const [text, line] of [
        ["OK=1\nnot a setting", 2],
        ["1BAD=x", 1],
        ["A=1\n\nB='unterminated", 3],
        ["C=\"mismatched'", 1],
      ] as const
    ) {
      assert.throws(() => parseDotenv(text), (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, new RegExp(`^line ${line} is not KEY=VALUE`));
        return true;
      });
    }
  });

  await t.step("a missing .env is no error", async () => {
    await withTempDir((dir) => assert.deepStrictEqual(readDotenv(`${dir}/.env`), {}));
  });

  await t.step("the environment wins over .env; .env wins over the defaults", async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/.env`;
      await Deno.writeTextFile(
        path,
        "RUNS_URL=memory:\nHTTP_TIMEOUT_MS=1234\nLAKE_URL=s3://\nSTATE_DIR=\n",
      );
      const config = loadConfig({ env: { LAKE_URL: "memory:", STATE_DIR: "" }, dotenvPath: path });
      assert.equal(config.LAKE_URL, "memory:", "environment over .env");
      assert.equal(config.RUNS_URL, "memory:", ".env over default");
      assert.equal(config.HTTP_TIMEOUT_MS, 1234);
      assert.equal(config.STATE_DIR, ".state", "empty in both: the default");
    });
  });

  await t.step("a bad value from .env is named like one from the environment", async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/.env`;
      await Deno.writeTextFile(
        path,
        "RUNS_URL=postgres://u:topsecret@db/x?x=1\nWAREHOUSE_URL=mysql://u:topsecret@db/x\n",
      );
      const error = (() => {
        try {
          loadConfig({ env: {}, dotenvPath: path });
        } catch (e) {
          return e;
        }
      })();
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(
        error.message,
        /WAREHOUSE_URL \('mysql:\/\/u:\*\*\*@db\/x'\): WAREHOUSE_URL must start with/,
      );
      assert.ok(!error.message.includes("topsecret"));
    });
  });

  await t.step("the default .env path is in the working directory", async () => {
    await withTempDir(async (dir) => {
      await Deno.writeTextFile(`${dir}/.env`, "SENSOR_INTERVAL_MS=77\n");
      // A subprocess, so this test's own working directory never changes.
      const child = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `--config=${new URL("../../deno.json", import.meta.url).pathname}`,
          `import { loadConfig } from ${
            JSON.stringify(new URL("../../resources/config.ts", import.meta.url).href)
          };
           console.log(loadConfig({ env: {} }).SENSOR_INTERVAL_MS);`,
        ],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(child.stderr);
      assert.equal(child.code, 0, stderr);
      assert.equal(new TextDecoder().decode(child.stdout).trim(), "77");
    });
  });
});

Deno.test("config: queue limits are checked at start, naming the variable", () => {
  const cases: [Record<string, string>, RegExp][] = [
    [
      { QUEUE_TAG_LIMITS: "group=spatial" },
      /QUEUE_TAG_LIMITS: Cannot read tag limit 'group=spatial'/,
    ],
    [{ QUEUE_POOL_LIMITS: "warehouse=0" }, /QUEUE_POOL_LIMITS: .*'0' is not a whole number >= 1/],
    [{ QUEUE_MAX_RUNS: "-3" }, /QUEUE_MAX_RUNS must be a whole number >= 1/],
    [{ RUN_QUEUE: "maybe" }, /RUN_QUEUE must be auto/],
    [{ QUEUE_POOL_GRANULARITY: "op" }, /QUEUE_POOL_GRANULARITY must be run .* or step/],
  ];
  for (const [env, message] of cases) {
    assert.throws(() => loadConfig({ env, dotenvPath: null }), message);
  }
  const ok = loadConfig({
    env: {
      QUEUE_TAG_LIMITS: "group=spatial:2,team=*:3",
      QUEUE_POOL_LIMITS: "warehouse=2",
      QUEUE_MAX_RUNS: "9",
      QUEUE_POOL_GRANULARITY: "step",
    },
    dotenvPath: null,
  });
  assert.equal(ok.QUEUE_TAG_LIMITS, "group=spatial:2,team=*:3");
  assert.equal(ok.QUEUE_POOL_GRANULARITY, "step");
});

Deno.test("config: a server URL with port 0 or a broken percent-escape fails at start, secrets masked", () => {
  // Before: accepted; port 0 reached the driver, and 'p%ss' made the driver's
  // decodeURIComponent throw 'URI malformed' at the first connection, naming no variable.
  for (
    const [name, value] of [
      ["SPATIAL_URL", "postgres://u:pw@h:0/db"],
      ["RUNS_URL", "postgres://u:sec%ret@h/db"],
      ["WAREHOUSE_URL", "postgresql://u%:pw@h/db"],
      ["LAKE_URL", "http://minio:0"],
      ["LEDGER_URL", "mongodb://u:pw%zz@h1/db"],
    ]
  ) {
    const error = configError({ [name as string]: value as string });
    assert.equal(error.input, name, value);
    assert.match(
      error.message,
      new RegExp(
        `${name} is not a valid URL: check the host, the port \\(1-65535\\) and that special characters`,
      ),
    );
    assert.doesNotMatch(error.message, /sec%ret|pw%zz|[:@]pw@/, "the password is masked");
  }
  // A correctly escaped password is fine.
  assert.equal(
    load({ RUNS_URL: "postgres://u:p%40ss%25@h:5432/db" }).RUNS_URL,
    "postgres://u:p%40ss%25@h:5432/db",
  );
});

Deno.test("config: a password with an unencoded '/' never shows a piece of itself as the host", () => {
  // Before: postgres://user:p@ss:w/ord@h/db said "host 'ss:w' is not a host name": the '/'
  // ended the URL's host early, so the message quoted part of the password.
  for (
    const [name, value] of [
      ["RUNS_URL", "postgres://user:p@ss:w/ord@127.0.0.1:5432/db"],
      ["SPATIAL_URL", "postgresql://user:p@ss!w?ord@db/gis"],
      ["LAKE_URL", "s3://key:se@cr!et/x@minio:9000"],
      ["NOTIFY_URLS", "https://u:p@ss!w/ord@hooks.example/x"],
      // A valid host before the '/': the driver connected to 'ss' (ENOTFOUND ss).
      ["RUNS_URL", "postgres://u:p@ss/w@h/db"],
      ["SPATIAL_URL", "postgres://u:p@ss?w@h/db"],
    ]
  ) {
    const error = configError({ [name as string]: value as string });
    assert.equal(error.input, name, value);
    assert.doesNotMatch(error.message, /ss:w|ss!w|cr!et|p@ss|se@cr/, error.message);
    assert.match(error.message, /percent-encoded|not a URL/, error.message);
  }
});

Deno.test("config: a .env with a NUL byte, or in UTF-16, is refused saying which", () => {
  // Before: UTF-16 read as "line 1 is not KEY=VALUE"; a NUL inside STATE_DIR passed and failed
  // later opening the run store (exit 1).
  const utf16 = "STATE_DIR=x\n".split("").map((c) => `${c}\u0000`).join("");
  for (
    const [text, message] of [
      [utf16, /the file is UTF-16 text \(every other byte is zero\); save it as UTF-8/],
      [`\ufffd\ufffd${utf16}`, /the file is UTF-16 text/],
      ["A=1\nSTATE_DIR=/srv/st\u0000x\n", /line 2 holds a NUL byte; remove it/],
    ] as const
  ) {
    assert.throws(() => parseDotenv(text), (error: Error) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      return true;
    });
  }
});

Deno.test("config: NOTIFY_URLS entries are checked at start (scheme, host, timeout_ms), every password masked", () => {
  // Before: an unknown scheme or a bad timeout_ms failed the daemon later with exit 1, and a
  // non-ASCII host crashed the launcher with a Rust stack.
  const cases: [string, RegExp][] = [
    ["ftp://x", /NOTIFY_URLS: 'ftp:\/\/x' has the unknown scheme 'ftp:' \(use slack\+https/],
    ["http://", /NOTIFY_URLS: 'http:\/\/' is not a URL/],
    ["smtp://u:SECRETPASS@bü:25", /has the host 'bü:25', not a host name/],
    ["https://h.example/x?timeout_ms=0", /has timeout_ms '0': give a whole number of milliseconds/],
    [
      "https://a:FIRSTPASS@h.example/x smtp://u:SECONDPASS@bü:25",
      /'smtp:\/\/u:\*\*\*@bü:25' has the host/,
    ],
  ];
  for (const [value, rule] of cases) {
    const error = configError({ NOTIFY_URLS: value });
    assert.equal(error.code, "config.invalid", value);
    assert.equal(error.input, "NOTIFY_URLS");
    assert.match(error.message, rule);
    assert.doesNotMatch(error.message, /SECRETPASS|FIRSTPASS|SECONDPASS/);
  }
  const ok =
    "exec:///bin/true memory: slack+https://hooks.slack.com/services/x#ops smtps://u:p@mail.example:465?to=a@b.c";
  assert.equal(load({ NOTIFY_URLS: ok }).NOTIFY_URLS, ok);
});

Deno.test("config: a relative path typed in the environment is read from where the command was typed (INIT_CWD under deno task); .env values and defaults from the working folder", async () => {
  // Before: `cd ~/work && STATE_DIR=state deno task --config ~/platform/deno.json materialize`
  // kept its state in ~/platform/state (deno task runs in the repository), not ~/work/state.
  const typed = load({
    INIT_CWD: "/home/ann/work",
    STATE_DIR: "state",
    RUNS_URL: "sqlite:runs/r.db",
    LAKE_URL: "file://./my lake",
    WEATHER_PLACES_FILE: "../places.json",
  });
  assert.equal(typed.STATE_DIR, "/home/ann/work/state");
  assert.equal(typed.LEDGER_URL, "sqlite:/home/ann/work/state/ledger.db");
  assert.equal(typed.WAREHOUSE_URL, "pglite:/home/ann/work/state/warehouse");
  assert.equal(typed.RUNS_URL, "sqlite:/home/ann/work/runs/r.db");
  assert.equal(typed.LAKE_URL, "file:///home/ann/work/my%20lake");
  assert.equal(typed.WEATHER_PLACES_FILE, "/home/ann/places.json");
  // Absolute paths, memory and server URLs are kept as given.
  const kept = load({
    INIT_CWD: "/home/ann/work",
    STATE_DIR: "/srv/state",
    RUNS_URL: "sqlite::memory:",
    LEDGER_URL: "sqlite:///var/l.db",
    WAREHOUSE_URL: "postgres://u:p@h/db",
    LAKE_URL: "s3://lake",
  });
  assert.deepEqual(
    [kept.STATE_DIR, kept.RUNS_URL, kept.LEDGER_URL, kept.WAREHOUSE_URL, kept.LAKE_URL],
    ["/srv/state", "sqlite::memory:", "sqlite:///var/l.db", "postgres://u:p@h/db", "s3://lake"],
  );
  // Without INIT_CWD (deno run, a container's command) nothing changes.
  assert.equal(load({ STATE_DIR: "state" }).STATE_DIR, "state");
  // .env sits in the repository: its relative values, and the defaults, stay relative to it.
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/.env`, "STATE_DIR=dotstate\n");
    const config = loadConfig({ env: { INIT_CWD: "/home/ann/work" }, dotenvPath: `${dir}/.env` });
    assert.equal(config.STATE_DIR, "dotstate");
    assert.equal(config.RUNS_URL, "sqlite:dotstate/runs.db");
    assert.equal(config.LAKE_URL, "file://./data_lake");
  });
});

// In a compiled binary the native GDAL engine's host processes would run the binary (the
// platform's CLI) instead of deno: GDAL_ENGINE=native is refused at start, not mid-batch.
Deno.test("loadConfig refuses GDAL_ENGINE=native in a compiled binary and keeps auto and wasm", () => {
  const env = { GDAL_ENGINE: "native", RUNS_URL: "memory:" };
  assert.throws(
    () => loadConfig({ env, dotenvPath: null, standalone: true }),
    (error: unknown) =>
      error instanceof ConfigError && error.code === "config.native_gdal_in_binary" &&
      error.input === "GDAL_ENGINE" && /deno task .*deno run.*Docker image/.test(error.message) &&
      /the binary carries the embedded GDAL/.test(error.message),
  );
  assert.equal(loadConfig({ env, dotenvPath: null, standalone: false }).GDAL_ENGINE, "native");
  for (const setting of ["auto", "wasm"]) {
    const config = loadConfig({
      env: { ...env, GDAL_ENGINE: setting },
      dotenvPath: null,
      standalone: true,
    });
    assert.equal(config.GDAL_ENGINE, setting);
  }
});
