import * as zlib from 'zlib'
import { Region, SEGMENT_SIZE } from './region/region'

const scratchF64 = new Float64Array(1)
const scratchU32 = new Uint32Array(scratchF64.buffer)

/**
 * The views every layer reads the region through. One shared object, refreshed
 * when the region grows (a grow replaces the underlying buffer).
 *
 * A region over 4 GiB is viewed in segments of 2^32 bytes (region.ts `segments`): the byte
 * at offset p is `seg8[Math.floor(p / 2 ** 32)][p >>> 0]`, its word `seg32[..][p >>> 2]`
 * (`>>>` takes p modulo 2^32, which is the offset within the segment). No block crosses a
 * segment boundary (chunk-space.ts), and the metadata lies in segment 0, so `bytes` and
 * `u32` (segment 0) serve every metadata access, and a block is read through one view.
 */
export class Memory {
  /** Segment 0: the whole region up to 4 GiB. */
  bytes!: Uint8Array
  u32!: Uint32Array
  seg8!: Uint8Array[]
  seg32!: Uint32Array[]
  /** Wide heaps only (mmap: every segment starts 8-aligned): the segments as 8-byte words. */
  seg64!: Float64Array[]
  /** Bytes of the region. */
  size!: number
  /** More than one segment may exist (the region may be or grow over 4 GiB): pointers have a high half. */
  wide: boolean

  constructor(readonly region: Region) {
    this.wide = region.size > SEGMENT_SIZE
    this.refresh()
  }

  /** The heap's layout is known: it ends at `end` bytes, at most (set before any pointer is written). */
  setHeapEnd(end: number): void {
    const wide = end > SEGMENT_SIZE
    if (wide !== this.wide) {
      this.wide = wide
      this.refresh()
    }
  }

  refresh(): void {
    const segs = this.region.segments
    this.seg8 = segs.slice()
    this.seg32 = segs.map((b) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4)) // not >>> 2: 4 GiB >>> 2 is 0
    this.seg64 = this.wide ? segs.map((b) => new Float64Array(b.buffer, b.byteOffset, Math.floor(b.length / 8))) : []
    this.bytes = this.seg8[0]
    this.u32 = this.seg32[0]
    this.size = this.region.size
  }

  /** The segment holding offset p (index it with `p >>> 0`). */
  bytesAt(p: number): Uint8Array { return p < SEGMENT_SIZE ? this.bytes : this.seg8[Math.floor(p / SEGMENT_SIZE)] }
  /** The words of the segment holding offset p (index them with `p >>> 2`). */
  u32At(p: number): Uint32Array { return p < SEGMENT_SIZE ? this.u32 : this.seg32[Math.floor(p / SEGMENT_SIZE)] }

  /** Reads a stored pointer (an 8-byte word; −1 if it is no offset a region can have). */
  readPointer(off: number): number {
    const u = this.u32At(off)
    const i = off >>> 2
    const hi = u[i + 1]
    return hi === 0 ? u[i] : hi < MAX_POINTER_HIGH ? hi * SEGMENT_SIZE + u[i] : -1
  }

  /**
   * Writes a pointer. In a heap of one segment: two 4-byte stores, high half (0) first, the
   * low half commits. In a wide heap the high half may change too, so the word is ONE 8-byte
   * store (a Float64Array store of the same bits): a killed process leaves the old pointer or
   * the new one, never a mix of the two.
   */
  writePointer(off: number, ptr: number): void {
    const u = this.u32At(off)
    const i = off >>> 2
    if (!this.wide) {
      u[i + 1] = 0
      u[i] = ptr
      return
    }
    scratchU32[0] = ptr >>> 0
    scratchU32[1] = Math.floor(ptr / SEGMENT_SIZE)
    this.seg64[Math.floor(off / SEGMENT_SIZE)][i >>> 1] = scratchF64[0]
  }
}

/** A stored pointer's high half is below this (a region is at most 2^38 bytes; 2^21 keeps it a safe integer). */
export const MAX_POINTER_HIGH = 2 ** 21

/** The 8-byte word (lo, hi) as the pointer it stores (lo + hi · 2^32). */
export const pointerOf = (lo: number, hi: number): number => hi === 0 ? lo : hi * SEGMENT_SIZE + lo

/** FNV-1a over bytes [from, to), continuing from `h`. */
export function fnv1a(bytes: Uint8Array, from: number, to: number, h = 0x811c9dc5): number {
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i], 0x01000193)
  return h >>> 0
}

/** FNV-1a of one u32, continuing from `h`. */
export function fnv1aWord(word: number, h: number): number {
  h = Math.imul(h ^ (word & 0xff), 0x01000193)
  h = Math.imul(h ^ ((word >>> 8) & 0xff), 0x01000193)
  h = Math.imul(h ^ ((word >>> 16) & 0xff), 0x01000193)
  h = Math.imul(h ^ (word >>> 24), 0x01000193)
  return h >>> 0
}

/**
 * Mixes one u32 word into a 32-bit hash `h` (murmur3's block step; finish with hashFinish).
 * It detects damage, not forgery.
 */
export function hashWord(h: number, w: number): number {
  let k = Math.imul(w, 0xcc9e2d51)
  k = (k << 15) | (k >>> 17)
  h ^= Math.imul(k, 0x1b873593)
  h = (h << 13) | (h >>> 19)
  return (Math.imul(h, 5) + 0xe6546b64) | 0
}

/** murmur3's finaliser: every input bit reaches every output bit. */
export function hashFinish(h: number, words: number): number {
  h ^= words
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** CRC-32 (zlib's) of bytes, continuing from `crc`: native where Node has it (20.15+), else the same in JS. */
export const crc32: (bytes: Uint8Array, crc?: number) => number =
  typeof zlib.crc32 === 'function' ? (bytes, crc = 0) => zlib.crc32(bytes, crc) : crc32js

let crcTable: Uint32Array | null = null
/** The table-driven CRC-32 zlib computes (reflected polynomial 0xedb88320). */
export function crc32js(bytes: Uint8Array, crc = 0): number {
  let t = crcTable
  if (t === null) {
    t = crcTable = new Uint32Array(256)
    for (let n = 0; n < 256; n++) {
      let c = n
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
      t[n] = c >>> 0
    }
  }
  crc = ~crc
  for (let i = 0; i < bytes.length; i++) crc = t[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8)
  return ~crc >>> 0
}
