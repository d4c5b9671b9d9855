/**
 * PersistentMap: a hash table in a PHeap, every operation failure-atomic.
 *
 * Representation (pobj formats, so recovery traces it from the heap alone):
 *
 *   root ─▶ MapHeader { size, used │ slots ─▶ record array (object-format.ts "Record") }
 *   slot i: (0, 0) empty · (0, VACATED) deleted · (record, seal): one entry (map-record.ts:
 *           hash, kinds, seq, key and value in ONE pointer-free block; an object value is
 *           the record's ref)
 *
 * Open addressing with linear probing over a power-of-two slot array, load
 * (live + vacated) ≤ 3/4. Records are never changed after they are published; writes outside
 * a transaction (the drain that ends each is the fsync of a 'power' heap):
 *   insert  1. build the record (fresh block), flush it (a chunk claimed for it: drain first, once
 *              per chunk of records, since the allocator's claim must be durable before a publish);
 *           2. COMMIT: slot := (record, seal), ONE 8-byte store; flush; counts word (unflushed); drain.
 *           ONE drain: the record's bytes and the slot may reach media in any order; a crash
 *           that tore the record leaves a slot whose seal does not match: the insert did not
 *           happen. Crash recovery marks records without reading them, so after one the map
 *           treats each record it reads that is not intact as vacated, and settles its slot
 *           array (heap.settleRecords: torn slots := VACATED) before its first write, size,
 *           iteration or check.
 *   update  build the new record (same seq), flush, drain → COMMIT: slot := (new, seal) → drain
 *           → free the old record. Two drains: the old record must survive a torn new one.
 *   delete  COMMIT: slot := (0, VACATED) → drain → free the record.
 *   resize  build a new slot array (the same records), flush, drain → COMMIT: header.slots := new
 *           → drain → free the old array.
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
 * Order (like a JS Map, insertion order): every record carries `seq`, its insertion sequence
 * number, so the order needs no store of its own: the insert's one slot store commits the key,
 * its value and its place in the order. A replacing record copies the seq of the one it
 * replaces (a set of a present key keeps its place); a delete and a new set give the key a
 * fresh, larger seq (the end).
 *   seq invariants: every live record's seq is a distinct integer ≥ 1; the next insert of this
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
import { PHeap, Persistent, field, PArray, HeapClosedError, HeapCorruptError, objectFormat, recordSeal, recordIntact, writeRecordHeader, writeRecordElement } from '@makalu/pobj'
import { BlockIO, ARRAY_HEADER_SIZE, offsetOf, refuseWide } from './block-io'
import { storeCollection } from './collection-field'
import { PValue, plainValue, preview } from './value-codec'
import {
  K_STRING, K_NUMBER, K_STRING16, V_NUMBER, V_STRING, V_TRUE, V_FALSE, V_NULL, V_OBJECT, V_STRING16, V_UNDEFINED,
  P_HASH, P_KINDS, P_SEQ, P_KEYLEN, P_VALLEN, P_KEY, valueAt, hashString, hashNumber, normalizeNumber, stringForm, form,
} from './map-record'

const { RECORD_HEADER_SIZE, REC_VACATED, REC_REF } = objectFormat

/** The declared target of references to arbitrary @Persistent objects (values of maps and lists). */
@Persistent('makalu.AnyObject')
export class AnyObject {}

@Persistent('makalu.MapHeader')
export class MapHeader {
  /** Live entries. Shares one 8-byte word with `used`. */
  @field.u32 size!: number
  /** Live entries + vacated slots (bits 0-30); bit 31: the counts are EXACT (see above). */
  @field.u32 used!: number
  /** The slots: a record array (one record per entry; see map-record.ts). */
  @field.array('record') slots!: PArray<Uint8Array | null>
}

export type MapKey = string | number
/** What a PersistentMap holds: a list's values (PValue) and undefined. */
export type MapValue = PValue | undefined

const R = RECORD_HEADER_SIZE
const H_COUNTS = offsetOf(MapHeader, 'size')
const H_SLOTS = offsetOf(MapHeader, 'slots')
const H_SIZE = 24
const MIN_CAPACITY = 16
/** Bit 31 of the `used` word: the stored counts are exact (see the header comment). */
const COUNTS_EXACT = 0x80000000
const USED_MASK = 0x7fffffff

/** Per heap: the map object of each header block while the program holds it (one JS object, one set of volatile counts). */
const instances = new WeakMap<PHeap, Map<number, WeakRef<PersistentMap<MapKey, MapValue>>>>()

export class PersistentMap<K extends MapKey = MapKey, V extends MapValue = MapValue> implements Iterable<[K, V]> {
  private readonly io: BlockIO
  private readonly logCapacity: number
  // Volatile bookkeeping of the open transaction (see slotStore).
  private txId = -1
  private txSnaps = 0
  private txFreshSlots = 0
  /** Whether the header's size/used are exact in memory (else recounted at first need). */
  private countsKnown: boolean
  /** Whether this session cleared EXACT durably (step 2), so counts may change. */
  private countsMayChange = false
  /** The seq of this session's next insert (0: not yet known, see the header comment). */
  private nextSeq = 0
  /** Bumped by every new slot array (resize, clear): iterators re-snapshot when it moved. */
  private shape = 0
  /** After a crash, until settled: a record read may be torn (see the header comment). */
  private unsettled: boolean
  /**
   * A volatile memo of the key hash of each slot's record, for the slot array `hashesOf`:
   * hashes[2i] = the record slot i held when noted, hashes[2i + 1] = its key's hash. Probes and
   * rebuilds compare hashes without reading records (a cache miss each in a big map). An entry
   * counts only while slot i still names that record: a record is never changed, so its hash
   * holds whenever a slot names it (also after a roll-back); nothing of it is stored.
   */
  private hashes = new Uint32Array(0)
  private hashesOf = 0
  // The value being written (set by classify).
  private vKind = 0
  private vLen = 0
  private vRef = 0

  /**
   * The map under root `name` of `heap`, created (durably, atomically) if missing.
   * The same object is returned for the same heap and name.
   */
  static open<K extends MapKey = MapKey, V extends MapValue = MapValue>(heap: PHeap, name: string): PersistentMap<K, V> {
    // Created whole, then published by the root store (a crash before it leaves only garbage).
    const h = heap.root(name, MapHeader, () => PersistentMap.newHeader(heap))
    return PersistentMap.of<K, V>(heap, h, name)
  }

  /**
   * A new, empty map that no root holds: store it in a field of a @Persistent object
   * (`@field.ref(() => PersistentMap)`) to keep it; until then it lives while the JS map
   * object does, and a collection after that frees it. Durable once published, like any object.
   */
  static create<K extends MapKey = MapKey, V extends MapValue = MapValue>(heap: PHeap): PersistentMap<K, V> {
    return PersistentMap.of<K, V>(heap, PersistentMap.newHeader(heap))
  }

  /** The map whose header object is `header` (read from a field, for example); the same object for the same header. */
  static of<K extends MapKey = MapKey, V extends MapValue = MapValue>(heap: PHeap, header: MapHeader, name = 'in a field'): PersistentMap<K, V> {
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
    refuseWide(heap)
    return heap.new(MapHeader, { size: 0, used: 0, slots: heap.newFixedArray('record', MIN_CAPACITY) })
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
    heap.typeId(MapHeader)
    this.logCapacity = heap.raw.snapshotCapacity(8)
    this.countsKnown = heap.recovery.clean && (this.io.u32[((this.header + H_COUNTS) >>> 2) + 1] & COUNTS_EXACT) !== 0
    const bad = this.headerProblem()
    if (bad) throw this.corrupt(bad)
    this.unsettled = heap.recordsUnsettled(this.slots())
  }

  /** Vacates the slots whose records a crash tore (once, after a crash); then every record read is intact. */
  private settle(): void {
    if (!this.unsettled) return
    this.heap.settleRecords(this.slots())
    this.unsettled = false
  }

  // ── reads ────────────────────────────────────────────────────────────────
  get size(): number { this.usable(); this.settle(); this.knowCounts(); return this.io.u32[(this.header + H_COUNTS) >>> 2] }

  get(key: K): V | undefined {
    this.usable()
    const r = this.findRecord(key)
    return r === 0 ? undefined : this.valueOf(r)
  }

  has(key: K): boolean {
    this.usable()
    return this.findRecord(key) !== 0
  }

  // ── writes ───────────────────────────────────────────────────────────────
  /** Inserts or replaces; durable and atomic when it returns (inside a transaction: at its commit). */
  set(key: K, value: V): this {
    this.usable()
    this.settle()
    const io = this.io
    const kk0 = this.keyKind(key)
    if (kk0 === K_NUMBER) key = normalizeNumber(key as number) as K
    this.classify(value)
    const h = kk0 === K_NUMBER ? hashNumber(key as number) : hashString(key as string)
    this.beginChange()
    if (io.inTx) this.txBegin()
    let at = this.findSlot(kk0, key, h)
    if (at >= 0) {
      // Replace: a new record with the same key and seq, durable before the slot names it.
      const old = io.u32[at >>> 2]
      const kk = io.u32[(old + R + P_KINDS) >>> 2] & 0xff
      const keyLen = io.u32[(old + R + P_KEYLEN) >>> 2]
      const r = this.buildRecord(kk, keyLen, h, io.f64[(old + R + P_SEQ) >>> 3], value)
      io.u8.copyWithin(r + R + P_KEY, old + R + P_KEY, old + R + P_KEY + keyLen)
      const seal = recordSeal(io.u32, r, io.u8.length)
      if (!io.inTx) { io.flush(r, this.recordBytes(r)); io.drain() }
      this.publish(at, r, seal, 0, 0)
      this.noteHash(at, r, h)
      io.free(old)
      return this
    }
    // A new key. Grow (or clean out vacated slots) first if the load would pass 3/4.
    const counts = (this.header + H_COUNTS) >>> 2
    if (io.u32[(~at >>> 2) + 1] === 0 && ((io.u32[counts + 1] & USED_MASK) + 1) * 4 > this.capacity() * 3) {
      this.rebuild(this.capacityFor(io.u32[counts] + 1))
      at = this.findSlot(kk0, key, h)
    }
    const slot = ~at
    let kk = kk0
    let keyLen = 8
    if (kk0 !== K_NUMBER) { stringForm(key as string, K_STRING, K_STRING16); kk = form.kind; keyLen = form.len }
    const r = this.buildRecord(kk, keyLen, h, this.takeSeq(), value)
    if (kk === K_NUMBER) io.f64[(r + R + P_KEY) >>> 3] = key as number
    else io.writeText(r + R + P_KEY, key as string, keyLen, kk === K_STRING16)
    const seal = recordSeal(io.u32, r, io.u8.length)
    if (!io.inTx) {
      // Drained with the slot store: ONE drain (see the header comment); a chunk claimed for the record must be durable first.
      if (io.raw.chunkClaimsUndrained) io.drain()
      io.flush(r, this.recordBytes(r))
    }
    this.publish(slot, r, seal, 1, io.u32[(slot >>> 2) + 1] === 0 ? 1 : 0)
    this.noteHash(slot, r, h)
    return this
  }

  /** Removes a key; true if it was there. Durable and atomic when it returns. */
  delete(key: K): boolean {
    this.usable()
    this.settle()
    const io = this.io
    const kk = this.keyKind(key)
    if (kk === K_NUMBER) key = normalizeNumber(key as number) as K
    const h = kk === K_NUMBER ? hashNumber(key as number) : hashString(key as string)
    this.beginChange()
    if (io.inTx) this.txBegin()
    const at = this.findSlot(kk, key, h)
    if (at < 0) return false
    const r = io.u32[at >>> 2]
    this.publish(at, 0, REC_VACATED, -1, 0)
    io.free(r)
    return true
  }

  /** Removes every entry (one swing to an empty slot array). */
  clear(): void {
    this.usable()
    this.settle()
    const io = this.io
    this.beginChange()
    if (io.inTx) this.txBegin()
    const old = this.slots()
    const cap = io.arrayLength(old)
    const fresh = io.allocRecordArray(MIN_CAPACITY)
    this.swingSlots(fresh, MIN_CAPACITY, 0)
    const u32 = io.u32
    for (let i = 0, a = old + ARRAY_HEADER_SIZE; i < cap; i++, a += 8) io.free(u32[a >>> 2])
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
    this.settle()
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
        if (e === 0 || this.io.f64[(e + R + P_SEQ) >>> 3] !== s) continue
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
    const cap = io.arrayLength(slots)
    const base = slots + ARRAY_HEADER_SIZE
    let n = 0
    let lo = Infinity
    let hi = -Infinity
    const seqs0 = new Float64Array(cap)
    const at0 = new Uint32Array(cap)
    for (let i = 0; i < cap; i++) {
      const e = u32[(base + i * 8) >>> 2]
      if (e === 0) continue
      const s = f64[(e + R + P_SEQ) >>> 3]
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
      const cap = io.arrayLength(slots)
      let max = 0
      for (let i = 0, a = slots + ARRAY_HEADER_SIZE; i < cap; i++, a += 8) {
        const e = io.u32[a >>> 2]
        if (e !== 0) { const s = io.f64[(e + R + P_SEQ) >>> 3]; if (s > max) max = s }
      }
      this.nextSeq = max + 1
    }
    return this.nextSeq++
  }

  private keyOf(r: number): K {
    const io = this.io
    const kk = io.u32[(r + R + P_KINDS) >>> 2] & 0xff
    if (kk === K_NUMBER) return io.f64[(r + R + P_KEY) >>> 3] as K
    return io.readText(r + R + P_KEY, io.u32[(r + R + P_KEYLEN) >>> 2], kk === K_STRING16) as K
  }

  private valueOf(r: number): V {
    const io = this.io
    const vk = (io.u32[(r + R + P_KINDS) >>> 2] >>> 8) & 0xff
    const at = r + R + valueAt(io.u32[(r + R + P_KEYLEN) >>> 2])
    switch (vk) {
      case V_NUMBER: return io.f64[at >>> 3] as V
      case V_STRING: case V_STRING16: return io.readText(at, io.u32[(r + R + P_VALLEN) >>> 2], vk === V_STRING16) as V
      case V_TRUE: return true as V
      case V_FALSE: return false as V
      case V_NULL: return null as V
      case V_UNDEFINED: return undefined as unknown as V
      case V_OBJECT: return this.heap.objectAt(io.u32[(r + REC_REF) >>> 2]) as V
      default: throw this.corrupt(`the record at ${r} holds value kind ${vk}`)
    }
  }

  // ── inspection ───────────────────────────────────────────────────────────
  /** Slot array capacity, vacated slots and the load, for tests and the demo. */
  stats(): { size: number; capacity: number; tombstones: number; load: number } {
    this.usable()
    this.settle()
    this.knowCounts()
    const c = this.io.u32[(this.header + H_COUNTS) >>> 2]
    const used = this.io.u32[((this.header + H_COUNTS) >>> 2) + 1] & USED_MASK
    const cap = this.capacity()
    return { size: c, capacity: cap, tombstones: used - c, load: used / cap }
  }

  // ── checks ───────────────────────────────────────────────────────────────
  /**
   * Whole-map check (O(capacity)): the header sane; every slot empty, vacated or an
   * allocated, intact record whose key and value are well formed, stored under its key's hash
   * and reachable by its probe; size/used equal a recount. Throws HeapCorruptError.
   */
  check(): void {
    this.usable()
    this.settle()
    const bad = this.headerProblem()
    if (bad) throw this.corrupt(bad)
    const io = this.io
    const u32 = io.u32
    const slots = this.slots()
    const cap = io.arrayLength(slots)
    const base = slots + ARRAY_HEADER_SIZE
    let size = 0
    let used = 0
    const seqs: number[] = []
    for (let i = 0; i < cap; i++) {
      const a = base + i * 8
      const r = u32[a >>> 2]
      const seal = u32[(a >>> 2) + 1]
      if (r === 0) {
        if (seal === 0) continue
        if (seal !== REC_VACATED) throw this.corrupt(`slot ${i} holds no record but a seal of ${seal}`)
        used++
        continue
      }
      used++
      size++
      const p = this.recordProblem(r, seal, i)
      if (p) throw this.corrupt(p)
      const s = io.f64[(r + R + P_SEQ) >>> 3]
      if (!(Number.isInteger(s) && s >= 1)) throw this.corrupt(`slot ${i} has seq ${s}`)
      if (this.nextSeq !== 0 && s >= this.nextSeq) throw this.corrupt(`slot ${i} has seq ${s}, not below the next seq ${this.nextSeq}`)
      seqs.push(s)
      // The probe from the key's home slot reaches slot i before any empty slot.
      for (let j = u32[(r + R + P_HASH) >>> 2] & (cap - 1); j !== i; j = (j + 1) & (cap - 1)) {
        if (u32[(base + j * 8) >>> 2] === 0 && u32[((base + j * 8) >>> 2) + 1] === 0) throw this.corrupt(`slot ${i} is past an empty slot on its key's probe`)
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

  /** O(1) sanity of the header: the slot array and (when trusted) the counts. */
  private headerProblem(): string | null {
    const io = this.io
    const slots = this.slots()
    const bad = io.recordArrayProblem(slots, MIN_CAPACITY)
    if (bad) return bad
    if (!this.countsKnown) return null
    const cap = io.arrayLength(slots)
    const w = (this.header + H_COUNTS) >>> 2
    const size = io.u32[w]
    const used = io.u32[w + 1] & USED_MASK
    if (size > used || used * 4 > cap * 3) return `the counts (size ${size}, used ${used}) do not fit ${cap} slots at load ≤ 3/4`
    return null
  }

  /** What is wrong with the record r (slot i, element seal `seal`), or null. */
  private recordProblem(r: number, seal: number, i: number): string | null {
    const io = this.io
    if (r % 16 !== 0 || r >= io.u8.length || !io.raw.isAllocated(r)) return `slot ${i}'s record pointer ${r} is not an allocated block`
    const end = r + io.raw.usableSize(r)
    if (!recordIntact(io.u32, r, seal, end)) return `slot ${i}'s record is not intact (it does not match its seal)`
    const u32 = io.u32
    const kinds = u32[(r + R + P_KINDS) >>> 2]
    const kk = kinds & 0xff
    const vk = (kinds >>> 8) & 0xff
    const keyLen = u32[(r + R + P_KEYLEN) >>> 2]
    const valLen = u32[(r + R + P_VALLEN) >>> 2]
    if ((kk !== K_STRING && kk !== K_NUMBER && kk !== K_STRING16) || vk < V_NUMBER || vk > V_UNDEFINED) return `slot ${i} has kinds ${kinds}`
    if ((kk === K_NUMBER && keyLen !== 8) || (kk === K_STRING16 && keyLen % 2 !== 0)) return `slot ${i} has a key of ${keyLen} bytes for its kind`
    if (R + valueAt(keyLen) + valLen > R + u32[(r + 4) >>> 2]) return `slot ${i}'s key and value overrun the record`
    const h = kk === K_NUMBER ? hashNumber(io.f64[(r + R + P_KEY) >>> 3]) : hashString(this.keyOf(r) as string)
    if (u32[(r + R + P_HASH) >>> 2] !== h) return `slot ${i}'s stored hash is not its key's`
    if (vk === V_OBJECT && !io.raw.isAllocated(u32[(r + REC_REF) >>> 2])) return `slot ${i}'s object is not allocated`
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

  /** Checks a value and notes its kind, byte length and object pointer; throws before anything is allocated. */
  private classify(v: unknown): void {
    this.vLen = 0
    this.vRef = 0
    switch (typeof v) {
      case 'number': this.vKind = V_NUMBER; this.vLen = 8; return
      case 'string': stringForm(v, V_STRING, V_STRING16); this.vKind = form.kind; this.vLen = form.len; return
      case 'boolean': this.vKind = v ? V_TRUE : V_FALSE; return
      case 'undefined': this.vKind = V_UNDEFINED; return
      case 'object':
        if (v === null) { this.vKind = V_NULL; return }
        this.vRef = this.heap.pointerOf(v, 'PersistentMap.set')
        this.vKind = V_OBJECT
        return
      default:
        throw new TypeError(`PersistentMap.set: a value must be a number, string, boolean, null, undefined or @Persistent object, got ${typeof v}`)
    }
  }

  /** A new record with the classified value written and the key area left to the caller; not sealed, not flushed. */
  private buildRecord(kk: number, keyLen: number, h: number, seq: number, value: unknown): number {
    const io = this.io
    const vAt = valueAt(keyLen)
    const payload = vAt + this.vLen
    const r = io.alloc(R + payload)
    const u32 = io.u32
    writeRecordHeader(u32, r, payload, this.vRef)
    u32[(r + R + P_HASH) >>> 2] = h
    u32[(r + R + P_KINDS) >>> 2] = kk | (this.vKind << 8)
    io.f64[(r + R + P_SEQ) >>> 3] = seq
    u32[(r + R + P_KEYLEN) >>> 2] = keyLen
    u32[(r + R + P_VALLEN) >>> 2] = this.vLen
    if ((keyLen & 7) !== 0) u32[(r + R + vAt - 4) >>> 2] = 0 // the key's pad word (sealed: must be 0)
    if (this.vKind === V_NUMBER) io.f64[(r + R + vAt) >>> 3] = value as number
    else if (this.vKind === V_STRING || this.vKind === V_STRING16) io.writeText(r + R + vAt, value as string, this.vLen, this.vKind === V_STRING16)
    return r
  }

  /** Bytes of the record at r (header and payload). */
  private recordBytes(r: number): number { return R + this.io.u32[(r + 4) >>> 2] }

  private slots(): number { return this.io.u32[(this.header + H_SLOTS) >>> 2] }
  private capacity(): number { return this.io.arrayLength(this.slots()) }
  private capacityFor(n: number): number {
    let c = MIN_CAPACITY
    while (c < n * 2) c *= 2
    return c
  }

  /** The record of key, or 0. No allocation. */
  private findRecord(key: K): number {
    const kk = typeof key === 'string' ? K_STRING : typeof key === 'number' ? K_NUMBER : this.keyKind(key)
    let h: number
    if (kk === K_STRING) h = hashString(key as string)
    else { key = normalizeNumber(key as number) as K; h = hashNumber(key as number) }
    const at = this.findSlot(kk, key, h)
    return at < 0 ? 0 : this.io.u32[at >>> 2]
  }

  /**
   * The address of the slot holding key (≥ 0), or ~address of the slot an insert
   * should take (the first vacated slot on the probe path, else the empty slot ending it).
   * kk: K_STRING for any string key (the record's own kind says UTF-8 or UTF-16), or K_NUMBER.
   */
  private findSlot(kk: number, key: unknown, h: number): number {
    const io = this.io
    const u32 = io.u32
    const slots = u32[(this.header + H_SLOTS) >>> 2]
    const mask = u32[(slots + 8) >>> 2] - 1
    const base = slots + ARRAY_HEADER_SIZE
    if (this.hashesOf !== slots) this.forgetHashes(slots, mask + 1)
    let free = -1
    // At most one lap: the 3/4 load rule leaves empty slots, so a lap without one is damage.
    for (let n = 0, i = h & mask; n <= mask; n++, i = (i + 1) & mask) {
      const a = base + i * 8
      const r = u32[a >>> 2]
      if (r === 0) {
        if (u32[(a >>> 2) + 1] === 0) return ~(free >= 0 ? free : a)
        if (free < 0) free = a // vacated
        continue
      }
      if (this.hashAt(i, r) !== h) continue
      if (this.unsettled && !recordIntact(u32, r, u32[(a >>> 2) + 1], io.u8.length)) { if (free < 0) free = a; continue } // torn: vacated
      const rk = u32[(r + R + P_KINDS) >>> 2] & 0xff
      if (kk === K_NUMBER) {
        if (rk !== K_NUMBER) continue
        const x = io.f64[(r + R + P_KEY) >>> 3]
        if (x === key || (key !== key && x !== x)) return a
      } else if (rk !== K_NUMBER && io.textEquals(r + R + P_KEY, u32[(r + R + P_KEYLEN) >>> 2], rk === K_STRING16, key as string)) return a
    }
    if (free >= 0) return ~free
    throw this.corrupt(`the slot array (${mask + 1} slots) has no empty slot`)
  }

  /** The key hash of record r in slot i (memoised: see `hashes`). */
  private hashAt(i: number, r: number): number {
    const c = this.hashes
    if (c[2 * i] === r) return c[2 * i + 1]
    const h = this.io.u32[(r + R + P_HASH) >>> 2]
    c[2 * i] = r
    c[2 * i + 1] = h
    return h
  }

  /** Notes that the slot at address `slot` now names record r of key hash h. */
  private noteHash(slot: number, r: number, h: number): void {
    const slots = this.slots()
    if (this.hashesOf !== slots) return
    const i = (slot - slots - ARRAY_HEADER_SIZE) >>> 3
    this.hashes[2 * i] = r
    this.hashes[2 * i + 1] = h
  }

  private forgetHashes(slots: number, cap: number): void {
    this.hashes = new Uint32Array(2 * cap)
    this.hashesOf = slots
  }

  private corrupt(what: string): HeapCorruptError {
    return new HeapCorruptError(`PersistentMap '${this.name}': ${what}: the map is damaged`)
  }

  /**
   * Commits a slot change: ONE 8-byte store of (record, seal) — (0, VACATED) for a delete —
   * then the counts word, unflushed (EXACT is clear: beginChange), then a drain. The caller
   * flushed the record (and drained first when the slot held another record: an update).
   * Inside a transaction the stores are logged instead.
   */
  private publish(slot: number, r: number, seal: number, dSize: number, dUsed: number): void {
    const io = this.io
    const counts = this.header + H_COUNTS
    const size = io.u32[counts >>> 2] + dSize
    const used = (io.u32[(counts >>> 2) + 1] & USED_MASK) + dUsed
    if (io.inTx) {
      this.slotStore(slot, r, seal)
      io.storePair(counts, size, used)
      return
    }
    writeRecordElement(io.f64, slot, r, seal) // commits
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
    const id = io.raw.transactionSerial
    if (id !== this.txId) { this.txId = id; this.txSnaps = 0; this.txFreshSlots = 0; io.raw.snapshot(this.header, H_SIZE) }
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
  private slotStore(slot: number, r: number, seal: number): void {
    const io = this.io
    if (this.slots() !== this.txFreshSlots) io.raw.snapshot(slot, 8)
    writeRecordElement(io.f64, slot, r, seal)
  }

  /** Rebuilds the slot array with `cap` slots (dropping vacated ones) and swings the header to it. */
  private rebuild(cap: number): void {
    const io = this.io
    const old = this.slots()
    const oldCap = io.arrayLength(old)
    const fresh = io.allocRecordArray(cap)
    const u32 = io.u32
    const f64 = io.f64
    const mask = cap - 1
    const base = fresh + ARRAY_HEADER_SIZE
    if (this.hashesOf !== old) this.forgetHashes(old, oldCap)
    const memo = new Uint32Array(2 * cap)
    let n = 0
    for (let i = 0, a = old + ARRAY_HEADER_SIZE; i < oldCap; i++, a += 8) {
      const r = u32[a >>> 2]
      if (r === 0) continue
      if (n === cap) { io.free(fresh); throw this.corrupt(`more entries than the ${cap} slots counted for them`) }
      const h = this.hashAt(i, r)
      let j = h & mask
      while (u32[(base + j * 8) >>> 2] !== 0) j = (j + 1) & mask
      f64[(base + j * 8) >>> 3] = f64[a >>> 3] // the element (record, seal), one 8-byte copy (never a NaN: see recordSeal)
      memo[2 * j] = r
      memo[2 * j + 1] = h
      n++
    }
    this.swingSlots(fresh, cap, n)
    this.hashes = memo
    this.hashesOf = fresh
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
    io.flush(this.header, H_SIZE)
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
    const cap = io.arrayLength(slots)
    let size = 0
    let used = 0
    for (let i = 0, a = slots + ARRAY_HEADER_SIZE; i < cap; i++, a += 8) {
      if (io.u32[a >>> 2] !== 0) { size++; used++ } else if (io.u32[(a >>> 2) + 1] !== 0) used++
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
