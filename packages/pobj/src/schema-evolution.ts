/**
 * Schema evolution: which class changes pobj applies by itself, and how an object stored in
 * an older layout version of its class is read and upgraded.
 *
 * Each change of a class's layout appends a layout version to the type table (type-table.ts);
 * an object's type id says which version it was written in. Automatic changes, needing no code:
 *   - a field added: an old object reads the kind's default (`defaultOf`);
 *   - a field removed: its bytes are ignored (and reclaimed with the old block);
 *   - fields reordered or moved (a base class grew);
 *   - a field renamed and declared so: `@was('old')` or `@field({ was: 'old' })`;
 *   - a widening that loses nothing: i32 or u32 → f64 or i64; required → optional or nullable;
 *     an enum gaining members; a ref (or ref array) to a class → to one of its base classes.
 * Anything else (a narrowing, another kind, optional → required, enum members removed, an
 * array's element kind) needs a migration (migration.ts) for the objects stored before it.
 *
 * Lazy upgrade (nothing is rewritten at open, so an open after an additive change costs one
 * table append whatever the number of objects): an old object is read through its own
 * version's offsets by a view handle; its first write rewrites it, in PHeap.upgrade:
 *   1. allocate a block of the current layout; copy or convert every field into it; flush; drain;
 *   2. COMMIT: the old block's header word := (FORWARD, new block): one aligned 8-byte store,
 *      persisted (inside a transaction: logged first, durable at commit);
 *   3. the handle becomes a handle of the new block (same JS object: identity is kept).
 * A crash before 2 leaves the object as it was and the new block unreachable (reclaimed).
 */
import { SchemaMismatchError } from './errors'
import { Layout, FieldLayout, stableNameOf } from './layout-builder'
import { Class } from './metadata-args'
import type { TypeEntry, TableField } from './type-table'
import { Accessors, Handle, HandleCtor, makeHandleCtorWith } from './handles'
import { readFieldValue } from './stored-values'

/** Where a field of the current layout takes its value from, in an object of an older version. */
export type Source =
  /** The same encoding at another offset (or the same): the bytes are copied. */
  | { readonly how: 'copy'; readonly from: TableField }
  /** A lossless widening: read as a value, written in the new encoding. */
  | { readonly how: 'convert'; readonly from: TableField }
  /** The old version has no such field: the kind's default. */
  | { readonly how: 'default' }
  /** A change only a migration can make; `why` says what it is. */
  | { readonly how: 'refused'; readonly from: TableField; readonly why: string }

/** How objects of one older layout version map to the class's current layout. */
export interface UpgradePlan {
  readonly entry: TypeEntry
  readonly layout: Layout
  /** Per field of `layout`, by index. */
  readonly sources: readonly Source[]
  /** Each refused field as "name: why" ([] when the upgrade is automatic). */
  readonly refusals: readonly string[]
  /** Same offsets, encodings and size as the current layout: such objects need no upgrade at all. */
  readonly identical: boolean
}

/**
 * The plan for objects of `old` read as `layout`. `later` are the stored versions after `old`,
 * oldest first (their `prev` names carry renames down to `old`); the class's `@was` names link
 * it to the last of them. `classOf` finds the class of a stable name (undefined if none is
 * loaded); it decides whether a ref's new target is a base class of the old one.
 */
export function planUpgrade(old: TypeEntry, later: readonly TypeEntry[], layout: Layout,
  classOf: (stableName: string) => Class | undefined): UpgradePlan {
  const byName = new Map(old.fields.map((f) => [f.name, f]))
  const sources: Source[] = []
  const refusals: string[] = []
  let identical = old.size === layout.size && old.fields.length === layout.fields.length
  for (const f of layout.fields) {
    const name = sourceName(f.name, f.was, old, later)
    const from = name === undefined ? undefined : byName.get(name)
    if (!from) { sources.push({ how: 'default' }); identical = false; continue }
    const target = f.targetClass ? stableNameOf(f.targetClass) : ''
    const why = widening(from, { ...f, target }, (oldTarget) => {
      const oldCls = classOf(oldTarget)
      return !!oldCls && !!f.targetClass && (oldCls === f.targetClass || oldCls.prototype instanceof f.targetClass)
    })
    if (why === 'copy' || why === 'convert') {
      sources.push({ how: why, from })
      if (why !== 'copy' || from.offset !== f.offset || from.name !== f.name) identical = false
    } else {
      sources.push({ how: 'refused', from, why })
      refusals.push(`${f.name}: ${why}`)
      identical = false
    }
  }
  return { entry: old, layout, sources, refusals, identical }
}

/**
 * The name that field `fieldName` (former names `was`, relative to the newest of `later`) had
 * in version `old`, following renames down the versions; undefined if the field is newer.
 */
function sourceName(fieldName: string, was: readonly string[], old: TypeEntry, later: readonly TypeEntry[]): string | undefined {
  const has = (e: TypeEntry, n: string) => e.fields.some((x) => x.name === n)
  const top = later.length > 0 ? later[later.length - 1] : old
  let name = has(top, fieldName) ? fieldName : was.find((n) => has(top, n))
  for (let k = later.length - 1; k >= 0 && name !== undefined; k--) {
    const stored = later[k].fields.find((x) => x.name === name) as TableField
    const below = k > 0 ? later[k - 1] : old
    const prev = stored.prev || stored.name
    name = has(below, prev) ? prev : undefined
  }
  return name
}

/**
 * Without classes (an export): for each field of `newest`, a later stored version of `old`'s
 * stable name, the field of `old` it came from, renames followed; absent when the field is newer.
 */
export function storedSources(old: TypeEntry, newest: TypeEntry, versions: readonly TypeEntry[]): Map<string, TableField> {
  const later = versions.filter((v) => v.layoutVersion > old.layoutVersion && v.layoutVersion <= newest.layoutVersion)
  const out = new Map<string, TableField>()
  for (const f of newest.fields) {
    const name = sourceName(f.name, [], old, later)
    const from = name === undefined ? undefined : old.fields.find((x) => x.name === name)
    if (from) out.set(f.name, from)
  }
  return out
}

/** What a widening looks at in the newer field (a class's field, or a stored one): `target` is a stable name. */
export type FieldShape = Pick<TableField, 'kind' | 'element' | 'presence' | 'enumType' | 'members' | 'target'>

/**
 * Whether every stored value of `o` is a value of `n`: 'copy' (the same encoding), 'convert'
 * (a lossless widening), or why not. `isBase(oldTarget)` says whether a ref's old target class
 * is `n`'s target or derives from it.
 */
export function widening(o: TableField, n: FieldShape, isBase: (oldTarget: string) => boolean): string {
  const was = `${o.presence === 'required' ? '' : `${o.presence} `}${o.kind}${o.element ? `<${o.element}>` : ''}`
  const is = `${n.presence === 'required' ? '' : `${n.presence} `}${n.kind}${n.element ? `<${n.element}>` : ''}`
  if (o.presence !== n.presence && o.presence !== 'required') return `heap has ${was}, class has ${is}: stored absent values would have no place`
  let convert = o.presence !== n.presence
  if (o.kind !== n.kind) {
    if (!((o.kind === 'i32' || o.kind === 'u32') && (n.kind === 'f64' || n.kind === 'i64'))) return `heap has ${was}, class has ${is}: not a lossless widening`
    convert = true
  }
  if (o.kind === 'array' && o.element !== n.element) return `heap has ${was}, class has ${is}: array elements are not converted`
  if (o.kind === 'enum') {
    if (o.enumType !== n.enumType) return `heap has a ${o.enumType} enum, class has a ${n.enumType} enum`
    const have = new Set(n.members)
    const gone = (o.members ?? []).filter((m) => !have.has(m))
    if (gone.length > 0) return `enum members ${gone.map((m) => JSON.stringify(m)).join(', ')} are gone from the class`
    const same = o.members!.length === n.members!.length
    if (o.enumType === 'string' && !same) convert = true // indices into the sorted members move
  }
  if (o.target !== n.target) {
    if (!isBase(o.target)) {
      return `heap refers to ${o.target}, class to ${n.target || 'nothing'}, which is not a base class of it`
    }
  }
  return convert ? 'convert' : 'copy'
}

/** What a field missing from an old version reads as: absent, or its kind's zero (an enum: what `new` writes). */
export function defaultOf(f: FieldLayout): unknown {
  if (f.presence === 'optional') return undefined
  if (f.presence === 'nullable') return null
  switch (f.kind) {
    case 'i32': case 'u32': case 'f64': return 0
    case 'i64': return 0n
    case 'bool': return false
    case 'string': return ''
    case 'bytes': return new Uint8Array(0)
    case 'date': return new Date(0)
    case 'enum': return f.enumType === 'number' && f.members!.includes(0) ? 0 : f.members![0]
    case 'ref': case 'array': return null
  }
}

/** The current-layout value of an old field's stored value (refs and arrays are still block pointers). */
export function convertValue(v: unknown, f: FieldLayout): unknown {
  if (f.kind === 'i64' && typeof v === 'number') return BigInt(v)
  return v
}

/** What a view handle needs from its heap, beyond HandleHost. */
export interface ViewHost {
  readonly bytes: Uint8Array
  handleAt(p: number): object
}

const viewCtors = new WeakMap<UpgradePlan, HandleCtor>()

/**
 * The handle constructor for objects of an older version: reads go through the plan (no
 * write), the first write upgrades the object (HandleHost.upgrade) and is then made by the
 * current layout's accessor on the same handle.
 */
export function viewCtorOf(plan: UpgradePlan, host: ViewHost): HandleCtor {
  let c = viewCtors.get(plan)
  if (!c) viewCtors.set(plan, (c = makeHandleCtorWith(plan.layout, (f) => viewAccessors(plan, f, host))))
  return c
}

function viewAccessors(plan: UpgradePlan, f: FieldLayout, host: ViewHost): Accessors {
  const src = plan.sources[plan.layout.fields.indexOf(f)]
  const where = `${plan.layout.cls.name}.${f.name}`
  const pointer = f.kind === 'ref' || f.kind === 'array'
  return {
    get(this: Handle) {
      const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
      switch (src.how) {
        case 'default': return defaultOf(f)
        case 'refused':
          throw new SchemaMismatchError(`pobj: ${where}: this object is stored in layout version ${plan.entry.layoutVersion} ` +
            `and waits for a migration (${src.why})`, plan.layout.cls.name, [f.name])
        default: {
          const v = readFieldValue(host.bytes, p, src.from)
          if (pointer) return v === null ? null : host.handleAt(v as number)
          return convertValue(v, f)
        }
      }
    },
    set(this: Handle, v: unknown) {
      const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
      this._$heap.upgrade(this)
      ;(this as unknown as Record<string, unknown>)[f.name] = v
    },
  }
}
