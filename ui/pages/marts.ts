/**
 * The marts dashboard: daily weather per place (temperature lines,
 * precipitation bars) and activity against each user's baseline (steps and
 * the rolling mean, z-score bars), read from the dbt marts in the warehouse.
 *
 * @module
 */

import { toError } from "../../core/errors.ts";
import { quoteTable } from "../../resources/warehouse/sql.ts";
import { chart, type ChartSeries } from "../charts.ts";
import type { UiContext } from "../context.ts";
import { empty, h, type Html } from "../html.ts";
import { parseRelation, type Relation } from "../warehouse_preview.ts";

function relationOfAsset(ctx: UiContext, key: string): Relation | undefined {
  const rel = ctx.graph.assets.get(key)?.metadata.relation;
  return typeof rel === "string" ? parseRelation(rel) : undefined;
}

const day = (value: unknown) =>
  value instanceof Date ? value.getTime() : Date.parse(`${String(value).slice(0, 10)}T00:00:00Z`);
const num = (value: unknown) => value === null || value === undefined ? NaN : Number(value);

/** The dashboard body. */
export async function martsPage(
  ctx: UiContext,
  query: { user?: string | undefined },
): Promise<Html> {
  const weatherRel = relationOfAsset(ctx, "fct_weather_daily");
  const deviationsRel = relationOfAsset(ctx, "user_deviations");
  const baselinesRel = relationOfAsset(ctx, "user_baselines");
  if (!ctx.sources.openWarehouse) {
    return h`<h1>Marts</h1><p class="warn">This UI was started without a warehouse.</p>`;
  }
  let weather: Html, activity: Html;
  try {
    weather = weatherRel
      ? await weatherSection(ctx, weatherRel)
      : empty("No fct_weather_daily mart in this graph.");
  } catch (error) {
    weather = h`<p class="warn">Cannot read the weather mart: ${toError(error).message}</p>`;
  }
  try {
    activity = deviationsRel && baselinesRel
      ? await activitySection(ctx, deviationsRel, baselinesRel, query.user)
      : empty("No user_deviations / user_baselines marts in this graph.");
  } catch (error) {
    activity = h`<p class="warn">Cannot read the activity marts: ${toError(error).message}</p>`;
  }
  return h`<h1>Marts</h1>
<section class="dash" id="weather"><h2>Weather per place</h2>${weather}</section>
<section class="dash" id="activity"><h2>Activity: baselines and deviations</h2>${activity}</section>`;
}

/** Rows of `sql`, or `undefined` when one of `relations` has not been built yet. */
async function queryMart(
  ctx: UiContext,
  relations: readonly Relation[],
  sql: string,
): Promise<Record<string, unknown>[] | undefined> {
  return await ctx.withWarehouse(async (w) => {
    for (const r of relations) if (!(await w.tableExists(r.schema, r.name))) return undefined;
    return await w.query(sql);
  });
}

async function weatherSection(ctx: UiContext, rel: Relation): Promise<Html> {
  const rows = await queryMart(
    ctx,
    [rel],
    `SELECT place, weather_date, temperature_min_c, temperature_max_c, temperature_mean_c, precipitation_mm
       FROM ${quoteTable(rel)} ORDER BY place, weather_date LIMIT 20000`,
  );
  if (rows === undefined) {
    return empty(
      `${rel.schema}.${rel.name} has not been built yet: materialize +fct_weather_daily.`,
    );
  }
  if (rows.length === 0) return empty("The weather mart is empty: materialize raw_weather+ first.");
  const places = [...new Set(rows.map((r) => String(r.place)))];
  const charts: Html[] = [];
  for (const place of places.slice(0, 8)) {
    const mine = rows.filter((r) => String(r.place) === place);
    const series = (name: string, col: string): ChartSeries => ({
      name,
      points: mine.filter((r) => Number.isFinite(num(r[col]))).map((r) => ({
        x: day(r.weather_date),
        y: num(r[col]),
      })),
    });
    charts.push(
      h`<div class="place" data-place="${place}"><h3>${place}</h3>${
        chart([
          series("max", "temperature_max_c"),
          series("mean", "temperature_mean_c"),
          series("min", "temperature_min_c"),
        ], {
          title: `Daily temperature, ${place}`,
          unit: "°C",
          width: 560,
          height: 220,
        })
      }${
        chart([{
          name: "precipitation",
          points: mine.map((r) => ({
            x: String(
              r.weather_date instanceof Date
                ? r.weather_date.toISOString().slice(0, 10)
                : r.weather_date,
            ).slice(0, 10),
            y: num(r.precipitation_mm) || 0,
          })),
        }], {
          title: `Daily precipitation, ${place}`,
          unit: "mm",
          kind: "bar",
          width: 560,
          height: 180,
        })
      }</div>`,
    );
  }
  return h`<p class="muted">${rows.length} place-days from ${rel.schema}.${rel.name}</p><div class="charts">${charts}</div>`;
}

async function activitySection(
  ctx: UiContext,
  deviations: Relation,
  baselines: Relation,
  wanted: string | undefined,
): Promise<Html> {
  const rows = await queryMart(
    ctx,
    [deviations, baselines],
    `SELECT d.user_id, d.activity_date, d.steps_value, d.steps_z, d.steps_status, b.steps_mean
       FROM ${quoteTable(deviations)} d JOIN ${
      quoteTable(baselines)
    } b ON b.baseline_id = d.baseline_id
       ORDER BY d.user_id, d.activity_date LIMIT 20000`,
  );
  if (rows === undefined) {
    return empty("The activity marts have not been built yet: materialize +user_deviations.");
  }
  if (rows.length === 0) {
    return empty("The activity marts are empty: materialize +user_deviations first.");
  }
  const users = [...new Set(rows.map((r) => String(r.user_id)))];
  const user = wanted && users.includes(wanted) ? wanted : users[0] as string;
  const mine = rows.filter((r) => String(r.user_id) === user);
  const steps: ChartSeries = {
    name: "steps",
    points: mine.filter((r) => Number.isFinite(num(r.steps_value))).map((r) => ({
      x: day(r.activity_date),
      y: num(r.steps_value),
    })),
  };
  const baseline: ChartSeries = {
    name: "baseline (rolling mean)",
    dashed: true,
    points: mine.filter((r) => Number.isFinite(num(r.steps_mean))).map((r) => ({
      x: day(r.activity_date),
      y: Math.round(num(r.steps_mean)),
    })),
  };
  const z: ChartSeries = {
    name: "steps z-score",
    points: mine.filter((r) => Number.isFinite(num(r.steps_z))).map((r) => ({
      x: String(r.activity_date instanceof Date ? r.activity_date.toISOString() : r.activity_date)
        .slice(0, 10),
      y: Math.round(num(r.steps_z) * 100) / 100,
      label: `${
        String(r.activity_date instanceof Date ? r.activity_date.toISOString() : r.activity_date)
          .slice(0, 10)
      }: z=${num(r.steps_z).toFixed(2)} (${String(r.steps_status)})`,
    })),
  };
  const status = new Map<string, number>();
  for (const r of rows) {
    status.set(String(r.steps_status), (status.get(String(r.steps_status)) ?? 0) + 1);
  }
  return h`<form method="get" action="/marts#activity" class="inline-form"><label>user <select name="user">${
    users.map((u) => h`<option ${u === user ? "selected" : ""}>${u}</option>`)
  }</select></label><button type="submit">Show</button></form>
<p class="muted">${users.length} user(s), ${rows.length} user-days; steps status: ${
    [...status].map(([s, n]) => `${n} ${s}`).join(", ")
  }</p>
<div class="charts" data-user="${user}">${
    chart([steps, baseline], { title: `Steps vs baseline, user ${user}`, width: 560, height: 240 })
  }${
    chart([z], {
      title: `Deviation from baseline, user ${user}`,
      unit: "z",
      kind: "bar",
      width: 560,
      height: 200,
    })
  }</div>`;
}
