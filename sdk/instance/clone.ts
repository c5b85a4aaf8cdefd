/**
 * A replica's clone for the instance manager. The base backup over the replication protocol
 * (sdk/instance/basebackup.ts) is not in this build yet: a replica fails here, naming it.
 */
import type { CloneFn } from "./prepare";

/** Clones `source` into `pgdata` as a standby. */
export const cloneWithBaseBackup: CloneFn = () => Promise.reject(new Error("this build has no base backup client (sdk/instance/basebackup.ts)"));
