/**
 * Each notifier against a real peer on loopback: webhooks (Slack and JSON)
 * against an HTTP twin, email against npm:smtp-server with STARTTLS and
 * AUTH, the command hook against a shell script; bad URLs and secrets.
 */

import assert from "node:assert/strict";
import type { Notification } from "../../../core/automation/notification.ts";
import { ResourceError } from "../../../core/errors.ts";
import {
  describeNotifierUrl,
  MemoryNotifier,
  openNotifier,
  openNotifiers,
} from "../../../resources/notifier/mod.ts";
import { CERT_PATH, startSmtp, startWebhook } from "./_servers.ts";

const N: Notification = {
  id: "run:abc:failed:test",
  event: "run_failure",
  title: "Run 1a2b3c4d failed: fct_weather_daily",
  summary: "1 failed: fct_weather_daily (relation raw.raw_weather does not exist)",
  runId: "1a2b3c4d-0000",
  assetKeys: ["fct_weather_daily"],
  links: {
    cli: "deno task cli show 1a2b3c4d-0000",
    ui: "http://localhost:3000/runs/1a2b3c4d-0000",
  },
  time: Date.parse("2024-05-10T12:00:00Z"),
  details: { fct_weather_daily: "relation raw.raw_weather does not exist" },
};

async function rejects(work: Promise<unknown>): Promise<ResourceError> {
  try {
    await work;
  } catch (error) {
    assert.ok(error instanceof ResourceError, String(error));
    return error;
  }
  throw new Error("expected a rejection");
}

Deno.test("slack webhook: Slack's payload with title, summary, details and links; errors redacted", async () => {
  await using hook = startWebhook([503]);
  const notifier = openNotifier(`slack+${hook.url}`);
  assert.equal(notifier.name, "slack");
  assert.doesNotMatch(notifier.description, /SECRET-TOKEN/);
  const error = await rejects(notifier.send(N));
  assert.equal(error.code, "notify.rejected");
  assert.match(error.message, /HTTP 503/);
  assert.doesNotMatch(error.message, /SECRET-TOKEN/);
  await notifier.send(N);
  const body = hook.received[1] as {
    text: string;
    blocks: { type: string; text?: { text: string } }[];
  };
  assert.equal(body.text, ":rotating_light: Run 1a2b3c4d failed: fct_weather_daily");
  const text = JSON.stringify(body.blocks);
  assert.match(text, /relation raw.raw_weather does not exist/);
  assert.match(text, /deno task cli show 1a2b3c4d-0000/);
  assert.match(text, /<http:\/\/localhost:3000\/runs\/1a2b3c4d-0000\|Open in the UI>/);
});

Deno.test("generic webhook: the notification as JSON; a name from the fragment", async () => {
  await using hook = startWebhook();
  const notifier = openNotifier(`${hook.url}#ops`);
  assert.equal(notifier.name, "ops");
  await notifier.send(N);
  assert.deepEqual(hook.received[0], {
    id: N.id,
    event: "run_failure",
    title: N.title,
    summary: N.summary,
    run_id: N.runId,
    assets: ["fct_weather_daily"],
    links: N.links,
    time: "2024-05-10T12:00:00.000Z",
    details: N.details,
  });
  // Sent again (a daemon handover): the same key, for the receiver to drop.
  await notifier.send(N);
  assert.deepEqual(hook.keys, [N.id, N.id]);
});

Deno.test("webhook down: connection refused is notify.unreachable, without the secret path", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const notifier = openNotifier(
    `https://127.0.0.1:${port}/services/T0/B0/XYZ-SECRET?token=abcd1234`,
  );
  const error = await rejects(notifier.send(N));
  assert.equal(error.code, "notify.unreachable");
  assert.doesNotMatch(error.message + notifier.description, /XYZ-SECRET|abcd1234/);
});

Deno.test("email: STARTTLS + AUTH to a real SMTP server; subject, body, links, recipients", async () => {
  await using smtp = await startSmtp();
  const url = `smtp://alerts:s3cret-pass@127.0.0.1:${smtp.port}` +
    `?from=platform@example.test&to=ana@example.test,ops@example.test&ca=${CERT_PATH}`;
  const notifier = openNotifier(url);
  assert.equal(notifier.name, "email");
  assert.doesNotMatch(notifier.description, /s3cret-pass/);
  await notifier.send(N);
  assert.equal(smtp.mails.length, 1);
  const [mail] = smtp.mails;
  assert.ok(mail);
  assert.equal(mail.secure, true, "upgraded with STARTTLS");
  assert.equal(mail.user, "alerts");
  assert.equal(mail.from, "platform@example.test");
  assert.deepEqual(mail.to, ["ana@example.test", "ops@example.test"]);
  assert.match(mail.raw, /Subject: Run 1a2b3c4d failed: fct_weather_daily/);
  assert.match(mail.raw, /relation raw.raw_weather does not exist/);
  assert.match(mail.raw, /CLI: deno task cli show 1a2b3c4d-0000/);
  assert.match(mail.raw, /UI: {2}http:\/\/localhost:3000\/runs\/1a2b3c4d-0000/);
  // Sent again (a daemon handover): one Message-ID, a duplicate to mail systems.
  await notifier.send(N);
  const ids = smtp.mails.map((m) =>
    /^Message-ID: (<[0-9a-f]{40}@platform\.notify>)/mi.exec(m.raw)?.[1]
  );
  assert.ok(ids[0], smtp.mails[0]?.raw);
  assert.equal(ids[1], ids[0]);
  (notifier as unknown as { close(): void }).close();
});

Deno.test("email: wrong password, an untrusted certificate, a server refusing are clear errors without the password", async () => {
  await using smtp = await startSmtp();
  const base = `127.0.0.1:${smtp.port}?from=p@example.test&to=a@example.test`;
  const wrong = await rejects(
    openNotifier(`smtp://alerts:wrong-pass-123@${base}&ca=${CERT_PATH}`).send(N),
  );
  assert.equal(wrong.code, "notify.rejected");
  assert.match(wrong.message, /Invalid username or password|535/);
  assert.doesNotMatch(wrong.message, /wrong-pass-123/);
  const untrusted = await rejects(openNotifier(`smtp://alerts:s3cret-pass@${base}`).send(N));
  assert.match(untrusted.message, /certificate/i);
  smtp.down = 1;
  const refused = await rejects(
    openNotifier(`smtp://alerts:s3cret-pass@${base}&ca=${CERT_PATH}`).send(N),
  );
  assert.match(refused.message, /421|unavailable/i);
  assert.equal(smtp.mails.length, 0);
});

Deno.test("command hook: JSON on stdin, NOTIFY_* in the environment; a failing hook names its exit code", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/got.json`;
    const script = `${dir}/hook.sh`;
    await Deno.writeTextFile(
      script,
      `#!/bin/sh\ncat > "${out}"\necho "$NOTIFY_EVENT $NOTIFY_RUN_ID $1" > "${out}.env"\n`,
    );
    await Deno.chmod(script, 0o755);
    const hook = openNotifier(`exec://${script}?arg=--channel`);
    assert.equal(hook.name, "hook");
    await hook.send(N);
    assert.equal(JSON.parse(await Deno.readTextFile(out)).title, N.title);
    assert.equal(
      (await Deno.readTextFile(`${out}.env`)).trim(),
      "run_failure 1a2b3c4d-0000 --channel",
    );
    const failing = `${dir}/fail.sh`;
    await Deno.writeTextFile(failing, "#!/bin/sh\necho 'slack is down' >&2\nexit 3\n");
    await Deno.chmod(failing, 0o755);
    const error = await rejects(openNotifier(`exec://${failing}`).send(N));
    assert.match(error.message, /exited with 3: slack is down/);
    const missing = await rejects(openNotifier(`exec://${dir}/nope.sh`).send(N));
    assert.equal(missing.code, "notify.unreachable");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("open: several URLs, unique names; bad URLs name NOTIFY_URLS and hide secrets", () => {
  const list = openNotifiers("memory:  memory:#a \n memory:");
  assert.deepEqual(list.map((n) => n.name), ["memory", "a", "memory-2"]);
  assert.deepEqual(openNotifiers(""), []);
  assert.ok(openNotifier("memory:") instanceof MemoryNotifier);
  for (
    const [url, pattern] of [
      ["ftp://user:pw-secret-1@x/y", /unknown scheme 'ftp:'/],
      ["smtp://u:pw-secret-1@host:25?to=a@b.test", /add \?from=/],
      ["smtp://u:pw-secret-1@host:25?from=a@b.test", /add &to=/],
      ["smtp://u:pw-secret-1@host?from=a@b.test&to=c@d.test&starttls=maybe", /starttls must be/],
      ["smtp://u:pw-secret-1@host?from=a@b.test&to=c@d.test&ca=/nope/ca.pem", /cannot read the CA/],
      ["not a url", /not a URL/],
    ] as const
  ) {
    assert.throws(() => openNotifier(url), (error: unknown) => {
      assert.ok(error instanceof ResourceError);
      assert.equal(error.code, "notify.invalid_url");
      assert.match(error.message, /NOTIFY_URLS/);
      assert.match(error.message, pattern);
      assert.doesNotMatch(error.message, /pw-secret-1/);
      return true;
    });
  }
  assert.equal(
    describeNotifierUrl("slack+https://hooks.slack.com/services/T1/B2/abcdef?x=1"),
    "slack+https://hooks.slack.com/***?x=***",
  );
  assert.equal(
    describeNotifierUrl("smtp://alerts:pw@mail.example.com:587?from=a@b.test&to=c@d.test"),
    "smtp://alerts:***@mail.example.com:587?from=a@b.test&to=c@d.test",
  );
});

Deno.test("slow endpoints: a webhook that never answers, an SMTP server that never greets, a hook that never exits fail within timeout_ms", async () => {
  // A TCP peer that accepts and then says nothing: the worst kind of slow.
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (silent.addr as Deno.NetAddr).port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of silent) held.push(conn);
  })();
  // An HTTP peer that reads the request and never answers.
  const hanging = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async () => {
    await hanging.promise;
    return new Response("late");
  });
  const dir = await Deno.makeTempDir();
  try {
    // Each timeout is 300 ms; the bounds sit far above that (a loaded machine
    // adds seconds, not ten) and below what an ignored timeout costs: the
    // 10 s default of webhooks and mail, the 30 s of a hook (and its script).
    const timed = async (notifierUrl: string) => {
      const notifier = openNotifier(notifierUrl);
      const started = performance.now();
      const error = await rejects(notifier.send(N));
      return { error, ms: performance.now() - started, notifier };
    };
    const web = await timed(
      `http://127.0.0.1:${server.addr.port}/hooks/SLOW-SECRET?timeout_ms=300`,
    );
    assert.equal(web.error.code, "notify.timeout");
    assert.match(web.error.message, /no answer within 300 ms/);
    assert.ok(web.ms < 8_000, `${web.ms} ms`);
    assert.doesNotMatch(web.error.message + web.notifier.description, /SLOW-SECRET/);

    const mail = await timed(
      `smtp://alerts:pw-secret-2@127.0.0.1:${port}?from=a@b.test&to=c@d.test&timeout_ms=300`,
    );
    assert.equal(mail.error.code, "notify.timeout");
    // nodemailer's greeting and socket timers are both 300 ms: under load either fires first.
    assert.match(
      mail.error.message,
      /no answer within 300 ms \((Greeting never received|Timeout)\)/,
    );
    assert.ok(mail.ms < 8_000, `${mail.ms} ms`);
    assert.doesNotMatch(mail.error.message, /pw-secret-2/);

    const script = `${dir}/slow.sh`;
    await Deno.writeTextFile(script, "#!/bin/sh\nexec sleep 30\n");
    await Deno.chmod(script, 0o755);
    const hook = await timed(`exec://${script}?timeout_ms=300`);
    assert.equal(hook.error.code, "notify.timeout");
    assert.match(hook.error.message, /did not exit within 300 ms and was killed/);
    assert.ok(hook.ms < 15_000, `${hook.ms} ms`);

    // timeout_ms is a setting, not part of the endpoint, and a bad one is refused.
    for (const bad of ["0", "-5", "1.5", "soon", "600001"]) {
      assert.throws(
        () => openNotifier(`https://hooks.example.test/x?timeout_ms=${bad}`),
        (error: unknown) =>
          error instanceof ResourceError && error.code === "notify.invalid_url" &&
          /timeout_ms must be/.test(error.message),
        bad,
      );
    }
  } finally {
    hanging.resolve();
    await server.shutdown();
    silent.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("timeout_ms is taken out of the webhook's URL; the rest of the query is posted to as given", async () => {
  const seen: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    seen.push(new URL(req.url).search);
    return new Response("ok");
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}/hook`;
    await openNotifier(`${base}?token=abc%2Fdef&timeout_ms=2000&x=1`).send(N);
    await openNotifier(`slack+${base}?timeout_ms=2000#ops`).send(N);
    assert.deepEqual(seen, ["?token=abc%2Fdef&x=1", ""]);
  } finally {
    await server.shutdown();
  }
});
