/**
 * The upgrade's persisted state and where it is kept. The engine saves the state after every step
 * that changed either database, so a killed run resumes exactly where it stopped. The state never
 * holds a connection string or a password: only names, positions and what the fence changed.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { SetpointError } from "../errors";
import { connect, type ConnectionInput } from "../postgres/connection";
import { quoteIdent, quoteLiteral } from "../postgres/quote";
import { UPGRADE_PHASES, type UpgradePhase } from "./phase-names";

/** Version of the persisted {@link UpgradeState} format. */
export const STATE_VERSION = 1;

export { UPGRADE_PHASES, type UpgradePhase };

const connectGrant = z.object({ grantee: z.string(), grantor: z.string() });

const loginFenceSchema = z.object({
  side: z.enum(["blue", "green"]),
  database: z.string(),
  /** The database's ACL before the fence, `null` for the default. */
  aclBefore: z.string().nullable(),
  /** CONNECT grants the fence revoked, restored by unfence. `PUBLIC` for the public grant. */
  revoked: z.array(connectGrant),
});

/** What a login fence changed on one database, so unfence restores it exactly. */
export type LoginFence = z.output<typeof loginFenceSchema>;

const cutoverSchema = z.object({
  /** Epoch ms when the write fence started. */
  fencedAt: z.number(),
  /** Epoch ms after which the cutover aborts instead of switching. */
  deadline: z.number(),
  fence: z.enum(["switch", "logins"]),
  /** Blue's WAL position once writes stopped. */
  fenceLsn: z.string().optional(),
  /** Token of the sentinel row written after the fence. */
  sentinel: z.string().optional(),
  /** Green confirmed everything up to the fence. */
  caughtUp: z.boolean().default(false),
  /** The forward subscription's apply worker was stopped (its slot stays until the switch). */
  forwardDisabled: z.boolean().default(false),
  reverseSlotCreated: z.boolean().default(false),
  sequencesSynced: z.number().optional(),
  /** Set just before the traffic switch is asked to point at green. */
  switching: z.boolean().default(false),
  /** Milliseconds writes were held, from the fence to the switch's resume. */
  writePauseMs: z.number().optional(),
  /** Everything after the switch (blue fenced, forward path dropped, reverse path subscribed, verification) is done. */
  postSwitchDone: z.boolean().default(false),
});

const rollbackSchema = z.object({
  fence: z.enum(["switch", "logins"]),
  fencedAt: z.number(),
  deadline: z.number(),
  sentinel: z.string().optional(),
  caughtUp: z.boolean().default(false),
  sequencesSynced: z.number().optional(),
  switchedBack: z.boolean().default(false),
});

/** Progress of an in-flight rollback after the switch. */
export type RollbackState = z.output<typeof rollbackSchema>;

const verificationSchema = z.object({
  mode: z.enum(["checksums", "counts", "none"]),
  equal: z.boolean().nullable(),
  tables: z.number(),
  rows: z.number(),
  mismatchedTables: z.array(z.string()),
  /** Why verification did not run, when it did not. */
  skipped: z.string().optional(),
});

/** The cutover's verification outcome. */
export type VerificationSummary = z.output<typeof verificationSchema>;

/** Progress of an in-flight cutover. */
export type CutoverState = z.output<typeof cutoverSchema>;

const phaseResultSchema = z.object({
  phase: z.string(),
  /** `NotStarted` only in an operation's results (a planned step after a failed one), never in the saved history. */
  status: z.enum(["Succeeded", "Failed", "Skipped", "NotStarted"]),
  startedAt: z.number(),
  durationMs: z.number(),
  message: z.string(),
});

/** The outcome of one phase run, kept in the state's history. */
export type PhaseResult = z.output<typeof phaseResultSchema>;

/** Zod schema of the persisted state (validated on every load). */
export const upgradeStateSchema = z.object({
  version: z.literal(STATE_VERSION),
  /** Short random id; every object the upgrade creates carries it in its name. */
  id: z.string().regex(/^[a-z0-9]{1,16}$/),
  phase: z.enum(UPGRADE_PHASES),
  blueMajor: z.number().optional(),
  greenMajor: z.number().optional(),
  /** Blue's database name (the login fence and the ACL restore need it). */
  blueDatabase: z.string().optional(),
  greenDatabase: z.string().optional(),
  /** Tables replicated, as quoted qualified names in publication order. */
  tables: z.array(z.string()).default([]),
  cutover: cutoverSchema.optional(),
  rollback: rollbackSchema.optional(),
  verification: verificationSchema.optional(),
  /** Login fences in place now (blue after the switch, or either side during a fence). */
  fences: z.array(loginFenceSchema).default([]),
  /** The reverse subscription (green → blue) exists. */
  reverseSubscribed: z.boolean().default(false),
  /** Epoch ms of the switch to green. */
  switchedAt: z.number().optional(),
  history: z.array(phaseResultSchema).default([]),
});

/** The persisted state of one upgrade. */
export type UpgradeState = z.output<typeof upgradeStateSchema>;

/** Names of the replication objects of upgrade `id`. */
export function upgradeObjectNames(id: string): {
  publication: string;
  subscription: string;
  reversePublication: string;
  reverseSubscription: string;
} {
  return {
    publication: `setpoint_upgrade_${id}`,
    subscription: `setpoint_upgrade_${id}`,
    reversePublication: `setpoint_rollback_${id}`,
    reverseSubscription: `setpoint_rollback_${id}`,
  };
}

/** Schema holding the sentinel table, created on both sides and dropped when the upgrade ends. */
export const SENTINEL_SCHEMA = "setpoint_upgrade";

/**
 * Keeps the state between runs. Supplied by the driver: resource outputs plus a table for the
 * Pulumi provider, CR status for the operator, a file or table for the CLI.
 */
export interface StateStore {
  /** The saved state, or `undefined` when no upgrade has started. */
  load(): Promise<UpgradeState | undefined>;
  /** Saves the state durably before returning. */
  save(state: UpgradeState): Promise<void>;
  /** Drops the saved state (the engine calls it once nothing of the upgrade is left); a later upgrade starts afresh. Idempotent. */
  forget(): Promise<void>;
}

/** Raised when a saved state cannot be read back. */
export class UpgradeStateError extends SetpointError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("UPGRADE_STATE_INVALID", message, options);
  }
}

/** Parses a saved state (validated; unknown versions refused). */
export function parseUpgradeState(value: unknown, where: string): UpgradeState {
  const parsed = upgradeStateSchema.safeParse(value);
  if (!parsed.success) {
    throw new UpgradeStateError(
      `the upgrade state in ${where} is not a Setpoint upgrade state of version ${STATE_VERSION}: ${parsed.error.issues[0]?.message ?? "invalid"}; ` +
        "remove it only if no upgrade objects remain (see the docs on manual cleanup)",
    );
  }
  return parsed.data;
}

/** A state store in memory (tests, one-shot scripts). */
export function memoryStateStore(initial?: UpgradeState): StateStore & { current(): UpgradeState | undefined } {
  let state = initial ? structuredClone(initial) : undefined;
  return {
    load: () => Promise.resolve(state ? structuredClone(state) : undefined),
    save: (s) => {
      state = structuredClone(s);
      return Promise.resolve();
    },
    forget: () => {
      state = undefined;
      return Promise.resolve();
    },
    current: () => state,
  };
}

/** A state store in a JSON file, replaced atomically on every save. */
export function fileStateStore(path: string): StateStore {
  return {
    load: () => {
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === "ENOENT") return Promise.resolve(undefined);
        throw cause;
      }
      return Promise.resolve(parseUpgradeState(JSON.parse(text), path));
    },
    save: (s) => {
      mkdirSync(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(s, null, 2));
      renameSync(tmp, path);
      return Promise.resolve();
    },
    forget: () => {
      rmSync(path, { force: true });
      return Promise.resolve();
    },
  };
}

/** Schema of the durable state table on blue; it outlives the upgrade's own objects. */
export const STATE_SCHEMA = "setpoint";

/**
 * A state store in a table on blue (`setpoint.upgrades`, one row per `key`): durable wherever the
 * driver runs, which is what a Pulumi provider needs (its process ends after every operation).
 */
export function tableStateStore(blue: ConnectionInput, key: string): StateStore {
  const table = `${quoteIdent(STATE_SCHEMA)}.${quoteIdent("upgrades")}`;
  return {
    load: async () => {
      const client = await connect(blue, { applicationName: "setpoint-upgrade" });
      try {
        const exists = await client.query(`SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'upgrades'`, [
          STATE_SCHEMA,
        ]);
        if (exists.rowCount === 0) return undefined;
        const { rows } = await client.query<{ state: unknown }>(`SELECT state FROM ${table} WHERE key = $1`, [key]);
        return rows[0] ? parseUpgradeState(rows[0].state, `${STATE_SCHEMA}.upgrades (key ${quoteLiteral(key)})`) : undefined;
      } finally {
        await client.end();
      }
    },
    save: async (s) => {
      const client = await connect(blue, { applicationName: "setpoint-upgrade" });
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(STATE_SCHEMA)}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${table} (key text PRIMARY KEY, state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`);
        await client.query(`INSERT INTO ${table} (key, state) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, updated_at = now()`, [
          key,
          JSON.stringify(s),
        ]);
      } finally {
        await client.end();
      }
    },
    forget: async () => {
      const client = await connect(blue, { applicationName: "setpoint-upgrade" });
      try {
        // The table may not exist: nothing was ever saved, so there is nothing to forget.
        const { rows } = await client.query<{ exists: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS exists`, [table]);
        if (rows[0]!.exists) await client.query(`DELETE FROM ${table} WHERE key = $1`, [key]);
      } finally {
        await client.end();
      }
    },
  };
}
