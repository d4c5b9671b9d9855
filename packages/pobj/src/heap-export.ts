/**
 * Export of a whole heap: every user root and everything reachable from them, each object
 * and array once, as the NDJSON of export-format.ts. Driven by the heap's persisted type
 * table and readFieldValue only (no class is needed: a heap opened read-only with
 * `types: []` exports the same), and streamed: memory is two bitmaps over the heap
 * (1 bit and 1 word per 32 blocks of 8 bytes: 1/64 + 1/64 of the heap's bytes) plus the mark
 * stack, whatever the number of objects.
 *
 * Passes: (1) mark from the user roots (an explicit stack of block offsets) and count;
 * (2) per 32-bit word of the mark bitmap, the number of marks before it (the id of a block
 * is its rank in address order, computed in O(1) from those counts); (3) write the header,
 * then one record per marked block in address order.
 */
import * as fs from 'fs'
import * as path from 'path'
import { ArgumentError, HeapCorruptError, TransactionError } from '@makalu/allocator'
import type { PHeap } from './pheap'
import type { TableField, TypeEntry } from './type-table'
import { readFieldValue } from './stored-values'
import {
  resolveForwarders,
  TAG_ARRAY, TAG_ARRAY_HEAD, TAG_STRING16, FIRST_TYPE_ID, ARRAY_HEADER_SIZE, STRING_HEADER_SIZE, ELEMENT_SIZE, CODE_KIND, KIND_CODE,
  RECORD_HEADER_SIZE, arrayElemCode, arrayLength, arrayElemType, arrayElements, blockTag, readPtr, stringByteLength, recordByteLength, recordRef,
} from './object-format'
import { EXPORT_FORMAT, EXPORT_VERSION, ExportHeader, ExportedType } from './export-format'
import { storedSources, widening } from './schema-evolution'
import type { ElementKind } from './metadata-args'

export interface ExportOptions {
  /** Called with (records written, total records) every 4096 records and at the end. Must not use the heap. */
  onProgress?: (done: number, total: number) => void
}
export interface ExportReport {
  /** Records written (objects and arrays). */
  objects: number
  roots: number
  bytes: number
  ms: number
  /** Pointers that led to no allocated block (written as null, as recovery treats them). */
  stalePointers: number
}

const PROGRESS_EVERY = 4096

/**
 * The export as lines (no "\n"): the header, then one record per object. Lazy: the heap must
 * not be written until the generator is done (exportHeap writes a file in one call).
 */
export function* exportLines(heap: PHeap, opts: ExportOptions = {}): Generator<string, ExportReport> {
  if (heap.closed) throw new ArgumentError('pobj: export: the heap is closed')
  if (heap.inTransaction) throw new TransactionError('pobj: export inside a transaction; call it after the transaction')
  if (heap.raw.maxSize > 2 ** 32) throw new ArgumentError('pobj: export: whole-heap export of a heap over 4 GiB is not supported yet (toPlain of a graph is)')
  const t0 = performance.now()
  heap.settleRecords() // records are read as intact below
  const w = new HeapWalk(heap)
  const rootNames = heap.rootNames()
  for (const n of rootNames) w.markFrom(heap.raw.getRoot(n))
  w.rank()
  const roots: Record<string, number | null> = {}
  for (const n of rootNames) { const p = w.resolveLive(heap.raw.getRoot(n)); roots[n] = p === 0 ? null : w.idOf(p) }
  const header: ExportHeader = {
    format: EXPORT_FORMAT, version: EXPORT_VERSION, objects: w.count, roots, types: heap.types.all.map(exportedType),
  }
  let bytes = 0
  const line0 = JSON.stringify(header)
  bytes += line0.length + 1
  yield line0
  let done = 0
  for (const p of w.marked()) {
    const line = JSON.stringify(w.record(p))
    bytes += line.length + 1
    yield line
    if (++done % PROGRESS_EVERY === 0) opts.onProgress?.(done, w.count)
  }
  opts.onProgress?.(done, w.count)
  return { objects: done, roots: rootNames.length, bytes, ms: performance.now() - t0, stalePointers: w.stale }
}

/**
 * Writes the export to the new file `out` (ArgumentError if it exists): written beside it,
 * synced, then linked into place, so a crash never leaves a partial file under that name.
 */
export function exportHeap(heap: PHeap, out: string, opts: ExportOptions = {}): ExportReport {
  if (fs.existsSync(out)) throw new ArgumentError(`pobj: export: ${out} exists; export writes a new file`)
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.partial`)
  const fd = fs.openSync(tmp, 'wx')
  let report: ExportReport | undefined
  try {
    const gen = exportLines(heap, opts)
    let buf: string[] = []
    let pending = 0
    for (;;) {
      const r = gen.next()
      if (r.done) { report = r.value; break }
      buf.push(r.value)
      pending += r.value.length
      if (pending >= 1 << 20) { fs.writeSync(fd, buf.join('\n') + '\n'); buf = []; pending = 0 }
    }
    if (buf.length > 0) fs.writeSync(fd, buf.join('\n') + '\n')
    fs.fsyncSync(fd)
  } catch (e) {
    fs.closeSync(fd)
    fs.rmSync(tmp, { force: true })
    throw e
  }
  fs.closeSync(fd)
  try {
    fs.linkSync(tmp, out) // fails if `out` appeared meanwhile: never overwrites
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  try { const d = fs.openSync(path.dirname(out), 'r'); try { fs.fsyncSync(d) } finally { fs.closeSync(d) } } catch { /* not every FS syncs a directory */ }
  return { ...report!, bytes: fs.statSync(out).size }
}

function exportedType(e: TypeEntry): ExportedType {
  return {
    typeId: e.typeId, name: e.name, size: e.size,
    fields: e.fields.map((f) => ({
      name: f.name, kind: f.kind, offset: f.offset, presence: f.presence,
      ...(f.element ? { element: f.element } : {}), ...(f.target ? { target: f.target } : {}),
      ...(f.enumType ? { enumType: f.enumType, members: [...(f.members ?? [])] } : {}),
    })),
  }
}

/** The f64 as JSON can carry it (export-format.ts). */
export function f64Out(x: number): number | string {
  if (x !== x) return 'NaN'
  if (x === Infinity) return 'Infinity'
  if (x === -Infinity) return '-Infinity'
  if (x === 0 && 1 / x < 0) return '-0'
  return x
}

/** Mark bitmap, ranks and record writing over one heap's bytes. */
class HeapWalk {
  private readonly bytes: Uint8Array
  private readonly dv: DataView
  private readonly bits: Uint32Array
  private ranks: Uint32Array = new Uint32Array(0)
  private stack = new Uint32Array(1024)
  private sp = 0
  count = 0
  stale = 0

  constructor(private readonly heap: PHeap) {
    this.bytes = heap.raw.bytes
    this.dv = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)
    this.bits = new Uint32Array(Math.ceil(this.bytes.byteLength / 8 / 32))
  }

  /**
   * The one place a block pointer is resolved: a forwarder (schema versions) stands for the
   * block it points to, so an object reached through either has one id.
   */
  resolve(p: number): number {
    return p !== 0 && p + 8 <= this.bytes.byteLength ? resolveForwarders(this.dv, p) : p // (object-format.ts: forwarders may chain)
  }

  /** resolve(p), or 0 (counted as stale) if that is not an allocated block: as recovery treats it. */
  resolveLive(p: number): number {
    const q = this.resolve(p)
    if (q === 0) return 0
    if (q % 8 !== 0 || !this.heap.raw.isAllocated(q)) { this.stale++; return 0 }
    return q
  }

  private isMarked(p: number): boolean { const i = p / 8; return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0 }

  markFrom(root: number): void {
    this.push(this.resolveLive(root))
    while (this.sp > 0) {
      const p = this.stack[--this.sp]
      const tag = blockTag(this.dv, p)
      if (tag === TAG_ARRAY || tag === TAG_ARRAY_HEAD) {
        // A growable array (header) is one record with the elements of its elements block.
        const code = arrayElemCode(this.dv, p)
        if (code !== KIND_CODE.ref && code !== KIND_CODE.record) continue
        const e = tag === TAG_ARRAY ? p : arrayElements(this.dv, p)
        const n = e === 0 ? 0 : arrayLength(this.dv, e)
        for (let i = 0, at = e + ARRAY_HEADER_SIZE; i < n; i++, at += 8) {
          const q = this.dv.getUint32(at, true)
          // A record is part of its array's line; only the object its ref names is a line of its own.
          if (code === KIND_CODE.record) { if (q !== 0 && recordRef(this.dv, q) !== 0) this.push(this.resolveLive(recordRef(this.dv, q))) } else this.push(this.resolveLive(readPtr(this.dv, at)))
        }
      } else {
        for (const f of this.entryOf(p, tag).fields) {
          if (f.kind === 'ref' || f.kind === 'array') this.push(this.resolveLive(readPtr(this.dv, p + f.offset)))
        }
      }
    }
  }

  /** Marks p (an object or array block) and stacks it, once. */
  private push(p: number): void {
    if (p === 0 || this.isMarked(p)) return
    const tag = blockTag(this.dv, p)
    if (tag !== TAG_ARRAY && tag !== TAG_ARRAY_HEAD && tag < FIRST_TYPE_ID) {
      throw new HeapCorruptError(`pobj: export: a reference leads to block ${p} of tag ${tag}, which is neither an object nor an array`)
    }
    const i = p / 8
    this.bits[i >>> 5] |= 1 << (i & 31)
    this.count++
    if (this.sp === this.stack.length) { const s = new Uint32Array(this.stack.length * 2); s.set(this.stack); this.stack = s }
    this.stack[this.sp++] = p
  }

  private entryOf(p: number, tag: number): TypeEntry {
    const e = this.heap.types.byTypeId(tag)
    if (!e) throw new HeapCorruptError(`pobj: export: the object at ${p} has type id ${tag}, which the type table does not know`)
    return e
  }

  rank(): void {
    const b = this.bits
    const r = new Uint32Array(b.length)
    let n = 0
    for (let i = 0; i < b.length; i++) { r[i] = n; n += popcount(b[i]) }
    this.ranks = r
  }

  /** 1 + the number of marked blocks before p. */
  idOf(p: number): number {
    const i = p / 8
    const w = i >>> 5
    return this.ranks[w] + popcount(this.bits[w] & ((1 << (i & 31)) - 1)) + 1
  }

  *marked(): Generator<number> {
    const b = this.bits
    for (let w = 0; w < b.length; w++) {
      let x = b[w]
      while (x !== 0) {
        const low = x & -x
        yield (w * 32 + (31 - Math.clz32(low))) * 8
        x ^= low
      }
    }
  }

  private refOut(p: number): number | null {
    const q = this.resolveLive(p)
    return q === 0 ? null : this.idOf(q)
  }

  record(p: number): object {
    const dv = this.dv
    const id = this.idOf(p)
    const tag = blockTag(dv, p)
    if (tag === TAG_ARRAY || tag === TAG_ARRAY_HEAD) {
      const kind = CODE_KIND[arrayElemCode(dv, p)] as ElementKind
      const e = tag === TAG_ARRAY ? p : arrayElements(dv, p)
      const n = e === 0 ? 0 : arrayLength(dv, e)
      const items: unknown[] = new Array(n)
      const size = ELEMENT_SIZE[kind]
      for (let i = 0, at = e + ARRAY_HEADER_SIZE; i < n; i++, at += size) {
        switch (kind) {
          case 'i32': items[i] = dv.getInt32(at, true); break
          case 'u32': items[i] = dv.getUint32(at, true); break
          case 'f64': items[i] = f64Out(dv.getFloat64(at, true)); break
          case 'i64': items[i] = dv.getBigInt64(at, true).toString(); break
          case 'ref': items[i] = this.refOut(readPtr(dv, at)); break
          case 'record': items[i] = this.recordOut(dv, at); break
          case 'string': {
            const q = readPtr(dv, at)
            const start = q + STRING_HEADER_SIZE
            items[i] = q === 0 ? '' : Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength)
              .toString(blockTag(dv, q) === TAG_STRING16 ? 'utf16le' : 'utf8', start, start + stringByteLength(dv, q))
            break
          }
        }
      }
      const fixed = tag === TAG_ARRAY ? { fixed: true } : {}
      if (kind !== 'ref') return { id, array: kind, ...fixed, items }
      const of = this.heap.types.byTypeId(arrayElemType(dv, p))?.name
      return of === undefined ? { id, array: kind, ...fixed, items } : { id, array: kind, of, ...fixed, items }
    }
    const e = this.entryOf(p, tag)
    const fields: Record<string, unknown> = {}
    const newest = this.heap.types.byStableName(e.name)
    if (newest !== undefined && newest !== e) {
      // An object of an older layout version: written as the newest version reads it (fields
      // renamed since are followed, removed ones dropped, added ones left to their default).
      const sources = storedSources(e, newest, this.heap.types.versionsOf(e.name))
      // Refs export as ids, so any target will do; every other value must be one the newer field holds.
      const lossless = (from: TableField, nf: TableField) => { const w = widening(from, nf, () => true); return w === 'copy' || w === 'convert' }
      if (newest.fields.every((nf) => !sources.has(nf.name) || lossless(sources.get(nf.name) as TableField, nf))) {
        for (const nf of newest.fields) {
          const from = sources.get(nf.name)
          if (!from) continue
          const v = this.fieldOut(p, from)
          fields[nf.name] = nf.kind === 'i64' && typeof v === 'number' ? String(v) : v
        }
        return { id, type: e.name, fields }
      }
    }
    for (const f of e.fields) fields[f.name] = this.fieldOut(p, f)
    return { id, type: e.name, fields }
  }

  /** A record element: null (empty), 0 (vacated), or { payload: base64, ref: id | null }. */
  private recordOut(dv: DataView, at: number): unknown {
    const q = dv.getUint32(at, true)
    if (q === 0) return dv.getUint32(at + 4, true) === 0 ? null : 0
    const start = q + RECORD_HEADER_SIZE
    const payload = Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString('base64', start, start + recordByteLength(dv, q))
    return { payload, ref: this.refOut(recordRef(dv, q)) }
  }

  private fieldOut(p: number, f: TableField): unknown {
    if (f.kind === 'ref' || f.kind === 'array') return this.refOut(readPtr(this.dv, p + f.offset))
    const v = readFieldValue(this.bytes, p, f)
    if (v === undefined || v === null) return null
    if (f.kind === 'f64' || (f.kind !== 'enum' && typeof v === 'number')) return f64Out(v as number)
    if (typeof v === 'bigint') return v.toString()
    if (v instanceof Date) { const ms = v.getTime(); return ms === ms ? v.toISOString() : 'NaN' }
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64')
    return v
  }
}

function popcount(x: number): number {
  x = x - ((x >>> 1) & 0x55555555)
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

