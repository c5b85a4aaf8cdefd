/** Pulumi components: `setpoint/components`. */
export { Schema, connectionUrl, desiredFiles, type SchemaArgs, type SchemaConnectionFields, type SchemaSecretRef } from "./schema";
export { parseSchemaInputs, type SchemaResourceInputs } from "./schema-args";
export * from "./operator";
export * from "./postgres-cluster";
