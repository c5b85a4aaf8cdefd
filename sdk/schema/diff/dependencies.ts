import type { AclTarget, Change } from "../changes";
import type { QualifiedName, SchemaModel, TableDef } from "../model";
import { childrenOf, inheritable, keptDescendants, partitionsOf } from "../kinds/inheritance";
import { objectKeys, objectNeeds } from "../kinds/objects";
import { objectsNamedIn, routinesInExpression } from "../kinds/expressions";
import { aclObjectKey } from "../kinds/privileges";
import { inCreateTable } from "./context";
import { identitySequenceName } from "../names";
import { K, columnNeeds, columnReleases, columnsMentioned, commentNeeds, constraintNeeds, constraintReleases, descendantColumns, findColumn, findTable, onInherited, onParent, ownerOfIndex, partitionParentDefault, sequenceIndex, viewKeys, viewReads, sequencesDroppedWith, sequencesInExpression } from "./dependency-keys";

/**
 * What a change does to the object graph, as keys (`table:s.t`, `column:s.t.c`, `type:s.n`, ...):
 * objects it creates, drops, needs to exist, and stops depending on. `plan` orders changes so that
 * creators run before needers, releasers before droppers, and droppers before re-creators.
 */
export interface ChangeDeps {
  readonly creates: readonly string[];
  readonly drops: readonly string[];
  readonly needs: readonly string[];
  readonly releases: readonly string[];
}

const none: readonly string[] = [];

// Built field by field: V8's object spread over partial objects of varying shapes is several times slower.
function deps(p: Partial<ChangeDeps>): ChangeDeps {
  return { creates: p.creates ?? none, drops: p.drops ?? none, needs: p.needs ?? none, releases: p.releases ?? none };
}

/** The graph effects of one change, given both models (for references the change does not carry). */
export function dependenciesOf(change: Change, live: SchemaModel, desired: SchemaModel): ChangeDeps {
  const d = deps;
  switch (change.kind) {
    case "createSchema":
      return d({ creates: [K.schema(change.schema.name)] });
    case "dropSchema":
      return d({ drops: [K.schema(change.schema.name)] });
    case "createExtension":
      return d({ creates: [K.extension(change.extension.name), K.anyExtension], needs: [K.schema(change.extension.schema), ...change.extension.requires.map(K.extension)] });
    case "dropExtension":
      // After the extensions that require it (whose drops release it).
      return d({
        drops: [K.extension(change.extension.name), K.extensionObjects],
        releases: [K.schema(change.extension.schema), ...change.extension.requires.map(K.extension)],
      });
    case "setExtensionSchema":
      // What names the extension's objects (an index's operator class) comes after the move.
      return d({ needs: [K.extension(change.extension.name), K.schema(change.extension.schema)], creates: [K.anyExtension], releases: [K.schema(change.from)] });
    case "updateExtension":
      return d({ needs: [K.extension(change.extension.name)], creates: [K.anyExtension] });
    case "createEnum":
      return d({ creates: [K.type(change.enum.schema, change.enum.name)], needs: [K.schema(change.enum.schema)] });
    case "dropEnum":
      return d({ drops: [K.type(change.enum.schema, change.enum.name)], releases: [K.schema(change.enum.schema)] });
    case "addEnumValue":
      return d({ needs: [K.type(change.enum.schema, change.enum.name)], creates: [K.enumValues(change.enum.schema, change.enum.name)] });
    case "recreateEnum": {
      const t = K.type(change.enum.schema, change.enum.name);
      // The converted columns count as dropped and re-created, so views reading them go around it.
      const columns = change.columns.map((c) => K.column(c.table, c.column));
      return d({ drops: [t, ...columns], creates: [t, K.enumValues(change.enum.schema, change.enum.name), ...columns], needs: columns });
    }
    case "createSequence":
      return d({ creates: [K.sequence(change.sequence.schema, change.sequence.name)], needs: [K.schema(change.sequence.schema)] });
    case "dropSequence":
      return d({ drops: [K.sequence(change.sequence.schema, change.sequence.name)], releases: [K.schema(change.sequence.schema)] });
    case "alterSequence":
      return d({ needs: [K.sequence(change.sequence.schema, change.sequence.name)] });
    case "setSequenceOwner": {
      const o = change.sequence.ownedBy;
      const needs = [K.sequence(change.sequence.schema, change.sequence.name)];
      if (o) needs.push(K.column({ schema: o.schema, name: o.table }, o.column));
      // A sequence moving to another owner moves before its old owner column goes (which would take it along).
      const from = sequenceIndex(live).byName.get(`${change.sequence.schema}.${change.sequence.name}`)?.ownedBy;
      const moved = from && (!o || from.schema !== o.schema || from.table !== o.table || from.column !== o.column);
      return d({ needs, releases: moved ? [K.column({ schema: from.schema, name: from.table }, from.column)] : none });
    }
    case "renameSequence":
      return d({ drops: [K.sequence(change.sequence.schema, change.sequence.name)], creates: [K.sequence(change.sequence.schema, change.to)] });
    case "createTable": {
      const t = change.table;
      const creates = [K.table(t), ...t.columns.map((c) => K.column(t, c.name))];
      for (const c of t.constraints) if (inCreateTable(c)) creates.push(K.constraint(t, c.name));
      const needs = [K.schema(t.schema), ...t.columns.flatMap((c) => columnNeeds(t, c, desired))];
      for (const c of t.constraints) if (inCreateTable(c)) needs.push(...routinesInExpression(c.definition, desired), ...objectsNamedIn(c.definition, desired));
      // A partition after its parent (its columns come from it), and after the partitions whose
      // bounds it may overlap are dropped or detached.
      if (t.partitionOf) {
        needs.push(K.table(t.partitionOf));
        creates.push(K.bounds(t.partitionOf));
      }
      // A child after its parents have their columns (what it does not declare comes from them).
      for (const p of t.inherits) {
        needs.push(K.table(p), K.shape(p));
        for (const c of t.columns) if (!c.local) needs.push(K.column(p, c.name));
      }
      return d({ creates, needs });
    }
    case "dropTable": {
      const t = change.table;
      const drops = [K.table(t), ...t.columns.map((c) => K.column(t, c.name)), ...t.constraints.map((c) => K.constraint(t, c.name))];
      drops.push(...t.indexes.map((i) => K.index(t.schema, i.name)));
      // Sequences owned by its columns (also identity sequences, by the name PostgreSQL gives them) go with it.
      drops.push(...sequencesDroppedWith(live, desired, t).map((s) => K.sequence(s.schema, s.name)));
      for (const c of t.columns) if (c.identity) drops.push(K.sequence(t.schema, identitySequenceName(t.name, c.name)));
      if (t.partitionOf) drops.push(K.bounds(t.partitionOf));
      const releases = [K.schema(t.schema), K.extensionObjects, ...(t.partitionOf ? [K.table(t.partitionOf)] : []), ...t.inherits.map(K.table), ...t.columns.flatMap((c) => columnReleases(c, live)), ...t.constraints.flatMap((c) => constraintReleases(t, c, live))];
      // Its indexes go with it: what their expressions name (a collation, a text search configuration) may go after.
      for (const i of t.indexes) releases.push(...objectsNamedIn(i.definition, live));
      return d({ drops, releases });
    }
    case "renameTable":
      return d({ creates: [K.table({ schema: change.table.schema, name: change.to })], drops: [K.table(change.table)] });
    case "renameColumn":
      return d({ creates: [K.column(change.table, change.to)], drops: [K.column(change.table, change.from)] });
    case "setTableLogged":
    case "setTableOptions":
      return d({ needs: [K.table(change.table)] });
    case "addColumn": {
      const name = change.column.name;
      const creates = [K.column(change.table, name), K.shape(change.table)];
      const needs = [...columnNeeds(change.table, change.column, desired), onParent(change.table)];
      // A generated column after the columns it reads (retyped ones too).
      if (change.column.generated !== null) needs.push(...columnsMentioned(change.column.generated, findTable(desired, change.table)).filter((k) => k !== K.column(change.table, name)));
      // Descendants get the column too; one that declares it itself adds it first (PostgreSQL merges them).
      for (const c of keptDescendants(live, desired, change.table)) {
        const own = c.desired.columns.find((x) => x.name === name);
        if (own?.local) needs.push(K.column(c.desired, name));
        else if (own) creates.push(K.column(c.desired, name));
      }
      return d({ creates, needs });
    }
    case "dropColumn": {
      const name = change.column.name;
      // With ONLY, children keep the column as their own: those that drop it come after.
      const children = change.only ? childrenOf(live, change.table).filter((c) => c.columns.some((x) => x.name === name)) : [];
      // Without ONLY the column goes from partitions (and their own indexes and constraints on it)
      // too, and so do the sequences it owns.
      const drops = [K.column(change.table, name), ...sequencesDroppedWith(live, desired, change.table, name).map((s) => K.sequence(s.schema, s.name))];
      if (change.column.identity) drops.push(K.sequence(change.table.schema, identitySequenceName(change.table.name, name)));
      if (!change.only) drops.push(...descendantColumns(live, change.table, name));
      return d({
        drops,
        creates: [K.shape(change.table)],
        needs: onInherited(change.table),
        releases: [
          ...columnReleases(change.column, live),
          ...children.map((c) => K.column(c, name)),
          // A generated column goes before the columns it reads are dropped or retyped.
          ...(change.column.generated !== null ? columnsMentioned(change.column.generated, findTable(live, change.table)).filter((k) => k !== K.column(change.table, name)) : []),
        ],
      });
    }
    case "alterColumnType": {
      const to = findColumn(desired, change.table, change.column);
      // PostgreSQL refuses to change a column's type under a view: the column counts as dropped
      // and re-created, so views reading it are dropped before and re-created after. The change
      // reaches the column in every descendant, and so do views over them.
      const columns = [K.column(change.table, change.column), ...descendantColumns(live, change.table, change.column)];
      return d({
        drops: columns,
        creates: [...columns, K.shape(change.table)],
        needs: [...(to ? columnNeeds(change.table, to, desired) : [K.column(change.table, change.column)]), ...onInherited(change.table)],
        releases: columnReleases(findColumn(live, change.table, change.column), live),
      });
    }
    case "setDefault": {
      const needs = [
        K.column(change.table, change.column),
        onParent(change.table),
        ...partitionParentDefault(change.table, change.column, desired),
        ...sequencesInExpression(change.default).map((s) => K.sequence(s.schema, s.name)),
        ...routinesInExpression(change.default, desired),
      ];
      // What the new default still uses is not released (a routine re-created around it); a
      // default restored after its dropDefault releases nothing (the drop did).
      if (change.restored) return d({ needs, creates: [K.columnDefault(change.table, change.column)] });
      return d({ needs, creates: [K.columnDefault(change.table, change.column)], releases: columnReleases(findColumn(live, change.table, change.column), live).filter((k) => !k.startsWith("type:") && !needs.includes(k)) });
    }
    case "dropDefault": {
      // On a live column, before whatever drops it (its table dropped or re-created); on one
      // known by a new name only, after the rename.
      const column = findColumn(live, change.table, change.column);
      const key = K.column(change.table, change.column);
      return d({
        creates: [K.columnDefault(change.table, change.column)],
        needs: [...(column ? [] : [key]), onParent(change.table), ...partitionParentDefault(change.table, change.column, desired)],
        releases: [...(column ? [key] : []), ...columnReleases(column, live).filter((k) => !k.startsWith("type:"))],
      });
    }
    case "setNotNull":
      return d({ needs: [K.column(change.table, change.column), onParent(change.table)] });
    case "dropNotNull":
      return d({ needs: [K.column(change.table, change.column), ...onInherited(change.table)], drops: [K.notNull(change.table, change.column)] });
    case "addIdentity":
      // After a sequence of the name PostgreSQL gives the identity's (a serial's) is dropped.
      return d({ needs: [K.column(change.table, change.column)], creates: [K.sequence(change.table.schema, identitySequenceName(change.table.name, change.column))] });
    case "dropIdentity":
      // Before a sequence of its name (a serial's) is created.
      // Before the column's type changes too (releases, not needs: the serial's default, set after
      // the type change, needs the new sequence, which comes after this drop).
      return d({
        releases: [K.column(change.table, change.column), K.notNull(change.table, change.column)],
        drops: [K.sequence(change.table.schema, identitySequenceName(change.table.name, change.column))],
      });
    case "syncSequence":
      return d({ needs: [K.sequence(change.sequence.schema, change.sequence.name), K.column(change.table, change.column)] });
    case "alterIdentity":
    case "dropGeneratedExpression":
      // What the old expression reads may go after it.
      return d({ needs: [K.column(change.table, change.column)], releases: generationReads(change.table, change.column, live) });
    case "setGeneratedExpression": {
      const name = change.column.name;
      const reads = generationReads(change.table, name, desired);
      return d({ needs: [K.column(change.table, name), ...reads], releases: generationReads(change.table, name, live).filter((k) => !reads.includes(k)) });
    }
    case "addConstraint": {
      // An inheritable CHECK reaches the children too: after they drop a CHECK of the same name.
      const copies = inheritable(change.constraint) ? [...childrenOf(live, change.table), ...partitionsOf(live, change.table)].map((c) => K.constraint(c, change.constraint.name)) : [];
      return d({ creates: [K.constraint(change.table, change.constraint.name), ...copies], needs: [...constraintNeeds(change.table, change.constraint, desired), onParent(change.table)] });
    }
    case "validateConstraint":
      return d({ needs: [K.constraint(change.table, change.constraint)] });
    case "dropConstraint": {
      // Children's copies of an inherited CHECK that they also declare stay theirs: dropped after.
      const copies = inheritable(change.constraint) ? [...childrenOf(live, change.table), ...partitionsOf(live, change.table)].map((c) => K.constraint(c, change.constraint.name)) : [];
      return d({
        drops: [K.constraint(change.table, change.constraint.name)],
        needs: onInherited(change.table),
        releases: [...constraintReleases(change.table, change.constraint, live), ...copies],
      });
    }
    case "renameConstraint":
      // An inherited constraint cannot be renamed: after the links that give it are dropped.
      return d({ drops: [K.constraint(change.table, change.from)], creates: [K.constraint(change.table, change.to)], needs: [K.unlinked(change.table)] });
    case "addConstraintUsingIndex": {
      const key = K.constraint(change.table, change.constraint.name);
      const needs = [K.index(change.table.schema, change.index), ...change.constraint.columns.map((c) => K.column(change.table, c))];
      // Replacing a key of the same name: what depends on the old one goes before, what needs the new one after.
      if (change.replaces) return d({ creates: [key], drops: [key], needs, releases: constraintReleases(change.table, change.replaces, live) });
      return d({ creates: [key], needs });
    }
    case "createIndex":
      return d({
        creates: [K.index(change.table.schema, change.index.name)],
        needs: [
          K.table(change.table),
          K.anyExtension,
          ...change.index.columns.map((c) => K.column(change.table, c)),
          ...columnsMentioned(change.index.definition, findTable(desired, change.table)),
          ...routinesInExpression(change.index.definition, desired),
          ...objectsNamedIn(change.index.definition, desired),
        ],
      });
    case "dropIndex": {
      const owner = ownerOfIndex(live, change.schema, change.index.name);
      // A partitioned table's index takes its partitions' indexes attached to it along.
      const attached = owner ? partitionsOf(live, owner).flatMap((p) => p.partitionIndexes.filter((i) => i.parentIndex === change.index.name).map((i) => K.index(p.schema, i.name))) : [];
      return d({
        drops: [K.index(change.schema, change.index.name), ...attached],
        releases: [
          ...(owner ? change.index.columns.map((c) => K.column(owner, c)) : []),
          ...columnsMentioned(change.index.definition, owner),
          ...routinesInExpression(change.index.definition, live),
          ...objectsNamedIn(change.index.definition, live),
          // Its operator classes or functions may be an extension's (gin_trgm_ops).
          K.extensionObjects,
        ],
      });
    }
    case "renameIndex":
      return d({ needs: [K.index(change.schema, change.from)], creates: [K.index(change.schema, change.to)] });
    case "createView":
      return d({ creates: viewKeys(change.view), needs: [K.schema(change.view.schema), ...viewReads(change.view)] });
    case "dropView":
      return d({ drops: viewKeys(change.view), releases: viewReads(change.view) });
    case "attachPartition":
      return d({ needs: [K.table(change.table), K.table(change.parent)], creates: [K.bounds(change.parent)] });
    case "detachPartition":
      // Before the partition is dropped (a partition of a referenced table is detached first, also
      // one re-created); one known by a new name only, after the rename.
      return d({ needs: findTable(live, change.table) ? none : [K.table(change.table)], releases: [K.table(change.parent), K.table(change.table)], drops: [K.bounds(change.parent)], creates: [K.unlinked(change.table)] });
    case "inherit": {
      // PostgreSQL requires the child to have the parent's columns and CHECKs already.
      const parent = findTable(desired, change.parent);
      const needs = [K.table(change.table), K.table(change.parent), K.shape(change.parent), K.unlinked(change.table)];
      for (const c of parent?.columns ?? []) needs.push(K.column(change.parent, c.name), K.column(change.table, c.name));
      for (const c of parent?.constraints ?? []) if (inheritable(c)) needs.push(K.constraint(change.parent, c.name), K.constraint(change.table, c.name));
      return d({ needs });
    }
    case "noInherit":
      return d({ needs: [K.table(change.table)], releases: [K.table(change.parent)], creates: [K.children(change.parent), K.unlinked(change.table)] });
    case "setRowSecurity":
      return d({ needs: [K.table(change.table)] });
    case "setReplicaIdentity": {
      // After the index it names is built (a constraint's index has the constraint's name); before
      // the index it stops naming is dropped.
      const identityKeys = (t: TableDef | undefined) =>
        t?.replicaIdentity.kind === "INDEX" ? [K.index(t.schema, t.replicaIdentity.index), K.constraint(t, t.replicaIdentity.index)] : [];
      const needs = identityKeys(findTable(desired, change.table));
      return d({ needs: [K.table(change.table), ...needs], releases: identityKeys(findTable(live, change.table)).filter((k) => !needs.includes(k)) });
    }
    case "setColumnAttributes":
      return d({ needs: [K.table(change.table), K.column(change.table, change.column)] });
    case "setClusterOn": {
      // After the index it names is built (a constraint's index has the constraint's name); before the index it stops naming is dropped.
      const clusterKeys = (t: TableDef | undefined) => (t?.clusterOn !== undefined ? [K.index(t.schema, t.clusterOn), K.constraint(t, t.clusterOn)] : []);
      const needs = clusterKeys(findTable(desired, change.table));
      return d({ needs: [K.table(change.table), ...needs], releases: clusterKeys(findTable(live, change.table)).filter((k) => !needs.includes(k)) });
    }
    case "attachIndex":
      return d({ needs: [K.index(change.parent.schema, change.parentIndex), K.index(change.table.schema, change.index), K.table(change.table)] });
    case "renamePartitionIndex":
      // After the parent's index is built and every partition of the parent is created or attached.
      return d({
        needs: [K.index(change.parent.schema, change.parentIndex), K.table(change.table), K.bounds(change.parent)],
        creates: [K.index(change.table.schema, change.to)],
      });
    case "createObject":
      return d({ creates: objectKeys(change.object), needs: objectNeeds(change.object) });
    case "dropObject":
      return d({ drops: objectKeys(change.object), releases: objectNeeds(change.object) });
    case "replaceObject":
      // What the old definition used and the new one does not may go after it; what uses the
      // object (a view reading a new column of a routine's result) comes after the new one.
      return d({ creates: objectKeys(change.object).slice(0, 1), needs: objectNeeds(change.object), releases: change.from.dependsOn });
    case "setDomainDefault":
      return d({ needs: [K.type(change.domain.schema, change.domain.name), ...routinesInExpression(change.default, desired)] });
    case "addDomainConstraint":
      return d({ needs: [K.type(change.domain.schema, change.domain.name), ...routinesInExpression(change.constraint.definition, desired)] });
    case "dropDomainConstraint":
      return d({ needs: [K.type(change.domain.schema, change.domain.name)], releases: routinesInExpression(change.constraint.definition, live) });
    case "setDomainNotNull":
    case "validateDomainConstraint":
      return d({ needs: [K.type(change.domain.schema, change.domain.name)] });
    case "alterCompositeType": {
      // Creates (re-provides) the type: a view or routine using a new attribute comes after. While
      // columns using it inside other types are text (typeInUse released before, needed after).
      const inUse = K.typeInUse(change.type.schema, change.type.name);
      return d({ creates: [K.type(change.type.schema, change.type.name), inUse], drops: [inUse], needs: objectNeeds(change.type) });
    }
    case "setIndexOptions":
      return d({ needs: [K.constraint(change.table, change.index)] });
    case "refreshMaterializedView":
      // After the indexes and what the view reads are in place.
      return d({ needs: [K.table(change.view), ...change.view.dependsOn] });
    case "setTriggerEnabled":
      return d({ needs: objectKeys(change.trigger) });
    case "setStatisticsTarget":
      return d({ needs: objectKeys(change.statistics) });
    case "recreateType": {
      // Like recreateEnum: the type and the converted columns are dropped and re-created.
      const t = K.type(change.type.schema, change.type.name);
      const columns = change.columns.map((c) => K.column(c.table, c.column));
      return d({ drops: [t, ...columns], creates: [t, ...columns], needs: [...columns, ...objectNeeds(change.type)], releases: objectNeeds(change.from) });
    }
    case "columnsToText": {
      // The columns count as dropped (views reading them go around). Re-creating: the type is
      // released (dropped after); a nested type's change: before the nested type's ALTER.
      const columns = change.columns.map((c) => K.column(c.table, c.column));
      const type = K.type(change.type.schema, change.type.name);
      return d({ drops: columns, releases: [change.inner ? K.typeInUse(change.inner.schema, change.inner.name) : type] });
    }
    case "columnsFromText": {
      // After the nested type's ALTER, and before the outer type's own (the text has its old attributes).
      const creates = change.columns.map((c) => K.column(c.table, c.column));
      if (!change.inner) return d({ creates, needs: [K.type(change.type.schema, change.type.name)] });
      return d({ creates, needs: [K.typeInUse(change.inner.schema, change.inner.name)], releases: [K.typeInUse(change.type.schema, change.type.name)] });
    }
    case "comment":
      return d({ needs: [commentNeeds(change.target)] });
    case "setOwner": {
      const k = aclObjectKey(change.target);
      return d({ needs: [k], creates: [`owner:${k}`] });
    }
    case "revokePrivileges":
    case "grantPrivileges": {
      const k = aclObjectKey(change.target);
      // After the owner changes (which moves the owner's entries) and, for grants, after the
      // revocations: a table's REVOKE also takes its columns' privileges.
      const needs = [k, `owner:${k}`, ...privilegeNeeds(change.target, desired)];
      return change.kind === "revokePrivileges" ? d({ needs, creates: [`privileges:${k}`] }) : d({ needs: [...needs, `privileges:${k}`] });
    }
    case "grantDefaultPrivileges":
    case "revokeDefaultPrivileges":
      return d({ needs: change.target.schema === null ? [] : [K.schema(change.target.schema)] });
  }
}

/** What an object's privileges wait for besides its own owner: its table's owner and table-level revocations. */
function privilegeNeeds(t: AclTarget, desired: SchemaModel): string[] {
  if (t.type === "column") {
    const table = K.table({ schema: t.schema, name: t.name });
    return [`owner:${table}`, `privileges:${table}`];
  }
  if (t.type === "sequence") {
    const o = desired.sequences.find((s) => s.schema === t.schema && s.name === t.name)?.ownedBy;
    if (o) return [`owner:${K.table({ schema: o.schema, name: o.table })}`];
  }
  return [];
}

/** What a generated column's expression in `model` reads: other columns of its table, routines, collations, operators. */
function generationReads(table: QualifiedName, column: string, model: SchemaModel): string[] {
  const expr = findColumn(model, table, column)?.generated ?? null;
  if (expr === null) return [];
  const self = K.column(table, column);
  return [...columnsMentioned(expr, findTable(model, table)).filter((k) => k !== self), ...routinesInExpression(expr, model), ...objectsNamedIn(expr, model)];
}
