/**
 * Field values read from the heap bytes and the type table alone, with no class loaded: for
 * tools (a heap dump, an inspector) that must show dates, enums and absent values as the
 * handles do, not as raw words. Encodings: object-format.ts ("Values whose encoding is not a
 * plain number, boolean or pointer"). The handles' accessors (handles.ts) are the fast path;
 * this is the self-describing one.
 */
import type { TableField } from './type-table'
import {
  KIND_CODE, TAG_STRING16, STRING_HEADER_SIZE, OPT_BOOL_ABSENT, OPT_BOOL_TRUE, blockTag, stringByteLength, readPtr,
  isAbsentSlot, isAbsentWord,
} from './object-format'

/** The view of the bytes last read (a DataView per call would cost more than the read). */
let lastBytes: Uint8Array | null = null
let lastDv: DataView = new DataView(new ArrayBuffer(8))

/**
 * The value of field `f` of the object block at `obj`: as a handle reads it (numbers, bigint,
 * boolean, string, a new Date, an enum member, a copy of a bytes value, undefined / null when absent), except that a
 * ref or array field gives the block pointer it holds (null for 0). A stored enum index
 * outside the members gives the string `<enum index i>` (damage is shown, not hidden).
 */
export function readFieldValue(bytes: Uint8Array, obj: number, f: TableField): unknown {
  if (bytes !== lastBytes) { lastBytes = bytes; lastDv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength) }
  const dv = lastDv
  const at = obj + f.offset
  const none = f.presence === 'nullable' ? null : undefined
  const optional = f.presence !== 'required'
  if (optional && isAbsentSlot(f.kind, f.enumType === 'number' ? KIND_CODE.i32 : KIND_CODE.string)) {
    if (isAbsentWord(dv, at)) return none
    const x = dv.getFloat64(at, true)
    return f.kind === 'date' ? new Date(x) : x
  }
  switch (f.kind) {
    case 'i32': return dv.getInt32(at, true)
    case 'u32': return dv.getUint32(at, true)
    case 'f64': return dv.getFloat64(at, true)
    case 'i64': return dv.getBigInt64(at, true)
    case 'date': return new Date(dv.getFloat64(at, true))
    case 'bool': {
      const b = dv.getUint8(at)
      return optional ? (b === OPT_BOOL_ABSENT ? none : b === OPT_BOOL_TRUE) : b !== 0
    }
    case 'string': {
      const p = readPtr(dv, at)
      if (p === 0) return optional ? none : ''
      const start = p + STRING_HEADER_SIZE
      const end = start + stringByteLength(dv, p)
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(blockTag(dv, p) === TAG_STRING16 ? 'utf16le' : 'utf8', start, end)
    }
    case 'bytes': {
      const p = readPtr(dv, at)
      if (p === 0) return optional ? none : new Uint8Array(0)
      const start = p + STRING_HEADER_SIZE // a bytes block's header is a string block's
      return bytes.slice(start, start + stringByteLength(dv, p))
    }
    case 'enum': {
      const members = f.members ?? []
      if (f.enumType === 'number') return dv.getInt32(at, true)
      let i = dv.getUint32(at, true)
      if (optional) { if (i === 0) return none; i-- }
      return i < members.length ? members[i] : `<enum index ${i}>`
    }
    case 'ref': case 'array': { const p = readPtr(dv, at); return p === 0 ? null : p }
  }
}
