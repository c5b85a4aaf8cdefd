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
  ObjectDef,
  DomainDef,
  DomainConstraintDef,
  CompositeTypeDef,
  RangeTypeDef,
  TriggerDef,
  StatisticsDef,
  AclObjectType,
  DefaultAclObjects,
  MaterializedViewDef,
  NotNullConstraintDef,
  ReplicaIdentity,
} from "./model";

/** What an owner or privilege change is about (an {@link AclDef} without its owner and ACL). */
export interface AclTarget {
  readonly type: AclObjectType;
  readonly schema: string;
  readonly name: string;
  readonly identity: string;
  readonly column: string | null;
}

/** Whose default privileges a change is about: a role's, in a schema or (schema null) global. */
export interface DefaultAclTarget {
  readonly schema: string | null;
  readonly role: string;
  readonly objects: DefaultAclObjects;
}

/** A column converted in place when its type is re-created. */
export interface ConvertedColumn {
  readonly table: QualifiedName;
  readonly column: string;
  readonly array: boolean;
  /** Whether the live column has a default, dropped before the conversion (PostgreSQL cannot cast it along). */
  readonly dropDefault: boolean;
  /** Default to set after the conversion (the desired one). */
  readonly default: string | null;
  /**
   * A partition's or an inheritance child's column that a parent has too: the parent's ALTER TYPE
   * converts it (PostgreSQL refuses one on the child: "cannot alter inherited column").
   */
  readonly inherited?: true;
}

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
  /** `ALTER EXTENSION ... SET SCHEMA`: `from` is the schema it leaves. */
  | { readonly kind: "setExtensionSchema"; readonly extension: ExtensionDef; readonly from: string }
  | { readonly kind: "createEnum"; readonly enum: EnumDef }
  | { readonly kind: "dropEnum"; readonly enum: EnumDef }
  | { readonly kind: "addEnumValue"; readonly enum: QualifiedName; readonly value: string; readonly before: string | null }
  | {
      readonly kind: "recreateEnum";
      readonly enum: EnumDef;
      readonly removedValues: readonly string[];
      /** Columns using the type: each is converted through text. */
      readonly columns: readonly ConvertedColumn[];
    }
  | { readonly kind: "createSequence"; readonly sequence: SequenceDef }
  | { readonly kind: "dropSequence"; readonly sequence: SequenceDef }
  /** `from`: the live sequence (its bounds, to move the current value into the new ones). */
  | { readonly kind: "alterSequence"; readonly sequence: SequenceDef; readonly from: SequenceDef }
  /**
   * Moves a sequence the plan creates for an existing column past the column's values (a serial
   * column that was an identity or a plain column), so new rows do not collide with old ones.
   */
  | { readonly kind: "syncSequence"; readonly sequence: SequenceDef; readonly table: QualifiedName; readonly column: string }
  | { readonly kind: "setSequenceOwner"; readonly sequence: SequenceDef }
  | { readonly kind: "renameSequence"; readonly sequence: QualifiedName; readonly to: string }
  | { readonly kind: "createTable"; readonly table: TableDef }
  | { readonly kind: "dropTable"; readonly table: TableDef; readonly rows: RowFacts }
  | { readonly kind: "renameTable"; readonly table: QualifiedName; readonly to: string }
  | { readonly kind: "setTableLogged"; readonly table: QualifiedName; readonly unlogged: boolean }
  | { readonly kind: "setTableOptions"; readonly table: QualifiedName; readonly set: readonly string[]; readonly reset: readonly string[] }
  | { readonly kind: "addColumn"; readonly table: QualifiedName; readonly column: ColumnDef; readonly volatileDefault: boolean }
  /**
   * `only`: the table has inheritance children, which keep the column as their own (`ALTER TABLE ONLY`);
   * those that should lose it drop it in their own step.
   */
  | { readonly kind: "dropColumn"; readonly table: QualifiedName; readonly column: ColumnDef; readonly rows: RowFacts; readonly only: boolean }
  | { readonly kind: "renameColumn"; readonly table: QualifiedName; readonly from: string; readonly to: string }
  | {
      readonly kind: "alterColumnType";
      readonly table: QualifiedName;
      readonly column: string;
      readonly from: string;
      readonly to: string;
      readonly collation: string | null;
      readonly rewrite: boolean;
      /** Whether the live column has a default, dropped before the conversion (it may not cast along). */
      readonly dropDefault: boolean;
      /** Default to set after the conversion (the desired one). */
      readonly default: string | null;
    }
  /**
   * `ALTER COLUMN ... SET NOT NULL`, or on PostgreSQL 18 with `constraint`, `ADD CONSTRAINT name NOT NULL
   * column [NO INHERIT] [NOT VALID]` (the constraint under its desired name).
   */
  | { readonly kind: "setNotNull"; readonly table: QualifiedName; readonly column: string; readonly online: boolean; readonly constraint?: NotNullConstraintDef }
  | { readonly kind: "dropNotNull"; readonly table: QualifiedName; readonly column: string }
  /** `restored`: set again after a dropDefault of the same column in the plan, which released what the old default used. */
  | { readonly kind: "setDefault"; readonly table: QualifiedName; readonly column: string; readonly default: string; readonly restored?: true }
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
  /**
   * `ADD CONSTRAINT ... USING INDEX` of an index built concurrently. `replaces`: the live primary key
   * or unique constraint of the same name, dropped in the same step (one transaction), so the table
   * is never without a key while the new index is built under a temporary name.
   */
  | { readonly kind: "addConstraintUsingIndex"; readonly table: QualifiedName; readonly constraint: ConstraintDef; readonly index: string; readonly replaces: ConstraintDef | null }
  | { readonly kind: "createIndex"; readonly table: QualifiedName; readonly index: IndexDef; readonly concurrently: boolean }
  | { readonly kind: "dropIndex"; readonly schema: string; readonly index: IndexDef; readonly concurrently: boolean }
  | { readonly kind: "renameIndex"; readonly schema: string; readonly from: string; readonly to: string }
  /** `ALTER INDEX ... SET / RESET (...)` of a primary key's or unique constraint's index (`index` is the constraint's name). */
  | { readonly kind: "setIndexOptions"; readonly table: QualifiedName; readonly index: string; readonly set: readonly string[]; readonly reset: readonly string[] }
  | { readonly kind: "createView"; readonly view: ViewDef }
  | { readonly kind: "dropView"; readonly view: ViewDef }
  /** `ALTER TABLE parent ATTACH PARTITION table FOR VALUES ...` (scans the table to check the bound). */
  | { readonly kind: "attachPartition"; readonly table: QualifiedName; readonly parent: QualifiedName; readonly bound: string }
  | { readonly kind: "detachPartition"; readonly table: QualifiedName; readonly parent: QualifiedName }
  /** `ALTER TABLE table INHERIT parent`: the table already has the parent's columns and CHECKs (no scan). */
  | { readonly kind: "inherit"; readonly table: QualifiedName; readonly parent: QualifiedName }
  /** `ALTER TABLE table NO INHERIT parent`: the table keeps the columns it inherited, as its own. */
  | { readonly kind: "noInherit"; readonly table: QualifiedName; readonly parent: QualifiedName }
  | { readonly kind: "setRowSecurity"; readonly table: QualifiedName; readonly enabled: boolean; readonly forced: boolean }
  /** `ALTER TABLE ... REPLICA IDENTITY ...`. */
  | { readonly kind: "setReplicaIdentity"; readonly table: QualifiedName; readonly identity: ReplicaIdentity }
  /**
   * A column's statistics target, storage, compression and attribute options (`ALTER TABLE ONLY …
   * ALTER COLUMN …`: a parent's never reach its children, whose own steps set theirs). Each field
   * present is set; `statistics: null` and `compression: null` return to the default, `resetOptions`
   * removes options. Catalog only: nothing is rewritten.
   */
  | {
      readonly kind: "setColumnAttributes";
      readonly table: QualifiedName;
      readonly column: string;
      readonly statistics?: number | null;
      /** A storage mode letter (p, e, m, x). */
      readonly storage?: string;
      readonly compression?: string | null;
      readonly setOptions: readonly string[];
      readonly resetOptions: readonly string[];
    }
  /** `ALTER STATISTICS … SET STATISTICS`: an extended statistics object's own target (null: the default). */
  | { readonly kind: "setStatisticsTarget"; readonly statistics: StatisticsDef }
  /** `ALTER TABLE … CLUSTER ON index` (`index` null: `SET WITHOUT CLUSTER`); the mark `CLUSTER` without an index name uses. */
  | { readonly kind: "setClusterOn"; readonly table: QualifiedName; readonly index: string | null }
  /** `ALTER INDEX parentIndex ATTACH PARTITION index`: a partition's existing index joins its parent's (`parent` is the parent table). */
  | { readonly kind: "attachIndex"; readonly parent: QualifiedName; readonly parentIndex: string; readonly table: QualifiedName; readonly index: string }
  /**
   * Gives the index of partition `table` attached to `parentIndex` of `parent` the name `to`, whatever
   * name PostgreSQL chose when it built it (with the parent's index, the partition or its attachment).
   */
  | { readonly kind: "renamePartitionIndex"; readonly parent: QualifiedName; readonly parentIndex: string; readonly table: QualifiedName; readonly to: string }
  /** A routine, trigger, domain, composite or range type, materialized view or policy (see `objects.ts`). */
  | { readonly kind: "createObject"; readonly object: ObjectDef }
  | { readonly kind: "dropObject"; readonly object: ObjectDef }
  /** `CREATE OR REPLACE` of a routine whose arguments and result are unchanged, or of a plain trigger. */
  | { readonly kind: "replaceObject"; readonly object: ObjectDef; readonly from: ObjectDef }
  | { readonly kind: "setDomainDefault"; readonly domain: DomainDef; readonly default: string | null }
  | { readonly kind: "setDomainNotNull"; readonly domain: DomainDef; readonly notNull: boolean }
  | { readonly kind: "addDomainConstraint"; readonly domain: DomainDef; readonly constraint: DomainConstraintDef; readonly notValid: boolean }
  | { readonly kind: "validateDomainConstraint"; readonly domain: DomainDef; readonly constraint: string }
  | { readonly kind: "dropDomainConstraint"; readonly domain: DomainDef; readonly constraint: DomainConstraintDef }
  /** `ALTER TYPE ... ADD / DROP / ALTER ATTRIBUTE`, in one statement. */
  | { readonly kind: "alterCompositeType"; readonly type: CompositeTypeDef; readonly actions: readonly string[] }
  | { readonly kind: "setTriggerEnabled"; readonly trigger: TriggerDef }
  /** `REFRESH MATERIALIZED VIEW` of a kept view left unpopulated (`WITH NO DATA`) that the desired state has populated. */
  | { readonly kind: "refreshMaterializedView"; readonly view: MaterializedViewDef }
  /**
   * A domain, composite or range type re-created under columns that use it: the old type is renamed,
   * the new one created, the columns converted through text, the old type dropped.
   */
  | { readonly kind: "recreateType"; readonly type: DomainDef | CompositeTypeDef | RangeTypeDef; readonly from: DomainDef | CompositeTypeDef | RangeTypeDef; readonly columns: readonly ConvertedColumn[] }
  /**
   * The columns of type `type` are converted to text, and back after (`columnsFromText`), around a
   * change PostgreSQL refuses while they use it: an attribute of `inner`, a type nested in a
   * composite, retyped; or `type` re-created while a type it is built on is re-created too (`inner`
   * null): a composite's attribute type, a domain's base type, a range's subtype.
   */
  | { readonly kind: "columnsToText"; readonly type: DomainDef | CompositeTypeDef | RangeTypeDef; readonly columns: readonly ConvertedColumn[]; readonly inner: CompositeTypeDef | null }
  | { readonly kind: "columnsFromText"; readonly type: DomainDef | CompositeTypeDef | RangeTypeDef; readonly columns: readonly ConvertedColumn[]; readonly inner: CompositeTypeDef | null }
  | { readonly kind: "comment"; readonly target: CommentTarget; readonly comment: string | null }
  /** `ALTER ... OWNER TO`; `existing` is false for an object the plan creates (or re-creates). */
  | { readonly kind: "setOwner"; readonly target: AclTarget; readonly owner: string; readonly from: string; readonly existing: boolean }
  /** `GRANT privileges ON target TO grantee` (null: PUBLIC). */
  | { readonly kind: "grantPrivileges"; readonly target: AclTarget; readonly grantee: string | null; readonly privileges: readonly string[]; readonly withGrantOption: boolean }
  /** `REVOKE [GRANT OPTION FOR] privileges ON target FROM grantee`; `existing` as for setOwner. */
  | {
      readonly kind: "revokePrivileges";
      readonly target: AclTarget;
      readonly grantee: string | null;
      readonly privileges: readonly string[];
      readonly grantOptionOnly: boolean;
      readonly existing: boolean;
    }
  /** `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] GRANT ...`. */
  | { readonly kind: "grantDefaultPrivileges"; readonly target: DefaultAclTarget; readonly grantee: string | null; readonly privileges: readonly string[]; readonly withGrantOption: boolean }
  /** `ALTER DEFAULT PRIVILEGES FOR ROLE r [IN SCHEMA s] REVOKE [GRANT OPTION FOR] ...`. */
  | { readonly kind: "revokeDefaultPrivileges"; readonly target: DefaultAclTarget; readonly grantee: string | null; readonly privileges: readonly string[]; readonly grantOptionOnly: boolean };

/** What a change's comment is attached to. */
export type CommentTarget =
  | { readonly type: "SCHEMA"; readonly name: string }
  | { readonly type: "EXTENSION"; readonly name: string }
  | { readonly type: "TYPE" | "SEQUENCE" | "TABLE" | "INDEX" | "VIEW"; readonly schema: string; readonly name: string }
  | { readonly type: "COLUMN"; readonly schema: string; readonly table: string; readonly column: string }
  | { readonly type: "CONSTRAINT"; readonly schema: string; readonly table: string; readonly constraint: string }
  | { readonly type: "DOMAIN CONSTRAINT"; readonly schema: string; readonly domain: string; readonly constraint: string }
  /** An attribute of a composite type (`COMMENT ON COLUMN type.attribute`). */
  | { readonly type: "ATTRIBUTE"; readonly schema: string; readonly composite: string; readonly attribute: string }
  | { readonly type: "OBJECT"; readonly object: ObjectDef };

/** What the diff learned cheaply about the data a destructive change touches. */
export interface RowFacts {
  /** `true`: no rows (or, for a column, no non-null values); `false`: some; `null`: not checked (too large). */
  readonly empty: boolean | null;
  /** Planner estimate of the table's rows. */
  readonly estimatedRows: number;
}

/** Every change kind, for exhaustiveness checks in tests. */
export type ChangeKind = Change["kind"];
