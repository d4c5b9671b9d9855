/**
 * PArray: a persistent array with Array's semantics (push, pop, splice, length, at, indexOf,
 * includes, iteration), its elements of one number kind, strings, or refs to objects of one
 * class. Format and the ordered steps of every mutation: object-format.ts ("Array block",
 * "Growable array"). A growable array is a header block (its identity: refs and handles stay
 * valid however it grows) pointing at an elements block; growing or splicing builds a new
 * elements block and commits by one pointer store in the header, so a mutation is one
 * committing store whatever it changes. Outside a transaction each call is failure-atomic
 * and durable when it returns; inside one it is logged and rolls back with it (the handle
 * reads length and elements from the heap, so a roll-back is seen in memory too).
 *
 * A fixed array (a tag-2 block reached directly: `heap.newFixedArray`, or the block API of
 * data-structure authors) has the same reading API and `set`; its length never changes.
 */
import { FieldTypeError, FixedArrayError, IndexRangeError } from './errors'
import { HandleHost, Handle, ARRAY_HANDLE, arrayView, badValue, checkF64, checkI32, checkI64, checkU32, VIEW_DEPTH } from './handles'
import { Class, ElementKind } from './metadata-args'
import {
  TAG_ARRAY, TAG_ARRAY_HEAD, ARRAY_HEADER_SIZE, ARRAY_HEAD_SIZE, ARR_ELEM, ARR_LENGTH, ARR_ELEM_TYPE, ARR_ELEMENTS,
  ELEMENT_SIZE, KIND_CODE, CODE_KIND, writePtr, readPtr, writeArrayHeader, writeArrayHeadHeader, REC_VACATED, recordRef,
} from './object-format'
import { recordSeal, recordSize, writeRecord, writeRecordElement } from './record-blocks'

/** What arrays need from the heap beyond the field accessors' HandleHost (implemented by PHeap). */
export interface ArrayHost extends HandleHost {
  readonly inTransaction: boolean
  /** A zeroed block; inside a transaction its writes need no log and a roll-back frees it. */
  allocData(size: number): number
  /** A new string block holding `s` (not flushed), or 0 for ''; its bytes: STRING_HEADER_SIZE + byte length. */
  newStringBlock(s: string): { ptr: number; size: number }
  /** Frees a block (inside a transaction: at commit). */
  freeBlock(p: number): void
  usableSize(p: number): number
  flush(p: number, len: number): void
  /** Everything flushed so far (new objects included) is durable when it returns. */
  drain(): void
  /** flush + drain; inside a transaction, at commit. */
  persist(p: number, len: number): void
  /** Outside a transaction: flushes a new block now; the first publishing store drains first. */
  flushNewBlock(p: number, size: number): void
  /** Inside a transaction: the number noted under `key` in it, noting `init` at the first call. */
  txNote(key: number, init: number): number
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom')
/** Longest array: its elements block must fit 2^32 bytes. */
const MAX_LENGTH = Math.floor((2 ** 32 - ARRAY_HEADER_SIZE) / 8)
const MIN_CAPACITY = 4

/** An element as stored: a number, a bigint (i64), a block pointer (ref), or a JS string (written as a block). */
type Encoded = number | bigint | string

export class PArray<T = unknown> implements Iterable<T> {
  /** @internal */ _$heap: ArrayHost
  /** @internal */ _$ptr: number
  /** The element kind. */
  readonly element: ElementKind
  /** For ref arrays: the declared element class. */
  readonly elementClass: Class | undefined
  /** False for a fixed array (`heap.newFixedArray`, or a block API's): push, pop, splice and `length =` throw FixedArrayError. */
  readonly growable: boolean
  /** Bytes per element. */
  private readonly esz: number
  /** The elements block whose capacity is cached (-1: none). */
  private capBlock = -1
  private capValue = 0

  /** @internal Use `heap.newArray`. */
  constructor(host: ArrayHost, ptr: number, element: ElementKind, elementClass: Class | undefined, growable: boolean) {
    this._$heap = host
    this._$ptr = ptr
    this.element = element
    this.elementClass = elementClass
    this.growable = growable
    this.esz = ELEMENT_SIZE[element]
  }

  // ── reading ──────────────────────────────────────────────────────────────
  /** The elements block (0 when a growable array never held an element). */
  private block(): number {
    const p = this._$ptr
    if (p === 0) this._$heap.unusable(this as unknown as Handle)
    return this.growable ? readPtr(this._$heap.dv, p + ARR_ELEMENTS) : p
  }

  /** The number of elements. Assigning truncates (freeing removed strings) or appends zero values (0, 0n, '', null). */
  get length(): number {
    const b = this.block()
    return b === 0 ? 0 : this._$heap.dv.getUint32(b + ARR_LENGTH, true)
  }
  set length(m: number) {
    const b = this.mutable('length =')
    if (!(Number.isInteger(m) && m >= 0 && m <= MAX_LENGTH)) throw new IndexRangeError(`pobj: array length ${String(m)} is not an integer in [0, ${MAX_LENGTH}]`)
    const n = this.lengthOf(b)
    if (m < n) this.truncate(b, n, m)
    else if (m > n) this.append(b, n, new Array<Encoded>(m - n).fill(this.element === 'i64' ? 0n : this.element === 'string' ? '' : 0))
  }

  get(i: number): T {
    const p = this._$ptr
    if (p === 0) this._$heap.unusable(this as unknown as Handle)
    const dv = this._$heap.dv
    const b = this.growable ? readPtr(dv, p + ARR_ELEMENTS) : p
    const n = b === 0 ? 0 : dv.getUint32(b + ARR_LENGTH, true)
    // i >>> 0 === i: an integer in [0, 2^32) (NaN, negatives and fractions fail).
    if (!(i >>> 0 === i && i < n)) throw new IndexRangeError(`pobj: array index ${String(i)} outside [0, ${n})`)
    const at = b + ARRAY_HEADER_SIZE + i * this.esz
    switch (this.element) {
      case 'f64': return dv.getFloat64(at, true) as T
      case 'i32': return dv.getInt32(at, true) as T
      default: return this.read(dv, at)
    }
  }

  private read(dv: DataView, a: number): T {
    switch (this.element) {
      case 'f64': return dv.getFloat64(a, true) as T
      case 'i32': return dv.getInt32(a, true) as T
      case 'u32': return dv.getUint32(a, true) as T
      case 'i64': return dv.getBigInt64(a, true) as T
      case 'ref': { const q = readPtr(dv, a); return (q === 0 ? null : this._$heap.handleAt(q)) as T }
      case 'string': { const q = readPtr(dv, a); return (q === 0 ? '' : this._$heap.readString(q)) as T }
      case 'record': { const q = dv.getUint32(a, true); return (q === 0 ? null : this._$heap.recordPayload(q)) as T }
    }
  }

  /** @internal A record element as the plain graph carries it: null (empty), 0 (vacated), or its payload and ref. */
  recordAt(i: number): null | 0 | { payload: Uint8Array; ref: object | null } {
    const b = this.block()
    const h = this._$heap
    const dv = h.dv
    const at = b + ARRAY_HEADER_SIZE + i * 8
    const q = dv.getUint32(at, true)
    if (q === 0) return dv.getUint32(at + 4, true) === 0 ? null : 0
    const r = recordRef(dv, q)
    return { payload: h.recordPayload(q), ref: r === 0 ? null : h.handleAt(r) }
  }

  /**
   * @internal Publishes a new record in the EMPTY (or vacated) element i of a record array (the plain
   * graph's import): the record is written and flushed, then the element (pointer, seal) is one store.
   */
  putRecord(i: number, v: 0 | { payload: Uint8Array; ref: object | null }, refClass: Class): void {
    const b = this.block()
    const h = this._$heap
    const at = b + ARRAY_HEADER_SIZE + i * 8
    if (h.dv.getUint32(at, true) !== 0) throw new TypeError(`pobj: array[${i}]: a record array element is replaced only by the structure that owns it`)
    if (v === 0) { h.beforeWrite(b, at, 8); h.dv.setUint32(at + 4, REC_VACATED, true); h.afterWrite(b, at, 8); return }
    const ref = v.ref === null ? 0 : h.refPtr(v.ref, refClass, `array[${i}].ref`)
    const size = recordSize(v.payload.length)
    const q = h.allocData(size)
    const buf = h.dv.buffer
    const u32 = new Uint32Array(buf, h.dv.byteOffset, h.dv.byteLength / 4)
    writeRecord(new Uint8Array(buf, h.dv.byteOffset, h.dv.byteLength), u32, q, v.payload, ref)
    const seal = recordSeal(u32, q, q + h.usableSize(q))
    h.flushNewBlock(q, size)
    h.beforeWrite(b, at, 8)
    writeRecordElement(new Float64Array(buf, h.dv.byteOffset, Math.floor(h.dv.byteLength / 8)), at, q, seal) // commits
    h.afterWrite(b, at, 8)
  }

  /** Array's `at`: the index converted as Array does (truncated; negative counts from the end); undefined outside. */
  at(index: number): T | undefined {
    const n = this.length
    let k = toIntegerOrInfinity(index)
    if (k < 0) k += n
    return k >= 0 && k < n ? this.get(k) : undefined
  }

  /** The first index of `v` (strict equality, as Array's: NaN is never found; refs by identity), or -1. */
  indexOf(v: T, fromIndex = 0): number {
    return this.find(v, fromIndex, false)
  }

  /** Whether the array holds `v` (SameValueZero, as Array's: NaN is found). */
  includes(v: T, fromIndex = 0): boolean {
    return this.find(v, fromIndex, true) >= 0
  }

  private find(v: T, fromIndex: number, sameValueZero: boolean): number {
    const n = this.length
    let k = toIntegerOrInfinity(fromIndex)
    if (k < 0) k = Math.max(n + k, 0)
    if (this.element === 'ref') {
      // Compare block pointers: no handle is made for the elements passed over.
      const h = v as unknown as Handle | null
      const want = h === null ? 0 : typeof h === 'object' && h._$heap === this._$heap && h._$ptr !== 0 ? h._$ptr : -1
      if (want < 0) return -1
      const b = this.block()
      const dv = this._$heap.dv
      for (let i = k; i < n; i++) if (readPtr(dv, b + ARRAY_HEADER_SIZE + i * 8) === want) return i
      return -1
    }
    const nan = sameValueZero && v !== v
    for (let i = k; i < n; i++) {
      const x = this.get(i)
      if (x === v || (nan && x !== x)) return i
    }
    return -1
  }

  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.length; i++) yield this.get(i)
  }

  /** The elements, as Array's values(). */
  values(): IterableIterator<T> {
    return this[Symbol.iterator]() as IterableIterator<T>
  }

  /** A JS array copy of the elements. */
  toArray(): T[] {
    const n = this.length
    const out = new Array<T>(n)
    for (let i = 0; i < n; i++) out[i] = this.get(i)
    return out
  }

  /** For JSON.stringify: the plain view (numbers, i64 as strings, objects as their fields; bounded, see VIEW_DEPTH). */
  toJSON(): unknown[] {
    if (this._$ptr === 0) this._$heap.unusable(this as unknown as Handle)
    return arrayView(this, VIEW_DEPTH, new Set())
  }

  [INSPECT](): string {
    if (this._$ptr === 0) return `PArray <freed or closed>`
    const n = this.length
    const shown = arrayView(this, 1, new Set()).slice(0, 20)
    if (n > 20) shown.push('…')
    return `PArray<${this.elementClass?.name ?? this.element}>(${n}) ${JSON.stringify(shown)}`
  }

  // ── writing ──────────────────────────────────────────────────────────────
  set(i: number, v: T): void {
    const b = this.block()
    const h = this._$heap
    const n = b === 0 ? 0 : h.dv.getUint32(b + ARR_LENGTH, true)
    if (!(i >= 0 && i < n && Number.isInteger(i))) throw new IndexRangeError(`pobj: array index ${String(i)} outside [0, ${n})`)
    const a = b + ARRAY_HEADER_SIZE + i * ELEMENT_SIZE[this.element]
    const where = `array[${i}]`
    switch (this.element) {
      case 'f64': checkF64(v, where); h.beforeWrite(b, a, 8); h.dv.setFloat64(a, v as number, true); break
      case 'i32': checkI32(v, where); h.beforeWrite(b, a, 4); h.dv.setInt32(a, v as number, true); break
      case 'u32': checkU32(v, where); h.beforeWrite(b, a, 4); h.dv.setUint32(a, v as number, true); break
      case 'i64': checkI64(v, where); h.beforeWrite(b, a, 8); h.dv.setBigInt64(a, v as bigint, true); break
      case 'ref': h.writePtrField(b, a, h.refPtr(v, this.elementClass as Class, where)); return
      case 'string':
        if (typeof v !== 'string') badValue(where, 'a string', v)
        h.writeStringField(b, a, v) // the old string is freed after the store commits
        return
      case 'record': throw recordWrite(where)
    }
    h.afterWrite(b, a, ELEMENT_SIZE[this.element])
  }

  /** Appends the items; returns the new length. Amortised O(1) per item (capacity doubles). */
  push(...items: T[]): number {
    const b = this.mutable('push')
    const n = this.lengthOf(b)
    if (items.length === 0) return n
    if (n + items.length > MAX_LENGTH) throw new IndexRangeError(`pobj: array.push: length ${n + items.length} exceeds ${MAX_LENGTH}`)
    this.append(b, n, this.encodeAll(items, 'push'))
    return n + items.length
  }

  /** Removes and returns the last element (undefined when empty). */
  pop(): T | undefined {
    const b = this.mutable('pop')
    const n = this.lengthOf(b)
    if (n === 0) return undefined
    const v = this.get(n - 1)
    this.truncate(b, n, n - 1)
    return v
  }

  /**
   * Array's splice: removes `deleteCount` elements from `start` (both converted and clamped as
   * Array does; without deleteCount, to the end), inserts `items` there, returns the removed ones.
   */
  splice(start?: number, deleteCount?: number, ...items: T[]): T[] {
    const b = this.mutable('splice')
    const n = this.lengthOf(b)
    let s = toIntegerOrInfinity(start)
    s = s < 0 ? Math.max(n + s, 0) : Math.min(s, n)
    const argc = arguments.length
    const dc = argc === 0 ? 0 : argc === 1 ? n - s : Math.min(Math.max(toIntegerOrInfinity(deleteCount), 0), n - s)
    const k = items.length
    if (n - dc + k > MAX_LENGTH) throw new IndexRangeError(`pobj: array.splice: length ${n - dc + k} exceeds ${MAX_LENGTH}`)
    const xs = this.encodeAll(items, 'splice')
    const removed: T[] = new Array(dc)
    for (let i = 0; i < dc; i++) removed[i] = this.get(s + i)
    if (dc === 0 && k === 0) return removed
    if (dc === 0 && s === n) { this.append(b, n, xs); return removed }
    if (k === 0 && s + dc === n) { this.truncate(b, n, s); return removed }
    const esz = ELEMENT_SIZE[this.element]
    const newLen = n - dc + k
    const cap = this.capacity(b)
    this.replace(b, newLen, newLen > cap ? grownCapacity(cap, newLen) : cap, (dst, writeItems) => {
      writeItems(dst + ARRAY_HEADER_SIZE + s * esz, xs)
      this.copyBytes(dst + ARRAY_HEADER_SIZE, b + ARRAY_HEADER_SIZE, s * esz)
      this.copyBytes(dst + ARRAY_HEADER_SIZE + (s + k) * esz, b + ARRAY_HEADER_SIZE + (s + dc) * esz, (n - s - dc) * esz)
    }, this.element === 'string' ? this.stringsIn(b, s, s + dc) : [])
    return removed
  }

  // ── internals ────────────────────────────────────────────────────────────
  /** The elements block of a live growable array (FixedArrayError for a fixed one). */
  private mutable(op: string): number {
    const b = this.block()
    if (!this.growable) {
      throw new FixedArrayError(`pobj: array.${op}: this is a fixed-length array (made by newFixedArray or a block API); ` +
        'heap.newArray makes growable ones')
    }
    return b
  }

  private lengthOf(b: number): number { return b === 0 ? 0 : this._$heap.dv.getUint32(b + ARR_LENGTH, true) }

  /** Copies `len` bytes from `src` to `dst` (another block: no overlap; over 4 GiB the two may be in different segments). */
  private copyBytes(dst: number, src: number, len: number): void {
    if (len <= 0) return
    const dv = this._$heap.dv
    new Uint8Array(dv.buffer, dv.byteOffset + dst, len).set(new Uint8Array(dv.buffer, dv.byteOffset + src, len))
  }

  /** Elements the block can hold (cached per block: a block's capacity never changes). */
  private capacity(b: number): number {
    if (b === 0) return 0
    if (b !== this.capBlock) {
      this.capBlock = b
      this.capValue = Math.floor((this._$heap.usableSize(b) - ARRAY_HEADER_SIZE) / ELEMENT_SIZE[this.element])
    }
    return this.capValue
  }

  /** @internal Checks and converts every item before anything is written (a bad one: FieldTypeError, nothing changed). */
  encodeAll(items: ArrayLike<unknown>, op: string): Encoded[] {
    const out = new Array<Encoded>(items.length)
    for (let j = 0; j < items.length; j++) out[j] = encodeElement(this._$heap, this.element, this.elementClass, items[j], `array.${op}: item ${j}`)
    return out
  }

  /**
   * Writes encoded items into slots from `a` that no committed state reads yet (past the
   * length, or in a block not yet published). Strings get new blocks, flushed outside a
   * transaction. On a throw (the heap is full) frees the strings it made and rethrows.
   */
  /** @internal */
  writeItems(a: number, xs: readonly Encoded[]): void {
    const h = this._$heap
    const esz = ELEMENT_SIZE[this.element]
    const made: number[] = []
    try {
      for (let j = 0; j < xs.length; j++, a += esz) {
        const x = xs[j]
        switch (this.element) {
          case 'f64': h.dv.setFloat64(a, x as number, true); break
          case 'i32': h.dv.setInt32(a, x as number, true); break
          case 'u32': h.dv.setUint32(a, x as number, true); break
          case 'i64': h.dv.setBigInt64(a, x as bigint, true); break
          case 'ref': writePtr(h.dv, a, x as number); break
          case 'string': {
            const s = h.newStringBlock(x as string)
            if (s.ptr !== 0) { made.push(s.ptr); if (!h.inTransaction) h.flush(s.ptr, s.size) }
            writePtr(h.dv, a, s.ptr)
          }
        }
      }
    } catch (e) {
      for (const q of made) h.freeBlock(q)
      throw e
    }
  }

  /** Appends encoded items after the `n` elements of block `b` (growing into a new block when full). */
  private append(b: number, n: number, xs: readonly Encoded[]): void {
    const k = xs.length
    const cap = this.capacity(b)
    const esz = ELEMENT_SIZE[this.element]
    if (n + k > cap) {
      this.replace(b, n + k, grownCapacity(cap, n + k), (dst, writeItems) => {
        writeItems(dst + ARRAY_HEADER_SIZE + n * esz, xs)
        this.copyBytes(dst + ARRAY_HEADER_SIZE, b + ARRAY_HEADER_SIZE, n * esz)
      }, [])
      return
    }
    const h = this._$heap
    const first = b + ARRAY_HEADER_SIZE + n * esz
    if (h.inTransaction) {
      // Slots at or past the length this transaction found hold nothing a roll-back restores.
      const found = h.txNote(b, n)
      h.beforeWrite(b, b + ARR_LENGTH, 4)
      for (let j = 0; j < k && n + j < found; j++) h.beforeWrite(b, first + j * esz, esz)
      this.writeItems(first, xs)
      h.persist(first, k * esz) // at commit
      h.dv.setUint32(b + ARR_LENGTH, n + k, true)
      return
    }
    this.writeItems(first, xs)
    h.flush(first, k * esz)
    h.drain()
    h.dv.setUint32(b + ARR_LENGTH, n + k, true) // COMMIT
    h.persist(b + ARR_LENGTH, 4)
  }

  /** Shortens block `b` from `n` to `m` elements; the removed strings are freed after the commit. */
  private truncate(b: number, n: number, m: number): void {
    const h = this._$heap
    const strings = this.element === 'string' ? this.stringsIn(b, m, n) : []
    if (h.inTransaction) {
      h.txNote(b, n)
      h.beforeWrite(b, b + ARR_LENGTH, 4)
      h.dv.setUint32(b + ARR_LENGTH, m, true)
    } else {
      h.dv.setUint32(b + ARR_LENGTH, m, true) // COMMIT
      h.persist(b + ARR_LENGTH, 4)
    }
    for (const q of strings) h.freeBlock(q) // inside a transaction: at commit
  }

  /** The string blocks of elements [from, to) of block `b`. */
  private stringsIn(b: number, from: number, to: number): number[] {
    const out: number[] = []
    const dv = this._$heap.dv
    for (let i = from; i < to; i++) {
      const q = readPtr(dv, b + ARRAY_HEADER_SIZE + i * 8)
      if (q !== 0) out.push(q)
    }
    return out
  }

  /**
   * Replaces the elements block: a new block of `cap` slots holding `length` elements written by
   * `fill`; then ONE pointer store in the header commits; then the old block and `freed` (the
   * strings removed) are freed. See object-format.ts, "grow, splice".
   */
  private replace(old: number, length: number, cap: number, fill: (dst: number, writeItems: (a: number, xs: readonly Encoded[]) => void) => void, freed: number[]): void {
    const h = this._$heap
    const size = ARRAY_HEADER_SIZE + Math.max(cap, length) * ELEMENT_SIZE[this.element]
    const dst = h.allocData(size)
    const p = this._$ptr
    const dv = h.dv
    writeArrayHeader(dv, dst, KIND_CODE[this.element], length, dv.getUint32(p + ARR_ELEM_TYPE, true))
    try {
      fill(dst, (a, xs) => this.writeItems(a, xs))
    } catch (e) {
      h.freeBlock(dst)
      throw e
    }
    if (!h.inTransaction) {
      h.flush(dst, ARRAY_HEADER_SIZE + length * ELEMENT_SIZE[this.element])
      h.drain()
    }
    h.writePtrField(p, p + ARR_ELEMENTS, dst) // COMMIT (persisted; inside a transaction, logged)
    this.capBlock = dst
    this.capValue = Math.floor((h.usableSize(dst) - ARRAY_HEADER_SIZE) / ELEMENT_SIZE[this.element])
    if (old !== 0) h.freeBlock(old)
    for (const q of freed) h.freeBlock(q)
  }
}

Object.defineProperty(PArray.prototype, ARRAY_HANDLE, { value: true })

/** The capacity a full array of `cap` slots grows to so that it holds `need`: doubling (amortised O(1) push). */
function grownCapacity(cap: number, need: number): number {
  return Math.min(Math.max(need, 2 * cap, MIN_CAPACITY), MAX_LENGTH)
}

/** Records are published by the structure that owns them (one sealed store each), never through a PArray. */
function recordWrite(where: string): TypeError {
  return new TypeError(`pobj: ${where}: a record array is read-only here; the structure that owns it writes its records (record-blocks.ts)`)
}

/** ECMAScript ToIntegerOrInfinity (NaN and undefined → 0). */
function toIntegerOrInfinity(x: unknown): number {
  const n = Number(x)
  return n !== n ? 0 : Math.trunc(n)
}

/** An element checked and converted for storage; FieldTypeError (or the host's ref errors) for a bad one. */
function encodeElement(h: ArrayHost, kind: ElementKind, cls: Class | undefined, v: unknown, where: string): Encoded {
  switch (kind) {
    case 'f64': return checkF64(v, where)
    case 'i32': return checkI32(v, where)
    case 'u32': return checkU32(v, where)
    case 'i64': return checkI64(v, where)
    case 'ref': return h.refPtr(v, cls as Class, where)
    case 'string': if (typeof v !== 'string') badValue(where, 'a string', v); return v
    case 'record': throw recordWrite(where)
  }
}

/**
 * A new growable array of `length` zero values (0, 0n, '', null), or of `values`, checked
 * first: a bad value throws before anything is allocated. Outside a transaction its blocks
 * are flushed, drained before anything publishes it (as `new` does).
 */
export function createArray<T>(h: ArrayHost, kind: ElementKind, cls: Class | undefined, elemTypeId: number, lengthOrValues: number | ArrayLike<unknown>): PArray<T> {
  const values = typeof lengthOrValues === 'number' ? undefined : lengthOrValues
  const n = values ? values.length : lengthOrValues as number
  if (!Number.isInteger(n) || n < 0 || n > MAX_LENGTH) throw new FieldTypeError(`pobj: newArray: bad length ${String(n)}`)
  const a = new PArray<T>(h, 0, kind, cls, true)
  const xs = values ? a.encodeAll(values, 'newArray') : undefined
  const p = h.allocData(ARRAY_HEAD_SIZE)
  let dv = h.dv
  writeArrayHeadHeader(dv, p, KIND_CODE[kind], elemTypeId)
  a._$ptr = p
  if (n > 0) {
    const size = ARRAY_HEADER_SIZE + n * ELEMENT_SIZE[kind]
    let b = 0
    try {
      b = h.allocData(size)
      dv = h.dv
      writeArrayHeader(dv, b, KIND_CODE[kind], n, elemTypeId)
      if (xs) a.writeItems(b + ARRAY_HEADER_SIZE, xs)
    } catch (e) {
      if (b !== 0) h.freeBlock(b)
      h.freeBlock(p)
      a._$ptr = 0
      throw e
    }
    writePtr(h.dv, p + ARR_ELEMENTS, b)
    if (!h.inTransaction) h.flushNewBlock(b, size)
  }
  if (!h.inTransaction) h.flushNewBlock(p, ARRAY_HEAD_SIZE)
  return a
}

/** A fixed array block (tag 2) of `length` zero values, for data structures that manage their own slot arrays. */
export function createFixedArray<T>(h: ArrayHost, kind: ElementKind, cls: Class | undefined, elemTypeId: number, length: number): PArray<T> {
  if (!Number.isInteger(length) || length < 0 || length > MAX_LENGTH) throw new FieldTypeError(`pobj: newFixedArray: bad length ${String(length)}`)
  const size = ARRAY_HEADER_SIZE + length * ELEMENT_SIZE[kind]
  const p = h.allocData(size)
  const dv = h.dv
  writeArrayHeader(dv, p, KIND_CODE[kind], length, elemTypeId)
  if (!h.inTransaction) h.flushNewBlock(p, size)
  return new PArray<T>(h, p, kind, cls, false)
}

/** Kind and growability of the array block at `p` (tag 2 or 6), or undefined if it is none. */
export function arrayBlockInfo(dv: DataView, p: number): { kind: ElementKind; elemTypeId: number; growable: boolean } | undefined {
  const tag = dv.getUint32(p, true)
  if (tag !== TAG_ARRAY && tag !== TAG_ARRAY_HEAD) return undefined
  const kind = CODE_KIND[dv.getUint8(p + ARR_ELEM)] as ElementKind | undefined
  if (kind === undefined || !(kind in ELEMENT_SIZE)) return undefined
  return { kind, elemTypeId: dv.getUint32(p + ARR_ELEM_TYPE, true), growable: tag === TAG_ARRAY_HEAD }
}

/** Bytes of an array block a whole-block snapshot must cover (the slots past length need none), or undefined. */
export function arrayDataSize(dv: DataView, p: number): number | undefined {
  const tag = dv.getUint32(p, true)
  if (tag === TAG_ARRAY_HEAD) return ARRAY_HEAD_SIZE
  if (tag !== TAG_ARRAY) return undefined
  const kind = CODE_KIND[dv.getUint8(p + ARR_ELEM)] as ElementKind
  return ARRAY_HEADER_SIZE + dv.getUint32(p + ARR_LENGTH, true) * ELEMENT_SIZE[kind]
}

/**
 * The array invariants of object-format.ts, over every block: an array block's elements fit
 * it and its kind is known; a growable header points at 0 or at an allocated elements block
 * of its own kind and element type. Returns the violations.
 */
export function checkArrays(dv: DataView, blocks: (fn: (p: number, size: number) => void) => void, usableSize: (p: number) => number,
  isAllocated: (p: number) => boolean): string[] {
  const out: string[] = []
  blocks((p, size) => {
    const tag = dv.getUint32(p, true)
    if (tag !== TAG_ARRAY && tag !== TAG_ARRAY_HEAD) return
    const info = arrayBlockInfo(dv, p)
    if (!info) { out.push(`array block ${p}: element kind code ${dv.getUint8(p + ARR_ELEM)}`); return }
    if (tag === TAG_ARRAY) {
      const n = dv.getUint32(p + ARR_LENGTH, true)
      if (ARRAY_HEADER_SIZE + n * ELEMENT_SIZE[info.kind] > size) out.push(`array block ${p}: length ${n} overruns its ${size} bytes`)
      return
    }
    if (size < ARRAY_HEAD_SIZE) { out.push(`array header ${p}: ${size} bytes`); return }
    const e = readPtr(dv, p + ARR_ELEMENTS)
    if (e === 0) return
    if (!isAllocated(e)) { out.push(`array header ${p}: elements ${e} is not an allocated block`); return }
    const ei = arrayBlockInfo(dv, e)
    if (!ei || ei.growable || ei.kind !== info.kind || ei.elemTypeId !== info.elemTypeId) {
      out.push(`array header ${p}: elements block ${e} is not an array block of ${info.kind}`)
      return
    }
    const n = dv.getUint32(e + ARR_LENGTH, true)
    if (ARRAY_HEADER_SIZE + n * ELEMENT_SIZE[info.kind] > usableSize(e)) out.push(`array header ${p}: length ${n} overruns its elements block`)
  })
  return out
}
