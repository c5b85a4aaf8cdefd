/**
 * Preflight: everything that would make the upgrade fail or lose data, found before anything is
 * touched. An ordered list of named checkers over one observation of both sides; each finding
 * says what is wrong and what the user can do about it.
 */
import type { ClientBase } from "pg";
import { quoteIdent } from "../postgres/quote";
import { introspect } from "../schema/introspect/introspect";
import type { SchemaModel, UnmanagedObject } from "../schema/model";
import { keyOf } from "../schema/model";
import {
  availableExtensions,
  hasUsableReplicaIdentity,
  installedExtensions,
  replicatedTables,
  serverFacts,
  unreplicatedDataObjects,
  type ReplicatedTable,
  type ServerFacts,
} from "./catalog";

/** Stable codes of preflight findings. */
export type PreflightCode =
  | "VERSION_NOT_HIGHER"
  | "SAME_SERVER"
  | "WAL_LEVEL"
  | "PRIVILEGES"
  | "REPLICATION_SLOTS"
  | "WAL_SENDERS"
  | "REPLICATION_WORKERS"
  | "NO_REPLICA_IDENTITY"
  | "UNLOGGED_TABLE"
  | "LARGE_OBJECTS"
  | "FOREIGN_TABLE"
  | "MATERIALIZED_VIEW"
  | "MISSING_EXTENSION"
  | "OBJECTS_NOT_COPIED"
  | "GREEN_NOT_EMPTY"
  | "ROLE_MISSING"
  | "PRIVILEGES_NOT_COPIED";

/** One finding. Errors refuse the upgrade; warnings are reported and allowed. */
export interface PreflightFinding {
  readonly code: PreflightCode;
  readonly severity: "error" | "warning";
  /** Which side the finding is about. */
  readonly side: "blue" | "green" | "both";
  /** The object concerned (a quoted qualified name), when there is one. */
  readonly object?: string;
  readonly message: string;
  /** What the user can do about it. */
  readonly fix: string;
}

/** Summary of one side. */
export interface SideSummary {
  readonly major: number;
  readonly database: string;
  readonly tables: number;
  readonly bytes: number;
}

/** Result of preflight. `ok` is false when any finding is an error. */
export interface PreflightReport {
  readonly ok: boolean;
  readonly findings: readonly PreflightFinding[];
  readonly blue: SideSummary;
  readonly green: SideSummary;
}

/** What the checkers look at: one observation of both sides. */
export interface PreflightObservation {
  readonly blue: ServerFacts;
  readonly green: ServerFacts;
  readonly tables: readonly ReplicatedTable[];
  readonly blueExtensions: ReadonlyMap<string, string>;
  readonly greenAvailableExtensions: ReadonlySet<string>;
  readonly unreplicated: readonly { kind: string; qualified: string }[];
  /** Objects on blue the schema engine does not manage (it cannot create them on green). */
  readonly blueUnmanaged: readonly UnmanagedObject[];
  readonly greenUnmanaged: readonly UnmanagedObject[];
  /** Blue tables that already exist on green and hold rows. */
  readonly greenNonEmpty: readonly string[];
  /** Roles that own or are granted blue's objects but do not exist on green. */
  readonly missingRoles: readonly string[];
  /** Objects on blue with grants the schema engine does not manage (so the schema copy does not copy them). */
  readonly blueGrants: number;
  /** Tables green holds now. */
  readonly greenTables: number;
  /** Preflight runs before anything was created (later runs skip the emptiness check). */
  readonly fresh: boolean;
}

/** Options that change what preflight accepts. */
export interface PreflightPolicy {
  /**
   * Accept objects on blue that Setpoint cannot create on green (functions, triggers, ...): the user
   * creates them on green. @default false
   */
  readonly allowObjectsNotCopied?: boolean;
}

type Checker = (o: PreflightObservation, policy: PreflightPolicy) => PreflightFinding[];

const sides = (o: PreflightObservation): [string, ServerFacts][] => [
  ["blue", o.blue],
  ["green", o.green],
];

/** The checkers, in the order their findings are reported. */
export const PREFLIGHT_CHECKERS: readonly { readonly name: string; readonly check: Checker }[] = [
  {
    name: "versions",
    check: (o) =>
      o.green.major > o.blue.major
        ? []
        : [
            {
              code: "VERSION_NOT_HIGHER",
              severity: "error",
              side: "both",
              message: `green runs PostgreSQL ${o.green.major}, which is not newer than blue's ${o.blue.major}`,
              fix: "point green at a server of a higher major version",
            },
          ],
  },
  {
    name: "distinct servers",
    check: (o) =>
      o.blue.systemIdentifier === o.green.systemIdentifier
        ? [
            {
              code: "SAME_SERVER",
              severity: "error",
              side: "both",
              message: "blue and green are the same PostgreSQL server",
              fix: "point green at a separate server (a new cluster of the newer major version)",
            },
          ]
        : [],
  },
  {
    name: "wal_level",
    check: (o) =>
      sides(o).flatMap(([side, f]) =>
        f.walLevel === "logical"
          ? []
          : [
              {
                code: "WAL_LEVEL" as const,
                severity: "error" as const,
                side: side as "blue" | "green",
                message: `${side} has wal_level = ${f.walLevel}; logical replication needs "logical"${side === "green" ? " (the rollback path replicates green → blue)" : ""}`,
                fix: `set wal_level = logical on ${side} and restart it`,
              },
            ],
      ),
  },
  {
    name: "privileges",
    check: (o) =>
      sides(o).flatMap(([side, f]) =>
        f.superuser
          ? []
          : [
              {
                code: "PRIVILEGES" as const,
                severity: "error" as const,
                side: side as "blue" | "green",
                message: `${side} connection user ${quoteIdent(f.user)} is not a superuser; the upgrade creates publications on every table, subscriptions, and fences logins`,
                fix: `connect to ${side} as a superuser (or the cloud's equivalent admin role)`,
              },
            ],
      ),
  },
  {
    name: "replication capacity",
    check: (o) => {
      const out: PreflightFinding[] = [];
      // Forward: one slot for the subscription plus one per concurrent table sync on blue.
      const forwardSlots = 1 + o.green.maxSyncWorkersPerSubscription;
      const capacity: [string, ServerFacts, number, string][] = [
        ["blue", o.blue, forwardSlots, "the subscription and its table-sync workers"],
        ["green", o.green, 1, "the rollback path (green → blue)"],
      ];
      for (const [side, f, need, why] of capacity) {
        const freeSlots = f.maxReplicationSlots - f.usedReplicationSlots;
        if (freeSlots < need)
          out.push({
            code: "REPLICATION_SLOTS",
            severity: "error",
            side: side as "blue" | "green",
            message: `${side} has ${freeSlots} free replication slot(s) (max_replication_slots = ${f.maxReplicationSlots}); ${need} are needed for ${why}`,
            fix: `raise max_replication_slots on ${side} to at least ${f.usedReplicationSlots + need} and restart it, or drop unused slots`,
          });
        const freeSenders = f.maxWalSenders - f.usedWalSenders;
        if (freeSenders < need)
          out.push({
            code: "WAL_SENDERS",
            severity: "error",
            side: side as "blue" | "green",
            message: `${side} has ${freeSenders} free WAL sender(s) (max_wal_senders = ${f.maxWalSenders}); ${need} are needed for ${why}`,
            fix: `raise max_wal_senders on ${side} to at least ${f.usedWalSenders + need} and restart it`,
          });
      }
      const workers: [string, ServerFacts, number][] = [
        ["green", o.green, 1 + o.green.maxSyncWorkersPerSubscription],
        ["blue", o.blue, 1],
      ];
      for (const [side, f, need] of workers) {
        if (f.maxLogicalReplicationWorkers < need || f.maxReplicationOrigins - f.usedReplicationOrigins < 1)
          out.push({
            code: "REPLICATION_WORKERS",
            severity: "error",
            side: side as "blue" | "green",
            message: `${side} allows ${f.maxLogicalReplicationWorkers} logical replication worker(s) and has ${f.maxReplicationOrigins - f.usedReplicationOrigins} free replication origin(s); the ${side === "green" ? "subscription needs" : "rollback subscription needs"} ${need} worker(s) and one origin`,
            fix: `raise max_logical_replication_workers (and max_worker_processes${f.major >= 18 ? ", max_active_replication_origins" : ", max_replication_slots"}) on ${side} and restart it`,
          });
      }
      return out;
    },
  },
  {
    name: "replica identity",
    check: (o) =>
      o.tables
        .filter((t) => !hasUsableReplicaIdentity(t))
        .map((t) => ({
          code: "NO_REPLICA_IDENTITY" as const,
          severity: "error" as const,
          side: "blue" as const,
          object: t.qualified,
          message: `table ${t.qualified} has no primary key and no usable replica identity, so its updates and deletes cannot be replicated`,
          fix: `add a primary key, or ALTER TABLE ${t.qualified} REPLICA IDENTITY USING INDEX <unique index on NOT NULL columns> (or REPLICA IDENTITY FULL: slower on green)`,
        })),
  },
  {
    name: "unlogged tables",
    check: (o) =>
      o.tables
        .filter((t) => t.unlogged)
        .map((t) => ({
          code: "UNLOGGED_TABLE" as const,
          severity: "error" as const,
          side: "blue" as const,
          object: t.qualified,
          message: `table ${t.qualified} is UNLOGGED; logical replication cannot carry it`,
          fix: `ALTER TABLE ${t.qualified} SET LOGGED (rewrites it), or empty it if its contents are disposable and set it LOGGED`,
        })),
  },
  {
    name: "large objects",
    check: (o) =>
      o.blue.largeObjects > 0
        ? [
            {
              code: "LARGE_OBJECTS",
              severity: "error",
              side: "blue",
              message: `blue holds ${o.blue.largeObjects} large object(s) (pg_largeobject); logical replication does not carry them`,
              fix: "move them into bytea columns, or copy them to green yourself after the upgrade and accept that writes to them during the upgrade are lost",
            },
          ]
        : [],
  },
  {
    name: "objects without replicated data",
    check: (o) =>
      o.unreplicated.map((u) =>
        u.kind === "foreign table"
          ? {
              code: "FOREIGN_TABLE" as const,
              severity: "error" as const,
              side: "blue" as const,
              object: u.qualified,
              message: `${u.qualified} is a foreign table; its data lives elsewhere and its server and user mappings are not copied`,
              fix: "create the foreign server, user mapping and foreign table on green before the upgrade",
            }
          : {
              code: "MATERIALIZED_VIEW" as const,
              severity: "warning" as const,
              side: "blue" as const,
              object: u.qualified,
              message: `${u.qualified} is a materialized view; its contents are not replicated`,
              fix: `REFRESH MATERIALIZED VIEW ${u.qualified} on green after the cutover`,
            },
      ),
  },
  {
    name: "extensions",
    check: (o) =>
      [...o.blueExtensions.keys()]
        .filter((e) => !o.greenAvailableExtensions.has(e))
        .map((e) => ({
          code: "MISSING_EXTENSION" as const,
          severity: "error" as const,
          side: "green" as const,
          object: quoteIdent(e),
          message: `extension ${quoteIdent(e)} is installed on blue but not available on green`,
          fix: `install the extension's package for PostgreSQL ${o.green.major} on green's server`,
        })),
  },
  {
    name: "objects the schema copy cannot create",
    check: (o, policy) => {
      const onGreen = new Set(o.greenUnmanaged.map(unmanagedKey));
      return o.blueUnmanaged
        // Grants are objects' properties, not objects: the next checker reports them (a warning).
        .filter((u) => u.kind !== "privileges" && !onGreen.has(unmanagedKey(u)))
        .map((u) => ({
          code: "OBJECTS_NOT_COPIED" as const,
          severity: policy.allowObjectsNotCopied ? ("warning" as const) : ("error" as const),
          side: "green" as const,
          object: `${u.schema}.${u.name}`,
          message: `blue's ${u.kind} ${u.schema}.${u.name} is not managed by the schema engine yet, so it will not be created on green`,
          fix: "create it on green before the upgrade (it is then left alone), or set allowObjectsNotCopied to accept green without it",
        }));
    },
  },
  {
    name: "roles",
    check: (o) => [
      ...o.missingRoles.map((r) => ({
        code: "ROLE_MISSING" as const,
        severity: "error" as const,
        side: "green" as const,
        object: quoteIdent(r),
        message: `role ${quoteIdent(r)} owns or is granted objects on blue but does not exist on green (roles are server-wide; the upgrade does not copy them)`,
        fix: `CREATE ROLE ${quoteIdent(r)} on green with the same attributes (and password) before the upgrade`,
      })),
      ...(o.blueGrants > 0
        ? [
            {
              code: "PRIVILEGES_NOT_COPIED" as const,
              severity: "warning" as const,
              side: "green" as const,
              message: `blue has grants on ${o.blueGrants} object(s) the schema engine does not manage the privileges of (identity sequences, unmanaged relations or aggregates); the schema copy does not copy them (it copies owners and every other grant)`,
              fix: "GRANT them on green after the schema phase",
            },
          ]
        : []),
    ],
  },
  {
    name: "green is empty",
    check: (o) =>
      o.fresh
        ? o.greenNonEmpty.map((t) => ({
            code: "GREEN_NOT_EMPTY" as const,
            severity: "error" as const,
            side: "green" as const,
            object: t,
            message: `green's table ${t} already holds rows; the initial copy would duplicate or conflict with them`,
            fix: `use an empty green database, or TRUNCATE ${t} on green`,
          }))
        : [],
  },
];

function unmanagedKey(u: UnmanagedObject): string {
  return `${u.kind}:${u.schema}.${u.name}`;
}

/**
 * Observes both sides once. `ownSlotPrefix` excludes the slots of this upgrade (a resumed run)
 * from the used counts.
 */
export async function observeForPreflight(blue: ClientBase, green: ClientBase, ownSlotPrefix: string, fresh: boolean): Promise<PreflightObservation> {
  const [blueFacts, greenFacts] = [await serverFacts(blue, ownSlotPrefix), await serverFacts(green, ownSlotPrefix)];
  const tables = await replicatedTables(blue);
  const blueModel: SchemaModel = await introspect(blue, { schemas: await userSchemas(blue) });
  const greenModel: SchemaModel = await introspect(green, { schemas: await userSchemas(green) });
  return {
    blue: blueFacts,
    green: greenFacts,
    tables,
    blueExtensions: await installedExtensions(blue),
    greenAvailableExtensions: await availableExtensions(green),
    unreplicated: await unreplicatedDataObjects(blue),
    blueUnmanaged: blueModel.unmanaged,
    greenUnmanaged: greenModel.unmanaged,
    greenNonEmpty: fresh ? await nonEmptyTables(green, tables, new Set(greenModel.tables.map((t) => keyOf(t)))) : [],
    greenTables: greenModel.tables.length,
    ...(await roleFacts(blueModel, green)),
    fresh,
  };
}

/** Runs every checker over the observation. */
export function evaluatePreflight(o: PreflightObservation, policy: PreflightPolicy = {}): PreflightReport {
  const findings = PREFLIGHT_CHECKERS.flatMap((c) => c.check(o, policy));
  const bytes = o.tables.reduce((a, t) => a + t.bytes, 0);
  return {
    ok: findings.every((f) => f.severity !== "error"),
    findings,
    blue: { major: o.blue.major, database: o.blue.database, tables: o.tables.length, bytes },
    green: { major: o.green.major, database: o.green.database, tables: o.greenTables, bytes: 0 },
  };
}

/** User schemas of a database (what the schema copy covers). */
export async function userSchemas(client: ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT n.nspname AS name FROM pg_namespace n
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'setpoint', 'setpoint_upgrade') AND n.nspname NOT LIKE 'pg\\_%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
      ORDER BY 1`,
  );
  return rows.map((r) => r.name);
}

async function nonEmptyTables(green: ClientBase, tables: readonly ReplicatedTable[], onGreen: ReadonlySet<string>): Promise<string[]> {
  const present = tables.filter((t) => onGreen.has(`${t.schema}.${t.name}`));
  const out: string[] = [];
  for (let i = 0; i < present.length; i += 200) {
    const chunk = present.slice(i, i + 200);
    const sql = chunk.map((t, j) => `SELECT ${j} AS i WHERE EXISTS (SELECT 1 FROM ${t.qualified})`).join(" UNION ALL ");
    const { rows } = await green.query<{ i: number }>(sql);
    for (const r of rows) out.push(chunk[r.i]!.qualified);
  }
  return out;
}

async function roleFacts(blue: SchemaModel, green: ClientBase): Promise<{ missingRoles: string[]; blueGrants: number }> {
  // The roles the schema copy names on green: owners, grantees, default privileges in a schema
  // (global ones are those of the connection user and are copied only to a user of the same name).
  const named = new Set<string>();
  for (const a of blue.acls) for (const r of [a.owner, ...a.acl.map((e) => e.grantee)]) if (r !== null) named.add(r);
  for (const d of blue.defaultAcls) if (d.schema !== null) for (const r of [d.role, ...d.acl.map((e) => e.grantee)]) if (r !== null) named.add(r);
  const roles = [...named].sort();
  const present = await green.query<{ name: string }>(`SELECT rolname AS name FROM pg_roles WHERE rolname = ANY($1::text[])`, [roles]);
  const have = new Set(present.rows.map((r) => r.name));
  return { missingRoles: roles.filter((r) => !have.has(r)), blueGrants: blue.unmanaged.filter((u) => u.kind === "privileges").length };
}
