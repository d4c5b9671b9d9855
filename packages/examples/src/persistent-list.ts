/**
 * PersistentList: an indexable deque in a PHeap, every operation failure-atomic.
 *
 * Representation: a ring buffer of references to immutable items.
 *
 *   root ─▶ ListHeader { head, length (one 8-byte word) │ slots ─▶ PArray<ListItem> }
 *   element i is item slots[(head + i) mod capacity]; capacity is a power of two
 *   ListItem { kind │ num │ str ─▶ string │ obj ─▶ any object }
 *
 * Why: get/set are O(1) and push/pop/shift/unshift are O(1) amortised, and each of
 * them commits with ONE aligned 8-byte store: the store of the slot itself. The
 * elements are the run of non-null slots that starts at `head`; (head, length) is a
 * hint that names that run and is at most one op behind it:
 *   push     item, drain → slot past the end := item (commits), drain → (head, length+1), drain
 *   unshift  item, drain → slot before the head := item (commits), drain → (head-1, length+1), drain
 *   pop      last slot := 0 (commits), drain → (head, length-1), drain → free the item
 *   shift    first slot := 0 (commits), drain → (head+1, length-1), drain → free the item
 *   set      new item, drain → slot := item (commits), drain → free the old item
 *            (set(length, v) is a push)
 *   push(...items)/unshift(...items) with several items, splice: one heap.transaction
 *            (a splice builds a new slot array; the header's slots pointer swing is logged)
 * Invariants (checked by check(); the O(1) ones at every open):
 *   length ≤ capacity − 1 (one slot stays null, so the slots past the end and before
 *   the head are two different slots), head < capacity; every slot of the run is
 *   non-null, every other slot is null, except the one slot of an op cut by a crash
 *   before its (head, length) store. Every open (clean or not, whichever session it is)
 *   moves the hint over that slot: an item stored past the end is an element, never an
 *   orphan, so no session has to repair the list for nothing to leak.
 * A linked list would make get(i) O(n); a plain array would make shift/unshift O(n).
 */
import { PHeap, Persistent, field, PArray, HeapClosedError, HeapCorruptError } from '@makalu/pobj'
import { BlockIO, ARRAY_HEADER_SIZE, offsetOf, typeIdOf, refuseWide } from './block-io'
import { storeCollection } from './collection-field'
import { AnyObject } from './persistent-map'
import { PValue, ValueSlots, classify, writeValue, readValue, plainValue, preview, V_NUMBER, V_STRING, V_OBJECT } from './value-codec'

@Persistent('makalu.ListItem')
export class ListItem {
  @field.u32 kind!: number
  @field.f64 num!: number
  @field.string str!: string
  @field.ref(() => AnyObject) obj!: AnyObject | null
}

@Persistent('makalu.ListHeader')
export class ListHeader {
  /** Slot index of element 0. Shares one 8-byte word with `length`. */
  @field.u32 head!: number
  @field.u32 length!: number
  @field.array(() => ListItem) slots!: PArray<ListItem | null>
}

const I_KIND = offsetOf(ListItem, 'kind')
const I_VALUE: ValueSlots = { num: offsetOf(ListItem, 'num'), str: offsetOf(ListItem, 'str'), obj: offsetOf(ListItem, 'obj') }
const I_SIZE = 48
const H_STATE = offsetOf(ListHeader, 'head')
const H_SLOTS = offsetOf(ListHeader, 'slots')
const H_SIZE = 24
const MIN_CAPACITY = 8

/** Per heap: the list object of each header block, while the program holds it. */
const instances = new WeakMap<PHeap, Map<number, WeakRef<PersistentList<PValue>>>>()

/** The spec's ToIntegerOrInfinity (NaN → 0, truncation); like Array's, a BigInt or Symbol throws a TypeError. */
function toIntegerOrInfinity(v: unknown): number {
  const x = +(v as number)
  return x !== x ? 0 : Math.trunc(x) + 0
}

/** A relative index as Array's slice and splice take it, clamped to [0, n]; `dflt` when undefined. */
function relativeIndex(v: unknown, n: number, dflt: number): number {
  if (v === undefined) return dflt
  const k = toIntegerOrInfinity(v)
  return k < 0 ? Math.max(n + k, 0) : Math.min(k, n)
}

export class PersistentList<T extends PValue = PValue> implements Iterable<T> {
  private readonly io: BlockIO
  private readonly itemType: number
  private readonly objRef = { p: 0 }

  /** The list under root `name` of `heap`, created if missing; the same object for the same heap and name. */
  static open<T extends PValue = PValue>(heap: PHeap, name: string): PersistentList<T> {
    return PersistentList.of<T>(heap, heap.root(name, ListHeader, () => PersistentList.newHeader(heap)), name)
  }

  /**
   * A new, empty list that no root holds: store `list.object` in a field of a @Persistent
   * object (`@field.ref(() => ListHeader)`) to keep it; until then it lives while the JS list
   * object does.
   */
  static create<T extends PValue = PValue>(heap: PHeap): PersistentList<T> {
    return PersistentList.of<T>(heap, PersistentList.newHeader(heap))
  }

  /** The list whose header object is `header` (read from a field, for example); the same object for the same header. */
  static of<T extends PValue = PValue>(heap: PHeap, header: ListHeader, name = 'in a field'): PersistentList<T> {
    let byHeader = instances.get(heap)
    if (!byHeader) instances.set(heap, (byHeader = new Map()))
    const p = heap.pointerOf(header)
    let l = byHeader.get(p)?.deref()
    if (!l || l.object !== header) {
      l = new PersistentList(heap, name, header)
      byHeader.set(p, new WeakRef(l))
    }
    return l as unknown as PersistentList<T>
  }

  private static newHeader(heap: PHeap): ListHeader {
    refuseWide(heap)
    return heap.new(ListHeader, { head: 0, length: 0, slots: heap.newFixedArray(ListItem, MIN_CAPACITY) })
  }

  /** The block offset of the header. */
  readonly header: number

  /** @param object the header; holding its handle keeps the list alive through collections. */
  private constructor(readonly heap: PHeap, readonly name: string, readonly object: ListHeader) {
    this.io = new BlockIO(heap)
    this.header = heap.pointerOf(object)
    this.io.refresh()
    this.itemType = typeIdOf(heap, ListItem)
    const bad = this.headerProblem()
    if (bad) throw this.corrupt(bad)
    this.settleHint()
  }

  // ── reads ────────────────────────────────────────────────────────────────
  get length(): number { this.usable(); return this.io.u32[((this.header + H_STATE) >>> 2) + 1] }

  /** Element i (negative i counts from the end, like Array.prototype.at), or undefined. */
  get(i: number): T | undefined {
    this.usable()
    const n = this.length
    if (i < 0) i += n
    if (!(i >= 0 && i < n && Number.isInteger(i))) return undefined
    return this.itemValue(this.io.u32[this.slotAddr(i) >>> 2], i)
  }
  /** Like Array.prototype.at: i is converted like ToIntegerOrInfinity ('1', 1.5, false, NaN all work), negative counts from the end. */
  at(i: unknown): T | undefined {
    this.usable()
    const n = this.length
    let k = toIntegerOrInfinity(i)
    if (k < 0) k += n
    if (!(k >= 0 && k < n)) return undefined
    return this.itemValue(this.io.u32[this.slotAddr(k) >>> 2], k)
  }

  /** Like Array.prototype.indexOf: the first index ≥ fromIndex whose element is === v, else -1. */
  indexOf(v: unknown, fromIndex?: unknown): number { return this.find(v, fromIndex, false) }
  /** Like Array.prototype.includes: SameValueZero, so NaN is found. */
  includes(v: unknown, fromIndex?: unknown): boolean { return this.find(v, fromIndex, true) >= 0 }

  /** Like Array.prototype.slice: a JS array of the elements in [start, end) (relative bounds). */
  slice(start?: unknown, end?: unknown): T[] {
    this.usable()
    const n = this.length
    const from = relativeIndex(start, n, 0)
    const to = end === undefined ? n : relativeIndex(end, n, n)
    const out: T[] = []
    for (let i = from; i < to; i++) out.push(this.itemValue(this.io.u32[this.slotAddr(i) >>> 2], i))
    return out
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.length; i++) yield this.get(i) as T
  }
  *values(): IterableIterator<T> { yield* this }
  *entries(): IterableIterator<[number, T]> { for (let i = 0; i < this.length; i++) yield [i, this.get(i) as T] }
  toArray(): T[] { return [...this] }

  /** For JSON.stringify: the elements (objects as their bounded plain views), never the heap. */
  toJSON(): unknown[] { return this.toArray().map(plainValue) }

  /** For console.log / util.inspect: the length and the first elements. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.heap.closed) return `PersistentList <closed>`
    return `PersistentList(${this.length}) ${preview(this[Symbol.iterator](), (v) => JSON.stringify(plainValue(v)))}`
  }

  // ── writes (each durable and atomic when it returns; in a transaction, at commit) ──
  /** Appends the items (all or none: one transaction for several); returns the new length, like Array's. */
  push(...items: T[]): number {
    this.usable()
    if (items.length === 1) return this.push1(items[0])
    this.validate(items, 'push')
    if (items.length === 0) return this.length
    return this.heap.transaction(() => { let n = 0; for (const v of items) n = this.push1(v); return n })
  }

  /** Prepends the items in their order (all or none); returns the new length, like Array's. */
  unshift(...items: T[]): number {
    this.usable()
    if (items.length === 1) return this.unshift1(items[0])
    this.validate(items, 'unshift')
    if (items.length === 0) return this.length
    return this.heap.transaction(() => { let n = 0; for (let i = items.length - 1; i >= 0; i--) n = this.unshift1(items[i]); return n })
  }

  /**
   * Like Array.prototype.splice: removes deleteCount elements from start (relative), inserts
   * the items there and returns the removed elements. One transaction: all or nothing.
   */
  splice(start?: unknown, deleteCount?: unknown, ...items: T[]): T[] {
    this.usable()
    const n = this.length
    const from = relativeIndex(start, n, 0)
    let dc: number
    if (arguments.length === 0) dc = 0
    else if (arguments.length === 1) dc = n - from
    else dc = Math.min(Math.max(toIntegerOrInfinity(deleteCount), 0), n - from)
    this.validate(items, 'splice')
    if (dc === 0 && items.length === 0) return []
    return this.heap.transaction(() => {
      const io = this.io
      const removed: T[] = []
      const gone: number[] = []
      for (let i = from; i < from + dc; i++) {
        const item = io.u32[this.slotAddr(i) >>> 2]
        removed.push(this.itemValue(item, i))
        gone.push(item)
      }
      const fresh = items.map((v) => this.newItem(classify(this.heap, v, 'PersistentList.splice', this.objRef), v))
      const m = n - dc + fresh.length
      let cap = this.capacity()
      while (m + 1 > cap) cap *= 2
      this.rebuildWith(cap, from, dc, fresh)
      for (const it of gone) this.freeItem(it)
      return removed
    })
  }

  /** Checks every item before anything changes (a bad one throws, nothing stored is touched). */
  private validate(items: readonly unknown[], what: string): void {
    const ref = { p: 0 }
    for (const v of items) classify(this.heap, v, `PersistentList.${what}`, ref)
  }

  private push1(v: T): number {
    const kind = classify(this.heap, v, 'PersistentList.push', this.objRef)
    if (this.io.inTx) this.io.raw.snapshot(this.header, H_SIZE)
    if (this.length + 1 >= this.capacity()) this.rebuild(this.capacity() * 2, -1, -1)
    const [head, n] = this.state()
    const item = this.newItem(kind, v)
    this.commitEnds(this.slotAddrAt(head + n), item, head, n + 1)
    return n + 1
  }

  private unshift1(v: T): number {
    const kind = classify(this.heap, v, 'PersistentList.unshift', this.objRef)

    if (this.io.inTx) this.io.raw.snapshot(this.header, H_SIZE)
    if (this.length + 1 >= this.capacity()) this.rebuild(this.capacity() * 2, -1, -1)
    const [head, n] = this.state()
    const h = (head - 1) & (this.capacity() - 1)
    const item = this.newItem(kind, v)
    this.commitEnds(this.slotAddrAt(h), item, h, n + 1)
    return n + 1
  }

  /** Removes and returns the last element. */
  pop(): T | undefined {
    this.usable()
    const [head, n] = this.state()
    if (n === 0) return undefined
    return this.removeEnd(this.slotAddrAt(head + n - 1), head, n - 1)
  }

  /** Removes and returns the first element. */
  shift(): T | undefined {
    this.usable()
    const [head, n] = this.state()
    if (n === 0) return undefined
    return this.removeEnd(this.slotAddrAt(head), (head + 1) & (this.capacity() - 1), n - 1)
  }

  /** Replaces element i (0 ≤ i < length); i = length appends (like a[a.length] = v). */
  set(i: number, v: T): void {
    this.usable()
    if (i === this.length) { this.push1(v); return }
    this.checkIndex(i, this.length, 'set')
    const kind = classify(this.heap, v, 'PersistentList.set', this.objRef)
    const io = this.io
    const item = this.newItem(kind, v)
    const slot = this.slotAddr(i)
    const old = io.u32[slot >>> 2]
    if (io.inTx) {
      io.storePtr(slot, item)
    } else {
      this.flushItem(item)
      io.drain()
      io.u32[slot >>> 2] = item // commits
      io.persist(slot, 8)
    }
    this.freeItem(old)
  }

  /** Inserts v before element i (0 ≤ i ≤ length). */
  insert(i: number, v: T): void {
    this.usable()
    const n = this.length
    this.checkIndex(i, n + 1, 'insert')
    if (i === n) { this.push(v); return }
    if (i === 0) { this.unshift(v); return }
    const kind = classify(this.heap, v, 'PersistentList.insert', this.objRef)
    this.heap.transaction(() => {
      const item = this.newItem(kind, v)
      const cap = this.capacity()
      this.rebuild(n + 2 > cap ? cap * 2 : cap, i, item)
    })
  }

  /** Removes element i (0 ≤ i < length) and returns it. */
  removeAt(i: number): T {
    this.usable()
    const n = this.length
    this.checkIndex(i, n, 'removeAt')
    if (i === n - 1) return this.pop() as T
    if (i === 0) return this.shift() as T
    return this.heap.transaction(() => {
      const item = this.io.u32[this.slotAddr(i) >>> 2]
      const value = this.itemValue(item, i)
      this.rebuild(this.capacity(), i, -1)
      this.freeItem(item)
      return value
    })
  }

  /** Removes every element. */
  clear(): void {
    this.usable()
    this.heap.transaction(() => {
      const [head, n] = this.state()
      const slots = this.slots()
      const mask = this.capacity() - 1
      const items: number[] = []
      for (let i = 0; i < n; i++) items.push(this.io.u32[(slots + ARRAY_HEADER_SIZE + ((head + i) & mask) * 8) >>> 2])
      const fresh = this.io.allocRefArray(this.itemType, MIN_CAPACITY)
      this.io.storePtr(this.header + H_SLOTS, fresh)
      this.io.storePair(this.header + H_STATE, 0, 0)
      this.io.free(slots)
      for (const it of items) this.freeItem(it)
    })
  }

  // ── internals ────────────────────────────────────────────────────────────
  private usable(): void {
    if (this.heap.closed) throw new HeapClosedError('PersistentList: the heap is closed')
    if (this.io.u8 !== this.heap.raw.bytes) this.io.refresh()
  }

  private checkIndex(i: number, end: number, what: string): void {
    if (!(Number.isInteger(i) && i >= 0 && i < end)) throw new RangeError(`PersistentList.${what}: index ${i} outside [0, ${end})`)
  }

  private state(): [number, number] {
    const w = (this.header + H_STATE) >>> 2
    return [this.io.u32[w], this.io.u32[w + 1]]
  }
  private slots(): number { return this.io.u32[(this.header + H_SLOTS) >>> 2] }
  private capacity(): number { return this.io.arrayLength(this.slots()) }
  /** Address of the slot of ring position r (any integer). */
  private slotAddrAt(r: number): number {
    const slots = this.slots()
    return slots + ARRAY_HEADER_SIZE + (r & (this.io.arrayLength(slots) - 1)) * 8
  }
  /** Address of the slot of element i. */
  private slotAddr(i: number): number { return this.slotAddrAt(this.io.u32[(this.header + H_STATE) >>> 2] + i) }

  private newItem(kind: number, v: unknown): number {
    const io = this.io
    const item = io.allocObject(this.itemType, I_SIZE)
    io.u32[(item + I_KIND) >>> 2] = kind
    writeValue(io, item, I_VALUE, kind, v, this.objRef.p)
    return item
  }

  private flushItem(item: number): void {
    const io = this.io
    io.flush(item, I_SIZE)
    const s = io.u32[(item + I_VALUE.str) >>> 2]
    if (s !== 0) io.flush(s, io.stringSize(s))
  }

  private freeItem(item: number): void {
    this.io.free(this.io.u32[(item + I_VALUE.str) >>> 2])
    this.io.free(item)
  }

  /** The value of the item of element i; a null slot inside the run is damage. */
  private itemValue(item: number, i: number): T {
    if (item === 0) throw this.corrupt(`element ${i} of ${this.length} has no item (a null slot)`)
    return readValue(this.io, item, I_VALUE, this.io.u32[(item + I_KIND) >>> 2]) as T
  }

  private corrupt(what: string): HeapCorruptError {
    return new HeapCorruptError(`PersistentList '${this.name}': ${what}: the list is damaged`)
  }

  /** push/unshift: the store of the item into the slot just outside the run commits; then (head, length) follows. */
  private commitEnds(slot: number, item: number, head: number, n: number): void {
    const io = this.io
    if (io.inTx) {
      io.storePtr(slot, item)
      io.storePair(this.header + H_STATE, head, n)
      return
    }
    this.flushItem(item)
    io.drain() // the item is durable before any slot names it (recovery traces every slot)
    io.u32[slot >>> 2] = item // commits
    io.persist(slot, 8)
    io.storePair(this.header + H_STATE, head, n)
    io.persist(this.header + H_STATE, 8)
  }

  /** pop/shift: clearing the end slot commits; then (head, length) follows; then the item is freed. */
  private removeEnd(slot: number, head: number, n: number): T {
    const io = this.io
    const item = io.u32[slot >>> 2]
    const value = this.itemValue(item, slot === this.slotAddr(0) ? 0 : this.length - 1)
    if (io.inTx) {
      io.storePtr(slot, 0)
      io.storePair(this.header + H_STATE, head, n)
    } else {
      io.u32[slot >>> 2] = 0 // commits
      io.persist(slot, 8)
      io.storePair(this.header + H_STATE, head, n)
      io.persist(this.header + H_STATE, 8)
    }
    this.freeItem(item)
    return value
  }

  /**
   * In a transaction: a new slot array of `cap` slots holding the elements in order
   * from slot 0, with `item` inserted before element `at` (item ≥ 0) or element `at`
   * left out (item = -1; at = -1: none); the header points to it.
   */
  private rebuild(cap: number, at: number, item: number): void {
    this.heap.transaction(() => {
      const io = this.io
      const [head, n] = this.state()
      const old = this.slots()
      const mask = io.arrayLength(old) - 1
      const fresh = io.allocRefArray(this.itemType, cap)
      const u32 = io.u32
      let j = 0
      for (let i = 0; i < n; i++) {
        if (i === at) {
          if (item >= 0) u32[(fresh + ARRAY_HEADER_SIZE + j++ * 8) >>> 2] = item
          else continue
        }
        u32[(fresh + ARRAY_HEADER_SIZE + j++ * 8) >>> 2] = u32[(old + ARRAY_HEADER_SIZE + ((head + i) & mask) * 8) >>> 2]
      }
      io.storePtr(this.header + H_SLOTS, fresh)
      io.storePair(this.header + H_STATE, 0, j)
      io.free(old)
    })
  }

  /**
   * In a transaction: a new slot array of `cap` slots holding, from slot 0, elements [0, at),
   * the items `fresh`, then the elements from at + dc on; the header points to it. The dc
   * elements left out are the caller's to free.
   */
  private rebuildWith(cap: number, at: number, dc: number, fresh: number[]): void {
    this.heap.transaction(() => {
      const io = this.io
      const [head, n] = this.state()
      const old = this.slots()
      const mask = io.arrayLength(old) - 1
      const arr = io.allocRefArray(this.itemType, cap)
      const u32 = io.u32
      let j = 0
      const put = (item: number): void => { u32[(arr + ARRAY_HEADER_SIZE + j++ * 8) >>> 2] = item }
      for (let i = 0; i < at; i++) put(u32[(old + ARRAY_HEADER_SIZE + ((head + i) & mask) * 8) >>> 2])
      for (const item of fresh) put(item)
      for (let i = at + dc; i < n; i++) put(u32[(old + ARRAY_HEADER_SIZE + ((head + i) & mask) * 8) >>> 2])
      io.storePtr(this.header + H_SLOTS, arr)
      io.storePair(this.header + H_STATE, 0, j)
      io.free(old)
    })
  }

  /** The first index ≥ fromIndex (relative, like Array's) whose element equals v: === or SameValueZero. */
  private find(v: unknown, fromIndex: unknown, zero: boolean): number {
    this.usable()
    const n = this.length
    if (n === 0) return -1
    let k = toIntegerOrInfinity(fromIndex)
    if (k === Infinity) return -1
    if (k < 0) k = Math.max(n + k, 0)
    const io = this.io
    const nan = zero && v !== v
    for (let i = k; i < n; i++) {
      const item = io.u32[this.slotAddr(i) >>> 2]
      const kind = io.u32[(item + I_KIND) >>> 2]
      if (typeof v === 'number') {
        if (kind !== V_NUMBER) continue
        const x = io.f64[(item + I_VALUE.num) >>> 3]
        if (x === v || (nan && x !== x)) return i
      } else if (typeof v === 'string') {
        if (kind === V_STRING && io.stringEquals(io.u32[(item + I_VALUE.str) >>> 2], v)) return i
      } else if (this.itemValue(item, i) === v) return i
    }
    return -1
  }

  /** O(1) sanity of the header: the slot array, head and length (see the invariants above). */
  private headerProblem(): string | null {
    const io = this.io
    const slots = this.slots()
    const bad = io.refArrayProblem(slots, 1)
    if (bad) return bad
    const cap = io.arrayLength(slots)
    const [head, n] = this.state()
    if (head >= cap) return `head ${head} is not below the capacity ${cap}`
    if (n > cap) return `length ${n} exceeds the capacity ${cap}`
    return null
  }

  /**
   * At every open: moves (head, length) over the slot of an op whose (head, length) store a
   * crash cut off. One store (unlogged: it states what the slots already say), flushed.
   */
  private settleHint(): void {
    const io = this.io
    const [head, n] = this.state()
    const cap = this.capacity()
    const at = (r: number): number => io.u32[this.slotAddrAt(head + r) >>> 2]
    let h = head
    let m: number
    if (n < cap && at(n) !== 0) m = n + 1 // a push
    else if (n + 1 < cap && at(-1) !== 0) { h = head - 1; m = n + 1 } // an unshift
    else if (n > 0 && at(n - 1) === 0) m = n - 1 // a pop
    else if (n > 0 && at(0) === 0) { h = head + 1; m = n - 1 } // a shift
    else return
    io.storePair(this.header + H_STATE, h & (cap - 1), m, false)
    io.flush(this.header + H_STATE, 8)
    if (!io.inTx) io.drain()
  }

  /**
   * Whole-list check (O(capacity)): the header sane, every element an allocated ListItem
   * holding a value, every slot outside the run null. Throws HeapCorruptError.
   */
  check(): void {
    this.usable()
    const io = this.io
    const bad = this.headerProblem()
    if (bad) throw this.corrupt(bad)
    const [head, n] = this.state()
    const cap = this.capacity()
    if (n === cap && cap > 1) throw this.corrupt(`length ${n} leaves no null slot`)
    for (let r = 0; r < cap; r++) {
      const item = io.u32[this.slotAddrAt(head + r) >>> 2]
      if (r >= n) {
        if (item !== 0) throw this.corrupt(`slot ${(head + r) & (cap - 1)} past the end holds ${item}`)
        continue
      }
      if (item === 0) throw this.corrupt(`element ${r} of ${n} has no item (a null slot)`)
      const p = io.objectProblem(item, this.itemType, `element ${r}`) ?? this.valueProblem(item, r)
      if (p) throw this.corrupt(p)
    }
  }

  private valueProblem(item: number, r: number): string | null {
    const kind = this.io.u32[(item + I_KIND) >>> 2]
    if (kind < V_NUMBER || kind > V_OBJECT) return `element ${r} has value kind ${kind}`
    if (kind === V_STRING) return this.io.stringProblem(this.io.u32[(item + I_VALUE.str) >>> 2], `element ${r}'s string`)
    if (kind === V_OBJECT && !this.io.raw.isAllocated(this.io.u32[(item + I_VALUE.obj) >>> 2])) return `element ${r}'s object is not allocated`
    return null
  }
}

// A field can hold a list: `@field.ref(() => PersistentList) log!: PersistentList<T> | null` stores its header.
storeCollection(PersistentList, ListHeader, (heap, header) => PersistentList.of(heap, header))
