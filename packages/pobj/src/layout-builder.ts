/**
 * The layout builder: validates what the decorators recorded and seals one
 * immutable layout per class, at first use. Layouts do not depend on a heap.
 *
 * Invariants of a sealed layout L (checked by `validateLayout` in tests):
 *   L.fields[0].offset ≥ OBJECT_HEADER_SIZE
 *   f.offset % KIND_SIZE[f.kind] == 0              (natural alignment: no field crosses a word)
 *   f[i].offset + size(f[i]) ≤ f[i+1].offset       (declaration order, no overlap)
 *   L.size = alignUp(last field end, 8)
 *   base fields are a prefix of L.fields, at the same offsets as in the base's layout
 */
import { hasLoneSurrogate } from '@makalu/allocator'
import { LayoutError, UnknownTypeError } from './errors'
import { metadataArgs, Class, ClassThunk, FieldArgs, FieldKind, ElementKind, NumberKind } from './metadata-args'
import { KIND_SIZE, OBJECT_HEADER_SIZE, alignUp, isPointerKind } from './object-format'

export interface FieldLayout {
  readonly name: string
  readonly kind: FieldKind
  readonly offset: number
  readonly size: number
  /** 'ref': the declared target class; 'array' of refs: the element class. */
  readonly targetClass: Class | undefined
  /** 'array': the element kind. */
  readonly element: ElementKind | undefined
  /** The class that declared the field (a base class for inherited fields). */
  readonly declaredIn: Function
}

export interface Layout {
  readonly cls: Class
  readonly stableName: string
  /** Bytes of the block: header plus fields, a multiple of 8. */
  readonly size: number
  readonly fields: readonly FieldLayout[]
  /** The fields by name. */
  readonly byName: ReadonlyMap<string, FieldLayout>
  /** Offsets of the pointer fields (string, ref, array): what recovery marks. */
  readonly pointerOffsets: readonly number[]
  readonly base: Layout | undefined
}

const sealed = new Map<Function, Layout>()

/** Whether `cls` carries @Persistent. */
export function isPersistentClass(cls: unknown): cls is Class {
  return typeof cls === 'function' && metadataArgs.classes.has(cls)
}

/** The stable name of a @Persistent class. */
export function stableNameOf(cls: Function): string {
  const c = metadataArgs.classes.get(cls)
  if (!c) throw new UnknownTypeError(`pobj: class ${cls.name || '<anonymous>'} is not @Persistent`)
  return c.stableName
}

/** The sealed layout of `cls`, built on first call. */
export function layoutOf(cls: Function): Layout {
  const l = sealed.get(cls)
  return l ?? buildLayout(cls)
}

function buildLayout(cls: Function): Layout {
  const stableName = stableNameOf(cls)
  const parent = Object.getPrototypeOf(cls) as Function
  const base = isPersistentClass(parent) ? layoutOf(parent) : undefined
  if (!base && parent !== Function.prototype && inheritedFieldsOf(parent).length > 0) {
    throw new LayoutError(`pobj: ${cls.name} extends ${parent.name}, which has @field members but is not @Persistent`)
  }
  const fields: FieldLayout[] = base ? [...base.fields] : []
  let end = base ? lastEnd(base) : OBJECT_HEADER_SIZE
  for (const args of metadataArgs.ownFields(cls)) {
    if (hasLoneSurrogate(args.name)) {
      throw new LayoutError(`pobj: ${cls.name}: field name ${JSON.stringify(args.name)} holds a lone surrogate (not well-formed UTF-16)`)
    }
    if (fields.some((f) => f.name === args.name)) {
      throw new LayoutError(`pobj: ${cls.name}.${args.name}: redeclares a field of a base class`)
    }
    const f = resolveField(cls, args, end)
    fields.push(f)
    end = f.offset + f.size
  }
  const layout: Layout = Object.freeze({
    cls: cls as Class,
    stableName,
    size: alignUp(end, 8),
    fields: Object.freeze(fields),
    byName: new Map(fields.map((f) => [f.name, f])),
    pointerOffsets: Object.freeze(fields.filter((f) => isPointerKind(f.kind)).map((f) => f.offset)),
    base,
  })
  sealed.set(cls, layout)
  return layout
}

function inheritedFieldsOf(cls: Function): FieldArgs[] {
  const out: FieldArgs[] = []
  for (let c = cls; c && c !== Function.prototype; c = Object.getPrototypeOf(c)) out.push(...metadataArgs.ownFields(c))
  return out
}

function lastEnd(l: Layout): number {
  const last = l.fields[l.fields.length - 1]
  return last ? last.offset + last.size : OBJECT_HEADER_SIZE
}

/** Turns recorded arguments into a placed field; throws LayoutError naming class and field. */
function resolveField(cls: Function, args: FieldArgs, end: number): FieldLayout {
  const where = `${cls.name}.${args.name}`
  let kind = args.kind
  let targetClass: Class | undefined
  let element: ElementKind | undefined
  if (kind === undefined) {
    const t = args.designType
    if (t === Number) kind = 'f64'
    else if (t === Boolean) kind = 'bool'
    else if (t === String) kind = 'string'
    else if (t === BigInt) kind = 'i64'
    else if (isPersistentClass(t)) { kind = 'ref'; targetClass = t }
    else if (t === Array) throw new LayoutError(`pobj: ${where}: an array field needs @field.array(kind or () => Class)`)
    else if (typeof t === 'function' && t !== Object && t !== Function) {
      throw new LayoutError(`pobj: ${where}: its type ${t.name} is not a @Persistent class; decorate it or use an explicit kind`)
    } else {
      throw new LayoutError(`pobj: ${where}: the field type is not inferable (a union such as \`T | null\`, an interface, any or Object); use an explicit kind such as @field.i32 or @field.ref(() => Class)`)
    }
  } else if (kind === 'ref') {
    targetClass = resolveThunk(where, args.refTarget)
  } else if (kind === 'array') {
    if (typeof args.element === 'function') { element = 'ref'; targetClass = resolveThunk(where, args.element) }
    else element = args.element as NumberKind
  }
  const size = KIND_SIZE[kind]
  return Object.freeze({ name: args.name, kind, offset: alignUp(end, size), size, targetClass, element, declaredIn: cls })
}

function resolveThunk(where: string, thunk: ClassThunk | undefined): Class {
  let t: unknown
  try { t = thunk?.() } catch (e) {
    throw new LayoutError(`pobj: ${where}: the class thunk threw: ${(e as Error).message}`)
  }
  if (!isPersistentClass(t)) {
    const n = typeof t === 'function' ? t.name : String(t)
    throw new LayoutError(`pobj: ${where}: the target ${n} is not a @Persistent class`)
  }
  return t
}

/** Checks the invariants above; returns the violations (empty when sound). */
export function validateLayout(l: Layout): string[] {
  const v: string[] = []
  let prevEnd = OBJECT_HEADER_SIZE
  for (const f of l.fields) {
    if (f.offset % KIND_SIZE[f.kind] !== 0) v.push(`${f.name} misaligned at ${f.offset}`)
    if (f.offset < prevEnd) v.push(`${f.name} overlaps the previous field at ${f.offset}`)
    prevEnd = f.offset + f.size
  }
  if (l.size !== alignUp(prevEnd, 8)) v.push(`size ${l.size} != ${alignUp(prevEnd, 8)}`)
  if (l.base) {
    l.base.fields.forEach((bf, i) => {
      if (l.fields[i] !== bf) v.push(`base field ${bf.name} not a prefix`)
    })
  }
  return v
}
