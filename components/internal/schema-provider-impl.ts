import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";
import { redactUrl } from "../../sdk/postgres/connection";
import { applySchema, planSchema, type PlannedSchema, type SchemaEngineOptions } from "../../sdk/schema/engine";
import { HazardsRefusedError, refusedHazards, type Plan } from "../../sdk/schema/plan";
import { containsUnknown, parseSchemaInputs, sameArgs, stableArgs, type SchemaResourceInputs } from "../schema-args";

/**
 * The implementation behind the `Schema` dynamic provider. The serialized provider
 * (`components/schema-provider.ts`) only `require`s this module and forwards each call, so engine
 * changes never change the serialized text stored in state.
 */

/** What the resource shows and stores besides its inputs. */
interface PlanView {
  /** The SQL that `up` will run, in order; empty when converged. Shown by `pulumi preview --diff`. */
  plannedStatements: string[];
  /** One line per hazard: `step N CODE: message`. */
  plannedHazards: string[];
  /** Objects in managed schemas the engine does not manage (left untouched). */
  unmanaged: string[];
}

function engineOptions(i: SchemaResourceInputs): SchemaEngineOptions {
  return {
    devUrl: i.devUrl,
    online: i.online,
    allowHazards: i.allowHazards,
    ...(i.schemas ? { schemas: i.schemas } : {}),
  };
}

function view(p: Plan): PlanView {
  return {
    plannedStatements: p.steps.flatMap((s) => s.sql.map((q) => (s.transactional ? q : `${q} -- outside a transaction`))),
    plannedHazards: p.steps.flatMap((s, i) => s.hazards.map((h) => `step ${i + 1} ${h.code}: ${h.message}`)),
    unmanaged: p.unmanaged.map((u) => `${u.kind} ${u.schema}.${u.name}`),
  };
}

function desiredOf(i: SchemaResourceInputs) {
  return { files: i.desired.files, renames: i.desired.renames };
}

/** Stable id: the redacted target plus the managed schemas. */
function idOf(i: SchemaResourceInputs): string {
  return createHash("sha256").update(redactUrl(i.connection)).update(JSON.stringify(i.schemas ?? null)).digest("hex").slice(0, 16);
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
      return e.target === redactUrl(inputs.connection) ? "connection" : "devUrl";
    case "EMBEDDED_POSTGRES":
      return "devUrl";
    case "INVALID_INPUT":
      return e.propertyPath === "devUrl" ? "devUrl" : "desired";
    default:
      return "";
  }
}

/** `check`: validates and, when the target is known, plans, so preview shows the SQL. */
export async function check(_olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.CheckResult> {
  let inputs: SchemaResourceInputs;
  try {
    if (containsUnknown(stableArgs(news))) return { inputs: { ...news, plannedStatements: ["(planned once the database is known)"], plannedHazards: [], unmanaged: [] } };
    inputs = parseSchemaInputs(news);
  } catch (err) {
    const e = err as { propertyPath?: string; message: string };
    return { inputs: news, failures: [{ property: e.propertyPath ?? "", reason: e.message }] };
  }
  // Without planning, only changed arguments make an update; drift shows after `pulumi refresh`.
  if (!inputs.planAtPreview) return { inputs: { ...news, ...inputs, plannedStatements: [], plannedHazards: [], unmanaged: [] } };
  let planned: PlannedSchema;
  try {
    planned = await planSchema(inputs.connection, desiredOf(inputs), engineOptions(inputs));
  } catch (err) {
    return { inputs: news, failures: [{ property: failedProperty(err, inputs), reason: (err as Error).message }] };
  }
  const refused = refusedHazards(planned.plan, inputs.allowHazards);
  if (refused.length) return { inputs: news, failures: [{ property: "allowHazards", reason: new HazardsRefusedError(refused).message }] };
  return { inputs: { ...news, ...inputs, ...view(planned.plan) } };
}

/** `diff`: a change only when the plan is not empty or the arguments changed. Ignores the provider's own code. */
export async function diff(_id: string, olds: Record<string, unknown>, news: Record<string, unknown>): Promise<pulumi.dynamic.DiffResult> {
  const planned = (news.plannedStatements as string[] | undefined) ?? [];
  const argsChanged = !sameArgs(olds, news);
  return { changes: planned.length > 0 || argsChanged, replaces: [], deleteBeforeReplace: false };
}

async function converge(raw: Record<string, unknown>): Promise<Record<string, unknown>> {
  const inputs = parseSchemaInputs(raw);
  const applied = await applySchema(inputs.connection, desiredOf(inputs), engineOptions(inputs));
  return {
    ...inputs,
    plannedStatements: [],
    plannedHazards: [],
    unmanaged: view(applied.plan).unmanaged,
    appliedStatements: applied.plan.steps.flatMap((s) => s.sql),
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

/** `read` (refresh): reports drift as the statements that would bring the database back. */
export async function read(id: string, props: Record<string, unknown>): Promise<pulumi.dynamic.ReadResult> {
  const inputs = parseSchemaInputs(props);
  const planned = await planSchema(inputs.connection, desiredOf(inputs), engineOptions(inputs));
  return { id, props: { ...props, ...view(planned.plan) } };
}

/** `delete`: keeps the data unless the deletion policy is `drop`. */
export async function remove(_id: string, props: Record<string, unknown>): Promise<void> {
  const inputs = parseSchemaInputs(props);
  if (inputs.deletionPolicy !== "drop") return;
  const managed = (await planSchema(inputs.connection, desiredOf(inputs), engineOptions(inputs))).desired.schemas.map((s) => s.name);
  // The desired state "nothing" over the same schemas: every managed object is dropped.
  // What the engine does not manage stays (ADR 0008), so the catalogs are not compared with "nothing" (ADR 0014).
  await applySchema(
    inputs.connection,
    { files: [{ name: "(deleted)", sql: "" }] },
    { ...engineOptions(inputs), schemas: inputs.schemas ?? managed, allowHazards: "all", verifyCatalogs: false },
  );
}
