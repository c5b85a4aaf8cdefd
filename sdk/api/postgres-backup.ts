/**
 * The `PostgresBackup` (one base backup, on demand) and `PostgresScheduledBackup` (base backups on
 * a cron schedule) custom resources (docs/adr/0030). A backup goes to the cluster's
 * `spec.backup.destination`: neither resource names a bucket or a credential of its own.
 */
import { z } from "zod";
import { baseStatusShape, localObjectName } from "./common";
import { CRON_PATTERN } from "./postgres-cluster";

/** Where a base backup is taken from. */
export const BACKUP_TARGETS = ["prefer-standby", "primary"] as const;

/** Phases of a `PostgresBackup`. */
export const BACKUP_PHASES = ["Pending", "Running", "Completed", "Failed"] as const;

const clusterRef = z.object({ name: localObjectName.describe("PostgresCluster in the same namespace.") }).describe("The cluster to back up.");

/** Zod schema of `PostgresBackup.spec`. */
export const postgresBackupSpecSchema = z.object({
  cluster: clusterRef,
  target: z
    .enum(BACKUP_TARGETS)
    .optional()
    .describe("prefer-standby: from a healthy replica when there is one, else the primary; primary: always the primary. The cluster's spec.backup.target when omitted."),
});

/** `PostgresBackup.spec` as written by a user. */
export type PostgresBackupSpecInput = z.input<typeof postgresBackupSpecSchema>;
/** `PostgresBackup.spec` after validation. */
export type PostgresBackupSpec = z.output<typeof postgresBackupSpecSchema>;

/** Zod schema of `PostgresBackup.status`. */
export const postgresBackupStatusSchema = z.object({
  ...baseStatusShape,
  phase: z.enum(BACKUP_PHASES).optional().describe("Pending, Running, Completed or Failed."),
  backupId: z.string().optional().describe("Id of the base backup in the bucket (its start time)."),
  instance: z.string().optional().describe("Pod the backup was taken from."),
  role: z.enum(["primary", "replica"]).optional().describe("Role of that instance when the backup began."),
  beginLsn: z.string().optional().describe("WAL position the backup starts at."),
  endLsn: z.string().optional().describe("WAL position the backup is consistent at."),
  beginTime: z.string().optional().describe("When the backup began (RFC 3339)."),
  endTime: z.string().optional().describe("When the backup ended (RFC 3339)."),
  timeline: z.int().min(1).optional().describe("Timeline the backup was taken on."),
  sizeBytes: z.int().min(0).optional().describe("Uncompressed size of the backup's archives."),
  storedBytes: z.int().min(0).optional().describe("Bytes stored in the bucket."),
  usable: z.boolean().optional().describe("A restore can start from this backup: complete, and its WAL from begin to end is archived."),
  error: z.string().optional().describe("Why the backup failed (a named reason and its fix; never a credential)."),
});

/** `PostgresBackup.status`. */
export type PostgresBackupStatus = z.output<typeof postgresBackupStatusSchema>;

/** Zod schema of `PostgresScheduledBackup.spec`. */
export const postgresScheduledBackupSpecSchema = z.object({
  cluster: clusterRef,
  schedule: z
    .string()
    .regex(CRON_PATTERN, { error: "schedule must be a five-field cron expression, e.g. '0 3 * * *'" })
    .describe("When to take base backups: a five-field cron expression, in UTC."),
  suspend: z.boolean().default(false).describe("Take no backups while true."),
  target: z.enum(BACKUP_TARGETS).optional().describe("As PostgresBackup.spec.target."),
});

/** `PostgresScheduledBackup.spec` as written by a user. */
export type PostgresScheduledBackupSpecInput = z.input<typeof postgresScheduledBackupSpecSchema>;
/** `PostgresScheduledBackup.spec` after validation. */
export type PostgresScheduledBackupSpec = z.output<typeof postgresScheduledBackupSpecSchema>;

/** Zod schema of `PostgresScheduledBackup.status`. */
export const postgresScheduledBackupStatusSchema = z.object({
  ...baseStatusShape,
  lastScheduleTime: z.string().optional().describe("The scheduled time of the last PostgresBackup created (RFC 3339)."),
  lastBackup: z.string().optional().describe("Name of the last PostgresBackup created."),
  nextScheduleTime: z.string().optional().describe("When the next one is due (RFC 3339)."),
});

/** `PostgresScheduledBackup.status`. */
export type PostgresScheduledBackupStatus = z.output<typeof postgresScheduledBackupStatusSchema>;
