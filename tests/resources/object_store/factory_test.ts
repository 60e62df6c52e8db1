// openObjectStore: which implementation a URL selects, and its errors.

import assert from "node:assert/strict";
import { resolve } from "node:path";
import { ConfigError } from "../../../core/errors.ts";
import {
  LocalObjectStore,
  MemoryObjectStore,
  openObjectStore,
  S3ObjectStore,
} from "../../../resources/object_store/mod.ts";

Deno.test("memory: gives a fresh in-memory store", async () => {
  await using a = openObjectStore("memory:");
  await using b = openObjectStore("memory:");
  assert.ok(a instanceof MemoryObjectStore);
  assert.equal(a.backend, "memory");
  await a.ensureBucket("lake");
  await assert.rejects(() => b.list("lake"));
});

Deno.test("file: relative and absolute folders", async () => {
  const relative = openObjectStore("file://./data_lake");
  assert.ok(relative instanceof LocalObjectStore);
  assert.equal(relative.root, resolve("data_lake"));
  assert.equal(
    (openObjectStore("file://data_lake") as LocalObjectStore).root,
    resolve("data_lake"),
  );
  assert.equal((openObjectStore("file:./tmp/lake") as LocalObjectStore).root, resolve("tmp/lake"));
  assert.equal((openObjectStore("file:///srv/lake") as LocalObjectStore).root, "/srv/lake");
  assert.equal((openObjectStore("FILE:///srv/my%20lake") as LocalObjectStore).root, "/srv/my lake");
  assert.equal(
    (openObjectStore("file://localhost/srv/lake") as LocalObjectStore).root,
    "/srv/lake",
  );
  await using works = openObjectStore(`file://${await Deno.makeTempDir()}`);
  assert.equal(works.backend, "local");
  await Deno.remove((works as LocalObjectStore).root, { recursive: true });
});

Deno.test("http(s): S3 on that endpoint, credentials from options or the URL", async () => {
  await using minio = openObjectStore("http://minio:9000", {
    credentials: { accessKeyId: "minio", secretAccessKey: "minio-secret" },
  });
  assert.ok(minio instanceof S3ObjectStore);
  assert.equal(minio.endpoint, "http://minio:9000");
  assert.equal(minio.region, "us-east-1");
  await using withUser = openObjectStore(
    "https://user:p%40ss@s3.example.test:9443/?region=eu-west-1",
  );
  assert.ok(withUser instanceof S3ObjectStore);
  assert.equal(withUser.endpoint, "https://s3.example.test:9443");
  assert.equal(withUser.region, "eu-west-1");
  assert.ok(!withUser.endpoint.includes("p%40ss"));
});

Deno.test("s3: AWS by default, or an HTTPS endpoint", async () => {
  await using aws = openObjectStore("s3://", { region: "eu-central-1" });
  assert.ok(aws instanceof S3ObjectStore);
  assert.equal(aws.endpoint, "AWS S3 (eu-central-1)");
  await using custom = openObjectStore("s3://storage.example.test:8443");
  assert.equal((custom as S3ObjectStore).endpoint, "https://storage.example.test:8443");
});

Deno.test("unknown schemes and bad URLs are ConfigErrors that never show the password", () => {
  const cases: [string, string, string][] = [
    ["ftp://user:hunter2@host/lake", "object_store.unsupported_url", "'ftp:'"],
    ["gs://bucket", "object_store.unsupported_url", "'gs:'"],
    ["data_lake", "object_store.unsupported_url", "no scheme"],
    [
      "http://user:hunter2@minio:9000/data-lake",
      "object_store.invalid_url",
      "must not have a path",
    ],
    ["http://user:hunter2@[bad", "object_store.invalid_url", "not a valid URL"],
    ["file://", "object_store.invalid_url", "names no folder"],
  ];
  for (const [url, code, mention] of cases) {
    try {
      openObjectStore(url, { source: "LAKE_URL" });
      assert.fail(`accepted ${url}`);
    } catch (error) {
      assert.ok(error instanceof ConfigError, String(error));
      assert.equal(error.code, code, url);
      assert.ok(error.message.includes(mention), error.message);
      assert.ok(error.message.includes("LAKE_URL"), error.message);
      assert.ok(!error.message.includes("hunter2"), error.message);
      assert.ok(!String(error.input).includes("hunter2"));
    }
  }
});

Deno.test("S3 options are validated at once", () => {
  assert.throws(() => openObjectStore("http://minio:9000", { partSize: 1024 }), RangeError);
  assert.throws(() => openObjectStore(42 as unknown as string), TypeError);
});
