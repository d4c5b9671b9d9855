/**
 * Writing the blocks that hold one value: strings and bytes (formats: object-format.ts). The
 * heap's field writers and the whole-heap import both build them here; each caller allocates
 * (its own way: inside or outside a transaction, tracked for a rollback) and flushes.
 */
import { hasLoneSurrogate } from '@makalu/allocator'
import { TAG_STRING, TAG_STRING16, TAG_BYTES, STRING_HEADER_SIZE, writeValueBlockHeader } from './object-format'

/** How `s` is stored: UTF-8, or UTF-16LE when it holds a lone surrogate (UTF-8 would turn it into U+FFFD). */
export function stringEncoding(s: string): { wide: boolean; byteLength: number } {
  const wide = hasLoneSurrogate(s)
  return { wide, byteLength: wide ? 2 * s.length : Buffer.byteLength(s, 'utf8') }
}

/** Block bytes of a string block of `byteLength` encoded bytes (and of a bytes block of that length). */
export const valueBlockSize = (byteLength: number): number => STRING_HEADER_SIZE + byteLength

/** Writes the string block of `s` (encoded as `enc` says) at the allocated block `q`; `buf` is q's 4 GiB segment (index q >>> 0). */
export function writeStringBlock(buf: Buffer, dv: DataView, q: number, s: string, enc: { wide: boolean; byteLength: number }): void {
  writeValueBlockHeader(dv, q, enc.wide ? TAG_STRING16 : TAG_STRING, enc.byteLength)
  buf.write(s, (q >>> 0) + STRING_HEADER_SIZE, enc.byteLength, enc.wide ? 'utf16le' : 'utf8')
}

/** Writes the bytes block of `b` at the allocated block `q`; `u8` is q's 4 GiB segment (index q >>> 0). */
export function writeBytesBlock(u8: Uint8Array, dv: DataView, q: number, b: Uint8Array): void {
  writeValueBlockHeader(dv, q, TAG_BYTES, b.length)
  u8.set(b, (q >>> 0) + STRING_HEADER_SIZE)
}
