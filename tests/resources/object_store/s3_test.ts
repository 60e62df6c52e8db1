/**
 * The S3 store under the narrowed permissions the tasks run with
 * (launch.ts grants `sys` only `hostname`): a call must not need more.
 */

import assert from "node:assert/strict";
import { S3ObjectStore } from "../../../resources/object_store/s3.ts";

Deno.test({
  name: "s3 store: a call works without sys access to osRelease (as under `deno task`)",
  permissions: { net: true, read: true, env: true, sys: ["hostname"] },
  async fn() {
    const agents: string[] = [];
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      (request) => {
        agents.push(request.headers.get("user-agent") ?? "");
        return new Response(null, {
          status: 200,
          headers: { "content-length": "3", etag: '"abc"', "content-type": "text/plain" },
        });
      },
    );
    const store = new S3ObjectStore({
      endpoint: `http://127.0.0.1:${server.addr.port}`,
      credentials: { accessKeyId: "k", secretAccessKey: "s" },
      maxAttempts: 1,
    });
    // Before, the SDK's user agent read os.release(): 'Requires sys access to "osRelease"'.
    const head = await store.head("landing-zone", "a.txt");
    assert.equal(head?.size, 3);
    assert.equal(head?.etag, "abc");
    assert.match(agents[0] ?? "", /deno-data-platform/);
  },
});
