/**
 * The tagged value representation shared by map entries and list items: a
 * value kind plus the three fields that can hold a value.
 *
 *   kind   NUMBER → num (f64)   STRING → str (string block, 0 = '')
 *          TRUE / FALSE / NULL → nothing    OBJECT → obj (ref to any @Persistent object)
 */
import { PHeap, HeapCorruptError } from '@makalu/pobj'
import { BlockIO } from './block-io'

/** What a PersistentMap or PersistentList stores: numbers, strings, booleans, null or @Persistent objects. */
export type PValue = number | string | boolean | null | object

export const V_NUMBER = 1
export const V_STRING = 2
export const V_TRUE = 3
export const V_FALSE = 4
export const V_NULL = 5
export const V_OBJECT = 6

/** Field offsets of a value inside a block. */
export interface ValueSlots { num: number; str: number; obj: number }

/**
 * Checks v and returns its kind; for an object, its block pointer in `ref.p`.
 * Throws (a TypeError, or pobj's FieldTypeError/ForeignHandleError/FreedObjectError) before anything is allocated.
 */
export function classify(heap: PHeap, v: unknown, where: string, ref: { p: number }): number {
  switch (typeof v) {
    case 'number': return V_NUMBER
    case 'string': return V_STRING
    case 'boolean': return v ? V_TRUE : V_FALSE
    case 'object':
      if (v === null) return V_NULL
      ref.p = heap.pointerOf(v as object, where)
      return V_OBJECT
    default:
      throw new TypeError(`${where}: a value must be a number, string, boolean, null or @Persistent object, got ${typeof v}`)
  }
}

/**
 * Writes a classified value into the fresh block `b`; returns the string block it
 * allocated (0 if none), whose size is then `io.lastSize`.
 */
export function writeValue(io: BlockIO, b: number, at: ValueSlots, kind: number, v: unknown, objPtr: number, minSize = 0): number {
  if (kind === V_NUMBER) io.f64[(b + at.num) >>> 3] = v as number
  else if (kind === V_STRING) {
    const s = io.newString(v as string, minSize)
    io.u32[(b + at.str) >>> 2] = s
    return s
  } else if (kind === V_OBJECT) io.u32[(b + at.obj) >>> 2] = objPtr
  io.lastSize = 0
  return 0
}

/** The value of kind `kind` held by block b. */
export function readValue(io: BlockIO, b: number, at: ValueSlots, kind: number): PValue {
  switch (kind) {
    case V_NUMBER: return io.f64[(b + at.num) >>> 3]
    case V_STRING: return io.readString(io.u32[(b + at.str) >>> 2])
    case V_TRUE: return true
    case V_FALSE: return false
    case V_NULL: return null
    case V_OBJECT: return io.heap.objectAt(io.u32[(b + at.obj) >>> 2])
    default: throw new HeapCorruptError(`@makalu/examples: a block at ${b} holds no value (kind ${kind}): the structure is damaged`)
  }
}

/** A stored value as plain data: objects as their own toJSON (pobj's bounded field view). */
export function plainValue(v: unknown): unknown {
  return v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function' ? (v as { toJSON(): unknown }).toJSON() : v
}

/** The first PREVIEW items of `it`, shown by `show`, in braces; "…" when there are more. */
export function preview<T>(it: Iterator<T>, show: (x: T) => string): string {
  const parts: string[] = []
  for (let r = it.next(); !r.done; r = it.next()) {
    if (parts.length === PREVIEW) { parts.push('…'); break }
    parts.push(show(r.value))
  }
  return `{ ${parts.join(', ')} }`
}
const PREVIEW = 20
