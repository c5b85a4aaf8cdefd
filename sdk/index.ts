/** The `setpoint` package: typed PostgreSQL clusters, schemas and upgrades. */
export * from "./postgres/index";
export { SetpointError, InputError, ConnectionError, EmbeddedPostgresError } from "./errors";
export { packageVersion } from "./version";
