/** Connections, SQL quoting and PostgreSQL versions: the contract of `setpoint/postgres`. */
export { quoteIdent, quoteIdentIfNeeded, quoteLiteral, quoteConninfoValue, quoteNullableLiteral, quoteQualified } from "./quote";
export { SUPPORTED_MAJORS, DEFAULT_MAJOR, isSupportedMajor, majorFromVersionNum, type PostgresMajor } from "./versions";
export { connect, redactUrl, describeConnection, toClientConfig, toConninfo, type ConnectionInput, type ConnectOptions } from "./connection";
export {
  startEmbeddedPostgres,
  installedMajors,
  embeddedBinDir,
  sweepAbandonedInstances,
  randomPassword,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
} from "./embedded";
export {
  ensurePostgresBinaries,
  findPostgresBinaries,
  EMBEDDED_POSTGRES_VERSIONS,
  type PostgresBinaries,
  type BinariesOptions,
} from "./binaries";
