/**
 * The lake & lineage browser: the buckets (landing zone with its quarantine,
 * data lake) folder by folder, and for one object its head, its ledger
 * document, the run that wrote it and the source files it came from;
 * quarantined inputs with their error reports.
 *
 * @module
 */

import { oneOfParam } from "../params.ts";
import { toError } from "../../core/errors.ts";
import type { MetadataValue } from "../../core/metadata.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { ObjectHead, ObjectStore } from "../../resources/object_store/types.ts";
import type { UiContext } from "../context.ts";
import { empty, h, type Html, metadataTable, runLink, time } from "../html.ts";
import { LedgerReadError, readLedgerDocument } from "../ledger_read.ts";

/** Href of an object page. */
export function objectHref(bucket: string, key: string): string {
  return `/lake/object?${new URLSearchParams({ bucket, key })}`;
}

function unavailable(what: string): Html {
  return h`<p class="warn">This UI was started without ${what}.</p>`;
}

/** The bucket browser. */
export async function lakePage(
  ctx: UiContext,
  query: { bucket?: string | undefined; prefix?: string | undefined; token?: string | undefined },
): Promise<Html> {
  const lakeOpen = ctx.lake();
  if (!lakeOpen) return h`<h1>Lake & lineage</h1>${unavailable("a lake")}`;
  const lake = await lakeOpen;
  const buckets = [ctx.landingBucket, ctx.lakeBucket];
  const bucket = oneOfParam("bucket", query.bucket, buckets);
  const tabs = buckets.map((b) =>
    h`<a class="tab ${b === bucket ? "active" : ""}" href="/lake?bucket=${b}">${b}</a>`
  );
  let listing: Html = h`<p>Pick a bucket. Quarantined inputs are listed below.</p>`;
  if (bucket) {
    const prefix = query.prefix ?? "";
    try {
      const page = await lake.list(bucket, {
        prefix,
        delimiter: "/",
        pageSize: 200,
        ...(query.token ? { continuationToken: query.token } : {}),
      });
      const up = prefix ? prefix.replace(/[^/]*\/$/, "") : undefined;
      listing = h`<p class="crumbs"><a href="/lake?bucket=${bucket}">${bucket}</a> / ${
        prefix.split("/").filter(Boolean).map((part, i, all) =>
          h`<a href="/lake?${new URLSearchParams({
            bucket,
            prefix: `${all.slice(0, i + 1).join("/")}/`,
          })}">${part}</a> / `
        )
      }</p>
<table class="list objects"><thead><tr><th>name</th><th>size</th><th>modified</th></tr></thead><tbody>
${
        up !== undefined
          ? h`<tr><td><a href="/lake?${new URLSearchParams({
            bucket,
            prefix: up,
          })}">..</a></td><td></td><td></td></tr>`
          : ""
      }
${
        page.prefixes.map((p) =>
          h`<tr class="folder"><td><a href="/lake?${new URLSearchParams({ bucket, prefix: p })}">${
            p.slice(prefix.length)
          }</a></td><td></td><td></td></tr>`
        )
      }
${
        page.objects.map((o) =>
          h`<tr class="object" data-key="${o.key}"><td><a href="${objectHref(bucket, o.key)}">${
            o.key.slice(prefix.length)
          }</a></td><td class="num">${o.size.toLocaleString("en")}</td><td>${
            time(o.lastModified.getTime())
          }</td></tr>`
        )
      }
</tbody></table>
${
        page.nextContinuationToken
          ? h`<a href="/lake?${new URLSearchParams({
            bucket,
            prefix,
            token: page.nextContinuationToken,
          })}">more →</a>`
          : ""
      }
${page.objects.length + page.prefixes.length === 0 ? empty("Empty.") : ""}`;
    } catch (error) {
      listing = h`<p class="warn">Cannot list ${bucket}: ${toError(error).message}</p>`;
    }
  }
  return h`<h1>Lake & lineage</h1><nav class="tabs">${tabs}</nav>${listing}
<h2>Quarantined inputs</h2>${await quarantineSection(ctx)}`;
}

/** Quarantined inputs of the landing zone with their error reports. */
export async function quarantineSection(ctx: UiContext): Promise<Html> {
  const lake = await ctx.lake();
  if (!lake) return unavailable("a lake");
  const bucket = ctx.landingBucket;
  const reports = await listAll(lake, bucket, "quarantine/", 500);
  const errors = reports.filter((key) => key.endsWith(".error.json"));
  if (errors.length === 0) return empty("Nothing is quarantined.");
  const items: Html[] = [];
  for (const key of errors.slice(0, 100)) {
    let report: unknown;
    try {
      report = JSON.parse(new TextDecoder().decode(await lake.getBytes(bucket, key)));
    } catch (error) {
      report = { error: `unreadable report: ${toError(error).message}` };
    }
    items.push(
      h`<div class="quarantine" data-report="${key}"><h3><a href="${
        objectHref(bucket, key)
      }">${key}</a></h3>${reportView(report)}</div>`,
    );
  }
  return h`${items}`;
}

function reportView(report: unknown): Html {
  if (!report || typeof report !== "object" || Array.isArray(report)) {
    return h`<pre>${JSON.stringify(report, null, 2)}</pre>`;
  }
  const r = report as Record<string, MetadataValue>;
  const problems = Array.isArray(r.problems) ? r.problems : Array.isArray(r.errors) ? r.errors : [];
  const rest = Object.fromEntries(
    Object.entries(r).filter(([k]) => k !== "problems" && k !== "errors"),
  );
  return h`${
    problems.length
      ? h`<ul class="problems">${
        problems.map((p) =>
          h`<li class="error-text">${typeof p === "string" ? p : JSON.stringify(p)}</li>`
        )
      }</ul>`
      : ""
  }${metadataTable(rest)}`;
}

async function listAll(
  lake: NonNullable<Awaited<ReturnType<UiContext["lake"]>>>,
  bucket: string,
  prefix: string,
  max: number,
): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await lake.list(bucket, {
      prefix,
      pageSize: 1000,
      ...(token ? { continuationToken: token } : {}),
    });
    keys.push(...page.objects.map((o) => o.key));
    token = page.nextContinuationToken;
  } while (token && keys.length < max);
  return keys;
}

/** One object: head, ledger document, run, source files; JSON reports shown whole. */
export async function objectPage(
  ctx: UiContext,
  bucket: string,
  key: string,
): Promise<Html | undefined> {
  const lake = await ctx.lake();
  if (!lake) return h`<h1>${key}</h1>${unavailable("a lake")}`;
  const head = await lake.head(bucket, key);
  if (!head) return undefined;
  let doc: LedgerDocument | undefined;
  let ledgerNote: Html = h``;
  const ledgerOpen = ctx.ledger();
  if (ledgerOpen) {
    const id = head.metadata.mongodb_doc_id ?? head.metadata["mongodb-doc-id"];
    try {
      // The object names its document: a failure to read it is shown, never replaced by a
      // guess; only a document the ledger does not have falls back to the latest by key.
      doc = id ? await readLedgerDocument(ledgerOpen, id) : undefined;
      doc ??= await (await ledgerOpen).findByKey(bucket, key);
    } catch (error) {
      ledgerNote = error instanceof LedgerReadError
        ? ledgerErrorView(error)
        : h`<p class="warn" data-ledger-error="ui.ledger_unavailable">Cannot read the ledger for ${bucket}/${key}: ${
          toError(error).message
        }</p>`;
    }
  } else {
    ledgerNote = unavailable("a ledger");
  }
  let content: Html = h``;
  if (key.endsWith(".json") && head.size <= 256 * 1024) {
    try {
      const text = new TextDecoder().decode(await lake.getBytes(bucket, key));
      const parsed = JSON.parse(text);
      content = h`<h2>Content</h2>${
        key.endsWith(".error.json") ? reportView(parsed) : ""
      }<pre class="json">${JSON.stringify(parsed, null, 2)}</pre>`;
    } catch (error) {
      content = h`<p class="warn">Not valid JSON: ${toError(error).message}</p>`;
    }
  }
  const sources = doc && Array.isArray(doc.metadata.source_files) ? doc.metadata.source_files : [];
  const sourceItems = await Promise.all(sources.map((s) => sourceItem(lake, ctx.landingBucket, s)));
  return h`<h1 class="mono">${bucket}/${key}</h1>
<table class="kv">
<tr><th>size</th><td>${head.size.toLocaleString("en")} bytes</td></tr>
<tr><th>modified</th><td>${time(head.lastModified.getTime())}</td></tr>
<tr><th>etag</th><td class="mono">${head.etag}</td></tr>
<tr><th>sha256</th><td class="mono">${head.sha256 ?? "—"}</td></tr>
<tr><th>content type</th><td>${head.contentType ?? "—"}</td></tr>
</table>
<h3>Object metadata</h3>${metadataTable(head.metadata)}
<h2>Lineage</h2>${ledgerNote}
${
    doc
      ? h`<div class="lineage" data-ledger-id="${doc.id}">
<table class="kv">
<tr><th>ledger document</th><td class="mono"><a href="/lake/doc/${doc.id}">${doc.id}</a></td></tr>
<tr><th>written by run</th><td>${runLink(doc.run_id)}</td></tr>
<tr><th>asset</th><td><a href="/assets/${encodeURIComponent(doc.asset_key)}">${doc.asset_key}</a>${
        doc.partition ? h` [${doc.partition}]` : ""
      }</td></tr>
<tr><th>batch</th><td>${doc.batch_id ?? "—"}</td></tr>
<tr><th>format</th><td>${doc.format}</td></tr>
<tr><th>sha256 matches</th><td>${contentMatch(head, doc)}</td></tr>
</table>
${sources.length ? h`<h3>Source files</h3><ul>${sourceItems}</ul>` : ""}
<details><summary>ledger document</summary><pre class="json">${
        JSON.stringify(doc, null, 2)
      }</pre></details></div>`
      : h`<p class="muted">No ledger document names this object.</p>`
  }
${content}`;
}

/**
 * Whether the object holds what its ledger document recorded. Without a
 * recorded hash (a sidecar lost, a store that keeps none) the sizes still
 * tell a cut or replaced object: a GeoParquet truncated after publishing
 * showed "unknown" here.
 */
function contentMatch(head: ObjectHead, doc: LedgerDocument): Html {
  const remedy = h` (changed or cut after it was published: materialize ${doc.asset_key}${
    doc.partition ? h` --partition ${doc.partition}` : ""
  } to write it again, or restore it)`;
  if (head.sha256 !== undefined) {
    return head.sha256 === doc.sha256
      ? h`yes`
      : h`<b class="error-text" data-content-mismatch>NO</b>${remedy}`;
  }
  if (head.size !== doc.size) {
    return h`<b class="error-text" data-content-mismatch>NO</b>: ${
      head.size.toLocaleString("en")
    } bytes, the ledger recorded ${doc.size.toLocaleString("en")}${remedy}`;
  }
  return h`unknown (same size; the store recorded no sha256)`;
}

/**
 * One source file of an object, linked where it is now: the landing key until
 * its batch is archived, then `archive/<key>` (both linked always, the first
 * was a dead link once the batch was done).
 */
async function sourceItem(
  lake: ObjectStore,
  bucket: string,
  source: MetadataValue,
): Promise<Html> {
  const src = (source ?? {}) as Record<string, MetadataValue>;
  const key = String(src.key ?? "");
  const sha = h` <span class="muted mono">${String(src.sha256 ?? "").slice(0, 12)}</span>`;
  const [landing, archived] = await Promise.all(
    [key, `archive/${key}`].map((k) => lake.head(bucket, k)),
  );
  if (landing) return h`<li><a href="${objectHref(bucket, key)}">${key}</a>${sha}</li>`;
  if (archived) {
    return h`<li>${key} · archived: <a href="${
      objectHref(bucket, `archive/${key}`)
    }">archive/${key}</a>${sha}</li>`;
  }
  return h`<li>${key} <span class="muted">(no longer in ${bucket})</span>${sha}</li>`;
}

/** Why a ledger document could not be read: the error's code, message and bad fields. */
export function ledgerErrorView(error: LedgerReadError): Html {
  return h`<div class="warn ledger-error" data-ledger-error="${error.code}"><p><b>${error.code}</b>${
    error.ledgerCode ? h` <span class="muted">(${error.ledgerCode})</span>` : ""
  }: ${error.message}</p>${
    error.issues.length
      ? h`<table class="kv">${
        error.issues.map((i) => h`<tr><th class="mono">${i.field}</th><td>${i.message}</td></tr>`)
      }</table>`
      : ""
  }</div>`;
}

/**
 * A ledger document by id; `undefined` when the ledger has no such document.
 * @throws {LedgerReadError} when the ledger cannot be read or the document is corrupt.
 */
export async function ledgerDocPage(ctx: UiContext, id: string): Promise<Html | undefined> {
  const ledgerOpen = ctx.ledger();
  if (!ledgerOpen) return h`<h1>Ledger</h1>${unavailable("a ledger")}`;
  const doc = await readLedgerDocument(ledgerOpen, id);
  if (!doc) return undefined;
  return h`<h1>Ledger document <span class="mono">${doc.id}</span></h1>
<p>Object: <a href="${objectHref(doc.bucket, doc.key)}">${doc.bucket}/${doc.key}</a> · run ${
    runLink(doc.run_id)
  } · created ${doc.created_at}</p>
<pre class="json">${JSON.stringify(doc, null, 2)}</pre>`;
}
