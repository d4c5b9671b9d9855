/**
 * Records (formats and the commit rule: object-format.ts): blocks that are published by the
 * one store of their record-array element in the same drain as their own bytes, because the
 * element carries a seal that tells an intact record from one a crash tore. The writer, the
 * seal, and the one check every reader, the tracer and heap.check() share.
 */
import { HeapCorruptError } from '@makalu/allocator'
import { TAG_RECORD, RECORD_HEADER_SIZE, REC_LEN, REC_REF, REC_HAS_REF, REC_VACATED } from './object-format'

/** Bytes a record with `payloadLength` payload bytes takes (its block may be larger). */
export const recordSize = (payloadLength: number): number => RECORD_HEADER_SIZE + payloadLength

/**
 * The seal of the record at `p` (words [0, 16 + byteLen rounded up to 4) of the block):
 * REC_HAS_REF when its ref is non-zero, | 30 bits of a multiply-rotate hash of those words.
 * Bit 30 is always 0, so an element word (pointer, seal) read as an f64 is never a NaN: it is
 * stored with ONE 8-byte store (writeRecordElement) that no NaN canonicalisation can alter.
 * `limit` bounds the words read (a torn byteLen may be anything): a record past it gets -1,
 * which no element holds.
 */
export function recordSeal(u32: Uint32Array, p: number, limit: number): number {
  const i0 = p >>> 2
  const len = u32[i0 + REC_LEN / 4]
  if (len > limit - p - RECORD_HEADER_SIZE) return -1
  const end = i0 + ((RECORD_HEADER_SIZE + len + 3) >>> 2)
  let h = 0x9e3779b9 ^ len
  for (let i = i0; i < end; i++) {
    h = Math.imul(h ^ u32[i], 0x85ebca6b)
    h = (h << 13) | (h >>> 19)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 15
  return ((h & 0x3fffffff) | (u32[i0 + REC_REF / 4] !== 0 ? REC_HAS_REF : 0)) >>> 0
}

/** Writes a record holding a copy of `payload` (and `ref`) at the fresh block p; not sealed, not flushed. */
export function writeRecord(u8: Uint8Array, u32: Uint32Array, p: number, payload: Uint8Array, ref: number): void {
  writeRecordHeader(u32, p, payload.length, ref)
  u8.set(payload, p + RECORD_HEADER_SIZE)
}

const scratchF64 = new Float64Array(1)
const scratchU32 = new Uint32Array(scratchF64.buffer)

/** Stores the record element (ptr, seal) at the 8-aligned `at` in ONE 8-byte store: the commit of a record. */
export function writeRecordElement(f64: Float64Array, at: number, ptr: number, seal: number): void {
  scratchU32[0] = ptr
  scratchU32[1] = seal
  f64[at >>> 3] = scratchF64[0]
}

/**
 * Whether the record at `p` is intact for the element seal `seal`: tag 8, its bytes within
 * `limit` (the block's end when known, else the heap's), and its words hash to the seal.
 */
export function recordIntact(u32: Uint32Array, p: number, seal: number, limit: number): boolean {
  return u32[p >>> 2] === TAG_RECORD && recordSeal(u32, p, limit) === seal
}

/**
 * Writes a record's header at the fresh block `p` (at least recordSize(payloadLength) bytes)
 * and zeroes its pad bytes; the caller writes the payload at p + RECORD_HEADER_SIZE, then
 * seals it (recordSeal) and publishes the element (pointer, seal) in one 8-byte store.
 */
export function writeRecordHeader(u32: Uint32Array, p: number, payloadLength: number, ref: number): void {
  const i = p >>> 2
  u32[i] = TAG_RECORD
  u32[i + 1] = payloadLength
  u32[i + 2] = ref
  u32[i + 3] = 0
  if ((payloadLength & 3) !== 0) u32[i + ((RECORD_HEADER_SIZE + payloadLength) >>> 2)] = 0 // the pad, sealed as 0
}

/** What settling a record array needs of the heap. */
export interface SettleHost {
  readonly u32: Uint32Array
  readonly f64: Float64Array
  usableSize(p: number): number
  isAllocated(p: number): boolean
  /** Stores are durable at drain (false: a private read-only copy, whose stores are only in memory). */
  readonly durable: boolean
  flush(p: number, len: number): void
  drain(): void
}

/**
 * Checks every pointer-free record of the record array at `array` that a crash recovery
 * did not read (tracer.ts) and vacates each one a crash tore. Steps:
 *   1. COMMIT (per torn record): element := (0, VACATED), ONE store, flushed;
 *   2. drain;
 *   3. the caller frees the returned blocks (nothing names them now; a crash before that
 *      leaves them unreachable, and the next recovery frees them).
 * Idempotent: a crash anywhere repeats it at the next open.
 */
export function settleRecordArray(h: SettleHost, array: number): number[] {
  const u32 = h.u32
  const n = u32[(array + 8) >>> 2]
  const torn: number[] = []
  for (let i = 0, at = array + 16; i < n; i++, at += 8) {
    const p = u32[at >>> 2]
    if (p === 0) continue
    const seal = u32[(at >>> 2) + 1]
    if ((seal & REC_HAS_REF) !== 0) continue // checked by recovery itself
    // Recovery marked every record it reached; a block must have been allocated durably before its record was published.
    if (!h.isAllocated(p)) throw new HeapCorruptError(`pobj: record array ${array}, element ${i}: record ${p} is no allocated block: the heap is damaged`)
    if (recordIntact(u32, p, seal, p + h.usableSize(p))) continue
    writeRecordElement(h.f64, at, 0, REC_VACATED) // commits: the torn insert never happened
    if (h.durable) h.flush(at, 8)
    torn.push(p)
  }
  if (torn.length > 0 && h.durable) h.drain()
  return torn
}
