/**
 * BlockIO: the raw access PersistentMap and PersistentList use on their hot
 * paths, below pobj's handles but in pobj's block formats, so the heap's type
 * table still describes every block and recovery traces it precisely.
 *
 * Object block (pobj):  0 typeId:u32 · 4 zero · 8 fields at layout offsets
 * String block (pobj):  0 tag=1:u32 · 4 byteLen:u32 · 8 UTF-8 bytes
 * Pointers: 8-byte little-endian offsets < 2^32, so the high word is always 0
 * and a pointer store is one untorn 4-byte store of the low word.
 *
 * Outside a transaction the caller follows the pointer-swing protocol:
 *   build new blocks and flush them → drain → ONE pointer store (commits) → flush → drain.
 * Inside one, `logged` snapshots the word before the store (the heap's undo log).
 */
import { PHeap, Class, layoutOf, objectFormat, ArgumentError } from '@makalu/pobj'
import { hasLoneSurrogate } from '@makalu/pobj'

const {
  TAG_STRING, TAG_STRING16, TAG_ARRAY, STRING_HEADER_SIZE, ARRAY_HEADER_SIZE, KIND_CODE, ARR_ELEM, ARR_LENGTH, ARR_ELEM_TYPE,
} = objectFormat
import * as os from 'node:os'

if (os.endianness() !== 'LE') throw new Error('@makalu/examples: typed-array access assumes a little-endian host')

type AllocHeap = PHeap['raw']

const STRING_HEADER = STRING_HEADER_SIZE
export { ARRAY_HEADER_SIZE }

/** Buffer's native UTF-8 helpers (present in Node, not in @types/node). */
interface FastBuffer extends Buffer {
  utf8Slice(start: number, end: number): string
  utf8Write(s: string, offset: number, length: number): number
}

/** Byte offset of `name` in the layout of `cls`. */
export function offsetOf(cls: Class, name: string): number {
  const f = layoutOf(cls).fields.find((x) => x.name === name)
  if (!f) throw new Error(`@makalu/examples: ${cls.name} has no field ${name}`)
  return f.offset
}

/** This heap's type id for `cls`, registering the type (durably) on first use. */
export function typeIdOf(heap: PHeap, cls: Class): number {
  return heap.typeId(cls)
}

const scratchF64 = new Float64Array(1)
const scratchU32 = new Uint32Array(scratchF64.buffer)

/**
 * One view of the heap, 32-bit record pointers: PersistentMap and PersistentList read heaps of
 * at most 4 GiB; a wider one (pobj's heaps over 4 GiB) is an ArgumentError before anything is made.
 */
export function refuseWide(heap: PHeap): void {
  if (heap.raw.maxSize > 2 ** 32) {
    throw new ArgumentError(`examples: PersistentMap and PersistentList are not supported in heaps over 4 GiB yet (this one may grow to ${heap.raw.maxSize} bytes); nothing was written`)
  }
}

export class BlockIO {
  readonly raw: AllocHeap
  u8!: Uint8Array
  u32!: Uint32Array
  f64!: Float64Array
  buf!: FastBuffer

  constructor(readonly heap: PHeap) {
    this.raw = heap.raw
    refuseWide(heap)
    this.refresh()
  }

  get inTx(): boolean { return this.raw.inTransaction }
  get power(): boolean { return this.raw.region.durability === 'power' }

  /** Re-creates the views after the region grew (and tells pobj, whose handles read through its own view). */
  refresh(): void {
    const b = this.raw.bytes
    if (b === this.u8) return
    this.u8 = b
    this.u32 = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4) // not >>> 2: 4 GiB >>> 2 is 0
    this.f64 = new Float64Array(b.buffer, b.byteOffset, Math.floor(b.byteLength / 8))
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength) as FastBuffer
  }

  /** A zeroed block of `size` bytes (in a transaction: freed again if it aborts). */
  alloc(size: number): number {
    const p = this.raw.alloc(size)
    if (this.raw.bytes !== this.u8) this.refresh()
    return p
  }

  /** A new object block of a type: tag written, fields zero. Not flushed. */
  allocObject(typeId: number, size: number): number {
    const p = this.alloc(size)
    this.u32[p >>> 2] = typeId
    return p
  }

  /** A zeroed pobj array block of `length` refs to objects of type `elemTypeId`; not flushed. */
  allocRefArray(elemTypeId: number, length: number): number {
    const p = this.alloc(ARRAY_HEADER_SIZE + length * 8)
    const u32 = this.u32
    u32[p >>> 2] = TAG_ARRAY
    this.u8[p + ARR_ELEM] = KIND_CODE.ref
    u32[(p + ARR_LENGTH) >>> 2] = length
    u32[(p + ARR_ELEM_TYPE) >>> 2] = elemTypeId
    return p
  }

  /** A zeroed pobj record array block of `length` elements (all empty); not flushed. */
  allocRecordArray(length: number): number {
    const p = this.alloc(ARRAY_HEADER_SIZE + length * 8)
    this.u32[p >>> 2] = TAG_ARRAY
    this.u8[p + ARR_ELEM] = KIND_CODE.record
    this.u32[(p + ARR_LENGTH) >>> 2] = length
    return p
  }

  /** p is an allocated record array block of a power-of-two length ≥ minLength that fits its block. */
  recordArrayProblem(p: number, minLength: number): string | null {
    if (!this.blockOk(p)) return `slot array pointer ${p} is not an allocated block`
    if (this.u32[p >>> 2] !== TAG_ARRAY || this.u8[p + ARR_ELEM] !== KIND_CODE.record) return `block ${p} is not a record array`
    const n = this.u32[(p + ARR_LENGTH) >>> 2]
    if (n < minLength || (n & (n - 1)) !== 0) return `slot array length ${n} is not a power of two ≥ ${minLength}`
    if (ARRAY_HEADER_SIZE + n * 8 > this.raw.usableSize(p)) return `slot array length ${n} overruns its ${this.raw.usableSize(p)}-byte block`
    return null
  }

  /** Writes s at byte address `at` (`len` bytes: ASCII, UTF-8 or, when `wide`, UTF-16LE). */
  writeText(at: number, s: string, len: number, wide: boolean): void {
    const n = s.length
    if (len === n) {
      const u8 = this.u8
      for (let i = 0; i < n; i++) u8[at + i] = s.charCodeAt(i)
    } else if (wide) this.buf.write(s, at, len, 'utf16le')
    else this.buf.utf8Write(s, at, len)
  }

  /** The string of `len` bytes at byte address `at` (UTF-16LE when `wide`). */
  readText(at: number, len: number, wide: boolean): string {
    if (wide) return this.buf.toString('utf16le', at, at + len)
    if (len < 24) {
      // Short ASCII: String.fromCharCode is cheaper than a slice; anything else decodes as UTF-8.
      const u8 = this.u8
      let ascii = true
      for (let i = 0; i < len; i++) if (u8[at + i] > 0x7f) { ascii = false; break }
      if (ascii) {
        let s = ''
        for (let i = 0; i < len; i++) s += String.fromCharCode(u8[at + i])
        return s
      }
    }
    return this.buf.utf8Slice(at, at + len)
  }

  /** Whether the `len` bytes at `at` hold s (UTF-16LE when `wide`); no allocation for ASCII. */
  textEquals(at: number, len: number, wide: boolean, s: string): boolean {
    const n = s.length
    if (wide) return len === 2 * n && this.readText(at, len, true) === s
    if (len === n) {
      // As many bytes as code units: equal when s is ASCII and the bytes are its codes.
      const u8 = this.u8
      let i = 0
      for (; i < n; i++) { const c = s.charCodeAt(i); if (c > 0x7f) break; if (u8[at + i] !== c) return false }
      if (i === n) return true
    }
    if (len < n) return false
    return this.buf.utf8Slice(at, at + len) === s
  }

  /** The length of the array block at p. */
  arrayLength(p: number): number { return this.u32[(p + ARR_LENGTH) >>> 2] }

  // ── structural checks (cheap; each returns what is wrong, or null) ─────────
  /** p is an allocated ref array block of a power-of-two length ≥ minLength that fits its block. */
  refArrayProblem(p: number, minLength: number): string | null {
    if (!this.blockOk(p)) return `slot array pointer ${p} is not an allocated block`
    const u32 = this.u32
    if (u32[p >>> 2] !== TAG_ARRAY || this.u8[p + ARR_ELEM] !== KIND_CODE.ref) return `block ${p} is not a ref array`
    const n = u32[(p + ARR_LENGTH) >>> 2]
    if (n < minLength || (n & (n - 1)) !== 0) return `slot array length ${n} is not a power of two ≥ ${minLength}`
    if (ARRAY_HEADER_SIZE + n * 8 > this.raw.usableSize(p)) return `slot array length ${n} overruns its ${this.raw.usableSize(p)}-byte block`
    return null
  }

  /** p is an allocated object block of type typeId. */
  objectProblem(p: number, typeId: number, what: string): string | null {
    if (!this.blockOk(p)) return `${what} pointer ${p} is not an allocated block`
    if (this.u32[p >>> 2] !== typeId) return `${what} at ${p} has type id ${this.u32[p >>> 2]}, not ${typeId}`
    return null
  }

  /** p is 0 (the empty string) or an allocated string block whose bytes fit it. */
  stringProblem(p: number, what: string): string | null {
    if (p === 0) return null
    if (!this.blockOk(p)) return `${what} pointer ${p} is not an allocated block`
    const tag = this.u32[p >>> 2]
    if ((tag !== TAG_STRING && tag !== TAG_STRING16) || this.stringSize(p) > this.raw.usableSize(p)) return `${what} at ${p} is not a string block`
    return null
  }

  private blockOk(p: number): boolean {
    return p !== 0 && p % 8 === 0 && p < this.u8.length && this.raw.isAllocated(p)
  }

  /** A pobj string block holding s (0 for ''); not flushed. Returns the pointer; `lastSize` its byte size. */
  newString(s: string, minSize = 0): number {
    const n = s.length
    if (n === 0) { this.lastSize = 0; return 0 }
    let ascii = true
    for (let i = 0; i < n; i++) if (s.charCodeAt(i) > 0x7f) { ascii = false; break }
    // UTF-8 would turn a lone surrogate into U+FFFD: such a string is kept as UTF-16 (pobj's format).
    const wide = !ascii && hasLoneSurrogate(s)
    const len = ascii ? n : wide ? 2 * n : Buffer.byteLength(s, 'utf8')
    const size = STRING_HEADER + len
    const p = this.alloc(size < minSize ? minSize : size)
    const u32 = this.u32
    u32[p >>> 2] = wide ? TAG_STRING16 : TAG_STRING
    u32[(p >>> 2) + 1] = len
    this.writeText(p + STRING_HEADER, s, len, wide)
    this.lastSize = size
    return p
  }
  lastSize = 0

  /** Bytes of the string block at p (header included), 0 for p = 0. */
  stringSize(p: number): number { return p === 0 ? 0 : STRING_HEADER + this.u32[(p >>> 2) + 1] }

  readString(p: number): string {
    return p === 0 ? '' : this.readText(p + STRING_HEADER, this.u32[(p >>> 2) + 1], this.u32[p >>> 2] === TAG_STRING16)
  }

  /** Whether the string block at p (0 = '') holds s; no allocation for ASCII. */
  stringEquals(p: number, s: string): boolean {
    if (p === 0) return s.length === 0
    return this.textEquals(p + STRING_HEADER, this.u32[(p >>> 2) + 1], this.u32[p >>> 2] === TAG_STRING16, s)
  }

  /** Reads the pointer word at addr. */
  ptr(addr: number): number { return this.u32[addr >>> 2] }

  /** Stores a pointer (the high word stays 0: one untorn store). In a transaction, logs the word first. */
  storePtr(addr: number, p: number): void {
    if (this.raw.inTransaction) this.raw.snapshot(addr, 8)
    this.u32[addr >>> 2] = p
  }

  /** Stores two u32 in one aligned 8-byte word with ONE 8-byte store. In a transaction, logs it first. */
  storePair(addr: number, lo: number, hi: number, log = true): void {
    if (log && this.raw.inTransaction) this.raw.snapshot(addr, 8)
    scratchU32[0] = lo
    scratchU32[1] = hi // bit 30 of hi is 0 here (even with a flag in bit 31), so the bits are never a NaN a copy could canonicalise
    this.f64[addr >>> 3] = scratchF64[0]
  }

  flush(p: number, len: number): void { if (len > 0) this.raw.flush(p, len) }
  drain(): void { this.raw.drain() }
  /** Outside a transaction: flush + drain. */
  persist(p: number, len: number): void { this.raw.flush(p, len); this.raw.drain() }
  free(p: number): void { if (p !== 0) this.raw.free(p) }
}
