/**
 * Which class is which type in one open heap: stable names bound to classes (one class per
 * name), type ids (from the persisted table) bound to layouts, and, for type ids of older
 * layout versions, the plan that reads their objects as the current class (schema-evolution.ts).
 */
import { LayoutError, UnknownTypeError, FreedObjectError, SchemaMismatchError } from './errors'
import { Class, metadataArgs } from './metadata-args'
import { Layout, layoutOf, isPersistentClass } from './layout-builder'
import { TypeTable, TypeEntry, diffEntry } from './type-table'
import { UpgradePlan, planUpgrade } from './schema-evolution'

/** What vetting a class found: versions a migration must rewrite, and versions with no object left. */
export interface Vetting {
  readonly toMigrate: readonly UpgradePlan[]
  readonly empty: readonly number[]
}

export class TypeRegistry {
  private readonly typeIds = new Map<Layout, number>()
  private readonly layoutsById = new Map<number, Layout>()
  /** Type ids of older versions whose objects are read through a plan (absent: read as the current layout). */
  private readonly plans = new Map<number, UpgradePlan>()
  private readonly classesByName = new Map<string, Class>()
  /** Stable names whose stored versions were checked against their class. */
  private readonly vetted = new Set<string>()
  /** Old stable names of renamed classes (a migration's `from`): their objects are read as the new class. */
  private readonly aliases = new Map<string, Class>()

  /**
   * `countObjects` counts the allocated objects of each type id (a heap scan, made only when a
   * change would need a migration); `retire` marks versions with no object left.
   */
  constructor(private readonly table: TypeTable,
    private readonly countObjects: (typeIds: readonly number[]) => Map<number, number>,
    private readonly retire: (typeIds: readonly number[]) => void) {}

  /** The layout of a @Persistent class, its stable name claimed in this heap. */
  layoutFor(cls: Class): Layout {
    if (!isPersistentClass(cls)) throw new UnknownTypeError(`pobj: ${(cls as Function | undefined)?.name ?? String(cls)} is not a @Persistent class`)
    const l = layoutOf(cls)
    this.claim(l)
    return l
  }

  /** Binds a stable name to one class in this heap. */
  claim(l: Layout): void {
    const other = this.classesByName.get(l.stableName)
    if (other === undefined) this.classesByName.set(l.stableName, l.cls)
    else if (other !== l.cls) {
      throw new LayoutError(`pobj: classes ${other.name} and ${l.cls.name} both use the stable name '${l.stableName}' in one heap`)
    }
  }

  /** The plan reading objects of stored version `e` as `l`. */
  planFor(e: TypeEntry, l: Layout): UpgradePlan {
    const later = this.table.versionsOf(e.name).filter((v) => v.layoutVersion > e.layoutVersion)
    return planUpgrade(e, later, l, (name) => this.tryClassForStableName(name))
  }

  /**
   * Checks that every live stored version of `l`'s stable name can be read as `l`. When
   * `migrating`, every older version (automatic or not) is returned in toMigrate, to be
   * rewritten now. Otherwise a version needing a migration is `empty` when no object of it is
   * left, else a SchemaMismatchError naming each field. Writes nothing.
   */
  vet(l: Layout, migrating: boolean): Vetting {
    this.claim(l)
    const older = this.table.versionsOf(l.stableName).filter((v) => !v.retired).map((v) => this.planFor(v, l)).filter((p) => !p.identical)
    if (migrating) return { toMigrate: older, empty: [] }
    const refused = older.filter((p) => p.refusals.length > 0)
    if (refused.length === 0) return { toMigrate: [], empty: [] }
    const counts = this.countObjects(refused.map((p) => p.entry.typeId))
    const live = refused.filter((p) => (counts.get(p.entry.typeId) ?? 0) > 0)
    if (live.length > 0) {
      const fields = [...new Set(live.flatMap((p) => p.refusals.map((r) => r.slice(0, r.indexOf(':')))))]
      const detail = live.map((p) => `layout version ${p.entry.layoutVersion} (${counts.get(p.entry.typeId)} objects): ${p.refusals.join('; ')}`)
      throw new SchemaMismatchError(
        `pobj: class ${l.cls.name} (stable name '${l.stableName}') can not read the heap's objects without a migration: ` +
        `${detail.join(' | ')}. Pass a migration for them, e.g. PHeap.open(path, { types, migrations: [{ to: ${l.cls.name}, ` +
        `migrate(old, obj) { /* set ${fields.join(', ')} from old */ } }] })`, l.cls.name, fields)
    }
    return { toMigrate: [], empty: refused.map((p) => p.entry.typeId) }
  }

  /** Objects stored under stable name `from` are objects of `to` (a class renamed by a migration). */
  alias(from: string, to: Class): void { this.aliases.set(from, to) }

  /** Marks `name` vetted (by PHeap's open, which also handled what vetting found). */
  markVetted(name: string): void { this.vetted.add(name) }

  /** The type id of a layout this registry has resolved before, else undefined. */
  knownTypeId(l: Layout): number | undefined { return this.typeIds.get(l) }

  /** The current type id of a layout, appending it as a new layout version when the table lacks it. */
  typeIdOf(l: Layout): number {
    const id = this.typeIds.get(l)
    if (id !== undefined) return id
    this.claim(l)
    if (!this.vetted.has(l.stableName)) {
      const v = this.vet(l, false)
      if (v.empty.length > 0) this.retire(v.empty)
      this.vetted.add(l.stableName)
    }
    const cur = this.table.byStableName(l.stableName)
    const nid = cur !== undefined && diffEntry(cur, l).length === 0 ? cur.typeId : this.table.append(l).typeId
    this.typeIds.set(l, nid)
    this.layoutsById.set(nid, l)
    this.plans.delete(nid)
    return nid
  }

  /** The layout of a stored type id; typed errors for an unknown id or a type with no class. */
  layoutForTypeId(id: number): Layout {
    const l = this.tryLayoutForTypeId(id)
    if (l) return l
    const e = this.table.byTypeId(id)
    if (!e) throw new FreedObjectError(`pobj: a block has type id ${id}, which the type table does not know: a dangling reference`)
    throw new UnknownTypeError(`pobj: the heap holds objects of type '${e.name}' but no class for it was passed in types`)
  }

  /** The plan of an older version's type id (after layoutForTypeId), undefined when its objects read as the current layout. */
  planOf(id: number): UpgradePlan | undefined { return this.plans.get(id) }

  /** The layout for a stored type id, binding a loaded class by stable name on first sight; undefined if none. */
  tryLayoutForTypeId(id: number): Layout | undefined {
    const l = this.layoutsById.get(id)
    if (l) return l
    const e = this.table.byTypeId(id)
    if (!e) return undefined
    const cls = this.tryClassForStableName(e.name)
    if (!cls) return undefined
    const layout = layoutOf(cls)
    this.claim(layout)
    if (this.typeIds.get(layout) !== id) {
      const plan = this.planFor(e, layout)
      if (!plan.identical) this.plans.set(id, plan)
    }
    this.layoutsById.set(id, layout)
    return layout
  }

  /** The class of a stable name: the one bound in this heap, else the only @Persistent class with that name. */
  classForStableName(name: string): Class {
    // A class renamed by a migration is its successor's (renames may chain; a cycle ends the walk).
    for (let i = 0; i < 64; i++) {
      const c = this.classesByName.get(name) ?? this.aliases.get(name)
      if (c) return c
      const successor = this.table.byStableName(name)?.successor
      if (!successor) break
      name = successor
    }
    const candidates = [...metadataArgs.classes.values()].filter((a) => a.stableName === name)
    if (candidates.length !== 1) {
      throw new UnknownTypeError(`pobj: no single class for stable name '${name}' (${candidates.length} found); pass it in types`)
    }
    return candidates[0].target as Class
  }

  private tryClassForStableName(name: string): Class | undefined {
    try { return this.classForStableName(name) } catch { return undefined }
  }
}
