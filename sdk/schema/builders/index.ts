/** Typed schema builders: tables, columns, constraints, indexes, enums and sequences as code. */
export { sql, isSql, type SqlExpr, type SqlInterpolation } from "./sql";
export { Column, column, type TemporalValue } from "./columns";
export { table, enumType, sequence, type SequenceDefinition } from "./tables";
export { defineSchema, type DefineSchemaOptions } from "./define";
export { renderSchema, renderType } from "./render";
export { validateDefinition, type BuilderIssue } from "./validate";
export type {
  AnyTable,
  CheckSpec,
  ColumnLike,
  ColumnSpec,
  ColumnStorageMode,
  ColumnCompression,
  ColumnType,
  ColumnsShape,
  DefaultSpec,
  EnumType,
  ExclusionSpec,
  ExtensionSpec,
  ForeignKeySpec,
  IdentitySpec,
  IndexKey,
  IndexMethod,
  IndexSpec,
  JsonValue,
  ObjectName,
  PrimaryKeySpec,
  ReferenceOptions,
  ReferenceSpec,
  ReferenceTarget,
  ReferentialAction,
  ScalarTypeName,
  SchemaDefinition,
  Sequence,
  SequenceOptions,
  StorageValue,
  Table,
  TableOptions,
  TableRef,
  UniqueSpec,
} from "./types";
