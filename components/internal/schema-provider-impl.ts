import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { connect, describeConnection, withAuthority, type ConnectionInput } from "../../sdk/postgres/connection";
import { allowedForPlan, planHash } from "../../sdk/schema/plan/approvals";
import { applySchema, planSchema, type PlannedSchema, type SchemaEngineOptions } from "../../sdk/schema/engine";
import { HazardsRefusedError, refusedHazards, type Plan } from "../../sdk/schema/plan/plan";
import { allowedBy, readTableSizes, reviewPlan, type ReviewedStep, type TableSize } from "../../sdk/schema/plan/review";
import { formatDifference, type CatalogCheck } from "../../sdk/schema/verify/index";
import { containsUnknown, parseSchemaInputs, sameArgs, stableArgs, type SchemaResourceInputs } from "../schema-args";

/**
 * The implementation behind the `Schema` dynamic provider. The serialized provider
 * (`components/schema-provider.ts`) only `require`s this module and forwards each call, so engine
 * changes never change the serialized text stored in state.
 *
 * What the preview shows and what the state keeps (ADR 0018): in a preview, `check` returns the
 * plan step by step (`plan`), its hash and the hazards it refuses; Pulumi shows those as the
 * resource's new outputs. During `up`, `check` keeps the plan out of the inputs it returns, and
 * `create`/`update` store `plan: []`: after an update the state holds only what is true (nothing is
 * pending), so the next preview shows only the next change. Pulumi shows a preview as the old
 * outputs against the new ones, unchanged properties included: an output the preview cannot
 * reproduce (such as the SQL an earlier update ran) would show as removed, so there is none.
 *
 * An empty plan is not "no changes" when the catalog-level check (ADR 0014) finds properties the
 * engine does not model that differ from the desired SQL: the preview lists them (`unmodelled`) and
 * shows the resource as changing, and `up` then fails naming them (the engine's apply refuses to
 * call such a database converged), instead of both reporting nothing.
 */

/** What the resource shows and stores besides its inputs. */
interface PlanView {
  /** The steps `up` will run, for people: SQL lines, hazards, lock, expected duration. Empty when converged. */
  plan: ReviewedStep[];
  /** {@link planHash} of the plan (what approvals name); empty when converged. */
  planHash: string;
  /** Hazard codes of the plan that are neither allowed nor approved (the preview fails on them). */
  refused: string[];
  /** Objects in managed schemas the engine does not manage (left untouched). */
  unmanaged: string[];
  /**
   * Catalog-level differences an empty plan does not remove (`UNMODELLED_DIFFERENCE <catalog>.<column>
   * <object>: expected ..., found ...`): properties the engine does not model. Empty when the plan
   * has steps (the check runs after them, in `up`) or the check is off.
   */
  unmodelled: string[];
}

const EMPTY_VIEW: PlanView = { plan: [], planHash: "", refused: [], unmanaged: [], unmodelled: [] };

/** Differences shown at most; the rest is counted in one last line (the error of `up` names them too). */
const UNMODELLED_SHOWN = 50;

/** The target as the engine takes it: the URL, or with an authority its verify-full fields (ADR 0035). */
export function targetOf(i: Pick<SchemaResourceInputs, "connection" | "ca">): ConnectionInput {
  return i.ca === undefined ? i.connection : withAuthority(i.connection, i.ca);
}

function engineOptions(i: SchemaResourceInputs): SchemaEngineOptions {
  return {
    devUrl: i.devUrl,
    online: i.online,
    allowHazards: i.allowHazards,
    approvals: i.approvals,
    ...(i.schemas ? { schemas: i.schemas } : {}),
    ...(i.verifyCatalogs === false ? { verifyCatalogs: false } : {}),
  };
}

/** The unmodelled differences of a catalog check, one line each (see {@link PlanView.unmodelled}). */
export function unmodelledLines(check: CatalogCheck | null | undefined): string[] {
  const all = check?.differences ?? [];
  const shown = all.slice(0, UNMODELLED_SHOWN).map(formatDifference);
  return all.length > shown.length ? [...shown, `... and ${all.length - shown.length} more (setpoint schema verify lists them all)`] : shown;
}

function view(p: Plan, i: SchemaResourceInputs, sizes: ReadonlyMap<string, TableSize> = new Map(), check: CatalogCheck | null = null): PlanView {
  const allowed = allowedForPlan(p, i.allowHazards, i.approvals);
  return {
    plan: reviewPlan(p, allowedBy(allowed), sizes),
    planHash: p.steps.length ? planHash(p) : "",
    refused: [...new Set(refusedHazards(p, allowed).map((h) => h.code))],
    unmanaged: p.unmanaged.map((u) => `${u.kind} ${u.schema}.${u.name}`),
    unmodelled: p.steps.length ? [] : unmodelledLines(check),
  };
}

/** Planner sizes of the tables the plan scans or rewrites (catalog reads only); none when they cannot be read. */
async function sizesOf(url: ConnectionInput, p: Plan): Promise<Map<string, TableSize>> {
  if (!p.steps.length) return new Map();
  const client = await connect(url);
  try {
    return await readTableSizes(client, p);
  } finally {
    await client.end();
  }
}

function desiredOf(i: SchemaResourceInputs) {
  return { files: i.desired.files, renames: i.desired.renames };
}

/** Stable id: the redacted target plus the managed schemas. */
function idOf(i: SchemaResourceInputs): string {
  return createHash("sha256").update(describeConnection(i.connection)).update(JSON.stringify(i.schemas ?? null)).digest("hex").slice(0, 16);
}

/**
 * The input a planning error is about, from the error's structured fields (never its text). Pulumi
 * prints the named property's value next to the reason, so a connection failure must name
 * `connection` (shown as [secret]), not `desired` (the whole desired SQL).
 */
function failedProperty(err: unknown, inputs: SchemaResourceInputs): string {
  const e = err as { code?: unknown; target?: unknown; propertyPath?: unknown };
  switch (e.code) {
    case "CONNECTION_FAILED":
      // The dev server is reached under scratch database names: anything but the target is the dev server.
      return e.target === describeConnection(targetOf(inputs)) ? "connection" : "devUrl";
    case "EMBEDDED_POSTGRES":
      return "devUrl";
    case "INVALID_INPUT":
      return e.propertyPath === "devUrl" ? "devUrl" : "desired";
    default:
      return "";
  }
}

/**
 * The refusal as the failure reason of `check` during `up`: the engine's message, the whole plan,
 * and how to approve this plan only.
 */
export function refusalMessage(p: Plan, i: SchemaResourceInputs, v: PlanView): string {
  const refused = refusedHazards(p, allowedForPlan(p, i.allowHazards, i.approvals));
  const lines = [new HazardsRefusedError(refused).message];
  lines.push(`Or approve this plan only (the approval lapses when the plan changes): approvals: [{ planHash: "${v.planHash}", hazards: [${v.refused.map((c) => `"${c}"`).join(", ")}] }]`);
  lines.push("", `The whole plan (${v.plan.length} step(s), ${v.planHash}):`);
  for (const s of v.plan) {
    lines.push(`  ${s.step}. ${s.kind} (${s.transaction}; lock: ${s.lock}; duration: ${s.duration})`);
    for (const l of s.sql) lines.push(`       ${l}`);
    for (const h of s.hazards) lines.push(`     hazard ${h}`);
  }
  return lines.join("\n");
}

// What the last `check` of each set of inputs in this provider process found to do (steps, or
// unmodelled differences), for the `diff` that follows it during `up` (whose check keeps the plan
// out of the inputs). Read once; `diff` plans again when it is absent.
const checkedSteps = new Map<string, number>();

/** Steps plus unmodelled differences: more than zero means the resource is not converged. */
const pendingOf = (planned: PlannedSchema): number => planned.plan.steps.length + (planned.plan.steps.length ? 0 : (planned.catalogCheck?.differences.length ?? 0));
const inputsKey = (i: SchemaResourceInputs) => createHash("sha256").update(JSON.stringify(stableArgs(i as unknown as Record<string, unknown>))).digest("hex");

/**
 * `check`: validates and, when the target is known, plans. In a preview (`preview: true`, set by
 * the component) the plan is returned for Pulumi to show, refused hazards included; during `up` a
 * refused hazard fails the check before anything runs, and the plan stays out of the inputs.
 */
export async function check(olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  const preview = news.preview === true;
  // The preview flag is not an argument: it never reaches the state.
  const { preview: _flag, ...rest } = news;
  const kept = { fingerprint: typeof olds.fingerprint === "string" ? olds.fingerprint : "" };
  let inputs: SchemaResourceInputs;
  try {
    if (containsUnknown(stableArgs(rest))) return { inputs: { ...rest, ...kept, ...EMPTY_VIEW, plan: [{ step: 1, kind: "(planned once the database is known)" }] } };
    inputs = parseSchemaInputs(rest);
  } catch (err) {
    const e = err as { propertyPath?: string; message: string };
    return { inputs: rest, failures: [{ property: e.propertyPath ?? "", reason: e.message }] };
  }
  // Without planning, only changed arguments make an update; drift shows after `pulumi refresh`.
  if (!inputs.planAtPreview) return { inputs: { ...rest, ...inputs, ...kept, ...EMPTY_VIEW } };
  let planned: PlannedSchema;
  let v: PlanView;
  try {
    planned = await planSchema(targetOf(inputs), desiredOf(inputs), engineOptions(inputs));
    v = view(planned.plan, inputs, preview ? await sizesOf(targetOf(inputs), planned.plan) : new Map(), planned.catalogCheck);
  } catch (err) {
    return { inputs: rest, failures: [{ property: failedProperty(err, inputs), reason: (err as Error).message }] };
  }
  checkedSteps.set(inputsKey(inputs), pendingOf(planned));
  const fingerprint = planned.fingerprint;
  if (preview) return { inputs: { ...rest, ...inputs, ...kept, fingerprint, ...v } };
  if (v.refused.length) return { inputs: rest, failures: [{ property: "allowHazards", reason: refusalMessage(planned.plan, inputs, v) }] };
  return { inputs: { ...rest, ...inputs, fingerprint, ...EMPTY_VIEW } };
}

/**
 * `diff`: a change only when the plan is not empty, the catalog-level check found differences, or
 * the arguments changed. Ignores the provider's own code.
 */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const argsChanged = !sameArgs(olds, news);
  if (argsChanged) return { changes: true, replaces: [], deleteBeforeReplace: false };
  const shown = [...((news.plan as unknown[] | undefined) ?? []), ...((news.unmodelled as unknown[] | undefined) ?? [])];
  const inputs = parseSchemaInputs(news);
  const key = inputsKey(inputs);
  let steps = shown.length ? shown.length : checkedSteps.get(key);
  checkedSteps.delete(key);
  if (steps === undefined) {
    steps = inputs.planAtPreview ? pendingOf(await planSchema(targetOf(inputs), desiredOf(inputs), engineOptions(inputs))) : 0;
  }
  return { changes: steps > 0, replaces: [], deleteBeforeReplace: false };
}

async function converge(raw: Record<string, unknown>): Promise<Record<string, unknown>> {
  // What ran is reported by the update itself; the state keeps only what is true after it.
  const inputs = parseSchemaInputs(raw);
  checkedSteps.delete(inputsKey(inputs));
  const applied = await applySchema(targetOf(inputs), desiredOf(inputs), engineOptions(inputs));
  return {
    ...inputs,
    ...EMPTY_VIEW,
    unmanaged: view(applied.plan, inputs).unmanaged,
    fingerprint: applied.fingerprint,
  };
}

/** `create`: applies the plan and proves convergence. */
export async function create(inputs: Record<string, unknown>): Promise<pulumi.dynamic.CreateResult> {
  const outs = await converge(inputs);
  return { id: idOf(parseSchemaInputs(inputs)), outs };
}

/** `update`: the same as create, against the existing target. */
export async function update(_id: string, _olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.UpdateResult> {
  return { outs: await converge(news) };
}

/** `read` (refresh): reports drift as the plan that would bring the database back. */
export async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const inputs = parseSchemaInputs(props);
  const planned = await planSchema(targetOf(inputs), desiredOf(inputs), engineOptions(inputs));
  return { id, props: { ...props, ...view(planned.plan, inputs, await sizesOf(targetOf(inputs), planned.plan), planned.catalogCheck) } };
}

/** `delete`: keeps the data unless the deletion policy is `drop`. */
export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
  const inputs = parseSchemaInputs(props);
  if (inputs.deletionPolicy !== "drop") return;
  const managed = (await planSchema(targetOf(inputs), desiredOf(inputs), engineOptions(inputs))).desired.schemas.map((s) => s.name);
  // The desired state "nothing" over the same schemas: every managed object is dropped.
  // What the engine does not manage stays (ADR 0008), so the catalogs are not compared with "nothing" (ADR 0014).
  await applySchema(
    targetOf(inputs),
    { files: [{ name: "(deleted)", sql: "" }] },
    { ...engineOptions(inputs), schemas: inputs.schemas ?? managed, allowHazards: "all", verifyCatalogs: false },
  );
}
