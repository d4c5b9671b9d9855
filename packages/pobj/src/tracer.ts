/**
 * The precise tracer pobj gives the allocator for recovery. It is built from
 * the type table persisted in the heap image, never from loaded classes, so a
 * heap recovers the same whichever classes the process has.
 *
 * Per block, by its tag: a string or the type table is pointer-free; an array
 * block is scanned only when it holds refs or strings, and only its [0, length) slots; a
 * growable array's header holds one pointer (its elements block); an object visits the pointer fields of
 * its type (string, ref and array fields: the blocks they point to must be
 * marked, strings and number arrays are then never scanned). Dates, enums and optional
 * numbers and booleans hold no pointer; a forwarder (an upgraded object) points at its new block only; an optional or nullable string is 0 (absent) or a
 * string block pointer like any string field, so the same offsets cover every kind.
 */
import type { TraceContext, Tracer } from './heap-port'
import { decodeTable, pointerMap } from './type-table'
import {
  TAG_STRING, TAG_STRING16, TAG_BYTES, TAG_ARRAY, TAG_ARRAY_HEAD, TAG_TYPE_TABLE, TAG_FORWARD, TYPE_TABLE_ROOT, ARRAY_HEADER_SIZE, ARRAY_HEAD_SIZE,
  ARR_ELEMENTS, PTR_SIZE, isPointerElement,
} from './object-format'

/** A tracer factory for `Heap.open(..., { tracer })`: reads the table from `ctx` when recovery starts. */
export function pobjTracer(ctx: TraceContext): Tracer {
  const tablePtr = ctx.getRoot(TYPE_TABLE_ROOT)
  const entries = tablePtr === 0 ? [] : decodeTable(ctx.bytes, tablePtr, ctx.bytes.length - tablePtr)
  return new PreciseTracer(pointerMap(entries))
}

/** Follows the pointer words at the given offsets of each type id. */
export class PreciseTracer implements Tracer {
  private cachedBytes: Uint8Array | null = null
  private u32: Uint32Array = new Uint32Array(0)
  /** Reachable blocks whose tag the table did not know (not scanned); 0 in a sound heap. */
  unknownBlocks = 0

  constructor(private readonly offsets: Map<number, Uint32Array>) {}

  /** Visits each pointer with the offset of its word, so that recovery can null a stale one. */
  trace(bytes: Uint8Array, ptr: number, size: number, visit: (p: number, at?: number) => void): void {
    if (bytes !== this.cachedBytes) {
      this.cachedBytes = bytes
      this.u32 = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) // not >>> 2: 4 GiB >>> 2 is 0
    }
    const w = this.u32
    const base = ptr >>> 2
    const tag = w[base]
    if (tag === TAG_STRING || tag === TAG_STRING16 || tag === TAG_TYPE_TABLE || tag === TAG_BYTES) return
    if (tag === TAG_FORWARD) { // an upgraded object: only its new block is live (its word is not 8-aligned: never nulled)
      if (w[base + 1] !== 0) visit(w[base + 1])
      return
    }
    if (tag === TAG_ARRAY) {
      if (!isPointerElement(w[base + 1] & 0xff)) return
      const n = Math.min(w[base + 2], (size - ARRAY_HEADER_SIZE) / PTR_SIZE)
      for (let i = 0, at = base + ARRAY_HEADER_SIZE / 4; i < n; i++, at += 2) {
        const p = w[at]
        if (p !== 0 && w[at + 1] === 0) visit(p, at * 4)
      }
      return
    }
    if (tag === TAG_ARRAY_HEAD) {
      if (size < ARRAY_HEAD_SIZE) return
      const at = base + ARR_ELEMENTS / 4
      const p = w[at]
      if (p !== 0 && w[at + 1] === 0) visit(p, at * 4)
      return
    }
    const offs = this.offsets.get(tag)
    // A reachable block is always initialised durably before it is published, so an
    // unknown tag is damage; nothing is guessed. A pointer that is not a block is stale: recovery nulls it.
    if (offs === undefined) { this.unknownBlocks++; return }
    for (let i = 0; i < offs.length; i++) {
      const off = offs[i]
      if (off + PTR_SIZE > size) continue
      const at = base + (off >>> 2)
      const p = w[at]
      if (p !== 0 && w[at + 1] === 0) visit(p, at * 4)
    }
  }
}
