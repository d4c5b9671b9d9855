/**
 * The value invariants `heap.check()` adds to the allocator's: every allocated object block
 * holds, field by field, a value its stored layout allows (encodings: object-format.ts):
 *   - its type id is in the type table, and the block is at least that layout's size;
 *   - bool: 0 or 1 (optional / nullable: 0 absent, 1 false, 2 true);
 *   - string enum: an index below the member count (optional: 0 absent, else index + 1);
 *     numeric enum: a member (optional: the ABSENT word or a member, as an f64);
 *   - date: a finite number of milliseconds within ±8.64e15 (optional: or the ABSENT word);
 *   - optional i32 / u32: the ABSENT word or an integer of that range, as an f64;
 *   - string, ref, array: a pointer word whose high half is 0; 0, a stale pointer (counted by
 *     the allocator's check as stalePointers, not here), or a block of the right kind: a string
 *     block whose bytes fit it (UTF-8 well-formed), an object (or a forwarder to one), an array
 *     block or growable array header;
 *   - a forwarder points at an allocated object block;
 *   - every element of a record array is empty, vacated, or an allocated, intact record
 *     (record-blocks.ts) whose seal's HAS_REF bit matches its ref, a 0 or allocated block.
 * Reported as "Type@ptr.field: what" lines, at most `limit` of them (then a count).
 */
import type { TypeEntry, TableField } from './type-table'
import {
  TAG_STRING, TAG_STRING16, TAG_BYTES, TAG_ARRAY, TAG_ARRAY_HEAD, TAG_FORWARD, FIRST_TYPE_ID, STRING_HEADER_SIZE, KIND_CODE,
  OPT_BOOL_TRUE, isAbsentSlot, isAbsentWord, blockTag, stringByteLength, forwardTarget, ARR_ELEM, ARR_LENGTH, ARRAY_HEADER_SIZE,
  REC_VACATED, recordRef, readPtr,
} from './object-format'
import { recordIntact } from './record-blocks'

/** What the check reads of the heap. */
export interface ValueCheckHost {
  readonly dv: DataView
  readonly bytes: Uint8Array
  forEachBlock(fn: (p: number, size: number) => void): void
  isAllocated(p: number): boolean
  usableSize(p: number): number
  entry(typeId: number): TypeEntry | undefined
}

const MAX_MS = 8.64e15
const utf8 = new TextDecoder('utf-8', { fatal: true })

export function checkValues(h: ValueCheckHost, limit = 100): string[] {
  const out: string[] = []
  let more = 0
  const bad = (what: string) => { if (out.length < limit) out.push(what); else more++ }
  const dv = h.dv
  const words = new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.byteLength / 4)
  h.forEachBlock((p, size) => {
    const tag = blockTag(dv, p)
    if (tag === TAG_FORWARD) {
      const t = forwardTarget(dv, p)
      if (!h.isAllocated(t) || (blockTag(dv, t) < FIRST_TYPE_ID && blockTag(dv, t) !== TAG_FORWARD)) bad(`forwarder@${p}: target ${t} is not an allocated object`)
      return
    }
    if (tag === TAG_ARRAY && dv.getUint8(p + ARR_ELEM) === KIND_CODE.record) {
      const n = dv.getUint32(p + ARR_LENGTH, true)
      for (let i = 0; i < n; i++) {
        const why = recordElementProblem(h, words, p + ARRAY_HEADER_SIZE + i * 8)
        if (why) bad(`record array@${p}[${i}]: ${why}`)
      }
      return
    }
    if (tag < FIRST_TYPE_ID) return
    const e = h.entry(tag)
    if (!e) { bad(`object@${p}: type id ${tag} is not in the type table`); return }
    if (size < e.size) { bad(`${e.name}@${p}: a block of ${size} bytes holds a layout of ${e.size}`); return }
    for (const f of e.fields) {
      const why = fieldProblem(h, p + f.offset, f)
      if (why) bad(`${e.name}@${p}.${f.name}: ${why}`)
    }
  })
  if (more > 0) out.push(`… and ${more} more value violations`)
  return out
}

function fieldProblem(h: ValueCheckHost, at: number, f: TableField): string | null {
  const dv = h.dv
  const optional = f.presence !== 'required'
  if (optional && isAbsentSlot(f.kind, f.enumType === 'number' ? KIND_CODE.i32 : KIND_CODE.string)) {
    if (isAbsentWord(dv, at)) return null
    const x = dv.getFloat64(at, true)
    return numberProblem(f, x)
  }
  switch (f.kind) {
    case 'bool': {
      const b = dv.getUint8(at)
      return b <= (optional ? OPT_BOOL_TRUE : 1) ? null : `bool byte ${b}`
    }
    case 'date': return numberProblem(f, dv.getFloat64(at, true))
    case 'enum': {
      if (f.enumType === 'number') return numberProblem(f, dv.getInt32(at, true))
      const i = dv.getUint32(at, true)
      const n = (f.members ?? []).length
      return i < n + (f.presence === 'required' ? 0 : 1) ? null : `enum index ${i} of ${n} members`
    }
    case 'string': case 'ref': case 'array': case 'bytes': return pointerProblem(h, at, f)
    default: return null // i32 u32 f64 i64: every bit pattern is a value
  }
}

function recordElementProblem(h: ValueCheckHost, u32: Uint32Array, at: number): string | null {
  const dv = h.dv
  const q = dv.getUint32(at, true)
  const seal = dv.getUint32(at + 4, true)
  if (q === 0) return seal === 0 || seal === REC_VACATED ? null : `no record but a seal of ${seal}`
  if (!h.isAllocated(q)) return `record ${q} is not an allocated block`
  if (!recordIntact(u32, q, seal, q + h.usableSize(q))) return `record ${q} is not intact (tag ${blockTag(dv, q)}; it does not match its seal)`
  const r = recordRef(dv, q)
  if (r !== 0 && !h.isAllocated(r)) return `record ${q} refers to ${r}, which is not an allocated block`
  return null
}

function numberProblem(f: TableField, x: number): string | null {
  switch (f.kind) {
    case 'date': return Number.isFinite(x) && Math.abs(x) <= MAX_MS ? null : `date of ${x} ms`
    case 'i32': return (x | 0) === x ? null : `${x} is not an i32`
    case 'u32': return x >>> 0 === x ? null : `${x} is not a u32`
    case 'enum': return (f.members ?? []).includes(x) ? null : `${x} is not a member of the enum`
    default: return null
  }
}

function pointerProblem(h: ValueCheckHost, at: number, f: TableField): string | null {
  const dv = h.dv
  const hi = dv.getUint32(at + 4, true)
  if (hi !== 0 && dv.byteLength <= 2 ** 32) return `pointer word with high half ${hi}` // a heap of one segment
  const q = readPtr(dv, at)
  if (q === 0) return null
  if (!h.isAllocated(q)) return null // a stale pointer: the allocator's check counts those (stalePointers)
  const tag = blockTag(dv, q)
  if (f.kind === 'string') {
    if (tag !== TAG_STRING && tag !== TAG_STRING16) return `points at a block of tag ${tag}, not a string`
    const n = stringByteLength(dv, q)
    if (STRING_HEADER_SIZE + n > h.usableSize(q)) return `string of ${n} bytes in a block of ${h.usableSize(q)}`
    if (tag === TAG_STRING) {
      try { utf8.decode(new Uint8Array(dv.buffer, dv.byteOffset + q + STRING_HEADER_SIZE, n)) } catch { return 'string bytes are not UTF-8' }
    } else if (n % 2 !== 0) return `UTF-16 string of ${n} bytes`
    return null
  }
  if (f.kind === 'bytes') {
    if (tag !== TAG_BYTES) return `points at a block of tag ${tag}, not bytes`
    const n = stringByteLength(dv, q)
    return STRING_HEADER_SIZE + n > h.usableSize(q) ? `bytes of ${n} in a block of ${h.usableSize(q)}` : null
  }
  if (f.kind === 'ref') return tag >= FIRST_TYPE_ID || tag === TAG_FORWARD ? null : `points at a block of tag ${tag}, not an object`
  return tag === TAG_ARRAY || tag === TAG_ARRAY_HEAD ? null : `points at a block of tag ${tag}, not an array`
}
