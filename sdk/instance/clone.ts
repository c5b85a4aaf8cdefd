/**
 * A replica's clone for the instance manager: the base backup over the replication protocol
 * (basebackup.ts: fast checkpoint, WAL included, through the replica's own slot) into the
 * directory the manager renames into place, written as a standby of its source.
 */
import { cloneInstance, type ReplicationSource } from "./basebackup";
import type { CloneFn } from "./prepare";
import type { ReplicaSource } from "./settings";

/** How a replica's settings name its source, as the replication protocol's client and `primary_conninfo` take it. Pure. */
export function replicationSource(source: ReplicaSource): ReplicationSource {
  return { host: source.host, port: source.port, user: source.user, password: source.password, applicationName: source.applicationName, ...(source.tls ? { tls: source.tls } : {}) };
}

/** Clones `source` into `pgdata` as a standby streaming through `source.slot`. */
export const cloneWithBaseBackup: CloneFn = async ({ source, pgdata }) =>
  cloneInstance({
    source: replicationSource(source),
    pgdata,
    slot: source.slot,
    standby: true,
    label: `setpoint clone ${source.applicationName}`,
  });
