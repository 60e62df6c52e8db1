/**
 * The AWS SDK for S3, imported on first use rather than with the module:
 * loading `@aws-sdk/client-s3` and its Smithy runtime costs ~0.1-0.15 s of
 * CPU at start (a third of the graph's own load time in a cold `deno task
 * materialize`, bench/spatial.ts), which a `file://` or `memory:` lake never
 * needs. An S3 store loads it at its first call.
 *
 * @module
 */

/** The `@aws-sdk/client-s3` module. */
export type AwsSdk = typeof import("@aws-sdk/client-s3");

let loading: Promise<AwsSdk> | undefined;

/** The SDK module, imported once per process (a failed import is tried again next time). */
export function awsSdk(): Promise<AwsSdk> {
  if (loading === undefined) {
    const started = import("@aws-sdk/client-s3");
    loading = started;
    started.catch(() => {
      if (loading === started) loading = undefined;
    });
  }
  return loading;
}
