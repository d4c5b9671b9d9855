/**
 * The persisted type table: which stable name each type id means, and each
 * type's fields (name, kind, offset, target). It makes the heap
 * self-describing: recovery traces from it alone, and open checks loaded
 * classes against it. Format: object-format.ts ("Type table block").
 */
import { TypeTableCorruptError, SchemaMismatchError, UnknownTypeError } from './errors'
import { ElementKind, FieldKind, Presence } from './metadata-args'
import { Layout, stableNameOf, absentCode, elemCode } from './layout-builder'
import {
  CODE_KIND, KIND_CODE, FIRST_TYPE_ID, ABSENT_REQUIRED, ABSENT_UNDEFINED, ABSENT_NULL, fieldSize, TAG_TYPE_TABLE, TYPE_TABLE_VERSION, TYPE_TABLE_ROOT,
  TABLE_HEADER_SIZE, TABLE_ENTRY_FIXED, TABLE_ENTRY_FIXED_V2, TABLE_FIELD_FIXED, TBL_VERSION, TBL_COUNT, TBL_USED, HDR_TAG,
  TYPE_TABLE_VERSION_V2, ENT_LAYOUT_VERSION, ENT_FLAGS, ENT_SUCCESSOR_LEN, ENTRY_RETIRED,
  OBJECT_HEADER_SIZE, alignUp, isPointerKind, blockTag,
} from './object-format'

export interface TableField {
  readonly name: string
  readonly kind: FieldKind
  /** For arrays: the element kind. */
  readonly element: ElementKind | undefined
  readonly offset: number
  /** Stable name of a ref's (or ref array's) declared class; '' otherwise. */
  readonly target: string
  /** Whether the value may be absent (and reads as undefined or null). */
  readonly presence: Presence
  /** For enums: 'number' (i32) or 'string' (index into members). */
  readonly enumType: 'number' | 'string' | undefined
  /** For enums: the sorted member values. */
  readonly members: readonly (number | string)[] | undefined
  /** The field's name in the previous layout version of its class, if it was renamed ('' otherwise). */
  readonly prev: string
}
export interface TypeEntry {
  readonly typeId: number
  readonly name: string
  /** 1, 2, …: the layout versions of one stable name, in table order; the last is current. */
  readonly layoutVersion: number
  /** No object of this version is left (a committed migration rewrote them all). */
  readonly retired: boolean
  /** For a class renamed by a migration: the stable name its objects became ('' otherwise). */
  readonly successor: string
  readonly size: number
  readonly fields: readonly TableField[]
}

const utf8 = new TextEncoder()
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/**
 * The entry describing `layout` under `typeId`, as layout version `layoutVersion` of its name;
 * `previous` (the version before) decides each field's `prev`: a former name (`@was`) found there.
 */
export function entryFromLayout(layout: Layout, typeId: number, layoutVersion = 1, previous?: TypeEntry): TypeEntry {
  const before = new Set(previous?.fields.map((f) => f.name) ?? [])
  return {
    typeId, name: layout.stableName, layoutVersion, retired: false, successor: '', size: layout.size,
    fields: layout.fields.map((f) => ({
      name: f.name, kind: f.kind, element: f.element, offset: f.offset,
      target: f.targetClass ? stableNameOf(f.targetClass) : '',
      presence: f.presence, enumType: f.enumType, members: f.members,
      prev: before.has(f.name) ? '' : f.was.find((n) => before.has(n)) ?? '',
    })),
  }
}

/** The members of an enum field as stored (object-format.ts: i32 values, or (u16 len, UTF-8) strings). */
function encodeMembers(f: TableField): Uint8Array {
  if (!f.members) return new Uint8Array(0)
  if (f.enumType === 'number') {
    const out = new Uint8Array(4 * f.members.length)
    const dv = new DataView(out.buffer)
    f.members.forEach((m, i) => dv.setInt32(4 * i, m as number, true))
    return out
  }
  const parts = f.members.map((m) => utf8.encode(m as string))
  const out = new Uint8Array(parts.reduce((n, b) => n + 2 + b.length, 0))
  const dv = new DataView(out.buffer)
  let at = 0
  for (const b of parts) {
    if (b.length > 0xffff) throw new SchemaMismatchError(`pobj: field ${f.name}: an enum member longer than 65535 UTF-8 bytes`, '', [f.name])
    dv.setUint16(at, b.length, true); out.set(b, at + 2); at += 2 + b.length
  }
  return out
}

/** Bytes of one encoded entry (a multiple of 4). */
export function encodeEntry(e: TypeEntry): Uint8Array {
  const name = utf8.encode(e.name)
  const succ = utf8.encode(e.successor)
  const fs = e.fields.map((f) => ({ f, name: utf8.encode(f.name), target: utf8.encode(f.target), members: encodeMembers(f), prev: utf8.encode(f.prev) }))
  let len = TABLE_ENTRY_FIXED + alignUp(name.length + succ.length, 4)
  for (const x of fs) {
    if (x.members.length > 0xffff) throw new SchemaMismatchError(`pobj: ${e.name}.${x.f.name}: the enum's members take more than 65535 bytes`, e.name, [x.f.name])
    len += TABLE_FIELD_FIXED + alignUp(x.name.length + x.target.length + x.members.length + x.prev.length, 4)
  }
  const out = new Uint8Array(len)
  const dv = new DataView(out.buffer)
  dv.setUint32(0, e.typeId, true)
  dv.setUint32(4, e.size, true)
  dv.setUint16(8, name.length, true)
  dv.setUint16(10, fs.length, true)
  dv.setUint16(ENT_LAYOUT_VERSION, e.layoutVersion, true)
  dv.setUint16(ENT_FLAGS, e.retired ? ENTRY_RETIRED : 0, true)
  dv.setUint16(ENT_SUCCESSOR_LEN, succ.length, true)
  out.set(name, TABLE_ENTRY_FIXED)
  out.set(succ, TABLE_ENTRY_FIXED + name.length)
  let at = TABLE_ENTRY_FIXED + alignUp(name.length + succ.length, 4)
  for (const x of fs) {
    dv.setUint8(at, KIND_CODE[x.f.kind])
    dv.setUint8(at + 1, elemCode(x.f))
    dv.setUint16(at + 2, x.name.length, true)
    dv.setUint32(at + 4, x.f.offset, true)
    dv.setUint16(at + 8, x.target.length, true)
    dv.setUint8(at + 10, absentCode(x.f.presence))
    dv.setUint16(at + 12, x.members.length, true)
    dv.setUint16(at + 14, x.prev.length, true)
    out.set(x.name, at + TABLE_FIELD_FIXED)
    out.set(x.target, at + TABLE_FIELD_FIXED + x.name.length)
    out.set(x.members, at + TABLE_FIELD_FIXED + x.name.length + x.target.length)
    out.set(x.prev, at + TABLE_FIELD_FIXED + x.name.length + x.target.length + x.members.length)
    at += TABLE_FIELD_FIXED + alignUp(x.name.length + x.target.length + x.members.length + x.prev.length, 4)
  }
  return out
}

/** Reads the table block at `ptr` (capacity `cap` bytes); throws TypeTableCorruptError on any inconsistency. */
export function decodeTable(bytes: Uint8Array, ptr: number, cap: number): TypeEntry[] { // bytes: the block's segment, ptr: its offset there
  const bad = (what: string): never => { throw new TypeTableCorruptError(`pobj: the type table at ${ptr} is damaged: ${what}`) }
  if (ptr < 0 || ptr % 8 !== 0 || ptr + TABLE_HEADER_SIZE > bytes.length) bad('pointer out of range') // 0: a block at a segment's start (the root is not 0)
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (blockTag(dv, ptr) !== TAG_TYPE_TABLE) bad(`tag ${blockTag(dv, ptr)}`)
  const version = dv.getUint32(ptr + TBL_VERSION, true)
  if (version !== TYPE_TABLE_VERSION && version !== TYPE_TABLE_VERSION_V2) bad(`version ${version}`)
  const fixed = version === TYPE_TABLE_VERSION ? TABLE_ENTRY_FIXED : TABLE_ENTRY_FIXED_V2
  const count = dv.getUint32(ptr + TBL_COUNT, true)
  const used = dv.getUint32(ptr + TBL_USED, true)
  const end = ptr + TABLE_HEADER_SIZE + used
  if (TABLE_HEADER_SIZE + used > cap || end > bytes.length) bad(`used ${used} exceeds the block`)
  const text = (at: number, n: number): string => {
    if (at + n > end) bad('a name runs past the table')
    try { return utf8Strict.decode(bytes.subarray(at, at + n)) } catch { return bad('a name is not UTF-8') }
  }
  const out: TypeEntry[] = []
  const ids = new Set<number>()
  /** The last layout version seen of each name: versions go 1, 2, … in table order. */
  const versions = new Map<string, number>()
  let at = ptr + TABLE_HEADER_SIZE
  for (let i = 0; i < count; i++) {
    if (at + fixed > end) bad(`entry ${i} runs past the table`)
    const typeId = dv.getUint32(at, true)
    const size = dv.getUint32(at + 4, true)
    const nameLen = dv.getUint16(at + 8, true)
    const nFields = dv.getUint16(at + 10, true)
    const layoutVersion = fixed === TABLE_ENTRY_FIXED ? dv.getUint16(at + ENT_LAYOUT_VERSION, true) : 1
    const flags = fixed === TABLE_ENTRY_FIXED ? dv.getUint16(at + ENT_FLAGS, true) : 0
    const succLen = fixed === TABLE_ENTRY_FIXED ? dv.getUint16(at + ENT_SUCCESSOR_LEN, true) : 0
    const name = text(at + fixed, nameLen)
    const successor = text(at + fixed + nameLen, succLen)
    if (typeId < FIRST_TYPE_ID || ids.has(typeId)) bad(`entry ${i} has type id ${typeId}`)
    if (name.length === 0 || layoutVersion !== (versions.get(name) ?? 0) + 1) bad(`entry ${i} is layout version ${layoutVersion} of '${name}'`)
    if ((flags & ~ENTRY_RETIRED) !== 0) bad(`entry ${i} has flags ${flags}`)
    if (size < OBJECT_HEADER_SIZE || size % 8 !== 0) bad(`type ${name} has size ${size}`)
    ids.add(typeId); versions.set(name, layoutVersion)
    if (successor !== '' && (flags & ENTRY_RETIRED) === 0) bad(`entry ${i} has a successor but is not retired`)
    at += fixed + alignUp(nameLen + succLen, 4)
    const fields: TableField[] = []
    for (let j = 0; j < nFields; j++) {
      if (at + TABLE_FIELD_FIXED > end) bad(`type ${name} field ${j} runs past the table`)
      const code = CODE_KIND[dv.getUint8(at)]
      const kindOrNone = code === 'record' ? undefined : code // 'record' is an element kind only
      const elemCode = dv.getUint8(at + 1)
      const fnLen = dv.getUint16(at + 2, true)
      const offset = dv.getUint32(at + 4, true)
      const tLen = dv.getUint16(at + 8, true)
      const absent = dv.getUint8(at + 10)
      const mLen = dv.getUint16(at + 12, true)
      const pLen = fixed === TABLE_ENTRY_FIXED ? dv.getUint16(at + 14, true) : 0
      const fname = text(at + TABLE_FIELD_FIXED, fnLen)
      const target = text(at + TABLE_FIELD_FIXED + fnLen, tLen)
      if (!kindOrNone) return bad(`type ${name} field ${fname} has kind code ${dv.getUint8(at)}`)
      const kind: FieldKind = kindOrNone
      const element = kind === 'array' ? CODE_KIND[elemCode] as ElementKind | undefined : undefined
      if (kind === 'array' && (!element || !['i32', 'u32', 'f64', 'i64', 'ref', 'string', 'record'].includes(element))) bad(`type ${name} field ${fname} has element code ${elemCode}`)
      if (kind === 'enum' && elemCode !== KIND_CODE.i32 && elemCode !== KIND_CODE.string) bad(`type ${name} field ${fname} has enum storage code ${elemCode}`)
      if (absent !== ABSENT_REQUIRED && absent !== ABSENT_UNDEFINED && absent !== ABSENT_NULL) bad(`type ${name} field ${fname} has absent code ${absent}`)
      const presence: Presence = absent === ABSENT_UNDEFINED ? 'optional' : absent === ABSENT_NULL ? 'nullable' : 'required'
      if (presence !== 'required' && (kind === 'i64' || kind === 'ref' || kind === 'array')) bad(`type ${name} field ${fname}: a ${kind} can not be ${presence}`)
      const fsize = fieldSize(kind, absent, elemCode)
      if (offset < OBJECT_HEADER_SIZE || offset % fsize !== 0 || offset + fsize > size) bad(`type ${name} field ${fname} at offset ${offset}`)
      const mAt = at + TABLE_FIELD_FIXED + fnLen + tLen
      if (mAt + mLen > end) bad(`type ${name} field ${fname}: its members run past the table`)
      let enumType: 'number' | 'string' | undefined
      let members: Array<number | string> | undefined
      if (kind === 'enum') {
        enumType = elemCode === KIND_CODE.i32 ? 'number' : 'string'
        members = []
        if (enumType === 'number') {
          if (mLen % 4 !== 0) bad(`type ${name} field ${fname}: members of ${mLen} bytes`)
          for (let m = 0; m < mLen; m += 4) members.push(dv.getInt32(mAt + m, true))
        } else {
          for (let m = 0; m < mLen;) {
            if (m + 2 > mLen) bad(`type ${name} field ${fname}: a member runs past its list`)
            const n = dv.getUint16(mAt + m, true)
            if (m + 2 + n > mLen) bad(`type ${name} field ${fname}: a member runs past its list`)
            members.push(text(mAt + m + 2, n))
            m += 2 + n
          }
        }
        if (members.length === 0 || members.some((v, i) => i > 0 && !(members![i - 1] < v))) bad(`type ${name} field ${fname}: enum members empty or not sorted`)
      } else if (mLen !== 0) bad(`type ${name} field ${fname}: a ${kind} field with members`)
      const prev = text(mAt + mLen, pLen)
      fields.push({ name: fname, kind, element, offset, target, presence, enumType, members, prev })
      at += TABLE_FIELD_FIXED + alignUp(fnLen + tLen + mLen + pLen, 4)
    }
    out.push({ typeId, name, layoutVersion, retired: (flags & ENTRY_RETIRED) !== 0, successor, size, fields })
  }
  if (at !== end) bad(`used ${used} but entries end at ${at - ptr - TABLE_HEADER_SIZE}`)
  return out
}

/** The differences between a stored entry and a loaded layout, one line per field ([] when equal). */
export function diffEntry(stored: TypeEntry, layout: Layout): string[] {
  const want = entryFromLayout(layout, stored.typeId)
  const out: string[] = []
  const describe = (f: TableField) =>
    `${f.presence === 'required' ? '' : `${f.presence} `}${f.kind}${f.element ? `<${f.element}>` : ''}` +
    `${f.members ? `{${f.members.map((m) => JSON.stringify(m)).join(',')}}` : ''}${f.target ? ` -> ${f.target}` : ''} @${f.offset}`
  const byName = new Map(stored.fields.map((f) => [f.name, f]))
  for (const f of want.fields) {
    const s = byName.get(f.name)
    if (!s) out.push(`${f.name}: not in the heap (class has ${describe(f)})`)
    else if (describe(s) !== describe(f)) out.push(`${f.name}: heap has ${describe(s)}, class has ${describe(f)}`)
    byName.delete(f.name)
  }
  for (const s of byName.values()) out.push(`${s.name}: in the heap (${describe(s)}), not in the class`)
  if (out.length === 0 && stored.size !== want.size) out.push(`size: heap has ${stored.size}, class has ${want.size}`)
  return out
}

/** Pointer offsets of each type id, from a decoded table: all the tracer needs. */
export function pointerMap(entries: readonly TypeEntry[]): Map<number, Uint32Array> {
  const m = new Map<number, Uint32Array>()
  for (const e of entries) m.set(e.typeId, Uint32Array.from(e.fields.filter((f) => isPointerKind(f.kind)).map((f) => f.offset)))
  return m
}

/** What the type table needs from the heap. `durable` flushes and drains now, even inside a transaction. */
export interface TableHost {
  /** The bytes of the 4 GiB segment holding offset p (the whole heap up to 4 GiB): index them with p >>> 0. */
  bytesAt(p: number): Uint8Array
  readonly inTransaction: boolean
  alloc(size: number): number
  free(ptr: number): void
  usableSize(ptr: number): number
  getRoot(name: string): number
  setRoot(name: string, ptr: number): void
  /** Schedules write-back of a range; `drain` waits for it. */
  flush(off: number, len: number): void
  drain(): void
  durable(off: number, len: number): void
}

/** Bytes kept free after growth, so classes first used inside a transaction can still be appended. */
const SPARE_BYTES = 2048
const MIN_TABLE_BLOCK = 4096

/** The loaded table of one open heap: decoded entries plus the crash-safe append/grow protocol. */
export class TypeTable {
  private entries: TypeEntry[] = []
  private readonly byName = new Map<string, TypeEntry[]>()
  private readonly byId = new Map<number, TypeEntry>()
  /** Each entry's byte offset from the start of the table block (for in-place flag stores). */
  private readonly entryAt = new Map<number, number>()
  private nextId = FIRST_TYPE_ID
  /** The format version of the block in the heap (2 is rewritten as 3 at its first change). */
  private blockVersion = TYPE_TABLE_VERSION

  private constructor(private readonly host: TableHost) {}

  /** Loads the table under TYPE_TABLE_ROOT, creating an empty one (durably) if the heap has none. */
  static load(host: TableHost): TypeTable {
    const t = new TypeTable(host)
    const ptr = host.getRoot(TYPE_TABLE_ROOT)
    if (ptr === 0) {
      if (host.inTransaction) throw new UnknownTypeError('pobj: the heap has no type table and one can not be created inside a transaction')
      t.writeNewBlock([], MIN_TABLE_BLOCK)
    } else {
      const bytes = host.bytesAt(ptr)
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      const entries = decodeTable(bytes, ptr >>> 0, host.usableSize(ptr))
      t.blockVersion = dv.getUint32((ptr >>> 0) + TBL_VERSION, true)
      t.indexAll(entries)
    }
    return t
  }

  /**
   * Reads the table again from the heap (another heap attached to the file may have appended
   * to it, or rewritten it: call under that heap's lock). Entries are only ever appended or
   * flagged, so type ids known before keep their meaning.
   */
  reload(): void {
    const ptr = this.host.getRoot(TYPE_TABLE_ROOT)
    if (ptr === 0) return
    const bytes = this.host.bytesAt(ptr)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.blockVersion = dv.getUint32((ptr >>> 0) + TBL_VERSION, true)
    this.indexAll(decodeTable(bytes, ptr >>> 0, this.host.usableSize(ptr)))
  }

  get all(): readonly TypeEntry[] { return this.entries }
  /** The current (last) layout version of a stable name. */
  byStableName(name: string): TypeEntry | undefined { const v = this.byName.get(name); return v?.[v.length - 1] }
  /** Every layout version of a stable name, oldest first. */
  versionsOf(name: string): readonly TypeEntry[] { return this.byName.get(name) ?? [] }
  byTypeId(id: number): TypeEntry | undefined { return this.byId.get(id) }

  /** Appends `layout` as the next layout version of its stable name (the first if new), durably; returns the entry. */
  append(layout: Layout): TypeEntry {
    const previous = this.byStableName(layout.stableName)
    const entry = entryFromLayout(layout, this.nextId, (previous?.layoutVersion ?? 0) + 1, previous)
    const enc = encodeEntry(entry)
    const ptr = this.host.getRoot(TYPE_TABLE_ROOT)
    const bytes = this.host.bytesAt(ptr)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const used = dv.getUint32((ptr >>> 0) + TBL_USED, true)
    const cap = this.host.usableSize(ptr) - TABLE_HEADER_SIZE
    const fits = used + enc.length <= cap && (this.host.inTransaction || cap - used - enc.length >= SPARE_BYTES / 2)
    if (fits && this.blockVersion === TYPE_TABLE_VERSION) {
      this.appendInPlace(ptr, used, enc)
      this.entryAt.set(entry.typeId, TABLE_HEADER_SIZE + used)
      this.index(entry)
    } else if (this.host.inTransaction) {
      throw new UnknownTypeError(`pobj: class ${layout.cls.name} is first used inside a transaction and the type table is full; pass it in \`types\` at create/open`)
    } else {
      this.writeNewBlock([...this.entries, entry], 2 * (TABLE_HEADER_SIZE + used + enc.length) + SPARE_BYTES)
    }
    return entry
  }

  /**
   * Marks layout versions as having no objects left, durably (outside transactions), with the
   * stable name a renamed class's objects became (`successors`). In place, each flag is one
   * 2-byte store, then one drain; with a successor, or in a version-2 block, the table is rewritten.
   */
  retire(typeIds: readonly number[], successors: ReadonlyMap<number, string> = new Map()): void {
    const todo = typeIds.filter((id) => this.byId.get(id)?.retired === false)
    if (todo.length === 0) return
    const next = this.entries.map((e) => (todo.includes(e.typeId) ? { ...e, retired: true, successor: successors.get(e.typeId) ?? '' } : e))
    if (this.blockVersion !== TYPE_TABLE_VERSION || todo.some((id) => successors.has(id))) { // a name to add: rewritten whole
      const ptr = this.host.getRoot(TYPE_TABLE_ROOT)
      this.writeNewBlock(next, this.host.usableSize(ptr))
      return
    }
    const ptr = this.host.getRoot(TYPE_TABLE_ROOT)
    const bytes = this.host.bytesAt(ptr)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (const id of todo) {
      const at = ptr + (this.entryAt.get(id) as number) + ENT_FLAGS
      dv.setUint16(at >>> 0, ENTRY_RETIRED, true)
      this.host.flush(at, 2)
    }
    this.host.drain()
    this.indexAll(next)
  }

  /**
   * Append in place. Steps:
   *  1. write the entry past `used` (not yet part of the table) and make it durable;
   *  2. COMMIT: store (count+1, used+len), one aligned 8-byte word; make it durable.
   */
  private appendInPlace(ptr: number, used: number, enc: Uint8Array): void {
    const at = ptr + TABLE_HEADER_SIZE + used
    const bytes = this.host.bytesAt(ptr)
    bytes.set(enc, at >>> 0)
    this.host.durable(at, enc.length)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    dv.setUint32((ptr >>> 0) + TBL_COUNT, this.entries.length + 1, true)
    dv.setUint32((ptr >>> 0) + TBL_USED, used + enc.length, true)
    this.host.durable(ptr + TBL_COUNT, 8)
  }

  /**
   * Grow or rewrite (outside transactions only). Steps:
   *  1. allocate a block, write the whole table (format version 3), make it durable (unreachable so far);
   *  2. COMMIT: setRoot(TYPE_TABLE_ROOT, new) (durable on return);
   *  3. free the old block (a crash before this leaves it unreachable: recovery reclaims it).
   */
  private writeNewBlock(entries: TypeEntry[], minSize: number): void {
    const encs = entries.map(encodeEntry)
    const used = encs.reduce((n, e) => n + e.length, 0)
    const ptr = this.host.alloc(Math.max(minSize, TABLE_HEADER_SIZE + used))
    const bytes = this.host.bytesAt(ptr)
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const lp = ptr >>> 0 // the block's offset in its segment
    dv.setUint32(lp + HDR_TAG, TAG_TYPE_TABLE, true)
    dv.setUint32(lp + TBL_VERSION, TYPE_TABLE_VERSION, true)
    dv.setUint32(lp + TBL_COUNT, entries.length, true)
    dv.setUint32(lp + TBL_USED, used, true)
    let at = lp + TABLE_HEADER_SIZE
    for (const e of encs) { bytes.set(e, at); at += e.length }
    this.host.durable(ptr, TABLE_HEADER_SIZE + used)
    const old = this.host.getRoot(TYPE_TABLE_ROOT)
    this.host.setRoot(TYPE_TABLE_ROOT, ptr)
    if (old !== 0) this.host.free(old)
    this.blockVersion = TYPE_TABLE_VERSION
    this.indexAll(entries)
  }

  /** Replaces the index with `entries` (offsets as in a version-3 block of them). */
  private indexAll(entries: readonly TypeEntry[]): void {
    this.entries = []
    this.byName.clear()
    this.byId.clear()
    this.entryAt.clear()
    let at = TABLE_HEADER_SIZE
    for (const e of entries) {
      this.entryAt.set(e.typeId, at)
      at += encodeEntry(e).length
      this.index(e)
    }
  }

  private index(e: TypeEntry): void {
    this.entries.push(e)
    let v = this.byName.get(e.name)
    if (!v) this.byName.set(e.name, (v = []))
    v.push(e)
    this.byId.set(e.typeId, e)
    this.nextId = Math.max(this.nextId, e.typeId + 1)
  }
}
