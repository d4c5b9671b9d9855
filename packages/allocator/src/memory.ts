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
