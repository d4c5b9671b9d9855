/**
 * The layout builder: validates what the decorators recorded and seals one
 * immutable layout per class, at first use. Layouts do not depend on a heap.
 *
 * Invariants of a sealed layout L (checked by `validateLayout` in tests):
 *   L.fields[0].offset ≥ OBJECT_HEADER_SIZE
 *   f.size == fieldSize(f.kind, absent code, enum storage)   (object-format.ts)
 *   f.offset % f.size == 0                         (natural alignment: no field crosses a word)
 *   f[i].offset + size(f[i]) ≤ f[i+1].offset       (declaration order, no overlap)
 *   L.size = alignUp(last field end, 8)
 *   base fields are a prefix of L.fields, at the same offsets as in the base's layout
 *   L.absentSlots = offsets of the optional fields kept in ABSENT slots (written by `new`)
 *   L.enumDefaults = [offset, smallest member] of each required numeric enum without a 0 member
 *                    (written by `new`, so a fresh object never reads a non-member)
 *   f.members (enums) is sorted, without duplicates, and non-empty
 */
import { hasLoneSurrogate } from '@makalu/allocator'
import { LayoutError, UnknownTypeError } from './errors'
import { metadataArgs, Class, ClassThunk, FieldArgs, FieldKind, ElementKind, ArrayValueKind, Presence, EnumObject, StoredAs } from './metadata-args'
import {
  KIND_CODE, OBJECT_HEADER_SIZE, ABSENT_REQUIRED, ABSENT_UNDEFINED, ABSENT_NULL, alignUp, isPointerKind, fieldSize, isAbsentSlot,
} from './object-format'

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
  /** Whether the field may be absent, and what absence reads as. */
  readonly presence: Presence
  /** 'enum': 'number' (stored as i32) or 'string' (stored as an index into `members`). */
  readonly enumType: 'number' | 'string' | undefined
  /** 'enum': the member values, sorted (numbers ascending, strings by code unit). */
  readonly members: readonly (number | string)[] | undefined
  /** Names the field had in earlier versions of its class (`@was`), most recent first as declared. */
  readonly was: readonly string[]
  /** 'ref' to a class stored as another (storeAs): its values are wrapped and unwrapped; targetClass is the stored class. */
  readonly storedAs: StoredAs | undefined
}

/** The type table's `absent` code of a presence. */
export function absentCode(p: Presence): number {
  return p === 'optional' ? ABSENT_UNDEFINED : p === 'nullable' ? ABSENT_NULL : ABSENT_REQUIRED
}
/** The type table's `elem` code of a field: an array's element kind, an enum's storage. */
export function elemCode(f: { kind: FieldKind; element: ElementKind | undefined; enumType: 'number' | 'string' | undefined }): number {
  if (f.kind === 'enum') return f.enumType === 'number' ? KIND_CODE.i32 : KIND_CODE.string
  return f.element ? KIND_CODE[f.element] : 0
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
  /** Offsets of the optional fields whose absent state is the ABSENT NaN, written into every new block. */
  readonly absentSlots: readonly number[]
  /** [offset, value] of the required numeric enums whose members lack 0: their first value, written into every new block. */
  readonly enumDefaults: readonly (readonly [number, number])[]
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
    absentSlots: Object.freeze(fields.filter((f) => f.presence !== 'required' && isAbsentSlot(f.kind, elemCode(f))).map((f) => f.offset)),
    enumDefaults: Object.freeze(fields.filter((f) => f.kind === 'enum' && f.enumType === 'number' && f.presence === 'required' && !f.members!.includes(0))
      .map((f) => Object.freeze([f.offset, f.members![0] as number] as const))),
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
  let enumType: 'number' | 'string' | undefined
  let members: readonly (number | string)[] | undefined
  let storedAs: StoredAs | undefined
  const presence: Presence = args.presence ?? 'required'
  if (kind === undefined) {
    const t = args.designType
    if (t === Number) kind = 'f64'
    else if (t === Boolean) kind = 'bool'
    else if (t === String) kind = 'string'
    else if (t === BigInt) kind = 'i64'
    else if (t === Date) kind = 'date'
    else if (t === Uint8Array) kind = 'bytes'
    else if (isPersistentClass(t)) { kind = 'ref'; targetClass = t }
    else if (typeof t === 'function' && metadataArgs.storedAs.has(t)) { kind = 'ref'; storedAs = metadataArgs.storedAs.get(t); targetClass = storedAs!.stored }
    else if (t === Array) throw new LayoutError(`pobj: ${where}: an array field needs @field.array(kind or () => Class)`)
    else if (typeof t === 'function' && t !== Object && t !== Function) {
      throw new LayoutError(`pobj: ${where}: its type ${t.name} is not a @Persistent class; decorate it or use an explicit kind`)
    } else {
      throw new LayoutError(`pobj: ${where}: the field type is not inferable (a union such as \`T | null\`, an interface, any or Object); use an explicit kind such as @field.i32, @field.optional.string or @field.ref(() => Class)`)
    }
  } else if (kind === 'ref') {
    const t = thunkValue(where, args.refTarget)
    storedAs = typeof t === 'function' ? metadataArgs.storedAs.get(t) : undefined
    targetClass = storedAs ? storedAs.stored : asPersistent(where, t)
  } else if (kind === 'array') {
    if (typeof args.element === 'function') { element = 'ref'; targetClass = resolveThunk(where, args.element) }
    else element = args.element as ArrayValueKind
  } else if (kind === 'enum') {
    ({ enumType, members } = enumMembers(where, args.enumObject as EnumObject))
  }
  if (presence !== 'required' && (kind === 'i64' || kind === 'ref' || kind === 'array')) {
    throw new LayoutError(`pobj: ${where}: a ${kind} field can not be ${presence}` +
      (kind === 'i64' ? ' (an i64 uses all 64 bits: no value is left to mean absent)' : ` (a ${kind} field is nullable already: null is stored as 0)`))
  }
  const size = fieldSize(kind, absentCode(presence), elemCode({ kind, element, enumType }))
  return Object.freeze({
    name: args.name, kind, offset: alignUp(end, size), size, targetClass, element, declaredIn: cls, presence, enumType, members,
    was: Object.freeze([...metadataArgs.formerNamesOf(cls, args.name)]), storedAs,
  })
}

/**
 * The members of a TypeScript enum object: numeric enums have a reverse mapping (value → name)
 * that is skipped; a mixed enum is refused. Numeric members must be i32.
 */
function enumMembers(where: string, e: EnumObject): { enumType: 'number' | 'string'; members: readonly (number | string)[] } {
  const values = new Set<number | string>()
  for (const k of Object.keys(e)) {
    const v = e[k]
    if (typeof v === 'string' && typeof e[v] === 'number' && String(e[v]) === k) continue // a numeric member's reverse mapping
    if (typeof v !== 'number' && typeof v !== 'string') throw new LayoutError(`pobj: ${where}: enum member ${k} is a ${typeof v}, not a number or string`)
    values.add(v)
  }
  const all = [...values]
  if (all.length === 0) throw new LayoutError(`pobj: ${where}: @field.enum needs an enum with at least one member`)
  if (all.every((v) => typeof v === 'number')) {
    const bad = (all as number[]).find((v) => (v | 0) !== v)
    if (bad !== undefined) throw new LayoutError(`pobj: ${where}: numeric enum member ${bad} is not an i32 (integer in [-2^31, 2^31))`)
    return { enumType: 'number', members: Object.freeze((all as number[]).sort((a, b) => a - b)) }
  }
  if (all.every((v) => typeof v === 'string')) {
    const bad = (all as string[]).find((v) => hasLoneSurrogate(v))
    if (bad !== undefined) throw new LayoutError(`pobj: ${where}: string enum member ${JSON.stringify(bad)} holds a lone surrogate`)
    return { enumType: 'string', members: Object.freeze((all as string[]).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) }
  }
  throw new LayoutError(`pobj: ${where}: a heterogeneous enum (number and string members) is not supported; use a numeric or a string enum`)
}

function resolveThunk(where: string, thunk: ClassThunk | undefined): Class {
  return asPersistent(where, thunkValue(where, thunk))
}

function thunkValue(where: string, thunk: ClassThunk | undefined): unknown {
  try { return thunk?.() } catch (e) {
    throw new LayoutError(`pobj: ${where}: the class thunk threw: ${(e as Error).message}`)
  }
}

function asPersistent(where: string, t: unknown): Class {
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
    if (f.size !== fieldSize(f.kind, absentCode(f.presence), elemCode(f))) v.push(`${f.name} has size ${f.size}`)
    if (f.offset % f.size !== 0) v.push(`${f.name} misaligned at ${f.offset}`)
    if (f.members && (f.members.length === 0 || f.members.some((m, i) => i > 0 && !(f.members![i - 1] < m)))) v.push(`${f.name} members not sorted and unique`)
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
