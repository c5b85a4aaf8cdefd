import type {
  ColumnDef,
  ConstraintDef,
  EnumDef,
  ExtensionDef,
  IdentityDef,
  IndexDef,
  NamespaceDef,
  QualifiedName,
  SequenceDef,
  TableDef,
  ViewDef,
} from "./model";

/**
 * One change the diff found, as an immutable discriminated union. `render` turns each into SQL with
 * an exhaustive switch; `plan` orders them and attaches hazards and timeouts.
 */
export type Change =
  | { readonly kind: "createSchema"; readonly schema: NamespaceDef }
  | { readonly kind: "dropSchema"; readonly schema: NamespaceDef }
  | { readonly kind: "createExtension"; readonly extension: ExtensionDef }
  | { readonly kind: "dropExtension"; readonly extension: ExtensionDef }
  | { readonly kind: "updateExtension"; readonly extension: ExtensionDef; readonly from: string }
  | { readonly kind: "createEnum"; readonly enum: EnumDef }
  | { readonly kind: "dropEnum"; readonly enum: EnumDef }
  | { readonly kind: "addEnumValue"; readonly enum: QualifiedName; readonly value: string; readonly before: string | null }
  | {
      readonly kind: "recreateEnum";
      readonly enum: EnumDef;
      readonly removedValues: readonly string[];
      /** Columns using the type: each is converted through text. */
      readonly columns: readonly { readonly table: QualifiedName; readonly column: string; readonly array: boolean; readonly default: string | null }[];
    }
  | { readonly kind: "createSequence"; readonly sequence: SequenceDef }
  | { readonly kind: "dropSequence"; readonly sequence: SequenceDef }
  | { readonly kind: "alterSequence"; readonly sequence: SequenceDef }
  | { readonly kind: "setSequenceOwner"; readonly sequence: SequenceDef }
  | { readonly kind: "renameSequence"; readonly sequence: QualifiedName; readonly to: string }
  | { readonly kind: "createTable"; readonly table: TableDef }
  | { readonly kind: "dropTable"; readonly table: TableDef; readonly rows: RowFacts }
  | { readonly kind: "renameTable"; readonly table: QualifiedName; readonly to: string }
  | { readonly kind: "setTableLogged"; readonly table: QualifiedName; readonly unlogged: boolean }
  | { readonly kind: "setTableOptions"; readonly table: QualifiedName; readonly set: readonly string[]; readonly reset: readonly string[] }
  | { readonly kind: "addColumn"; readonly table: QualifiedName; readonly column: ColumnDef; readonly volatileDefault: boolean }
  | { readonly kind: "dropColumn"; readonly table: QualifiedName; readonly column: ColumnDef; readonly rows: RowFacts }
  | { readonly kind: "renameColumn"; readonly table: QualifiedName; readonly from: string; readonly to: string }
  | {
      readonly kind: "alterColumnType";
      readonly table: QualifiedName;
      readonly column: string;
      readonly from: string;
      readonly to: string;
      readonly collation: string | null;
      readonly rewrite: boolean;
      /** Default to drop before and restore after the conversion, when it cannot be cast along. */
      readonly default: string | null;
    }
  | { readonly kind: "setNotNull"; readonly table: QualifiedName; readonly column: string; readonly online: boolean }
  | { readonly kind: "dropNotNull"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "setDefault"; readonly table: QualifiedName; readonly column: string; readonly default: string }
  | { readonly kind: "dropDefault"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "addIdentity"; readonly table: QualifiedName; readonly column: string; readonly identity: IdentityDef }
  | { readonly kind: "alterIdentity"; readonly table: QualifiedName; readonly column: string; readonly identity: IdentityDef }
  | { readonly kind: "dropIdentity"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "setGeneratedExpression"; readonly table: QualifiedName; readonly column: ColumnDef }
  | { readonly kind: "dropGeneratedExpression"; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "addConstraint"; readonly table: QualifiedName; readonly constraint: ConstraintDef; readonly notValid: boolean }
  | { readonly kind: "validateConstraint"; readonly table: QualifiedName; readonly constraint: string }
  | { readonly kind: "dropConstraint"; readonly table: QualifiedName; readonly constraint: ConstraintDef }
  | { readonly kind: "renameConstraint"; readonly table: QualifiedName; readonly from: string; readonly to: string }
  | { readonly kind: "addConstraintUsingIndex"; readonly table: QualifiedName; readonly constraint: ConstraintDef; readonly index: string }
  | { readonly kind: "createIndex"; readonly table: QualifiedName; readonly index: IndexDef; readonly concurrently: boolean }
  | { readonly kind: "dropIndex"; readonly schema: string; readonly index: IndexDef; readonly concurrently: boolean }
  | { readonly kind: "renameIndex"; readonly schema: string; readonly from: string; readonly to: string }
  | { readonly kind: "createView"; readonly view: ViewDef }
  | { readonly kind: "dropView"; readonly view: ViewDef }
  | { readonly kind: "comment"; readonly target: CommentTarget; readonly comment: string | null };

/** What a change's comment is attached to. */
export type CommentTarget =
  | { readonly type: "SCHEMA"; readonly name: string }
  | { readonly type: "EXTENSION"; readonly name: string }
  | { readonly type: "TYPE" | "SEQUENCE" | "TABLE" | "INDEX" | "VIEW"; readonly schema: string; readonly name: string }
  | { readonly type: "COLUMN"; readonly schema: string; readonly table: string; readonly column: string }
  | { readonly type: "CONSTRAINT"; readonly schema: string; readonly table: string; readonly constraint: string };

/** What the diff learned cheaply about the data a destructive change touches. */
export interface RowFacts {
  /** `true`: no rows (or, for a column, no non-null values); `false`: some; `null`: not checked (too large). */
  readonly empty: boolean | null;
  /** Planner estimate of the table's rows. */
  readonly estimatedRows: number;
}

/** Every change kind, for exhaustiveness checks in tests. */
export type ChangeKind = Change["kind"];
