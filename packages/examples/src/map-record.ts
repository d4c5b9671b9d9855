/**
 * The record of one PersistentMap entry: key, value and insertion order in ONE pointer-free
 * block (pobj's record format, object-format.ts "Record"), so that an insert is one block
 * and one sealed slot store, and a lookup touches one block.
 *
 *   record  0 tag=8 │ 4 byteLen │ 8 ref: the value's object (V_OBJECT), else 0 │ 16 payload:
 *
 *   payload 0        4        8        16        20        24                 24 + align8(keyLen)
 *           ┌────────┬────────┬────────┬─────────┬─────────┬──────────────────┬────────────────┐
 *           │ hash   │ kinds  │ seq    │ keyLen  │ valLen  │ key bytes         │ value bytes     │
 *           └────────┴────────┴────────┴─────────┴─────────┴──────────────────┴────────────────┘
 *   hash   the key's stable hash (hashString / hashNumber)
 *   kinds  key kind (byte 0: K_STRING UTF-8, K_STRING16 UTF-16LE, K_NUMBER f64)
 *          | value kind << 8 (V_NUMBER f64, V_STRING UTF-8, V_STRING16 UTF-16LE, V_TRUE, V_FALSE,
 *          V_NULL, V_UNDEFINED: no bytes; V_OBJECT: the record's ref)
 *   seq    insertion sequence number (f64, an integer ≥ 1): the iteration order
 *   keyLen, valLen  byte lengths of the key and value areas (a number: 8)
 * Written whole before it is published, never edited.
 */
import { hasLoneSurrogate } from '@makalu/pobj'

export const K_STRING = 1
export const K_NUMBER = 2
export const K_STRING16 = 3

// Value kinds: the lists' (value-codec.ts) and two more a record can hold.
export { V_NUMBER, V_STRING, V_TRUE, V_FALSE, V_NULL, V_OBJECT } from './value-codec'
export const V_STRING16 = 7
export const V_UNDEFINED = 8

/** Payload offsets. */
export const P_HASH = 0
export const P_KINDS = 4
export const P_SEQ = 8
export const P_KEYLEN = 16
export const P_VALLEN = 20
export const P_KEY = 24

/** Offset of the value area in the payload. */
export const valueAt = (keyLen: number): number => P_KEY + ((keyLen + 7) & ~7)

const f64s = new Float64Array(1)
const u32s = new Uint32Array(f64s.buffer)

function fmix32(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

/** The stored hash of a string key: stable across processes (it is persisted in records). */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return fmix32(h)
}
/** The stored hash of a number key (already SameValueZero-normalised). */
export function hashNumber(n: number): number {
  if ((n | 0) === n) return fmix32((n ^ 0x5bd1e995) >>> 0)
  f64s[0] = n
  return fmix32((u32s[0] ^ Math.imul(u32s[1], 0x9e3779b1)) >>> 0)
}
/** Map's SameValueZero: -0 is 0, every NaN is one key. */
export function normalizeNumber(n: number): number { return n === 0 ? 0 : n !== n ? NaN : n }

/** Whether s is all ASCII (so its UTF-8 bytes are its code units). */
export function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false
  return true
}

/** How the last string given to stringForm is stored (no object per call: this is the hot path). */
export const form = { kind: 0, len: 0 }

/** Sets `form` to how s is stored: its kind (UTF-8 unless it holds a lone surrogate) and byte length. */
export function stringForm(s: string, utf8Kind: number, utf16Kind: number): void {
  if (isAscii(s)) { form.kind = utf8Kind; form.len = s.length } else if (hasLoneSurrogate(s)) { form.kind = utf16Kind; form.len = 2 * s.length } else {
    form.kind = utf8Kind
    form.len = Buffer.byteLength(s, 'utf8')
  }
}
