/**
 * A replica's clone for the instance manager: the base backup over the replication protocol
 * (basebackup.ts: fast checkpoint, WAL included, through the replica's own slot) into the
 * directory the manager renames into place, written as a standby of its source.
 */
import { cloneInstance } from "./basebackup";
import type { CloneFn } from "./prepare";

/** Clones `source` into `pgdata` as a standby streaming through `source.slot`. */
export const cloneWithBaseBackup: CloneFn = async ({ source, pgdata }) =>
  cloneInstance({
    source: { host: source.host, port: source.port, user: source.user, password: source.password, applicationName: source.applicationName, ...(source.tls ? { tls: source.tls } : {}) },
    pgdata,
    slot: source.slot,
    standby: true,
    label: `setpoint clone ${source.applicationName}`,
  });
