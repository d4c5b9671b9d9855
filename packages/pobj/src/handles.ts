/**
 * Handles: instances of the user's classes whose fields are accessors over a
 * heap block. Accessors are generated once per class (on a handle prototype
 * that inherits from the class prototype); a handle holds only its heap and
 * its block pointer, so reads and writes go straight to the heap bytes.
 *
 * The accessors do the type checks and call the host for what depends on the
 * heap's state (logging inside a transaction, persisting outside one); the
 * read path is one pointer check and one DataView load.
 */
import { FieldTypeError } from './errors'
import { Layout, FieldLayout } from './layout-builder'
import { Class, ElementKind } from './metadata-args'
import {
  ABSENT_F64, OPT_BOOL_ABSENT, OPT_BOOL_FALSE, OPT_BOOL_TRUE, isAbsentWord, readPtr,
} from './object-format'
import { HeapCorruptError } from '@makalu/allocator'

/** What every handle carries. `_$ptr` is 0 once the object is freed or the heap closed. */
export interface Handle {
  _$heap: HandleHost
  _$ptr: number
}

/** The heap side of the accessors (implemented by PHeap). */
export interface HandleHost {
  /** The current view of the heap bytes (refreshed whenever the heap may have grown). */
  dv: DataView
  /** Throws the right error for a handle whose `_$ptr` is 0 (freed object or closed heap). */
  unusable(h: Handle): never
  /** Called before a store of `len` bytes at `addr` inside block `block` (logs it in a transaction). */
  beforeWrite(block: number, addr: number, len: number): void
  /** Called after the store (persists it outside a transaction). */
  afterWrite(block: number, addr: number, len: number): void
  /** Stores a pointer word with the ordering rules (init durable before publish). */
  writePtrField(block: number, addr: number, p: number): void
  /** The block pointer of `v` for a ref to `target` (null → 0); throws FieldTypeError/ForeignHandleError/FreedObjectError. */
  refPtr(v: unknown, target: Class, where: string): number
  /** The block pointer of `v` for an array of `element` (null → 0). */
  arrayPtr(v: unknown, element: ElementKind, target: Class | undefined, where: string): number
  /** The handle of the block at `p` (the same one while it lives). */
  handleAt(p: number): object
  readString(p: number): string
  /** A copy of the bytes block at `p`. */
  readBytes(p: number): Uint8Array
  /** A copy of the payload of the record block at `p`. */
  recordPayload(p: number): Uint8Array
  /** Replaces a bytes field (as writeStringField: null stores 0; empty stores 0 too unless `emptyAsBlock`). */
  writeBytesField(block: number, addr: number, b: Uint8Array | null, emptyAsBlock?: boolean): void
  /**
   * Rewrites the object of handle `h`, stored in an older layout version of its class, in the
   * current one (schema-evolution.ts); afterwards `h` is a handle of the current layout.
   */
  upgrade(h: Handle): void
  /** Replaces a string field: null stores 0 (absent), "" stores 0 too unless `emptyAsBlock` (optional fields). */
  writeStringField(block: number, addr: number, s: string | null, emptyAsBlock?: boolean): void
}

/** A constructor making a handle of one class, without running the user's constructor. */
export type HandleCtor = new (host: HandleHost, ptr: number) => Handle

const ctors = new Map<Layout, HandleCtor>()

/** The handle constructor of `layout` (accessors generated on first call). */
export function handleCtorOf(layout: Layout): HandleCtor {
  let c = ctors.get(layout)
  if (!c) ctors.set(layout, (c = makeHandleCtor(layout)))
  return c
}

function makeHandleCtor(layout: Layout): HandleCtor {
  return makeHandleCtorWith(layout, (f) => accessorsOf(layout, f))
}

/**
 * A handle constructor of `layout`'s class whose field accessors come from `accessors`
 * (schema-evolution.ts makes those of objects stored in an older layout version).
 */
export function makeHandleCtorWith(layout: Layout, accessors: (f: FieldLayout) => Accessors): HandleCtor {
  // A named constructor so stack traces and console.log show the user's class.
  const H = function (this: Handle, host: HandleHost, ptr: number) { this._$heap = host; this._$ptr = ptr } as unknown as HandleCtor
  Object.defineProperty(H, 'name', { value: layout.cls.name })
  const proto = Object.create(layout.cls.prototype)
  layoutOfHandle.set(proto, layout)
  H.prototype = proto
  Object.defineProperty(proto, 'constructor', { value: layout.cls, writable: true, configurable: true, enumerable: false })
  for (const f of layout.fields) {
    Object.defineProperty(proto, f.name, { ...accessors(f), enumerable: true, configurable: false })
  }
  // JSON.stringify and console.log would otherwise walk `_$heap` (the whole heap).
  if (!('toJSON' in layout.cls.prototype)) {
    Object.defineProperty(proto, 'toJSON', { value(this: Handle) { return fieldView(layout, this) }, configurable: true })
  }
  Object.defineProperty(proto, INSPECT, {
    value(this: Handle) { return this._$ptr === 0 ? `${layout.cls.name} <freed or closed>` : Object.assign(Object.create(layout.cls.prototype), fieldView(layout, this)) },
    configurable: true,
  })
  return H
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/**
 * The bounds of the plain view that toJSON and inspect give: referenced objects nested to
 * VIEW_DEPTH levels (deeper ones as { $more: 'Class' }), arrays to VIEW_ELEMENTS elements
 * (then a string '… n more'), a cycle as { $cycle: 'Class' }. The whole graph, with identity,
 * is heap.toPlain(obj).
 */
export const VIEW_DEPTH = 3
export const VIEW_ELEMENTS = 100

/** A value as plain data within the view's bounds: bigints as strings, handles as their fields. */
function plainOf(v: unknown, depth: number, path: Set<object>): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (v === null || typeof v !== 'object') return v
  if (isArrayLikeHandle(v)) return arrayView(v, depth, path)
  const h = v as Handle
  const layout = layoutOfHandle.get(Object.getPrototypeOf(h))
  if (!layout) return v
  if (h._$ptr === 0) return { $gone: layout.cls.name }
  if (path.has(h)) return { $cycle: layout.cls.name }
  if (depth <= 0) return { $more: layout.cls.name }
  return fieldView(layout, h, depth - 1, path)
}

function fieldView(layout: Layout, h: Handle, depth = VIEW_DEPTH, path = new Set<object>()): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  path.add(h)
  for (const f of layout.fields) out[f.name] = plainOf((h as unknown as Record<string, unknown>)[f.name], depth, path)
  path.delete(h)
  return out
}

/** What the views read of a persistent array (persistent-array.ts marks its instances with ARRAY_HANDLE). */
export interface ViewableArray { readonly length: number; get(i: number): unknown }
/** The mark of PArray instances, so that this file needs no import of persistent-array.ts. */
export const ARRAY_HANDLE = Symbol('pobj.array')
function isArrayLikeHandle(v: object): v is ViewableArray { return ARRAY_HANDLE in v }

/** The bounded plain view of an array (toJSON, inspect). */
export function arrayView(a: ViewableArray, depth: number, path: Set<object>): unknown[] {
  const n = Math.min(a.length, VIEW_ELEMENTS)
  const out: unknown[] = new Array(n)
  for (let i = 0; i < n; i++) out[i] = plainOf(a.get(i), depth, path)
  if (a.length > n) out.push(`… ${a.length - n} more`)
  return out
}

/** Handle prototypes → their layouts (to print a handle met as a value). */
const layoutOfHandle = new WeakMap<object, Layout>()

export function badValue(where: string, expected: string, v: unknown): never {
  const got = typeof v === 'string' ? `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
    : typeof v === 'object' ? (v === null ? 'null' : `object ${(v as object).constructor?.name ?? ''}`)
    : `${typeof v} ${String(v)}`
  throw new FieldTypeError(`pobj: ${where}: expected ${expected}, got ${got}`)
}

const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n

/** Value checks shared by fields and array elements. */
export function checkI32(v: unknown, where: string): number {
  if (typeof v !== 'number' || (v | 0) !== v) badValue(where, 'an i32 (integer in [-2^31, 2^31))', v)
  return v
}
export function checkU32(v: unknown, where: string): number {
  if (typeof v !== 'number' || v >>> 0 !== v) badValue(where, 'a u32 (integer in [0, 2^32))', v)
  return v
}
export function checkF64(v: unknown, where: string): number {
  if (typeof v !== 'number') badValue(where, 'a number', v)
  return v
}
export function checkI64(v: unknown, where: string): bigint {
  if (typeof v !== 'bigint' || v < I64_MIN || v > I64_MAX) badValue(where, 'an i64 (bigint in [-2^63, 2^63))', v)
  return v
}

/** A Date's epoch milliseconds; anything else, or an Invalid Date, is a FieldTypeError. */
export function checkDate(v: unknown, where: string): number {
  if (!(v instanceof Date)) badValue(where, 'a Date', v)
  const ms = v.getTime()
  if (ms !== ms) badValue(where, 'a valid Date (this one is an Invalid Date)', v)
  return ms
}

/** The check of an enum field's values: a member of its sorted list. */
export function enumCheck(f: FieldLayout, where: string): (v: unknown) => number | string {
  const members = f.members as readonly (number | string)[]
  const set = new Set<unknown>(members)
  const list = members.length > 12 ? `${members.slice(0, 12).map((m) => JSON.stringify(m)).join(', ')}, …` : members.map((m) => JSON.stringify(m)).join(', ')
  return (v) => { if (!set.has(v)) badValue(where, `a member of the enum (${list})`, v); return v as number | string }
}

export type Accessors = { get(this: Handle): unknown; set(this: Handle, v: unknown): void }

/**
 * Accessors of an optional or nullable field (object-format.ts, "Optional and nullable
 * fields"). `none` is what absence reads as and what a write of it clears to.
 */
function optionalAccessors(f: FieldLayout, where: string): Accessors {
  const off = f.offset
  const none = f.presence === 'nullable' ? null : undefined
  const noneName = f.presence === 'nullable' ? 'null' : 'undefined'
  if (f.kind === 'enum' && f.enumType === 'string') {
    const check = enumCheck(f, where)
    const members = f.members as readonly string[]
    const index = new Map(members.map((m, i) => [m, i + 1])) // 0 = absent
    return {
      get() {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const i = this._$heap.dv.getUint32(p + off, true)
        if (i === 0) return none
        if (i > members.length) throw new HeapCorruptError(`pobj: ${where}: stored enum index ${i - 1} is outside its ${members.length} members`)
        return members[i - 1]
      },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const i = v === none ? 0 : index.get(check(v) as string) as number
        const h = this._$heap
        h.beforeWrite(p, p + off, 4); h.dv.setUint32(p + off, i, true); h.afterWrite(p, p + off, 4)
      },
    }
  }
  switch (f.kind) {
    case 'bool': return {
      get() {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const b = this._$heap.dv.getUint8(p + off)
        return b === OPT_BOOL_ABSENT ? none : b === OPT_BOOL_TRUE
      },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (v !== none && typeof v !== 'boolean') badValue(where, `a boolean or ${noneName}`, v)
        const h = this._$heap
        h.beforeWrite(p, p + off, 1); h.dv.setUint8(p + off, v === none ? OPT_BOOL_ABSENT : v ? OPT_BOOL_TRUE : OPT_BOOL_FALSE); h.afterWrite(p, p + off, 1)
      },
    }
    case 'string': return {
      get() {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const s = readPtr(this._$heap.dv, p + off)
        return s === 0 ? none : this._$heap.readString(s)
      },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (v !== none && typeof v !== 'string') badValue(where, `a string or ${noneName}`, v)
        this._$heap.writeStringField(p, p + off, v === none ? null : v as string, true)
      },
    }
    case 'bytes': return {
      get() {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const b = readPtr(this._$heap.dv, p + off)
        return b === 0 ? none : this._$heap.readBytes(b)
      },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (v !== none && !(v instanceof Uint8Array)) badValue(where, `a Uint8Array or ${noneName}`, v)
        this._$heap.writeBytesField(p, p + off, v === none ? null : v as Uint8Array, true)
      },
    }
    default: {
      // An 8-byte f64 slot: the number, or the ABSENT NaN.
      const enumOk = f.kind === 'enum' ? enumCheck(f, where) : undefined
      const toNumber: (v: unknown) => number =
        f.kind === 'i32' ? (v) => checkI32(v, where)
          : f.kind === 'u32' ? (v) => checkU32(v, where)
          : f.kind === 'date' ? (v) => checkDate(v, where)
          : f.kind === 'enum' ? (v) => enumOk!(v) as number
          : (v) => { const x = checkF64(v, where); return x !== x ? NaN : x } // every NaN made canonical: never ABSENT
      const isDate = f.kind === 'date'
      return {
        get() {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const dv = this._$heap.dv
          const x = dv.getFloat64(p + off, true)
          if (x !== x && isAbsentWord(dv, p + off)) return none
          return isDate ? new Date(x) : x
        },
        set(v) {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const x = v === none ? ABSENT_F64 : toNumber(v)
          const h = this._$heap
          h.beforeWrite(p, p + off, 8); h.dv.setFloat64(p + off, x, true); h.afterWrite(p, p + off, 8)
        },
      }
    }
  }
}

function accessorsOf(layout: Layout, f: FieldLayout): Accessors {
  const off = f.offset
  const where = `${layout.cls.name}.${f.name}`
  if (f.presence !== 'required') return optionalAccessors(f, where)
  switch (f.kind) {
    case 'date': return {
      get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return new Date(this._$heap.dv.getFloat64(p + off, true)) },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const ms = checkDate(v, where)
        const h = this._$heap
        h.beforeWrite(p, p + off, 8); h.dv.setFloat64(p + off, ms, true); h.afterWrite(p, p + off, 8)
      },
    }
    case 'enum': {
      const check = enumCheck(f, where)
      if (f.enumType === 'number') return {
        get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return this._$heap.dv.getInt32(p + off, true) },
        set(v) {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          check(v)
          const h = this._$heap
          h.beforeWrite(p, p + off, 4); h.dv.setInt32(p + off, v as number, true); h.afterWrite(p, p + off, 4)
        },
      }
      const members = f.members as readonly string[]
      const index = new Map(members.map((m, i) => [m, i]))
      return {
        get() {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const i = this._$heap.dv.getUint32(p + off, true)
          if (i >= members.length) throw new HeapCorruptError(`pobj: ${where}: stored enum index ${i} is outside its ${members.length} members`)
          return members[i]
        },
        set(v) {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const i = index.get(check(v) as string) as number
          const h = this._$heap
          h.beforeWrite(p, p + off, 4); h.dv.setUint32(p + off, i, true); h.afterWrite(p, p + off, 4)
        },
      }
    }
    case 'f64': return {
      get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return this._$heap.dv.getFloat64(p + off, true) },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (typeof v !== 'number') badValue(where, 'a number', v)
        const h = this._$heap
        h.beforeWrite(p, p + off, 8); h.dv.setFloat64(p + off, v, true); h.afterWrite(p, p + off, 8)
      },
    }
    case 'i32': return {
      get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return this._$heap.dv.getInt32(p + off, true) },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        checkI32(v, where)
        const h = this._$heap
        h.beforeWrite(p, p + off, 4); h.dv.setInt32(p + off, v as number, true); h.afterWrite(p, p + off, 4)
      },
    }
    case 'u32': return {
      get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return this._$heap.dv.getUint32(p + off, true) },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        checkU32(v, where)
        const h = this._$heap
        h.beforeWrite(p, p + off, 4); h.dv.setUint32(p + off, v as number, true); h.afterWrite(p, p + off, 4)
      },
    }
    case 'i64': return {
      get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return this._$heap.dv.getBigInt64(p + off, true) },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        checkI64(v, where)
        const h = this._$heap
        h.beforeWrite(p, p + off, 8); h.dv.setBigInt64(p + off, v as bigint, true); h.afterWrite(p, p + off, 8)
      },
    }
    case 'bool': return {
      get() { const p = this._$ptr; if (p === 0) this._$heap.unusable(this); return this._$heap.dv.getUint8(p + off) !== 0 },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (typeof v !== 'boolean') badValue(where, 'a boolean', v)
        const h = this._$heap
        h.beforeWrite(p, p + off, 1); h.dv.setUint8(p + off, v ? 1 : 0); h.afterWrite(p, p + off, 1)
      },
    }
    case 'string': return {
      get() {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const s = readPtr(this._$heap.dv, p + off)
        return s === 0 ? '' : this._$heap.readString(s)
      },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (typeof v !== 'string') badValue(where, 'a string', v)
        this._$heap.writeStringField(p, p + off, v)
      },
    }
    case 'bytes': return {
      get() {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        const b = readPtr(this._$heap.dv, p + off)
        return b === 0 ? new Uint8Array(0) : this._$heap.readBytes(b)
      },
      set(v) {
        const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
        if (!(v instanceof Uint8Array)) badValue(where, 'a Uint8Array', v)
        this._$heap.writeBytesField(p, p + off, v as Uint8Array)
      },
    }
    case 'ref': {
      const target = f.targetClass as Class
      const sa = f.storedAs
      if (sa) return { // a class stored as an object of another (storeAs): the field holds that object
        get() {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const q = readPtr(this._$heap.dv, p + off)
          return q === 0 ? null : sa.wrap(this._$heap, this._$heap.handleAt(q))
        },
        set(v) {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const h = this._$heap
          const stored = v === null || v instanceof target ? v : sa.unwrap(v) // the stored object itself is taken as is
          h.writePtrField(p, p + off, h.refPtr(stored, target, where))
        },
      }
      return {
        get() {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const q = readPtr(this._$heap.dv, p + off)
          return q === 0 ? null : this._$heap.handleAt(q)
        },
        set(v) {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const h = this._$heap
          h.writePtrField(p, p + off, h.refPtr(v, target, where))
        },
      }
    }
    case 'array': {
      const element = f.element as ElementKind
      return {
        get() {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const q = readPtr(this._$heap.dv, p + off)
          return q === 0 ? null : this._$heap.handleAt(q)
        },
        set(v) {
          const p = this._$ptr; if (p === 0) this._$heap.unusable(this)
          const h = this._$heap
          h.writePtrField(p, p + off, h.arrayPtr(v, element, f.targetClass, where))
        },
      }
    }
  }
}
