/**
 * The precise tracer pobj gives the allocator for recovery. It is built from
 * the type table persisted in the heap image, never from loaded classes, so a
 * heap recovers the same whichever classes the process has.
 *
 * Per block, by its tag: a string, bytes, a record or the type table is pointer-free; an array
 * block is scanned only when it holds refs or strings, and only its [0, length) slots; a
 * growable array's header holds one pointer (its elements block); an object visits the pointer fields of
 * its type (string, ref and array fields: the blocks they point to must be
 * marked, strings and number arrays are then never scanned). Dates, enums and optional
 * numbers and booleans hold no pointer; a forwarder (an upgraded object) points at its new block only; an optional or nullable string is 0 (absent) or a
 * string block pointer like any string field, so the same offsets cover every kind.
 * Strings behind string elements, and records, are marked as leaves (never read).
 * Records in crash recovery (`ctx.repair` given): each is read and checked, and a ref followed
 * only from an intact one; an element whose record is not intact is stored VACATED and its
 * block is not marked. With `deferRecords` (PHeap's opens) a pointer-free record is marked
 * unread instead (reading a million records in a hash table's order is most of a recovery),
 * and its array is listed in `uncheckedRecordArrays`: PHeap settles those (pheap.ts
 * settleRecords) before anything reads them as intact. Elsewhere (collections, checks)
 * records are trusted.
 */
import type { TraceContext, Tracer, TracerModule } from './heap-port'
import { decodeTable, pointerMap } from './type-table'
import {
  TAG_STRING, TAG_STRING16, TAG_BYTES, TAG_RECORD, TAG_ARRAY, TAG_ARRAY_HEAD, TAG_TYPE_TABLE, TAG_FORWARD, TYPE_TABLE_ROOT, ARRAY_HEADER_SIZE, ARRAY_HEAD_SIZE,
  ARR_ELEMENTS, PTR_SIZE, KIND_CODE, REC_HAS_REF, REC_REF, REC_VACATED, isPointerElement,
} from './object-format'
import { recordIntact } from './record-blocks'

/**
 * A tracer factory for `Heap.open(..., { tracer })`: reads the table from `ctx` when recovery starts.
 * In a crash recovery it checks every record; `deferRecords` (PHeap's own opens, which settle
 * them later: pheap.ts settleRecords) leaves pointer-free records unread and lists their arrays.
 */
export function pobjTracer(ctx: TraceContext, deferRecords = false): Tracer {
  const tablePtr = ctx.getRoot(TYPE_TABLE_ROOT)
  // The table block's segment (a heap over 4 GiB may hold it anywhere), indexed by its offset there.
  const seg = tablePtr < 2 ** 32 ? ctx.bytes : ctx.segments?.[Math.floor(tablePtr / 2 ** 32)] ?? ctx.bytes
  const at = tablePtr >>> 0
  const entries = tablePtr === 0 ? [] : decodeTable(seg, at, seg.length - at)
  return new PreciseTracer(pointerMap(entries), ctx.repair, deferRecords)
}

/** pobjTracer as a module a worker thread loads (the allocator's `tracerModule`: parallel recovery). */
export const pobjTracerModule: TracerModule = Object.freeze({ path: __filename, name: 'pobjTracer' })

const STRING_CODE = KIND_CODE.string
const SEGMENT = 2 ** 32
/** A full segment's words: only a region over 4 GiB has one (its segment 0), so only there may a pointer have a high word. */
const SEGMENT_WORDS = 2 ** 30
const RECORD_CODE = KIND_CODE.record

/** Follows the pointer words at the given offsets of each type id. */
export class PreciseTracer implements Tracer {
  /** It reads a block as words[(ptr >>> 2) + k] of the 4 GiB segment holding it (the allocator's Tracer.segmented). */
  readonly segmented = true
  private cachedBytes: Uint8Array | null = null
  private u32: Uint32Array = new Uint32Array(0)
  /** The word views of the segments seen (a heap over 4 GiB alternates between them). */
  private readonly views = new Map<Uint8Array, Uint32Array>()
  /** Reachable blocks whose tag the table did not know (not scanned); 0 in a sound heap. */
  unknownBlocks = 0

  /** Record elements found not intact and vacated (crash recovery only). */
  vacatedRecords = 0
  /** Crash recovery only: record arrays holding pointer-free records not read (not yet checked). */
  readonly uncheckedRecordArrays: number[] = []
  private readonly listedUnchecked = new Set<number>()

  /**
   * @param repair given in crash recovery only: records are then checked (see the header comment).
   * @param deferRecords in crash recovery, leave pointer-free records unread (for a later settle).
   */
  constructor(private readonly offsets: Map<number, Uint32Array>, private readonly repair?: (at: number, lo: number, hi: number) => void,
    private readonly deferRecords = false) {}

  /** Visits each pointer with the offset of its word, so that recovery can null a stale one. */
  trace(bytes: Uint8Array, ptr: number, size: number, visit: (p: number, at?: number, leaf?: boolean) => void): void {
    this.traceRange(bytes, ptr, size, 0, size, visit)
  }

  /** The pointers whose words start in [from, to) of the block (parallel recovery shares big arrays so). */
  traceRange(bytes: Uint8Array, ptr: number, size: number, from: number, to: number, visit: (p: number, at?: number, leaf?: boolean) => void): void {
    if (bytes !== this.cachedBytes) {
      this.cachedBytes = bytes
      let u = this.views.get(bytes)
      if (u === undefined) {
        if (this.views.size > 64) this.views.clear() // views of a region since grown
        this.views.set(bytes, u = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)) // not >>> 2: 4 GiB >>> 2 is 0
      }
      this.u32 = u
    }
    const w = this.u32
    const base = ptr >>> 2 // the block's word in its segment
    // Offsets given to visit are full: the segment's start plus the offset in it (0 in a heap of one segment).
    const seg = ptr - (ptr >>> 0)
    const tag = w[base]
    if (tag === TAG_STRING || tag === TAG_STRING16 || tag === TAG_TYPE_TABLE || tag === TAG_BYTES || tag === TAG_RECORD) return
    if (tag === TAG_FORWARD) { // an upgraded object: only its new block is live (its word is not 8-aligned: never nulled)
      if (w[base + 1] !== 0 && from <= 4 && 4 < to) visit(w[base + 1])
      return
    }
    if (tag === TAG_ARRAY) {
      const code = w[base + 1] & 0xff
      if (!isPointerElement(code)) return
      // The elements whose words start in [from, to): i from `first` to `end`.
      const n = Math.min(w[base + 2], (size - ARRAY_HEADER_SIZE) / PTR_SIZE, Math.ceil((to - ARRAY_HEADER_SIZE) / PTR_SIZE))
      const first = Math.max(0, Math.ceil((from - ARRAY_HEADER_SIZE) / PTR_SIZE))
      if (code === RECORD_CODE) return this.traceRecords(w, base, first, n, visit)
      const leaf = code === STRING_CODE
      for (let i = first, at = base + (ARRAY_HEADER_SIZE + first * PTR_SIZE) / 4; i < n; i++, at += 2) {
        const p = w[at]
        const hi = w[at + 1]
        if (hi === 0) { if (p !== 0) visit(p, seg + at * 4, leaf) } else if (seg !== 0 || w.length === SEGMENT_WORDS) visit(hi * SEGMENT + p, seg + at * 4, leaf)
      }
      return
    }
    if (tag === TAG_ARRAY_HEAD) {
      if (size < ARRAY_HEAD_SIZE || ARR_ELEMENTS < from || ARR_ELEMENTS >= to) return
      const at = base + ARR_ELEMENTS / 4
      const p = w[at]
      const hi = w[at + 1]
      if (hi === 0) { if (p !== 0) visit(p, seg + at * 4) } else if (seg !== 0 || w.length === SEGMENT_WORDS) visit(hi * SEGMENT + p, seg + at * 4)
      return
    }
    const offs = this.offsets.get(tag)
    // A reachable block is always initialised durably before it is published, so an
    // unknown tag is damage; nothing is guessed. A pointer that is not a block is stale: recovery nulls it.
    if (offs === undefined) { this.unknownBlocks++; return }
    for (let i = 0; i < offs.length; i++) {
      const off = offs[i]
      if (off + PTR_SIZE > size || off < from || off >= to) continue
      const at = base + (off >>> 2)
      const p = w[at]
      const hi = w[at + 1]
      if (hi === 0) { if (p !== 0) visit(p, seg + at * 4) } else if (seg !== 0 || w.length === SEGMENT_WORDS) visit(hi * SEGMENT + p, seg + at * 4)
    }
  }

  /**
   * The elements of a record array (see the header comment). In recovery every record is read
   * to check it, in address order (the elements are in the owner's order, a hash table's is
   * random: one cache and TLB miss per record otherwise).
   */
  private traceRecords(w: Uint32Array, base: number, from: number, n: number, visit: (p: number, at?: number, leaf?: boolean) => void): void {
    const limit = w.length * 4
    let unchecked = false
    for (let i = from, at = base + (ARRAY_HEADER_SIZE + from * PTR_SIZE) / 4; i < n; i++, at += 2) {
      const p = w[at]
      if (p === 0) continue
      const seal = w[at + 1]
      if (this.repair === undefined) { this.visitRecord(w, p, seal, at, visit); continue }
      if (this.deferRecords && (seal & REC_HAS_REF) === 0) { visit(p, at * 4, true); unchecked = true; continue }
      if (p >= limit || (p & 15) !== 0 || !recordIntact(w, p, seal, limit)) {
        this.repair(at * 4, 0, REC_VACATED) // the crash tore this record before its drain ended: the element never committed
        this.vacatedRecords++
        continue
      }
      this.visitRecord(w, p, seal, at, visit)
    }
    if (unchecked && !this.listedUnchecked.has(base * 4)) {
      this.listedUnchecked.add(base * 4)
      this.uncheckedRecordArrays.push(base * 4)
    }
  }

  /** Parallel recovery: what this tracer found in a worker thread, for the opening thread's tracer. */
  workerResult(): { unknownBlocks: number; vacatedRecords: number; unchecked: number[] } {
    return { unknownBlocks: this.unknownBlocks, vacatedRecords: this.vacatedRecords, unchecked: this.uncheckedRecordArrays.slice() }
  }

  mergeWorkerResult(result: unknown): void {
    const r = result as ReturnType<PreciseTracer['workerResult']>
    this.unknownBlocks += r.unknownBlocks
    this.vacatedRecords += r.vacatedRecords
    for (const a of r.unchecked) {
      if (this.listedUnchecked.has(a)) continue
      this.listedUnchecked.add(a)
      this.uncheckedRecordArrays.push(a)
    }
  }

  private visitRecord(w: Uint32Array, p: number, seal: number, at: number, visit: (p: number, at?: number, leaf?: boolean) => void): void {
    visit(p, at * 4, true)
    if ((seal & REC_HAS_REF) !== 0) {
      const q = w[(p + REC_REF) >>> 2]
      if (q !== 0) visit(q) // no `at`: a word inside a sealed record is never rewritten
    }
  }
}
