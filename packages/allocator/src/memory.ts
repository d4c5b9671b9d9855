import * as zlib from 'zlib'
import { Region } from './region/region'

/**
 * The views every layer reads the region through. One shared object, refreshed
 * when the region grows (a grow replaces the underlying buffer).
 */
export class Memory {
  bytes!: Uint8Array
  u32!: Uint32Array

  constructor(readonly region: Region) { this.refresh() }

  refresh(): void {
    const b = this.region.bytes
    this.bytes = b
    this.u32 = new Uint32Array(b.buffer, b.byteOffset, b.length / 4) // not >>> 2: 4 GiB >>> 2 is 0
  }

  /** Reads a stored pointer (an 8-byte word whose high half must be 0; else returns -1). */
  readPointer(off: number): number {
    const i = off >>> 2
    return this.u32[i + 1] === 0 ? this.u32[i] : -1
  }

  /** Writes a pointer as two 4-byte stores, high half first. */
  writePointer(off: number, ptr: number): void {
    const i = off >>> 2
    this.u32[i + 1] = 0
    this.u32[i] = ptr
  }
}

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
