/**
 * Backups and point-in-time recovery to S3-compatible object storage (docs/adr/0021): the WAL
 * archive (`archive_command` / `restore_command`), base backups streamed into the bucket, the
 * bucket's catalog, and restore of a data directory to a point in time.
 */
export { describeStore, parseObjectStoreOptions, resolveCredentials, type CredentialSource, type Credentials, type ObjectStoreOptions } from "./config";
export { openObjectStore, type ObjectInfo, type ObjectStore, type StoredObject } from "./store";
export { archiveWal, restoreWal, WAL_GZIP_LEVEL, type ArchiveResult, type RestoreWalResult } from "./wal";
export { EXIT_ABORT_RECOVERY, EXIT_NOT_FOUND, loadStoreConfig, walCommand } from "./wal-cli";
export { takeBaseBackup, type BaseBackupStreamer, type TakeBaseBackupOptions, type TakeBaseBackupResult } from "./base-backup";
export type { BaseBackupResult, ReplicationSource } from "../instance/basebackup";
export { readCatalog, type Catalog, type CatalogBackup, type TimelineWal } from "./catalog";
export { parseManifest, type BackupManifest, type ManifestArchive } from "./manifest";
export { describeTarget, planRestore, recoveryFailure, restoreBackup, writeRecoveryConfig, type RecoveryTarget, type RestoreOptions, type RestorePlan, type RestoreResult, type TarExtractor } from "./restore";
export { applyRetention, backupIdTime, parseRetention, planRetention, type RetainedBackup, type RetentionInput, type RetentionPlan, type RetentionResult } from "./retention";
export { dueRun, nextRun, parseCron, previousRun, type CronSchedule } from "./cron";
export { backupIdFor, formatLsn, parseLsn, parseWalName, segmentName, type WalFile } from "./layout";
export { BackupError, type BackupErrorReason } from "../errors";
