/**
 * Schema on green, from the same definitions: the user's `Schema` definition applied by the schema
 * engine, or blue's schema copied by introspection (never by pg_dump). Then a check that green can
 * receive every replicated table.
 */
import type { ClientBase } from "pg";
import { SetpointError } from "../errors";
import type { ConnectionInput } from "../postgres/connection";
import { quoteIdent } from "../postgres/quote";
import { applyPlan } from "../schema/apply/apply";
import { applySchema, type SchemaEngineOptions } from "../schema/engine";
import { HAZARD_CODES, type HazardCode } from "../schema/hazards";
import { introspect } from "../schema/introspect/introspect";
import { plan } from "../schema/plan/plan";
import type { DesiredSchema } from "../schema/source/desired";
import { replicatedTables, type ReplicatedTable } from "./catalog";
import { userSchemas } from "./preflight";
import { SENTINEL_SCHEMA } from "./state";

/** Green's schema does not match what replication will send. */
export class SchemaMismatchError extends SetpointError {
  /** One line per problem, naming the table and column. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[], fix: string) {
    super("UPGRADE_SCHEMA_MISMATCH", `green cannot receive blue's data:\n${problems.map((p) => `  - ${p}`).join("\n")}\n${fix}`);
    this.problems = problems;
  }
}

// Creating objects on an empty green is not hazardous; dropping what green already has is.
const CREATION_HAZARDS: readonly HazardCode[] = HAZARD_CODES.filter((c) => !c.startsWith("DATA_LOSS_") && c !== "ENUM_VALUE_REMOVAL" && c !== "TYPE_CAST_LOSSY");

/** Result of {@link prepareGreenSchema}. */
export interface GreenSchemaResult {
  readonly source: "definition" | "copy";
  /** Steps the schema engine applied on green (0 when it already matched). */
  readonly steps: number;
}

/**
 * Makes green's schema ready: applies `schema` when given, else copies blue's by introspection.
 * Idempotent: a converged green costs one plan. Creates the sentinel table on green.
 * @throws {SchemaMismatchError} when green lacks a table or column that blue replicates.
 */
export async function prepareGreenSchema(
  blue: ClientBase,
  green: ClientBase,
  greenConnection: ConnectionInput,
  options: { schema?: DesiredSchema; schemaOptions?: SchemaEngineOptions; greenMajor: number },
): Promise<GreenSchemaResult> {
  let result: GreenSchemaResult;
  if (options.schema) {
    // Green takes no traffic yet: offline mode builds indexes without CONCURRENTLY, much faster.
    const applied = await applySchema(greenConnection, options.schema, { online: false, ...options.schemaOptions });
    result = { source: "definition", steps: applied.plan.steps.length };
  } else {
    result = { source: "copy", steps: await copySchema(blue, green, options.greenMajor) };
  }
  await ensureSentinel(green);
  const problems = compatibility(await replicatedTables(blue), await replicatedTables(green));
  if (problems.length > 0) {
    throw new SchemaMismatchError(
      problems,
      options.schema
        ? "Add them to the schema definition given to the upgrade (green must hold every table and column blue has)."
        : "This is a Setpoint bug in the schema copy; please report it.",
    );
  }
  return result;
}

async function copySchema(blue: ClientBase, green: ClientBase, greenMajor: number): Promise<number> {
  const schemas = await userSchemas(blue);
  const desired = await introspect(blue, { schemas });
  const live = await introspect(green, { schemas });
  // Green's connection user creates the objects; they are then given blue's owners and grants.
  const role = (await green.query<{ r: string }>("SELECT current_user::text AS r")).rows[0]!.r;
  const steps = plan(live, desired, { online: false, serverMajor: greenMajor, role });
  await applyPlan(green, steps, { allowHazards: CREATION_HAZARDS });
  return steps.steps.length;
}

/** Creates the sentinel table on one side (idempotent). */
export async function ensureSentinel(client: ClientBase): Promise<void> {
  await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(SENTINEL_SCHEMA)}`);
  await client.query(`CREATE TABLE IF NOT EXISTS ${sentinelTable()} (token text PRIMARY KEY, side text NOT NULL, written_at timestamptz NOT NULL DEFAULT now())`);
}

/** The quoted sentinel table name. */
export function sentinelTable(): string {
  return `${quoteIdent(SENTINEL_SCHEMA)}.${quoteIdent("sentinel")}`;
}

/** Problems that would stop green from applying blue's changes (missing tables or columns). */
export function compatibility(blueTables: readonly ReplicatedTable[], greenTables: readonly ReplicatedTable[]): string[] {
  const green = new Map(greenTables.map((t) => [t.qualified, t]));
  const problems: string[] = [];
  for (const t of blueTables) {
    const g = green.get(t.qualified);
    if (!g) {
      problems.push(`table ${t.qualified} is missing on green`);
      continue;
    }
    const cols = new Set(g.columns);
    for (const c of t.columns) if (!cols.has(c)) problems.push(`column ${quoteIdent(c)} of ${t.qualified} is missing on green`);
  }
  return problems;
}
