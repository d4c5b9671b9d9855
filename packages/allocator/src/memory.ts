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
    this.u32 = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2)
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
 * A 32-bit hash of the u32 words [from, to), continuing from `h` (murmur3's block mixing;
 * finish with hashFinish). Word-wise: about 4 times faster than FNV-1a over the same bytes.
 * It detects damage, not forgery.
 */
export function hashWords(u: Uint32Array, from: number, to: number, h: number): number {
  for (let i = from; i < to; i++) h = hashWord(h, u[i])
  return h
}

/** One word of hashWords. */
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
