/**
 * The on-media formats of pobj blocks. No logic here beyond named accessors.
 * The allocator gives blocks with no header; every block pobj allocates starts
 * with a 4-byte tag saying what it is. Little-endian everywhere; pointers are
 * 8-byte byte offsets from the region start, 0 is null: (lo, hi) means lo + hi · 2^32
 * (hi is 0 in a heap of at most 4 GiB; past 4 GiB, a wide heap, no block crosses a 4 GiB
 * segment boundary, so a block is read through one segment).
 *
 * Tags:  0 = not initialised (a fresh zero-filled block)
 *        1 = string   2 = array (fixed, or a growable array's elements)   3 = type table   7 = bytes
 *        4 = string (UTF-16)   5 = forwarder   6 = growable array header   8 = record
 *        ≥ 16 = object of type id `tag` (one id per layout version of a class)
 *
 * Object block (usable size ≥ layout.size):
 *
 *    0        4        8
 *    ┌────────┬────────┬──────────────────────────────┐
 *    │ typeId │ 0      │ fields at layout offsets…    │
 *    └────────┴────────┴──────────────────────────────┘
 *    Fields are naturally aligned (no field crosses an 8-byte word, so a field
 *    store is never torn), in declaration order, base class first.
 *
 * Forwarder (an object upgraded to a newer layout version of its class; schema-evolution.ts):
 *
 *    0        4          8
 *    ┌────────┬──────────┬──────────────────────────────────────┐
 *    │ 5      │ target   │ the old fields: dead, never read      │
 *    └────────┴──────────┴──────────────────────────────────────┘
 *    The header word of the object's first block, replaced by ONE aligned 8-byte store (the
 *    commit of an upgrade) once the target block, the object in its new layout, is durable.
 *    References made before the upgrade keep pointing here; a reference to a forwarder is a
 *    reference to its target (one object, one handle). The tracer follows `target` only.

 * String block (pointer-free; never scanned):
 *
 *    0        4          8
 *    ┌────────┬──────────┬──────────────────────┐
 *    │ 1      │ byteLen  │ UTF-8 bytes…         │
 *    └────────┴──────────┴──────────────────────┘
 *    The empty string is stored as a null pointer, not a block.
 *
 *    A string that is not well-formed UTF-16 (it holds a lone surrogate, which UTF-8
 *    can not encode) is stored as UTF-16LE code units instead, losslessly:
 *    ┌────────┬──────────┬──────────────────────┐
 *    │ 4      │ byteLen  │ UTF-16LE units…      │
 *    └────────┴──────────┴──────────────────────┘
 *
 * Bytes block (a `bytes` field's value; pointer-free, never scanned):
 *
 *    0        4          8
 *    ┌────────┬──────────┬──────────────────────┐
 *    │ 7      │ byteLen  │ the bytes…           │
 *    └────────┴──────────┴──────────────────────┘
 *    Written whole and never edited (a write makes a new block, as for strings). A required
 *    field stores an empty Uint8Array as a null pointer; an optional or nullable one stores 0
 *    for absent and a zero-length block for empty.
 *
 * Array block (tag 2): a fixed array, or the elements of a growable array:
 *
 *    0        4      5        8        12            16
 *    ┌────────┬──────┬────────┬────────┬─────────────┬──────────────────┐
 *    │ 2      │ elem │ 0      │ length │ elemTypeId  │ elements…        │
 *    └────────┴──────┴────────┴────────┴─────────────┴──────────────────┘
 *    elem is a kind code (i32 u32 f64 i64 ref or string); element i at 16 + i·elemSize.
 *    Ref and string arrays hold pointers (a string element is a string block, '' is 0).
 *    elemTypeId is the declared element type for ref arrays (0 otherwise), informational.
 *    Capacity = ⌊(usable size − 16) / elemSize⌋; only elements [0, length) are meaningful
 *    (the tracer reads no further; slots past length hold garbage, never read or freed).
 *
 * Growable array (tag 6): a header, the array's identity (fields and roots point here),
 * and its elements block, replaced as a whole when it must grow:
 *
 *    header                                                 elements (tag 2, above)
 *    0      4      5      8      12           16            24
 *    ┌──────┬──────┬──────┬──────┬────────────┬─────────────┐      ┌───┬──────┬────────┬─────┬──────────┐
 *    │ 6    │ elem │ 0    │ 0    │ elemTypeId │ elements ───┼─────▶│ 2 │ elem │ length │ ... │ e0 e1 …  │
 *    └──────┴──────┴──────┴──────┴────────────┴─────────────┘      └───┴──────┴────────┴─────┴──────────┘
 *    elements is 0 for an array that never held an element (length 0, capacity 0).
 *    Invariants (heap.check): elements is 0 or an allocated tag-2 block with the header's
 *    elem and elemTypeId, and 16 + length·elemSize ≤ its usable size.
 *    The length lives in the elements block so that the tracer, which sees one block at a
 *    time, knows which slots hold pointers; the header holds one pointer.
 *
 *    Mutations outside a transaction (persistent-array.ts); each has ONE committing store:
 *     push, room left:  1. write the new elements in the slots past length (new string
 *                          blocks first), flush them; drain;
 *                       2. COMMIT: store length (4 bytes); flush; drain.
 *     grow, splice:     1. allocate a new elements block, write length and every element
 *                          (kept ones copied: string and ref pointers move, strings are
 *                          not copied); flush it and any new string block; drain;
 *                       2. COMMIT: store the header's elements pointer; flush; drain;
 *                       3. free the old elements block and the strings removed
 *                          (a crash before that leaves them unreachable: recovery frees them).
 *     pop, truncate:    1. COMMIT: store length; flush; drain;  2. free the removed strings.
 *     set(i, v):        one element store (a string: new block, drain, pointer store, free old).
 *    Inside a transaction the same stores are logged instead (a slot at or past the length
 *    the array had when the transaction first touched it needs no log: it is garbage after a
 *    roll-back), and the frees wait for the commit.
 *
 * Record (tag 8): a block published together with the one store that names it, in ONE drain
 * (record-blocks.ts). It is reached only from a record array, whose element holds the pointer
 * and a seal (a checksum of the record), so that a crash that tore the record is detected:
 *
 *    0        4          8               16
 *    ┌────────┬──────────┬───────────────┬──────────────────────────────┐
 *    │ 8      │ byteLen  │ ref (8 bytes) │ payload (byteLen bytes)…     │
 *    └────────┴──────────┴───────────────┴──────────────────────────────┘
 *    ref: 0, or a pointer to any block, kept alive while the record is; the payload is the
 *    owner's (pointer-free). Bytes past the payload, up to a multiple of 4, are 0 (sealed too).
 *    Written whole and never edited.
 *
 * Record array: an array block (tag 2) whose elem is KIND_CODE.record; each element is
 *
 *    0              4
 *    ┌──────────────┬─────────────────────────────────────────┐
 *    │ ptr          │ seal                                     │
 *    └──────────────┴─────────────────────────────────────────┘
 *    (0, 0)          empty
 *    (0, VACATED)    vacated: held a record once (a hash table's tombstone); no pointer
 *    (ptr, seal)     a record. seal = HAS_REF bit (31: ref ≠ 0) | 0 (bit 30) | a 30-bit hash
 *                    of the record's words [0, 16 + byteLen rounded up to 4) (recordSeal).
 *    The record is INTACT when its tag is 8, it fits its block and its words hash to the seal.
 *    Publishing a record is ONE aligned 8-byte store of its element (pointer and seal together);
 *    the record's bytes and that store may reach media in the same drain, in any order. So:
 *      1. write the record (fresh block), flush it; 2. COMMIT: element := (ptr, seal), flush; 3. drain.
 *    A crash before the drain leaves the old element, or the new one with the record intact, or
 *    the new one with the record torn: crash recovery checks every record element it traces and
 *    stores VACATED in each whose record is not intact (TraceContext.repair), before the sweep,
 *    which then frees the torn block. A record's ref is traced only from an intact record.
 *    Invariant (heap.check): while the heap is open every record element is empty, vacated, or
 *    an allocated, intact record whose seal's HAS_REF bit says whether its ref is non-zero.
 *    A record never replaces another in one drain (the old one would be lost if the new one
 *    tore): an overwrite makes the new record durable first (flush, drain), then stores the element.
 *
 * Type table block (pointer-free; found under root TYPE_TABLE_ROOT):
 *
 *    0        4         8        12       16
 *    ┌────────┬─────────┬────────┬────────┬──────────────────────────────┐
 *    │ 3      │ version │ count  │ used   │ entries… (used bytes)        │
 *    └────────┴─────────┴────────┴────────┴──────────────────────────────┘
 *    count and used share one aligned 8-byte word: the single store that
 *    commits an appended entry (the entry bytes are made durable first).
 *
 *    entry:  0        4        8         10        12        14        16        18   20
 *            ┌────────┬────────┬─────────┬─────────┬─────────┬─────────┬─────────┬────┬──────────────────────────┬────────┐
 *            │ typeId │ size   │ nameLen │ nFields │ layoutV │ flags   │ succLen │ 0  │ name, successor, pad to 4│ fields │
 *            └────────┴────────┴─────────┴─────────┴─────────┴─────────┴─────────┴────┴──────────────────────────┴────────┘
 *    A stable name may have several entries: its layout versions, layoutV = 1, 2, … in table
 *    order; the last is the current one (new objects get its type id). flags bit 0 RETIRED: no
 *    object of this version is left (set by a committed migration, a 2-byte store in place).
 *    successor (succLen bytes, retired entries only): the stable name of the class a migration
 *    renamed this one to, so that old refs declared to this name are known to lead there.
 *    A table of version 2 (12-byte entries: no layoutV, no flags; one entry per name) is read
 *    as all version 1, and is rewritten as version 3 at its first change.
 *    field:  0      1      2         4        8        10       11  12         14         16
 *            ┌──────┬──────┬─────────┬────────┬────────┬────────┬───┬──────────┬──────────┬───────────────────────────────────────┐
 *            │ kind │ elem │ nameLen │ offset │ tgtLen │ absent │ 0 │ membLen  │ prevLen  │ name, target, members, prev, pad to 4 │
 *            └──────┴──────┴─────────┴────────┴────────┴────────┴───┴──────────┴──────────┴───────────────────────────────────────┘
 *    target is the stable name of a ref's (or ref array's) declared class, else empty.
 *    prev (version 3): the field's name in the previous layout version of its class when it
 *    was renamed (`@was`), else empty: the lineage that lets an object of any older version
 *    be read as the current one (schema-evolution.ts).
 *    elem: an array's element kind code; an enum's storage (KIND_CODE.i32: numeric
 *    enum, KIND_CODE.string: string enum); else 0.
 *    absent: ABSENT_REQUIRED, ABSENT_UNDEFINED (optional) or ABSENT_NULL (nullable).
 *    members (enums only, membLen bytes): a numeric enum's values as i32 each, ascending;
 *    a string enum's values, sorted by code unit, each as (u16 byteLen, UTF-8 bytes).
 *    A table of version 1 (12-byte fields, no absent or members) is refused: it had no users.
 *
 * Values whose encoding is not a plain number, boolean or pointer:
 *
 *  date      f64 epoch milliseconds (what Date.getTime() is: no conversion on either path,
 *            exact for every valid Date, which spans ±8.64e15 ms, inside f64's 2^53 integers).
 *            An Invalid Date is refused (FieldTypeError), so a stored date is never NaN.
 *  enum      numeric enum: the value as i32 (a member, checked at every write; `new` writes
 *            the smallest member when 0 is none, so a fresh object reads a member).
 *            string enum: u32 index into the sorted member list of the type table (4 bytes
 *            and no string block per value; a read is an array index, no decoding). Adding
 *            or removing a member changes indices, so it is a schema mismatch at open.
 *            A fresh (zero) field reads the first member in that order.
 *
 *  Optional and nullable fields (absent reads back as undefined / null). Each is ONE
 *  aligned word, so setting or clearing it is one untorn store, like every other field:
 *
 *    bool            1 byte: 0 absent, 1 false, 2 true                 (zero-filled = absent)
 *    string          pointer: 0 absent, else a string block; "" is a zero-length block
 *    string enum     u32: 0 absent, else index + 1                      (zero-filled = absent)
 *    i32 u32 f64     8-byte f64 slot holding the number; absent is the NaN ABSENT_HI:ABSENT_LO
 *    date, num enum  (a payload no write produces: every NaN written is first made the
 *                    canonical NaN 0x7FF8000000000000). A zero-filled slot would read 0, so
 *                    `new` writes ABSENT into these slots (Layout.absentSlots) before the
 *                    block is flushed; an i32 in 8 bytes costs 4 bytes per field.
 *  i64 has no spare bit pattern in 8 bytes, so optional i64 is refused (LayoutError); ref and
 *  array fields are nullable already (0 = null).
 */
import { FieldKind, ElementKind } from './metadata-args'

export const TAG_NONE = 0
export const TAG_STRING = 1
export const TAG_ARRAY = 2
export const TAG_TYPE_TABLE = 3
export const TAG_STRING16 = 4
export const TAG_FORWARD = 5
export const TAG_BYTES = 7
export const TAG_RECORD = 8
/** A growable array's header (its elements are a TAG_ARRAY block). Tag 5 is taken by another block kind. */
export const TAG_ARRAY_HEAD = 6
/** Type ids of objects start here; smaller tags are the block kinds above. */
export const FIRST_TYPE_ID = 16

export const PTR_SIZE = 8
export const OBJECT_HEADER_SIZE = 8
export const STRING_HEADER_SIZE = 8
export const ARRAY_HEADER_SIZE = 16
/** Bytes of a record block before its payload (tag, byteLen, ref). */
export const RECORD_HEADER_SIZE = 16
/** A record array element: the high word of a vacated element (its pointer is 0). */
export const REC_VACATED = 1
/** A record array element's seal: bit 31 says the record's ref is non-zero (recovery must read it). */
export const REC_HAS_REF = 0x80000000
/** Offsets inside a record block. */
export const REC_LEN = 4
export const REC_REF = 8
/** Bytes of a growable array's header block. */
export const ARRAY_HEAD_SIZE = 24
export const TABLE_HEADER_SIZE = 16
export const TABLE_ENTRY_FIXED = 20
export const TABLE_ENTRY_FIXED_V2 = 12
export const TABLE_FIELD_FIXED = 16
export const TYPE_TABLE_VERSION = 3
export const TYPE_TABLE_VERSION_V2 = 2
/** Offsets inside a table entry. */
export const ENT_LAYOUT_VERSION = 12
export const ENT_FLAGS = 14
export const ENT_SUCCESSOR_LEN = 16
/** Entry flag: no object of this layout version is left in the heap. */
export const ENTRY_RETIRED = 1

/** The reserved root holding the type table; every root name starting "pobj." is reserved. */
export const TYPE_TABLE_ROOT = 'pobj.types'
/**
 * The reserved root of a committed migration (schema-evolution.ts), present only while one is
 * being applied. It holds a ref array block:
 *    [ retired ─▶ u32 array (type id to retire, type id it became)…, old₀, new₀, old₁, new₁, … ]
 * each old block to become a forwarder to its new block. Setting this root is the commit.
 */
export const MIGRATION_ROOT = 'pobj.migration'
export const RESERVED_ROOT_PREFIX = 'pobj.'

/** Byte offsets inside the headers. */
export const HDR_TAG = 0
export const STR_LEN = 4
export const ARR_ELEM = 4
export const ARR_LENGTH = 8
export const ARR_ELEM_TYPE = 12
/** In a growable array's header: the pointer to its elements block. */
export const ARR_ELEMENTS = 16
export const TBL_VERSION = 4
export const TBL_COUNT = 8
export const TBL_USED = 12

/** Kind codes as stored in the type table and array headers ('record': array elements only). */
export const KIND_CODE: Readonly<Record<FieldKind | 'record', number>> = {
  i32: 1, u32: 2, f64: 3, i64: 4, bool: 5, string: 6, ref: 7, array: 8, date: 9, enum: 10, bytes: 11, record: 12,
}
export const CODE_KIND: ReadonlyArray<FieldKind | 'record' | undefined> =
  [undefined, 'i32', 'u32', 'f64', 'i64', 'bool', 'string', 'ref', 'array', 'date', 'enum', 'bytes', 'record']

/** Size (= alignment) of a required field of each kind. */
export const KIND_SIZE: Readonly<Record<FieldKind, number>> = {
  i32: 4, u32: 4, f64: 8, i64: 8, bool: 1, string: PTR_SIZE, ref: PTR_SIZE, array: PTR_SIZE, date: 8, enum: 4, bytes: PTR_SIZE,
}

/** The `absent` byte of a type-table field: what an absent value reads as. */
export const ABSENT_REQUIRED = 0
export const ABSENT_UNDEFINED = 1
export const ABSENT_NULL = 2

/** The NaN marking an absent value in an optional 8-byte slot (the canonical NaN is 0x7FF80000:00000000). */
export const ABSENT_HI = 0x7ff8dead
export const ABSENT_LO = 0xa85e0001
/** Optional bool bytes. */
export const OPT_BOOL_ABSENT = 0
export const OPT_BOOL_FALSE = 1
export const OPT_BOOL_TRUE = 2

/** Whether an optional field of `kind` (an enum of storage `elemCode`) lives in an 8-byte slot with the ABSENT NaN. */
export function isAbsentSlot(kind: FieldKind, elemCode: number): boolean {
  return kind === 'i32' || kind === 'u32' || kind === 'f64' || kind === 'date' || (kind === 'enum' && elemCode === KIND_CODE.i32)
}

/** Size (= alignment) of a field: KIND_SIZE, or 8 for an optional number kept in an ABSENT slot. */
export function fieldSize(kind: FieldKind, absent: number, elemCode: number): number {
  return absent !== ABSENT_REQUIRED && isAbsentSlot(kind, elemCode) ? 8 : KIND_SIZE[kind]
}
/** Element size in an array block. */
export const ELEMENT_SIZE: Readonly<Record<ElementKind, number>> = { i32: 4, u32: 4, f64: 8, i64: 8, ref: PTR_SIZE, string: PTR_SIZE, record: 8 }

/** Element kind codes whose slots hold block pointers (which the tracer must follow). */
export function isPointerElement(code: number): boolean {
  return code === KIND_CODE.ref || code === KIND_CODE.string || code === KIND_CODE.record
}

/** Kinds whose field holds a pointer to another block (which recovery must mark). */
export function isPointerKind(kind: FieldKind): boolean {
  return kind === 'string' || kind === 'ref' || kind === 'array' || kind === 'bytes'
}

/** Rounds `n` up to a multiple of `a` (a power of two). */
export function alignUp(n: number, a: number): number {
  return (n + a - 1) & ~(a - 1)
}

/** The tag of the block at `ptr`. */
export function blockTag(dv: DataView, ptr: number): number { return dv.getUint32(ptr + HDR_TAG, true) }
/** The UTF-8 byte length of the string block at `ptr`. */
export function stringByteLength(dv: DataView, ptr: number): number { return dv.getUint32(ptr + STR_LEN, true) }
/** The element kind code of the array block at `ptr`. */
export function arrayElemCode(dv: DataView, ptr: number): number { return dv.getUint8(ptr + ARR_ELEM) }
/** The length of the array block at `ptr`. */
export function arrayLength(dv: DataView, ptr: number): number { return dv.getUint32(ptr + ARR_LENGTH, true) }
/** The declared element type id of a ref array at `ptr`. */
export function arrayElemType(dv: DataView, ptr: number): number { return dv.getUint32(ptr + ARR_ELEM_TYPE, true) }
/** The elements block of the growable array header at `ptr` (0: none yet). */
export function arrayElements(dv: DataView, ptr: number): number { return readPtr(dv, ptr + ARR_ELEMENTS) }
/** Writes the header of a string, UTF-16 string or bytes block (tag, byteLen). */
export function writeValueBlockHeader(dv: DataView, ptr: number, tag: number, byteLength: number): void {
  dv.setUint32(ptr + HDR_TAG, tag, true)
  dv.setUint32(ptr + STR_LEN, byteLength, true)
}
/** Writes the header of an array block (tag 2): element kind code, length, declared element type id. */
export function writeArrayHeader(dv: DataView, ptr: number, elemCode: number, length: number, elemTypeId: number): void {
  dv.setUint32(ptr + HDR_TAG, TAG_ARRAY, true)
  dv.setUint8(ptr + ARR_ELEM, elemCode)
  dv.setUint32(ptr + ARR_LENGTH, length, true)
  dv.setUint32(ptr + ARR_ELEM_TYPE, elemTypeId, true)
}
/** Writes a growable array's header block (tag 6) with no elements block yet. */
export function writeArrayHeadHeader(dv: DataView, ptr: number, elemCode: number, elemTypeId: number): void {
  dv.setUint32(ptr + HDR_TAG, TAG_ARRAY_HEAD, true)
  dv.setUint8(ptr + ARR_ELEM, elemCode)
  dv.setUint32(ptr + ARR_ELEM_TYPE, elemTypeId, true)
}
/** The payload byte length of the record block at `ptr`. */
export function recordByteLength(dv: DataView, ptr: number): number { return dv.getUint32(ptr + REC_LEN, true) }
/** The ref of the record block at `ptr` (0: none). */
export function recordRef(dv: DataView, ptr: number): number { return dv.getUint32(ptr + REC_REF, true) }
/** The target of the forwarder at `ptr`. */
export function forwardTarget(dv: DataView, ptr: number): number { return dv.getUint32(ptr + 4, true) }
/** The block holding the object that a reference to `ptr` means: `ptr`, or the end of its forwarders. */
export function resolveForwarders(dv: DataView, ptr: number): number {
  while (ptr !== 0 && dv.getUint32(ptr, true) === TAG_FORWARD) ptr = dv.getUint32(ptr + 4, true)
  return ptr
}
/** Makes `ptr` a forwarder to `target`: one aligned 8-byte store (tag and target in one word). */
export function writeForwarder(dv: DataView, ptr: number, target: number): void {
  dv.setBigUint64(ptr, BigInt(TAG_FORWARD) | (BigInt(target) << 32n), true)
}
/** A pointer's high word counts 2^32 bytes (a heap over 4 GiB: 4 GiB segments). */
export const PTR_HIGH_UNIT = 2 ** 32
/**
 * Reads the pointer word at `addr`: lo + hi · 2^32. In a heap of at most 4 GiB hi is always 0;
 * past 4 GiB (wide heaps: the allocator's format version 4) it is the pointer's segment.
 */
export function readPtr(dv: DataView, addr: number): number {
  const lo = dv.getUint32(addr, true)
  const hi = dv.getUint32(addr + 4, true)
  return hi === 0 ? lo : hi * PTR_HIGH_UNIT + lo
}
/**
 * Writes a pointer word, never torn. When its high half stays (always, in a heap of at most
 * 4 GiB, where it is 0) the low half is the one 4-byte store that changes; else the word is
 * ONE 8-byte store (wideStore: a Float64Array store of the same bits, as the allocator's
 * Memory.writePointer; a DataView store may be done byte by byte), so a kill leaves the old
 * pointer or the new one, never a mix that past 4 GiB can be another block.
 */
export function writePtr(dv: DataView, addr: number, p: number): void {
  if (p < PTR_HIGH_UNIT && dv.getUint32(addr + 4, true) === 0) { dv.setUint32(addr, p, true); return }
  wideStore(dv, addr, p >>> 0, Math.floor(p / PTR_HIGH_UNIT))
}

const wordViews = new WeakMap<ArrayBuffer, Float64Array[]>()
const scratchF64 = new Float64Array(1)
const scratchU32 = new Uint32Array(scratchF64.buffer)
/** Stores the 8-byte word (lo, hi) at the 8-aligned `addr` of `dv` in ONE 8-byte store (hi < 2^21: never a NaN). */
export function wideStore(dv: DataView, addr: number, lo: number, hi: number): void {
  const buf = dv.buffer as ArrayBuffer
  const at = dv.byteOffset + addr
  const seg = Math.floor(at / PTR_HIGH_UNIT)
  let views = wordViews.get(buf)
  if (views === undefined) wordViews.set(buf, views = [])
  let f64 = views[seg]
  if (f64 === undefined) {
    const start = seg * PTR_HIGH_UNIT
    f64 = views[seg] = new Float64Array(buf, start, Math.floor(Math.min(PTR_HIGH_UNIT, buf.byteLength - start) / 8))
  }
  scratchU32[0] = lo
  scratchU32[1] = hi
  f64[(at >>> 0) / 8] = scratchF64[0]
}
/** The ABSENT NaN as a number: `setFloat64(addr, ABSENT_F64)` stores exactly ABSENT_HI:ABSENT_LO (V8 keeps NaN payloads on DataView stores). */
export const ABSENT_F64: number = (() => {
  const dv = new DataView(new ArrayBuffer(8))
  dv.setUint32(0, ABSENT_LO, true)
  dv.setUint32(4, ABSENT_HI, true)
  return dv.getFloat64(0, true)
})()
/** Whether the 8-byte slot at `addr` holds the ABSENT NaN. */
export function isAbsentWord(dv: DataView, addr: number): boolean {
  return dv.getUint32(addr, true) === ABSENT_LO && dv.getUint32(addr + 4, true) === ABSENT_HI
}
