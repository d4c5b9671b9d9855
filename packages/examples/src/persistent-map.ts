/**
 * PersistentMap: a hash table in a PHeap, every operation failure-atomic.
 *
 * Representation (all @Persistent, so recovery traces it from the type table):
 *
 *   root ─▶ MapHeader { size, used │ slots ─▶ PArray<MapEntry> │ tombstone ─▶ MapEntry }
 *   slot i: 0 (empty) · the tombstone (deleted) · an immutable MapEntry
 *   MapEntry { hash, kinds │ keyNum │ key ─▶ string │ num │ str ─▶ string │ obj ─▶ any object │ seq }
 *
 * Open addressing with linear probing over a power-of-two slot array, load
 * (live + tombstones) ≤ 3/4. Entries are never changed after they are published,
 * so every operation commits with ONE aligned pointer store:
 *   insert  build entry + key + value, flush, drain → slot := entry (commits) → counts, drain
 *   update  build a new entry sharing the key block → slot := new → drain → free old entry, old value
 *   delete  slot := tombstone → drain → free entry, key, value
 *   resize  build a new slot array, flush, drain → header.slots := new → drain → free the old array
 * `size`/`used` share one 8-byte word, stored after the swing, so a crash between the
 * two stores (or a 'power' session, which does not flush that word) leaves it stale.
 * Bit 31 of `used` (EXACT) says whether it is trustworthy:
 *
 *   counts word   0 size:u32 │ 4 used:u31 │ bit 63 EXACT
 *   EXACT = 1  ⇔  the word is durable and equal to a count of the durable slots.
 *
 * A session trusts the stored counts only if its open was clean and EXACT is set;
 * otherwise it recounts them at first need (about 2 ms per million slots). Writes:
 *   1. recount (when not trusted, outside a transaction): counts word := (size, used | EXACT),
 *      flush, drain. One store: the counts and their stamp are durable together (commits).
 *   2. before the first change of the counts in a session: counts word := (size, used), EXACT
 *      clear, flush, drain (commits "not trusted" before any slot store can reach media).
 *   3. every change after it stores (size, used) with EXACT clear and does not flush it.
 * Nothing sets EXACT at close (the heap offers no close hook), so the first size/set/delete
 * of a session after one that changed the map recounts. No sequence of sessions can make one
 * trust a stale word: EXACT is only ever written by step 1, in the same store as the counts
 * it vouches for, and is cleared durably by step 2 before those counts can go stale.
 * A probe visits at most `capacity` slots: a table with no empty slot is damage
 * (HeapCorruptError), never a hang.
 *
 * Order (like a JS Map, insertion order): every entry carries `seq`, its insertion sequence
 * number, so the order needs no store of its own. Writes of an insert:
 *   1. entry := { hash, kinds, key, value, seq := this session's next seq } (+ key and value
 *      blocks), flush, drain. Nothing names the entry yet.
 *   2. slot := entry. ONE store commits the key, its value and its place in the order.
 *   3. counts word (unflushed, EXACT clear), drain.
 * A replacing entry copies the seq of the one it replaces in step 1 (a set of a present key
 * keeps its place); a delete and a new set give the key a fresh, larger seq (the end).
 *   seq invariants: every live entry's seq is a distinct integer ≥ 1; the next insert of this
 *   session takes a seq larger than every live one.
 * The next seq is volatile: at a session's first insert it is 1 + the largest live seq (one scan),
 * then counts up; nothing about it is stored, so no crash can make it stale.
 * Iteration follows JS Map's rules: it visits, in seq order, every entry whose seq is above the
 * last one visited and that is live when reached. It sorts a snapshot of (seq, slot) once and
 * checks each slot when reached (still the same seq?); a new slot array (resize, clear) makes it
 * take a new snapshot of the entries past the last seq visited, and so do inserts, at its end.
 *
 * Inside heap.transaction the same stores are logged instead (one snapshot per
 * slot word; past a threshold the slot array is copied once, since a copy made
 * inside the transaction needs no log at all).
 */
import { PHeap, Persistent, field, PArray, HeapClosedError, HeapCorruptError } from '@makalu/pobj'
import { BlockIO, ARRAY_HEADER_SIZE, offsetOf, typeIdOf } from './block-io'
import { storeCollection } from './collection-field'
import { PValue, ValueSlots, classify, writeValue, readValue, plainValue, preview, V_NUMBER, V_STRING, V_OBJECT } from './value-codec'
import { objectFormat } from '@makalu/pobj'

/** The declared target of references to arbitrary @Persistent objects (values of maps and lists). */
@Persistent('makalu.AnyObject')
export class AnyObject {}

@Persistent('makalu.MapEntry')
export class MapEntry {
  @field.u32 hash!: number
  /** Key kind (low byte) | value kind << 8. */
  @field.u32 kinds!: number
  @field.f64 keyNum!: number
  @field.string key!: string
  @field.f64 num!: number
  @field.string str!: string
  @field.ref(() => AnyObject) obj!: AnyObject | null
  /** Insertion sequence number (the iteration order); 0 only in the tombstone. */
  @field.f64 seq!: number
}

@Persistent('makalu.MapHeader')
export class MapHeader {
  /** Live entries. Shares one 8-byte word with `used`. */
  @field.u32 size!: number
  /** Live entries + tombstones (bits 0-30); bit 31: the counts are EXACT (see above). */
  @field.u32 used!: number
  @field.array(() => MapEntry) slots!: PArray<MapEntry | null>
  /** The shared marker of deleted slots. */
  @field.ref(() => MapEntry) tombstone!: MapEntry | null
}

export type MapKey = string | number

const K_STRING = 1
const K_NUMBER = 2

const E_HASH = offsetOf(MapEntry, 'hash')
const E_KINDS = offsetOf(MapEntry, 'kinds')
const E_KEYNUM = offsetOf(MapEntry, 'keyNum')
const E_KEY = offsetOf(MapEntry, 'key')
const E_VALUE: ValueSlots = { num: offsetOf(MapEntry, 'num'), str: offsetOf(MapEntry, 'str'), obj: offsetOf(MapEntry, 'obj') }
const E_SEQ = offsetOf(MapEntry, 'seq')
const E_SIZE = 64 // MapEntry's 64 bytes
const H_COUNTS = offsetOf(MapHeader, 'size')
const H_SLOTS = offsetOf(MapHeader, 'slots')
const H_TOMB = offsetOf(MapHeader, 'tombstone')
const MIN_CAPACITY = 16
/** Bit 31 of the `used` word: the stored counts are exact (see the header comment). */
const COUNTS_EXACT = 0x80000000
const USED_MASK = 0x7fffffff

const f64s = new Float64Array(1)
const u32s = new Uint32Array(f64s.buffer)

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The stored hash of a key: stable across processes (it is persisted in entries). */
function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return fmix32(h)
}
function hashNumber(n: number): number {
  if ((n | 0) === n) return fmix32((n ^ 0x5bd1e995) >>> 0)
  f64s[0] = n
  return fmix32((u32s[0] ^ Math.imul(u32s[1], 0x9e3779b1)) >>> 0)
}
/** Map's SameValueZero: -0 is 0, every NaN is one key. */
function normalizeNumber(n: number): number { return n === 0 ? 0 : n !== n ? NaN : n }

/** Per heap: the map object of each header block while the program holds it (one JS object, one set of volatile counts). */
const instances = new WeakMap<PHeap, Map<number, WeakRef<PersistentMap<MapKey, PValue>>>>()

export class PersistentMap<K extends MapKey = MapKey, V extends PValue = PValue> implements Iterable<[K, V]> {
  private readonly io: BlockIO
  private readonly entryType: number
  private readonly logCapacity: number
  // Volatile bookkeeping of the open transaction (see slotStore).
  private txId = -1
  private txSnaps = 0
  private txFreshSlots = 0
  private readonly objRef = { p: 0 }
  /** Whether the header's size/used are exact in memory (else recounted at first need). */
  private countsKnown: boolean
  /** Whether this session cleared EXACT durably (step 2), so counts may change. */
  private countsMayChange = false
  /** The seq of this session's next insert (0: not yet known, see the header comment). */
  private nextSeq = 0
  /** Bumped by every new slot array (resize, clear): iterators re-snapshot when it moved. */
  private shape = 0

  /**
   * The map under root `name` of `heap`, created (durably, atomically) if missing.
   * The same object is returned for the same heap and name.
   */
  static open<K extends MapKey = MapKey, V extends PValue = PValue>(heap: PHeap, name: string): PersistentMap<K, V> {
    // Created whole, then published by the root store (a crash before it leaves only garbage).
    const h = heap.root(name, MapHeader, () => PersistentMap.newHeader(heap))
    return PersistentMap.of<K, V>(heap, h, name)
  }

  /**
   * A new, empty map that no root holds: store `map.object` in a field of a @Persistent
   * object (`@field.ref(() => MapHeader)`) to keep it; until then it lives while the JS map
   * object does, and a collection after that frees it. Durable once published, like any object.
   */
  static create<K extends MapKey = MapKey, V extends PValue = PValue>(heap: PHeap): PersistentMap<K, V> {
    return PersistentMap.of<K, V>(heap, PersistentMap.newHeader(heap))
  }

  /** The map whose header object is `header` (read from a field, for example); the same object for the same header. */
  static of<K extends MapKey = MapKey, V extends PValue = PValue>(heap: PHeap, header: MapHeader, name = 'in a field'): PersistentMap<K, V> {
    let byHeader = instances.get(heap)
    if (!byHeader) instances.set(heap, (byHeader = new Map()))
    const p = heap.pointerOf(header)
    let m = byHeader.get(p)?.deref()
    if (!m || m.object !== header) {
      m = new PersistentMap(heap, name, header)
      byHeader.set(p, new WeakRef(m))
    }
    return m as unknown as PersistentMap<K, V>
  }

  private static newHeader(heap: PHeap): MapHeader {
    return heap.new(MapHeader, { size: 0, used: 0, slots: heap.newFixedArray(MapEntry, MIN_CAPACITY), tombstone: heap.new(MapEntry) })
  }

  /** The block offset of the header. */
  readonly header: number

  /**
   * @param object the header; holding its handle keeps the map alive (a live handle is a
   *   root of every collection), so a map whose owner became garbage is never read freed.
   */
  private constructor(readonly heap: PHeap, readonly name: string, readonly object: MapHeader) {
    this.io = new BlockIO(heap)
    this.header = heap.pointerOf(object)
    this.io.refresh()
    this.entryType = typeIdOf(heap, MapEntry)
    this.logCapacity = heap.raw.snapshotCapacity(8)
    this.countsKnown = heap.recovery.clean && (this.io.u32[((this.header + H_COUNTS) >>> 2) + 1] & COUNTS_EXACT) !== 0
    const bad = this.headerProblem()
    if (bad) throw this.corrupt(bad)
  }

  // ── reads ────────────────────────────────────────────────────────────────
  get size(): number { this.usable(); this.knowCounts(); return this.io.u32[(this.header + H_COUNTS) >>> 2] }

  get(key: K): V | undefined {
    this.usable()
    const e = this.findEntry(key)
    return e === 0 ? undefined : readValue(this.io, e, E_VALUE, (this.io.u32[(e + E_KINDS) >>> 2] >>> 8) & 0xff) as V
  }

  has(key: K): boolean {
    this.usable()
    return this.findEntry(key) !== 0
  }

  // ── writes ───────────────────────────────────────────────────────────────
  /** Inserts or replaces; durable and atomic when it returns (inside a transaction: at its commit). */
  set(key: K, value: V): this {
    this.usable()
    const io = this.io
    const kk = this.keyKind(key)
    if (kk === K_NUMBER) key = normalizeNumber(key as number) as K
    const vk = classify(this.heap, value, 'PersistentMap.set', this.objRef)
    const h = kk === K_STRING ? hashString(key as string) : hashNumber(key as number)
    this.beginChange()
    if (io.inTx) this.txBegin()
    let at = this.findSlot(kk, key, h)
    if (at < 0) {
      // A new key. Grow (or clean out tombstones) first if the load would pass 3/4.
      const counts = (this.header + H_COUNTS) >>> 2
      const slot = ~at
      if (io.u32[slot >>> 2] === 0 && ((io.u32[counts + 1] & USED_MASK) + 1) * 4 > this.capacity() * 3) {
        this.rebuild(this.capacityFor(io.u32[counts] + 1))
        at = this.findSlot(kk, key, h)
      }
    }
    if (at >= 0) {
      // Replace: a new entry sharing the key block.
      const old = io.u32[at >>> 2]
      const unit = this.unitFor(0, vk === V_STRING ? (value as string).length : 0)
      const e = io.allocObject(this.entryType, unit)
      const v = writeValue(io, e, E_VALUE, vk, value, this.objRef.p, unit)
      const vSize = io.lastSize
      const w = io.u32
      w[(e + E_HASH) >>> 2] = h
      w[(e + E_KINDS) >>> 2] = kk | (vk << 8)
      io.f64[(e + E_KEYNUM) >>> 3] = io.f64[(old + E_KEYNUM) >>> 3]
      w[(e + E_KEY) >>> 2] = w[(old + E_KEY) >>> 2]
      io.f64[(e + E_SEQ) >>> 3] = io.f64[(old + E_SEQ) >>> 3]
      const oldStr = w[(old + E_VALUE.str) >>> 2]
      this.publish(at, e, v, vSize, 0, 0, 0)
      io.free(old)
      io.free(oldStr)
      return this
    }
    const slot = ~at
    // Entry, key and value from one size class when they are small: consecutive blocks
    // of one run, so a lookup touches one page, not three (TLB misses dominate gets).
    const unit = this.unitFor(kk === K_STRING ? (key as string).length : 0, vk === V_STRING ? (value as string).length : 0)
    const e = io.allocObject(this.entryType, unit)
    let k = 0
    let kSize = 0
    if (kk === K_STRING) { k = io.newString(key as string, unit); kSize = io.lastSize }
    const v = writeValue(io, e, E_VALUE, vk, value, this.objRef.p, unit)
    const vSize = io.lastSize
    const w = io.u32
    w[(e + E_HASH) >>> 2] = h
    w[(e + E_KINDS) >>> 2] = kk | (vk << 8)
    if (kk === K_NUMBER) io.f64[(e + E_KEYNUM) >>> 3] = key as number
    else w[(e + E_KEY) >>> 2] = k
    io.f64[(e + E_SEQ) >>> 3] = this.takeSeq()
    const wasEmpty = w[slot >>> 2] === 0
    this.publish(slot, e, v, vSize, k, kSize, 1, wasEmpty ? 1 : 0)
    return this
  }

  /** Removes a key; true if it was there. Durable and atomic when it returns. */
  delete(key: K): boolean {
    this.usable()
    const io = this.io
    const kk = this.keyKind(key)
    if (kk === K_NUMBER) key = normalizeNumber(key as number) as K
    const h = kk === K_STRING ? hashString(key as string) : hashNumber(key as number)
    this.beginChange()
    if (io.inTx) this.txBegin()
    const at = this.findSlot(kk, key, h)
    if (at < 0) return false
    const u32 = io.u32
    const e = u32[at >>> 2]
    const k = u32[(e + E_KEY) >>> 2]
    const s = u32[(e + E_VALUE.str) >>> 2]
    this.publish(at, this.tombstone(), 0, 0, 0, 0, -1, 0)
    io.free(e)
    io.free(k)
    io.free(s)
    return true
  }

  /** Removes every entry (one swing to an empty slot array). */
  clear(): void {
    this.usable()
    const io = this.io
    this.beginChange()
    if (io.inTx) this.txBegin()
    const old = this.slots()
    const cap = io.arrayLength(old)
    const tomb = this.tombstone()
    const fresh = io.allocRefArray(this.entryType, MIN_CAPACITY)
    this.swingSlots(fresh, MIN_CAPACITY, 0)
    const u32 = io.u32
    for (let i = 0, a = old + ARRAY_HEADER_SIZE; i < cap; i++, a += 8) {
      const e = u32[a >>> 2]
      if (e === 0 || e === tomb) continue
      io.free(u32[(e + E_KEY) >>> 2])
      io.free(u32[(e + E_VALUE.str) >>> 2])
      io.free(e)
    }
    io.free(old)
  }

  // ── iteration ────────────────────────────────────────────────────────────
  /** Entries in insertion order, with JS Map's rules for changes made during the iteration (see the header comment). */
  *entries(): IterableIterator<[K, V]> {
    for (const e of this.entryPtrs()) yield [this.keyOf(e), this.valueOf(e)]
  }
  *keys(): IterableIterator<K> { for (const e of this.entryPtrs()) yield this.keyOf(e) }
  *values(): IterableIterator<V> { for (const e of this.entryPtrs()) yield this.valueOf(e) }
  [Symbol.iterator](): IterableIterator<[K, V]> { return this.entries() }

  /** For JSON.stringify: the entries as [key, value] pairs (objects as their bounded plain views), never the heap. */
  toJSON(): Array<[K, unknown]> {
    const out: Array<[K, unknown]> = []
    for (const [k, v] of this.entries()) out.push([k, plainValue(v)])
    return out
  }

  /** For console.log / util.inspect: the size and the first entries. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    if (this.heap.closed) return `PersistentMap <closed>`
    return `PersistentMap(${this.size}) ${preview(this.entries(), ([k, v]) => `${JSON.stringify(k)} => ${JSON.stringify(plainValue(v))}`)}`
  }
  /** Like Map's: cb(value, key, map) with `this` = thisArg, for each entry in iteration order. */
  forEach(cb: (value: V, key: K, map: this) => void, thisArg?: unknown): void {
    if (typeof cb !== 'function') throw new TypeError(`PersistentMap.forEach: the callback must be a function, got ${cb === null ? 'null' : typeof cb}`)
    for (const e of this.entryPtrs()) cb.call(thisArg, this.valueOf(e), this.keyOf(e), this)
  }

  /** The live entries in seq order, each checked when reached (see the header comment). */
  private *entryPtrs(): Generator<number> {
    this.usable()
    let last = 0
    for (;;) {
      const slots = this.slots()
      const shape = this.shape
      const next = this.nextSeq
      const { seqs, at } = this.orderAfter(last)
      const n = seqs.length
      let i = 0
      for (; i < n; i++) {
        const s = seqs[i]
        last = s
        const e = this.io.u32[(slots + ARRAY_HEADER_SIZE + at[i] * 8) >>> 2]
        if (e === 0 || e === this.tombstone() || this.io.f64[(e + E_SEQ) >>> 3] !== s) continue
        yield e
        this.usable()
        if (this.shape !== shape || this.slots() !== slots) break
      }
      // The snapshot is done: entries inserted since have larger seqs, so a new one takes them.
      if (i === n && this.nextSeq === next) return
    }
  }

  /** The live entries with seq > after, sorted by seq: their seqs and slot indices. */
  private orderAfter(after: number): { seqs: Float64Array; at: Uint32Array } {
    const io = this.io
    const u32 = io.u32
    const f64 = io.f64
    const slots = this.slots()
    const tomb = this.tombstone()
    const cap = io.arrayLength(slots)
    const base = slots + ARRAY_HEADER_SIZE
    let n = 0
    let lo = Infinity
    let hi = -Infinity
    const seqs0 = new Float64Array(cap)
    const at0 = new Uint32Array(cap)
    for (let i = 0; i < cap; i++) {
      const e = u32[(base + i * 8) >>> 2]
      if (e === 0 || e === tomb) continue
      const s = f64[(e + E_SEQ) >>> 3]
      if (!(s > after)) continue
      seqs0[n] = s
      at0[n++] = i
      if (s < lo) lo = s
      if (s > hi) hi = s
    }
    const seqs = new Float64Array(n)
    const at = new Uint32Array(n)
    if (n === 0) return { seqs, at }
    const range = hi - lo + 1
    if (range <= 4 * n + 1024) {
      // Dense seqs (the usual case): a bucket per seq, no sort.
      const bucket = new Int32Array(range).fill(-1)
      for (let j = 0; j < n; j++) {
        const b = seqs0[j] - lo
        if (bucket[b] !== -1) throw this.corrupt(`two entries have seq ${seqs0[j]}`)
        bucket[b] = j
      }
      for (let b = 0, k = 0; b < range; b++) if (bucket[b] !== -1) { seqs[k] = seqs0[bucket[b]]; at[k++] = at0[bucket[b]] }
    } else if (range * cap <= 2 ** 53) {
      // Sparse: (seq - lo, slot) packed exactly into one double each, sorted natively.
      const packed = new Float64Array(n)
      for (let j = 0; j < n; j++) packed[j] = (seqs0[j] - lo) * cap + at0[j]
      packed.sort()
      for (let j = 0; j < n; j++) { at[j] = packed[j] % cap; seqs[j] = (packed[j] - at[j]) / cap + lo }
    } else {
      const idx = Array.from({ length: n }, (_, j) => j).sort((a, b) => seqs0[a] - seqs0[b])
      for (let j = 0; j < n; j++) { seqs[j] = seqs0[idx[j]]; at[j] = at0[idx[j]] }
    }
    return { seqs, at }
  }

  /** The seq for a new entry: the first of a session is 1 + the largest live seq. */
  private takeSeq(): number {
    if (this.nextSeq === 0) {
      const io = this.io
      const slots = this.slots()
      const tomb = this.tombstone()
      const cap = io.arrayLength(slots)
      let max = 0
      for (let i = 0, a = slots + ARRAY_HEADER_SIZE; i < cap; i++, a += 8) {
        const e = io.u32[a >>> 2]
        if (e !== 0 && e !== tomb) { const s = io.f64[(e + E_SEQ) >>> 3]; if (s > max) max = s }
      }
      this.nextSeq = max + 1
    }
    return this.nextSeq++
  }

  private keyOf(e: number): K {
    const io = this.io
    return ((io.u32[(e + E_KINDS) >>> 2] & 0xff) === K_STRING
      ? io.readString(io.u32[(e + E_KEY) >>> 2]) : io.f64[(e + E_KEYNUM) >>> 3]) as K
  }
  private valueOf(e: number): V {
    return readValue(this.io, e, E_VALUE, (this.io.u32[(e + E_KINDS) >>> 2] >>> 8) & 0xff) as V
  }

  // ── inspection ───────────────────────────────────────────────────────────
  /** Slot array capacity, tombstones and the load, for tests and the demo. */
  stats(): { size: number; capacity: number; tombstones: number; load: number } {
    this.usable()
    this.knowCounts()
    const c = this.io.u32[(this.header + H_COUNTS) >>> 2]
    const used = this.io.u32[((this.header + H_COUNTS) >>> 2) + 1] & USED_MASK
    const cap = this.capacity()
    return { size: c, capacity: cap, tombstones: used - c, load: used / cap }
  }

  // ── checks ───────────────────────────────────────────────────────────────
  /**
   * Whole-map check (O(capacity)): the header sane; every slot empty, the tombstone or an
   * allocated MapEntry whose key and value are well formed, stored under its key's hash and
   * reachable by its probe; size/used equal a recount. Throws HeapCorruptError.
   */
  check(): void {
    this.usable()
    const bad = this.headerProblem()
    if (bad) throw this.corrupt(bad)
    const io = this.io
    const u32 = io.u32
    const slots = this.slots()
    const tomb = this.tombstone()
    const cap = io.arrayLength(slots)
    const base = slots + ARRAY_HEADER_SIZE
    let size = 0
    let used = 0
    const seqs: number[] = []
    for (let i = 0; i < cap; i++) {
      const e = u32[(base + i * 8) >>> 2]
      if (e === 0) continue
      used++
      if (e === tomb) continue
      size++
      const p = io.objectProblem(e, this.entryType, `slot ${i}`) ?? this.entryProblem(e, i)
      if (p) throw this.corrupt(p)
      const s = io.f64[(e + E_SEQ) >>> 3]
      if (!(Number.isInteger(s) && s >= 1)) throw this.corrupt(`slot ${i} has seq ${s}`)
      if (this.nextSeq !== 0 && s >= this.nextSeq) throw this.corrupt(`slot ${i} has seq ${s}, not below the next seq ${this.nextSeq}`)
      seqs.push(s)
      // The probe from the key's home slot reaches slot i before any empty slot.
      for (let j = u32[(e + E_HASH) >>> 2] & (cap - 1); j !== i; j = (j + 1) & (cap - 1)) {
        if (u32[(base + j * 8) >>> 2] === 0) throw this.corrupt(`slot ${i} is past an empty slot on its key's probe`)
      }
    }
    if (used === cap) throw this.corrupt(`the slot array (${cap} slots) has no empty slot`)
    seqs.sort((a, b) => a - b)
    for (let i = 1; i < seqs.length; i++) if (seqs[i] === seqs[i - 1]) throw this.corrupt(`two entries have seq ${seqs[i]}`)
    if (this.countsKnown) {
      const w = (this.header + H_COUNTS) >>> 2
      if (u32[w] !== size || (u32[w + 1] & USED_MASK) !== used) {
        throw this.corrupt(`the counts say size ${u32[w]}, used ${u32[w + 1] & USED_MASK}; the slots hold ${size}, ${used}`)
      }
    }
  }

  /** O(1) sanity of the header: the slot array, the tombstone and (when trusted) the counts. */
  private headerProblem(): string | null {
    const io = this.io
    const slots = this.slots()
    const bad = io.refArrayProblem(slots, MIN_CAPACITY) ?? io.objectProblem(this.tombstone(), this.entryType, 'tombstone')
    if (bad) return bad
    if (!this.countsKnown) return null
    const cap = io.arrayLength(slots)
    const w = (this.header + H_COUNTS) >>> 2
    const size = io.u32[w]
    const used = io.u32[w + 1] & USED_MASK
    if (size > used || used * 4 > cap * 3) return `the counts (size ${size}, used ${used}) do not fit ${cap} slots at load ≤ 3/4`
    return null
  }

  /** What is wrong with the entry at e (slot i), or null. */
  private entryProblem(e: number, i: number): string | null {
    const io = this.io
    const kinds = io.u32[(e + E_KINDS) >>> 2]
    const kk = kinds & 0xff
    const vk = (kinds >>> 8) & 0xff
    if ((kk !== K_STRING && kk !== K_NUMBER) || vk < V_NUMBER || vk > V_OBJECT) return `slot ${i} has kinds ${kinds}`
    let h: number
    if (kk === K_STRING) {
      const k = io.u32[(e + E_KEY) >>> 2]
      const p = io.stringProblem(k, `slot ${i}'s key`)
      if (p) return p
      h = hashString(io.readString(k))
    } else h = hashNumber(io.f64[(e + E_KEYNUM) >>> 3])
    if (io.u32[(e + E_HASH) >>> 2] !== h) return `slot ${i}'s stored hash is not its key's`
    if (vk === V_STRING) return io.stringProblem(io.u32[(e + E_VALUE.str) >>> 2], `slot ${i}'s value`)
    if (vk === V_OBJECT && !io.raw.isAllocated(io.u32[(e + E_VALUE.obj) >>> 2])) return `slot ${i}'s object is not allocated`
    return null
  }

  // ── internals ────────────────────────────────────────────────────────────
  private usable(): void {
    if (this.heap.closed) throw new HeapClosedError('PersistentMap: the heap is closed')
    if (this.io.u8 !== this.heap.raw.bytes) this.io.refresh()
  }

  private keyKind(key: unknown): number {
    if (typeof key === 'string') return K_STRING
    if (typeof key === 'number') return K_NUMBER
    throw new TypeError(`PersistentMap: a key must be a string or a number, got ${typeof key}`)
  }

  private slots(): number { return this.io.u32[(this.header + H_SLOTS) >>> 2] }
  private tombstone(): number { return this.io.u32[(this.header + H_TOMB) >>> 2] }
  private capacity(): number { return this.io.arrayLength(this.slots()) }
  private capacityFor(n: number): number {
    let c = MIN_CAPACITY
    while (c < n * 2) c *= 2
    return c
  }

  /** One block size for entry, key and value when both strings are short (ASCII lengths; a guess is harmless). */
  private unitFor(keyLen: number, valueLen: number): number {
    const m = Math.max(E_SIZE, objectFormat.STRING_HEADER_SIZE + keyLen, objectFormat.STRING_HEADER_SIZE + valueLen)
    return m <= 128 ? m : E_SIZE
  }

  /** The entry of key, or 0. No allocation. */
  private findEntry(key: K): number {
    const kk = typeof key === 'string' ? K_STRING : typeof key === 'number' ? K_NUMBER : this.keyKind(key)
    let h: number
    if (kk === K_STRING) h = hashString(key as string)
    else { key = normalizeNumber(key as number) as K; h = hashNumber(key as number) }
    const at = this.findSlot(kk, key, h)
    return at < 0 ? 0 : this.io.u32[at >>> 2]
  }

  /**
   * The address of the slot holding key (≥ 0), or ~address of the slot an insert
   * should take (the first tombstone on the probe path, else the empty slot ending it).
   */
  private findSlot(kk: number, key: unknown, h: number): number {
    const io = this.io
    const u32 = io.u32
    const slots = u32[(this.header + H_SLOTS) >>> 2]
    const tomb = u32[(this.header + H_TOMB) >>> 2]
    const mask = u32[(slots + 8) >>> 2] - 1
    const base = slots + ARRAY_HEADER_SIZE
    let free = -1
    // At most one lap: the 3/4 load rule leaves empty slots, so a lap without one is damage.
    for (let n = 0, i = h & mask; n <= mask; n++, i = (i + 1) & mask) {
      const a = base + i * 8
      const e = u32[a >>> 2]
      if (e === 0) return ~(free >= 0 ? free : a)
      if (e === tomb) { if (free < 0) free = a; continue }
      if (u32[(e + E_HASH) >>> 2] !== h || (u32[(e + E_KINDS) >>> 2] & 0xff) !== kk) continue
      if (kk === K_STRING ? io.stringEquals(u32[(e + E_KEY) >>> 2], key as string)
        : (io.f64[(e + E_KEYNUM) >>> 3] === key || (key !== key && io.f64[(e + E_KEYNUM) >>> 3] !== io.f64[(e + E_KEYNUM) >>> 3]))) return a
    }
    if (free >= 0) return ~free
    throw this.corrupt(`the slot array (${mask + 1} slots) has no empty slot`)
  }

  private corrupt(what: string): HeapCorruptError {
    return new HeapCorruptError(`PersistentMap '${this.name}': ${what}: the map is damaged`)
  }

  /**
   * Commits a slot change: outside a transaction, the new blocks (entry, value string,
   * key string) are made durable, then ONE store publishes the entry; the counts word
   * follows unflushed (EXACT is clear: beginChange). Inside one, the stores are logged.
   */
  private publish(slot: number, e: number, v: number, vSize: number, k: number, kSize: number, dSize: number, dUsed = 0): void {
    const io = this.io
    const counts = this.header + H_COUNTS
    const size = io.u32[counts >>> 2] + dSize
    const used = (io.u32[(counts >>> 2) + 1] & USED_MASK) + dUsed
    if (io.inTx) {
      this.slotStore(slot, e)
      io.storePair(counts, size, used)
      return
    }
    if (e !== this.tombstone()) {
      io.flush(e, E_SIZE)
      if (v !== 0) io.flush(v, vSize)
      if (k !== 0) io.flush(k, kSize)
      io.drain()
    }
    io.u32[slot >>> 2] = e // commits
    io.flush(slot, 8)
    io.storePair(counts, size, used)
    io.drain()
  }

  /**
   * Joins the open transaction: logs the header (once per transaction), and counts the
   * slot words this transaction logs. A logged word costs a drain (an msync in 'power');
   * past a limit the table moves to a copy allocated in the transaction, which needs no log.
   */
  private txBegin(): void {
    const io = this.io
    io.raw.snapshot(this.header, 32)
    const id = io.raw.transactionSerial
    if (id !== this.txId) { this.txId = id; this.txSnaps = 0; this.txFreshSlots = 0 }
    const slots = this.slots()
    if (slots === this.txFreshSlots) return
    const cap = io.arrayLength(slots)
    // 'power' on mmap: a logged word is an msync (~0.3 ms here), a copy of 8 KiB slots costs about
    // as much. On the file backend a logged word costs no drain (heap.snapshotDrains).
    const costly = io.power && io.raw.snapshotDrains
    const limit = Math.min(this.logCapacity >>> 2, costly ? cap >>> 13 : Math.max(64, cap >>> 6))
    if (++this.txSnaps > limit) this.rebuild(cap)
  }

  /** A slot store inside a transaction: logged, unless the array was allocated in it. */
  private slotStore(slot: number, e: number): void {
    const io = this.io
    if (this.slots() !== this.txFreshSlots) io.raw.snapshot(slot, 8)
    io.u32[slot >>> 2] = e
  }

  /** Rebuilds the slot array with `cap` slots (dropping tombstones) and swings the header to it. */
  private rebuild(cap: number): void {
    const io = this.io
    const old = this.slots()
    const tomb = this.tombstone()
    const oldCap = io.arrayLength(old)
    const fresh = io.allocRefArray(this.entryType, cap)
    const u32 = io.u32
    const mask = cap - 1
    const base = fresh + ARRAY_HEADER_SIZE
    let n = 0
    for (let i = 0, a = old + ARRAY_HEADER_SIZE; i < oldCap; i++, a += 8) {
      const e = u32[a >>> 2]
      if (e === 0 || e === tomb) continue
      if (n === cap) { io.free(fresh); throw this.corrupt(`more entries than the ${cap} slots counted for them`) }
      let j = u32[(e + E_HASH) >>> 2] & mask
      while (u32[(base + j * 8) >>> 2] !== 0) j = (j + 1) & mask
      u32[(base + j * 8) >>> 2] = e
      n++
    }
    this.swingSlots(fresh, cap, n)
    io.free(old)
  }

  /** Publishes a new slot array (with n entries) in the header. */
  private swingSlots(fresh: number, cap: number, n: number): void {
    const io = this.io
    this.shape++
    const counts = this.header + H_COUNTS
    if (io.inTx) {
      io.storePtr(this.header + H_SLOTS, fresh)
      io.storePair(counts, n, n)
      this.txFreshSlots = fresh
      return
    }
    io.flush(fresh, ARRAY_HEADER_SIZE + cap * 8)
    io.drain()
    io.u32[(this.header + H_SLOTS) >>> 2] = fresh // commits
    io.storePair(counts, n, n)
    io.flush(this.header, 32)
    io.drain()
  }

  /**
   * Makes size/used exact in memory: when this session may not trust them (a crash, a session
   * that changed the map before this one, a 'power' session) they are recounted from the slots.
   * Called before the first change in a transaction, so the plain (unlogged) store of the
   * true counts is never rolled back.
   */
  private knowCounts(): void {
    if (this.countsKnown) return
    this.recount()
    this.countsKnown = true
  }

  /** Step 2 (see the header comment): before the first change of the counts in this session, EXACT is cleared durably. */
  private beginChange(): void {
    this.knowCounts()
    if (this.countsMayChange) return
    const io = this.io
    const counts = this.header + H_COUNTS
    const used = io.u32[(counts >>> 2) + 1]
    if (used & COUNTS_EXACT) {
      io.storePair(counts, io.u32[counts >>> 2], used & USED_MASK, false)
      io.flush(counts, 8)
      if (!io.inTx) io.drain() // commits "not trusted"; in a transaction, the rollback keeps counts and slots together
    }
    this.countsMayChange = true
  }

  /** Step 1: counts from the slots; outside a transaction and before any change, stored with EXACT, durably. */
  private recount(): void {
    const io = this.io
    const slots = this.slots()
    const tomb = this.tombstone()
    const cap = io.arrayLength(slots)
    let size = 0
    let used = 0
    for (let i = 0, a = slots + ARRAY_HEADER_SIZE; i < cap; i++, a += 8) {
      const e = io.u32[a >>> 2]
      if (e !== 0) { used++; if (e !== tomb) size++ }
    }
    if (used === cap) throw this.corrupt(`the slot array (${cap} slots) has no empty slot`)
    const counts = this.header + H_COUNTS
    const stamp = io.inTx || this.countsMayChange ? 0 : COUNTS_EXACT
    io.storePair(counts, size, used | stamp, false) // commits
    io.flush(counts, 8)
    if (stamp) io.drain()
  }
}

// A field can hold a map: `@field.ref(() => PersistentMap) index!: PersistentMap<K, V> | null` stores its header.
storeCollection(PersistentMap, MapHeader, (heap, header) => PersistentMap.of(heap, header))
