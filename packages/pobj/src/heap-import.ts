/**
 * Import of a whole-heap export (export-format.ts) into a heap, matching each record's type
 * to a class by stable name and each field by name: the documented way to move data between
 * heaps and between versions of the classes. A field of the class missing in the data reads
 * as its kind's default (what `new` gives); a field in the data the class lacks is an
 * ImportError naming it, unless `dropUnknownFields`.
 *
 * Crash safety, in order:
 *  1. every block (objects, arrays, strings) is allocated and written outside any
 *     transaction and flushed, not drained: nothing points to them, so a crash (or an
 *     ImportError, which frees them) leaves them unreachable, and recovery reclaims them;
 *  2. refs to records not yet read are patched after the last record (flushed);
 *  3. drain: every block is durable;
 *  4. COMMIT: one transaction sets every root. Its undo log holds one root slot per root,
 *     never an object, so an import of any number of objects fits; only the number of roots
 *     is bounded by the log (checked from the header before anything is written).
 * So after a crash at any point the heap holds all of the export's roots or none of them.
 * The import is synchronous: no collection can run between 1 and 4 (onProgress must not
 * use the heap).
 *
 * Memory: the id → block table (4 bytes per record), the list of blocks written (to free
 * them on an error) and the pending forward refs (12 bytes each); one line is parsed at a
 * time, read from the file in 1 MiB chunks.
 */
import * as fs from 'fs'
import { ArgumentError, TransactionError, format as HF } from '@makalu/allocator'
import type { PHeap } from './pheap'
import { ImportError } from './errors'
import { Class, ElementKind, metadataArgs } from './metadata-args'
import { Persistent, field } from './decorators'
import { Layout, FieldLayout, layoutOf, stableNameOf, isPersistentClass } from './layout-builder'
import {
  ARRAY_HEAD_SIZE, ARR_ELEMENTS, FIRST_TYPE_ID, ARRAY_HEADER_SIZE, ELEMENT_SIZE, KIND_CODE, ARR_ELEM, ARR_ELEM_TYPE, RESERVED_ROOT_PREFIX, ABSENT_F64, OPT_BOOL_FALSE, OPT_BOOL_TRUE, isAbsentSlot, writePtr, writeArrayHeader, writeArrayHeadHeader,
  REC_REF, REC_VACATED, recordByteLength,
} from './object-format'
import { stringEncoding, valueBlockSize, writeStringBlock, writeBytesBlock } from './value-blocks'
import { recordSeal, recordSize, writeRecord } from './record-blocks'
import { EXPORT_FORMAT, EXPORT_VERSION, F64_SPECIAL, ExportHeader, ExportedType } from './export-format'

export interface ImportOptions {
  /**
   * The classes to match the records' types to, by stable name (classes already bound in the
   * heap, and @Persistent classes unique by stable name, are found too). `'from-export'`
   * recreates a class per type from the export's own type table (the newest entry of each
   * stable name, fields in offset order): a copy without the application, as `makalu import` does.
   */
  types?: Class[] | 'from-export'
  /** Ignore fields of the data that the class lacks (they are listed in the report). Default: ImportError. */
  dropUnknownFields?: boolean
  /** Called with (records read, total records) every 4096 records and at the end. Must not use the heap. */
  onProgress?: (done: number, total: number) => void
}
export interface ImportReport {
  objects: number
  roots: string[]
  ms: number
  /** `Type.field` of data fields the classes lack, dropped (dropUnknownFields). */
  droppedFields: string[]
  /** `Type.field` of class fields the export's type table lacks: they read their default. */
  defaultedFields: string[]
}

const PROGRESS_EVERY = 4096
const OBJECT_KEYS: ReadonlySet<string> = new Set(['id', 'type', 'fields'])
const ARRAY_KEYS: ReadonlySet<string> = new Set(['id', 'array', 'of', 'fixed', 'items'])
const utf8Strict = new TextDecoder('utf-8', { fatal: true })

/**
 * Imports the export `input` (a file path, or its lines) into `heap`: all of its roots are
 * published in one transaction at the end, or, on an ImportError (malformed data, with its
 * line number) or any other error, none, and every block written is freed again.
 * A root of the export that the heap already has is an ImportError, before anything is written.
 */
export function importHeap(heap: PHeap, input: string | Iterable<string>, opts: ImportOptions = {}): ImportReport {
  if (heap.closed) throw new ArgumentError('pobj: import: the heap is closed')
  if (heap.inTransaction) throw new TransactionError('pobj: import inside a transaction; call it after the transaction')
  if (heap.raw.readOnly) throw new ArgumentError('pobj: import: the heap is open read-only')
  if (heap.raw.maxSize > 2 ** 32) throw new ArgumentError('pobj: import: whole-heap import into a heap over 4 GiB is not supported yet (fromPlain of a graph is)')
  const t0 = performance.now()
  const imp = new Importer(heap, opts)
  try {
    let n = 0
    for (const raw of typeof input === 'string' ? fileLines(input) : input) {
      n++
      const line = raw.endsWith('\n') ? raw.slice(0, -1) : raw
      if (n === 1) imp.header(line)
      else imp.record(line, n)
    }
    if (n === 0) throw new ImportError('pobj: import: line 1: the input is empty (no header)', 'line 1')
    imp.finish(n)
  } catch (e) {
    imp.abort()
    throw e
  } finally {
    imp.dispose()
  }
  return { ...imp.report(), ms: performance.now() - t0 }
}

/** The lines of a file, read in 1 MiB chunks (a line ends at "\n"; the last may lack it). */
function* fileLines(file: string): Generator<string> {
  const fd = fs.openSync(file, 'r')
  try {
    const chunk = Buffer.allocUnsafe(1 << 20)
    let carry: Buffer[] = []
    let lineNo = 0
    const decode = (parts: Buffer[]): string => {
      lineNo++
      try { return utf8Strict.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts)) } catch {
        throw new ImportError(`pobj: import: line ${lineNo}: not UTF-8`, `line ${lineNo}`)
      }
    }
    for (;;) {
      const got = fs.readSync(fd, chunk, 0, chunk.length, null)
      if (got === 0) break
      let start = 0
      for (let nl = chunk.indexOf(10, 0); nl >= 0 && nl < got; nl = chunk.indexOf(10, start)) {
        carry.push(chunk.subarray(start, nl))
        yield decode(carry)
        carry = []
        start = nl + 1
      }
      if (start < got) carry.push(Buffer.from(chunk.subarray(start, got))) // a copy: the chunk is reused
    }
    if (carry.length > 0) yield decode(carry)
  } finally {
    fs.closeSync(fd)
  }
}

/** A growable list of u32. */
class U32List {
  a = new Uint32Array(1024)
  n = 0
  push(v: number): void {
    if (this.n === this.a.length) { const b = new Uint32Array(this.a.length * 2); b.set(this.a); this.a = b }
    this.a[this.n++] = v
  }
}

/** What a ref (or array field, or ref array element) must point to. */
interface Expect { kind: 'ref' | 'array'; cls: Class | undefined; element: ElementKind | undefined; where: string }

interface TypePlan { layout: Layout; typeId: number; dropped: Set<string> }

class Importer {
  private dv!: DataView
  private u8!: Uint8Array
  private words!: Uint32Array
  private buf!: Buffer
  private total = 0
  private roots: Array<[string, number]> = []
  private table = new Uint32Array(0)
  private seen = 0
  private readonly written = new U32List()
  private readonly fixAddr = new U32List()
  private readonly fixId = new U32List()
  private readonly fixLine = new U32List()
  private readonly fixExpect = new U32List()
  private readonly expects: Expect[] = []
  private readonly expectIndex = new Map<string, number>()
  private readonly fieldExpect = new Map<FieldLayout, number>()
  private readonly plans = new Map<string, TypePlan>()
  private readonly layoutsById = new Map<number, Layout>()
  private readonly classes = new Map<string, Class>()
  private readonly synthesized: Class[] = []
  private exportedTypes = new Map<string, ExportedType>()
  private readonly enumIndex = new Map<FieldLayout, Map<unknown, number>>()
  private readonly defaulted = new Set<string>()
  private published = false

  constructor(private readonly heap: PHeap, private readonly opts: ImportOptions) {
    if (Array.isArray(opts.types)) for (const c of opts.types) this.classes.set(stableNameOf(c), c)
    else if (opts.types !== undefined && opts.types !== 'from-export') {
      throw new ArgumentError(`pobj: import: types must be an array of classes or 'from-export', got ${String(opts.types)}`)
    }
    this.refresh()
  }

  private refresh(): void {
    const b = this.heap.raw.bytes
    if (b === this.u8) return
    this.u8 = b
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    this.words = new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4)
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  }

  private bad(line: number, what: string): never {
    throw new ImportError(`pobj: import: line ${line}: ${what}`, `line ${line}`)
  }

  private parse(text: string, line: number): Record<string, unknown> {
    if (text.length === 0) this.bad(line, 'an empty line')
    let v: unknown
    try { v = JSON.parse(text) } catch (e) {
      return this.bad(line, `not JSON (${(e as Error).message}); a truncated or damaged file?`)
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.bad(line, 'not a JSON object')
    return v as Record<string, unknown>
  }

  // ── line 1 ───────────────────────────────────────────────────────────────
  header(text: string): void {
    const h = this.parse(text, 1) as Partial<ExportHeader>
    if (h.format !== EXPORT_FORMAT) this.bad(1, `not a makalu heap export (format ${JSON.stringify(h.format)}, expected "${EXPORT_FORMAT}")`)
    if (h.version !== EXPORT_VERSION) this.bad(1, `export version ${JSON.stringify(h.version)}; this pobj reads version ${EXPORT_VERSION}`)
    if (!Number.isSafeInteger(h.objects) || (h.objects as number) < 0 || (h.objects as number) >= 2 ** 32) this.bad(1, `bad object count ${JSON.stringify(h.objects)}`)
    this.total = h.objects as number
    if (!Array.isArray(h.types)) this.bad(1, 'the type table (types) is missing')
    for (const t of h.types) {
      if (t === null || typeof t !== 'object' || typeof t.name !== 'string' || !Array.isArray(t.fields)) this.bad(1, 'a malformed entry in types')
      this.exportedTypes.set(t.name, t) // later entries of a name are newer versions
    }
    if (h.roots === null || typeof h.roots !== 'object' || Array.isArray(h.roots)) this.bad(1, 'the roots are missing')
    const existing = new Set(this.heap.rootNames())
    for (const [name, id] of Object.entries(h.roots)) {
      if (name.startsWith(RESERVED_ROOT_PREFIX)) this.bad(1, `root name '${name}' is reserved`)
      if (id === null) continue
      if (!this.isId(id)) this.bad(1, `root '${name}' has bad id ${JSON.stringify(id)} (ids are 1..${this.total})`)
      if (existing.has(name)) this.bad(1, `the heap already has a root '${name}'; import into a new heap, or remove it first`)
      this.roots.push([name, id as number])
    }
    const perRoot = HF.LOG_ENTRY_HEADER + HF.ROOT_SLOT_SIZE
    if (HF.LOG_HEADER_SIZE + this.roots.length * perRoot > this.heap.raw.undoLogBytes) {
      this.bad(1, `${this.roots.length} roots do not fit in one transaction of this heap's undo log ` +
        `(${this.heap.raw.undoLogBytes} bytes, ${perRoot} per root); create the heap with a larger logSize`)
    }
    if (this.opts.types === 'from-export') this.synthesize()
    this.table = new Uint32Array(this.total + 1)
  }

  private isId(v: unknown): v is number {
    return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= this.total
  }

  // ── records ──────────────────────────────────────────────────────────────
  record(text: string, line: number): void {
    const r = this.parse(text, line)
    const id = r.id
    if (!this.isId(id)) this.bad(line, `bad id ${JSON.stringify(id)} (ids are 1..${this.total}, from the header)`)
    if (this.table[id] !== 0) this.bad(line, `id ${id} is used twice`)
    const keys = typeof r.type === 'string' ? OBJECT_KEYS : ARRAY_KEYS
    for (const k in r) if (!keys.has(k)) this.bad(line, `unknown key ${JSON.stringify(k)} in a record`)
    let p: number
    if (typeof r.type === 'string') p = this.object(r.type, r.fields, line)
    else if (typeof r.array === 'string') p = this.array(r.array, r.of, r.items, r.fixed === true, line)
    else return this.bad(line, 'a record with neither "type" nor "array"')
    this.table[id] = p
    if (++this.seen % PROGRESS_EVERY === 0) this.opts.onProgress?.(this.seen, this.total)
  }

  private alloc(size: number): number {
    const p = this.heap.raw.alloc(size)
    this.written.push(p)
    this.refresh()
    return p
  }

  private classFor(name: string, line: number): Class {
    let c = this.classes.get(name)
    if (c) return c
    try { c = this.heap.classForStableName(name) } catch {
      return this.bad(line, `no class for type '${name}'; pass it in types (or types: 'from-export')`)
    }
    this.classes.set(name, c)
    return c
  }

  private plan(name: string, line: number): TypePlan {
    let pl = this.plans.get(name)
    if (pl) return pl
    const layout = layoutOf(this.classFor(name, line))
    const typeId = this.heap.typeId(layout.cls)
    this.refresh()
    pl = { layout, typeId, dropped: new Set() }
    this.plans.set(name, pl)
    this.layoutsById.set(typeId, layout)
    const exported = this.exportedTypes.get(name)
    if (exported) for (const f of layout.fields) if (!exported.fields.some((x) => x.name === f.name)) this.defaulted.add(`${name}.${f.name}`)
    return pl
  }

  private object(type: string, fields: unknown, line: number): number {
    const pl = this.plan(type, line)
    const l = pl.layout
    if (fields !== undefined && (fields === null || typeof fields !== 'object' || Array.isArray(fields))) this.bad(line, '"fields" is not an object')
    const p = this.alloc(l.size)
    const dv = this.dv
    dv.setUint32(p, pl.typeId, true)
    for (const off of l.absentSlots) dv.setFloat64(p + off, ABSENT_F64, true)
    for (const [off, v] of l.enumDefaults) dv.setInt32(p + off, v, true)
    if (fields) {
      for (const k in fields as Record<string, unknown>) {
        const f = l.byName.get(k)
        if (!f) {
          if (this.opts.dropUnknownFields) { pl.dropped.add(k); continue }
          this.bad(line, `${type}.${k} is in the data but not in class ${l.cls.name}; add the field, or pass dropUnknownFields`)
        }
        this.field(p, f, (fields as Record<string, unknown>)[k], line, `${type}.${k}`)
      }
    }
    this.heap.raw.flush(p, l.size)
    return p
  }

  /** A fixed array is one tag-2 block; a growable one a header pointing at one (object-format.ts). */
  private array(kindName: string, of: unknown, items: unknown, fixed: boolean, line: number): number {
    if (!Object.prototype.hasOwnProperty.call(ELEMENT_SIZE, kindName)) this.bad(line, `array of unknown element kind '${kindName}'`)
    const kind = kindName as ElementKind
    if (!Array.isArray(items)) this.bad(line, '"items" is not an array')
    let elemTypeId = 0
    let cls: Class | undefined
    if (kind === 'ref') {
      if (typeof of !== 'string') this.bad(line, 'a ref array without "of" (its element type)')
      const pl = this.plan(of, line)
      elemTypeId = pl.typeId
      cls = pl.layout.cls
    }
    const n = items.length
    const es = ELEMENT_SIZE[kind]
    const size = ARRAY_HEADER_SIZE + n * es
    let head = 0
    if (!fixed) {
      head = this.alloc(ARRAY_HEAD_SIZE)
      writeArrayHeadHeader(this.dv, head, KIND_CODE[kind], elemTypeId)
      this.heap.raw.flush(head, ARRAY_HEAD_SIZE)
      if (n === 0) return head
    }
    const p = this.alloc(size)
    let dv = this.dv
    writeArrayHeader(dv, p, KIND_CODE[kind], n, elemTypeId)
    const exp = kind === 'ref' || kind === 'record' ? this.expect('ref', cls, undefined, `array<${of as string}>`) : -1
    for (let i = 0, at = p + ARRAY_HEADER_SIZE; i < n; i++, at += es) {
      const v = items[i]
      const where = `items[${i}]`
      switch (kind) {
        case 'i32': dv.setInt32(at, this.i32(v, line, where), true); break
        case 'u32': dv.setUint32(at, this.u32(v, line, where), true); break
        case 'f64': dv.setFloat64(at, this.f64(v, line, where), true); break
        case 'i64': dv.setBigInt64(at, this.i64(v, line, where), true); break
        case 'ref': this.ref(at, v, exp, line, where); break
        case 'string': {
          if (typeof v !== 'string') this.bad(line, `${where}: expected a string`)
          const q = this.string(v as string, false)
          dv = this.dv
          writePtr(dv, at, q)
          break
        }
        case 'record': this.recordElement(at, v, exp, line, where); dv = this.dv; break
      }
    }
    this.heap.raw.flush(p, size)
    if (fixed) return p
    writePtr(this.dv, head + ARR_ELEMENTS, p)
    this.heap.raw.flush(head, ARRAY_HEAD_SIZE)
    return head
  }

  /** Writes the value `v` of the data into field `f` of the fresh block p (its defaults already written). */
  private field(p: number, f: FieldLayout, v: unknown, line: number, where: string): void {
    const at = p + f.offset
    if (f.kind === 'ref' || f.kind === 'array') {
      let exp = this.fieldExpect.get(f)
      if (exp === undefined) this.fieldExpect.set(f, (exp = this.expect(f.kind, f.targetClass, f.element, where)))
      this.ref(at, v, exp, line, where)
      return
    }
    if (v === null) {
      if (f.presence === 'required') this.bad(line, `${where}: null for a required ${f.kind}`)
      return // absent: what the fresh block holds
    }
    const dv = this.dv
    const optional = f.presence !== 'required'
    if (optional && isAbsentSlot(f.kind, f.enumType === 'number' ? KIND_CODE.i32 : KIND_CODE.string)) {
      let x: number
      switch (f.kind) {
        case 'i32': x = this.i32(v, line, where); break
        case 'u32': x = this.u32(v, line, where); break
        case 'date': x = this.date(v, line, where); break
        case 'enum': x = this.member(f, v, line, where) as number; break
        default: x = this.f64(v, line, where); if (x !== x) x = NaN // canonical: never the ABSENT NaN
      }
      dv.setFloat64(at, x, true)
      return
    }
    switch (f.kind) {
      case 'i32': dv.setInt32(at, this.i32(v, line, where), true); return
      case 'u32': dv.setUint32(at, this.u32(v, line, where), true); return
      case 'f64': dv.setFloat64(at, this.f64(v, line, where), true); return
      case 'i64': dv.setBigInt64(at, this.i64(v, line, where), true); return
      case 'date': dv.setFloat64(at, this.date(v, line, where), true); return
      case 'bool':
        if (typeof v !== 'boolean') this.bad(line, `${where}: expected a boolean, got ${show(v)}`)
        dv.setUint8(at, optional ? (v ? OPT_BOOL_TRUE : OPT_BOOL_FALSE) : v ? 1 : 0)
        return
      case 'string':
        if (typeof v !== 'string') this.bad(line, `${where}: expected a string, got ${show(v)}`)
        writePtr(this.dv, at, this.string(v, optional))
        return
      case 'bytes':
        if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) this.bad(line, `${where}: expected bytes as base64, got ${show(v)}`)
        writePtr(this.dv, at, this.bytesBlock(Buffer.from(v as string, 'base64'), optional))
        return
      case 'enum': {
        const m = this.member(f, v, line, where)
        if (f.enumType === 'number') dv.setInt32(at, m as number, true)
        else dv.setUint32(at, (this.enumIndex.get(f)!.get(m) as number) + (optional ? 1 : 0), true)
        return
      }
    }
  }

  /** A bytes block (0 for required empty bytes), written and flushed. */
  private bytesBlock(b: Uint8Array, emptyAsBlock: boolean): number {
    if (b.length === 0 && !emptyAsBlock) return 0
    const size = valueBlockSize(b.length)
    const q = this.alloc(size)
    writeBytesBlock(this.heap.raw.bytes, this.dv, q, b)
    this.heap.raw.flush(q, size)
    return q
  }

  /** A string block (0 for a required ""), written and flushed. */
  private string(s: string, emptyAsBlock: boolean): number {
    if (s.length === 0 && !emptyAsBlock) return 0
    const enc = stringEncoding(s)
    const size = valueBlockSize(enc.byteLength)
    const q = this.alloc(size)
    writeStringBlock(this.buf, this.dv, q, s, enc)
    this.heap.raw.flush(q, size)
    return q
  }

  private expect(kind: 'ref' | 'array', cls: Class | undefined, element: ElementKind | undefined, where: string): number {
    const key = `${kind}|${element ?? ''}|${cls ? stableNameOf(cls) : ''}`
    let i = this.expectIndex.get(key)
    if (i === undefined) { i = this.expects.length; this.expects.push({ kind, cls, element, where }); this.expectIndex.set(key, i) }
    return i
  }

  /** A ref word: null, or an id (patched at the end when its record comes later). */
  private ref(at: number, v: unknown, exp: number, line: number, where: string): void {
    if (v === null) return
    if (!this.isId(v)) this.bad(line, `${where}: bad id ${show(v)} (ids are 1..${this.total})`)
    const q = this.table[v]
    if (q !== 0) { this.check(q, v, exp, line, where); writePtr(this.dv, at, q); return }
    this.fixAddr.push(at); this.fixId.push(v); this.fixLine.push(line); this.fixExpect.push(exp)
  }

  /**
   * A record element (export: null empty, 0 vacated, { payload, ref }): the record block is
   * written now, its ref (maybe a later line) and then its seal at the end (finish).
   */
  private recordElement(at: number, v: unknown, exp: number, line: number, where: string): void {
    if (v === null) return
    if (v === 0) { this.dv.setUint32(at + 4, REC_VACATED, true); return }
    const r = v as { payload?: unknown; ref?: unknown }
    if (typeof r !== 'object' || typeof r.payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.payload) || r.payload.length % 4 !== 0 || !('ref' in r)) {
      this.bad(line, `${where}: expected a record { payload: base64, ref: id or null }, null or 0, got ${show(v)}`)
    }
    const payload = Buffer.from(r.payload as string, 'base64')
    const q = this.alloc(recordSize(payload.length))
    writeRecord(this.u8, this.words, q, payload, 0)
    this.ref(q + REC_REF, r.ref, exp, line, `${where}.ref`)
    writePtr(this.dv, at, q)
    this.seals.push(at)
  }
  /** Record elements whose seal is stored once every ref is known. */
  private readonly seals = new U32List()

  /** Whether block q (record `id`) is what expectation `exp` allows. */
  private check(q: number, id: number, exp: number, line: number, where: string): void {
    const e = this.expects[exp]
    const dv = this.dv
    const tag = dv.getUint32(q, true)
    // Classes made from the export know no inheritance (the type table has none): any object will do there.
    const raw = this.opts.types === 'from-export'
    const sub = (c: Class | undefined, want: Class | undefined): boolean => !!c && (raw || !want || c === want || c.prototype instanceof want)
    let ok: boolean
    let what: string
    if (tag >= FIRST_TYPE_ID) {
      const l = this.layoutsById.get(tag)
      what = `a ${l?.stableName ?? '?'}`
      ok = e.kind === 'ref' && sub(l?.cls, e.cls)
    } else {
      const elem = dv.getUint8(q + ARR_ELEM)
      const l = this.layoutsById.get(dv.getUint32(q + ARR_ELEM_TYPE, true))
      what = `an array of ${elem === KIND_CODE.ref ? l?.stableName : Object.keys(KIND_CODE).find((k) => KIND_CODE[k as keyof typeof KIND_CODE] === elem)}`
      ok = e.kind === 'array' && elem === KIND_CODE[e.element as ElementKind] && (e.element !== 'ref' || sub(l?.cls, e.cls))
    }
    if (!ok) {
      const want = e.kind === 'ref' ? `a ${e.cls ? stableNameOf(e.cls) : 'object'}` : `an array of ${e.element === 'ref' ? (e.cls ? stableNameOf(e.cls) : 'refs') : e.element}`
      this.bad(line, `${where}: id ${id} is ${what}, not ${want}`)
    }
  }

  // ── values ───────────────────────────────────────────────────────────────
  private i32(v: unknown, line: number, where: string): number {
    if (typeof v !== 'number' || (v | 0) !== v) this.bad(line, `${where}: expected an i32, got ${show(v)}`)
    return v
  }
  private u32(v: unknown, line: number, where: string): number {
    if (typeof v !== 'number' || v >>> 0 !== v) this.bad(line, `${where}: expected a u32, got ${show(v)}`)
    return v
  }
  private f64(v: unknown, line: number, where: string): number {
    if (typeof v === 'number') return v
    const s = typeof v === 'string' ? F64_SPECIAL.get(v) : undefined
    if (s === undefined) this.bad(line, `${where}: expected a number (or "NaN", "Infinity", "-Infinity", "-0"), got ${show(v)}`)
    return s
  }
  private i64(v: unknown, line: number, where: string): bigint {
    let b: bigint | undefined
    if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) b = BigInt(v)
    else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v)
    if (b === undefined || b < -(2n ** 63n) || b >= 2n ** 63n) this.bad(line, `${where}: expected an i64 (a decimal string), got ${show(v)}`)
    return b
  }
  private date(v: unknown, line: number, where: string): number {
    const ms = typeof v === 'string' ? Date.parse(v) : typeof v === 'number' ? new Date(v).getTime() : NaN
    if (ms !== ms) this.bad(line, `${where}: expected a date (an ISO 8601 string), got ${show(v)}`)
    return ms
  }
  private member(f: FieldLayout, v: unknown, line: number, where: string): number | string {
    let m = this.enumIndex.get(f)
    if (!m) { m = new Map((f.members ?? []).map((x, i) => [x, i])); this.enumIndex.set(f, m) }
    if (!m.has(v)) this.bad(line, `${where}: ${show(v)} is not a member of the enum (${(f.members ?? []).map((x) => JSON.stringify(x)).join(', ')})`)
    return v as number | string
  }

  // ── the end ──────────────────────────────────────────────────────────────
  finish(lines: number): void {
    if (this.seen !== this.total) {
      this.bad(lines, `the file ends after ${this.seen} of the header's ${this.total} records: it is truncated`)
    }
    const { fixAddr, fixId, fixLine, fixExpect } = this
    for (let i = 0; i < fixAddr.n; i++) {
      const q = this.table[fixId.a[i]]
      this.check(q, fixId.a[i], fixExpect.a[i], fixLine.a[i], this.expects[fixExpect.a[i]].where)
      writePtr(this.dv, fixAddr.a[i], q)
      this.heap.raw.flush(fixAddr.a[i], 8)
    }
    for (let i = 0; i < this.seals.n; i++) {
      const at = this.seals.a[i]
      const q = this.dv.getUint32(at, true)
      this.dv.setUint32(at + 4, recordSeal(this.words, q, this.heap.raw.usableSize(q) + q), true) // nothing reaches the array yet: no commit order
      this.heap.raw.flush(q, recordSize(recordByteLength(this.dv, q)))
      this.heap.raw.flush(at, 8)
    }
    const raw = this.heap.raw
    raw.drain() // step 3: every block durable before any root reaches it
    raw.transaction(() => { for (const [name, id] of this.roots) raw.setRoot(name, this.table[id]) }) // step 4: COMMIT
    this.published = true
    this.opts.onProgress?.(this.seen, this.total)
  }

  /** Frees every block written (nothing reaches them: no root was set). */
  abort(): void {
    if (this.published) return
    const raw = this.heap.raw
    if (raw.closed) return
    try { for (let i = 0; i < this.written.n; i++) raw.free(this.written.a[i]) } catch { /* a failed heap: recovery reclaims them */ }
  }

  report(): Omit<ImportReport, 'ms'> {
    const dropped: string[] = []
    for (const [name, pl] of this.plans) for (const f of pl.dropped) dropped.push(`${name}.${f}`)
    return { objects: this.seen, roots: this.roots.map(([n]) => n), droppedFields: dropped, defaultedFields: [...this.defaulted] }
  }

  // ── classes from the export (types: 'from-export') ─────────────────────────
  /**
   * One @Persistent class per stable name of the export (its newest entry), fields declared in
   * offset order, so the layout builder places them where they were. They are taken out of the
   * process-wide class store again when the import ends (dispose): bound in this heap only.
   */
  private synthesize(): void {
    const made = new Map<string, Class>()
    const classOf = (name: string): Class => {
      let c = made.get(name)
      if (!c) {
        c = { [name]: class {} }[name] as Class
        made.set(name, c)
        this.synthesized.push(c)
      }
      return c
    }
    for (const t of this.exportedTypes.values()) {
      const c = classOf(t.name)
      const proto = c.prototype as object
      for (const f of [...t.fields].sort((a, b) => a.offset - b.offset)) {
        const pres = f.presence === 'optional' ? field.optional : f.presence === 'nullable' ? field.nullable : undefined
        let deco: PropertyDecorator
        if (f.kind === 'ref') deco = field.ref(() => classOf(f.target ?? ''))
        else if (f.kind === 'array') deco = field.array(f.element === 'ref' ? () => classOf(f.target ?? '') : f.element as 'i32')
        else if (f.kind === 'enum') {
          const e = Object.fromEntries((f.members ?? []).map((m, i) => [`m${i}`, m]))
          deco = (pres ?? field).enum(e)
        } else deco = ((pres ?? field) as unknown as Record<string, PropertyDecorator>)[f.kind]
        if (typeof deco !== 'function') throw new ImportError(`pobj: import: line 1: type ${t.name} field ${f.name} has kind ${f.kind}`, 'line 1')
        deco(proto, f.name)
      }
    }
    for (const [name, c] of made) {
      try { Persistent(name)(c) } catch (e) { throw new ImportError(`pobj: import: line 1: type '${name}': ${(e as Error).message}`, 'line 1', { cause: e }) }
      this.classes.set(name, c)
    }
    for (const c of made.values()) if (isPersistentClass(c)) layoutOf(c) // refuse a bad table before writing
  }

  dispose(): void {
    for (const c of this.synthesized) { metadataArgs.classes.delete(c); metadataArgs.fields.delete(c) }
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v)
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 40) + '…' : s
}
