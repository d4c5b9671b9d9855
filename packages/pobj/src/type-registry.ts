/**
 * Which class is which type in one open heap: stable names bound to classes
 * (one class per name), and type ids (from the persisted table) bound to layouts.
 */
import { LayoutError, UnknownTypeError, FreedObjectError } from './errors'
import { Class, metadataArgs } from './metadata-args'
import { Layout, layoutOf, isPersistentClass } from './layout-builder'
import { TypeTable } from './type-table'

export class TypeRegistry {
  private readonly typeIds = new Map<Layout, number>()
  private readonly layoutsById = new Map<number, Layout>()
  private readonly classesByName = new Map<string, Class>()

  constructor(private readonly table: TypeTable) {}

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

  /** The type id of a layout, appending it to the persisted table on first use. */
  typeIdOf(l: Layout): number {
    const id = this.typeIds.get(l)
    if (id !== undefined) return id
    this.claim(l)
    const nid = this.table.register(l)
    this.typeIds.set(l, nid)
    this.layoutsById.set(nid, l)
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

  /** The layout for a stored type id, binding a loaded class by stable name on first sight; undefined if none. */
  tryLayoutForTypeId(id: number): Layout | undefined {
    const l = this.layoutsById.get(id)
    if (l) return l
    const e = this.table.byTypeId(id)
    if (!e) return undefined
    let cls: Class
    try { cls = this.classForStableName(e.name) } catch { return undefined }
    const layout = layoutOf(cls)
    this.claim(layout)
    this.table.check(layout)
    this.typeIds.set(layout, id)
    this.layoutsById.set(id, layout)
    return layout
  }

  /** The class of a stable name: the one bound in this heap, else the only @Persistent class with that name. */
  classForStableName(name: string): Class {
    const c = this.classesByName.get(name)
    if (c) return c
    const candidates = [...metadataArgs.classes.values()].filter((a) => a.stableName === name)
    if (candidates.length !== 1) {
      throw new UnknownTypeError(`pobj: no single class for stable name '${name}' (${candidates.length} found); pass it in types`)
    }
    return candidates[0].target as Class
  }
}
