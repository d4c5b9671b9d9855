import { Layout } from './superblock'
import { Memory, MAX_POINTER_HIGH } from './memory'
import { ChunkSpace, C_RUN, C_LARGE, bitWord, bitMask } from './chunk-space'
import type { Tracer } from './recovery'

/** The mark bits (one per 16-byte granule of the chunk area), and what marking saw. */
export interface Marks {
  bits: Uint32Array
  /** Blocks marked. */
  marked: number
  /** Pointers a tracer reported that are not the start of a block: treated as null. */
  stale: number
}

/** A block that pushes more children than this (a table of pointers) has them sorted. */
export const SORT_AT = 256

/**
 * Orders pushed children so that the lowest address is popped first: a big table of
 * pointers in hash order would otherwise send the marker to random addresses, one
 * cache and TLB miss per block; in address order it streams through memory.
 */
export function inAddressOrder(pushed: Uint32Array | Float64Array): void {
  pushed.sort()
  pushed.reverse()
}

/**
 * Per chunk, what a block start test needs without a call or a division: the block size of
 * a run, negative for a large head (minus its bytes), 0 otherwise; its reciprocal; the block
 * count of a run. `alloc` places the arrays (parallel marking shares them between threads).
 */
export function blockShapes(layout: Layout, chunks: ChunkSpace,
  alloc: (bytes: number) => ArrayBufferLike = (n) => new ArrayBuffer(n)): { size: Float64Array; inverse: Float64Array; blocks: Uint32Array } {
  const count = chunks.chunkCount
  const size = new Float64Array(alloc(count * 8))
  const inverse = new Float64Array(count)
  const blocks = new Uint32Array(alloc(count * 4))
  for (let c = 0; c < count; c++) {
    if (chunks.kind[c] === C_RUN) {
      size[c] = chunks.classes.sizes[chunks.cls[c]]
      inverse[c] = 1 / size[c]
      blocks[c] = chunks.classes.perChunk[chunks.cls[c]]
    } else if (chunks.kind[c] === C_LARGE) {
      size[c] = -chunks.span[c] * layout.chunkSize // negative: a large head
    }
  }
  return { size, inverse, blocks }
}

/**
 * The block start test over `blockShapes` arrays (for `count` chunks from `dataOff`, chunks of
 * 1 << `shift` bytes): the usable size of the block starting at q, or 0 if q is not a block start.
 */
export function blockStartTest(size: Float64Array, inverse: Float64Array, blocks: Uint32Array, dataOff: number, count: number,
  shift: number): (q: number) => number {
  const chunkMask = (1 << shift) - 1
  const dataEnd = dataOff + count * (chunkMask + 1)
  return (q: number): number => {
    if (q < dataOff || q >= dataEnd || (q & 15) !== 0) return 0 // q & 15: its low bits, past 4 GiB too
    const rel = q - dataOff
    const c = rel < 4294967296 ? rel >>> shift : Math.floor(rel / (chunkMask + 1))
    const s = size[c]
    const off = rel & chunkMask
    if (s > 0) {
      const i = Math.floor((off + 0.5) * inverse[c]) // exact: off and s are small integers
      return i * s === off && i < blocks[c] ? s : 0
    }
    return s < 0 && off === 0 ? -s : 0 // a large head (size < 0 only for one)
  }
}

/**
 * Whether `at`, the word a tracer reported with a stale pointer (`visit(q, at)`), is an
 * aligned 8-byte word of the block [block, blockEnd) being traced: only such a word may be
 * nulled by recovery (the caller still checks that it holds the pointer).
 */
export function staleWordInBlock(at: number | undefined, block: number, blockEnd: number): at is number {
  return at !== undefined && at >= block && at + 8 <= blockEnd && (at & 7) === 0
}

/**
 * Marks every block reachable from `roots` with an explicit stack: precisely with a tracer
 * (a pointer it visits as a leaf is marked and never read: its block holds no pointer),
 * else conservatively (an aligned 8-byte word equal to a block start is a pointer). A root or
 * a traced pointer that is not a block start (with `allocatedOnly`, not an allocated one: the
 * bitmap is trusted while the heap is open) is skipped and counted in `stale`. Reads only,
 * unless `nullStale` (crash recovery): then a stale pointer that the tracer reported with the
 * offset of its word is stored as 0 there (flushed), if that word lies in the traced block
 * and holds the pointer, so that it stays null rather than turning into a later block.
 */
export function markReachable(mem: Memory, layout: Layout, chunks: ChunkSpace, roots: Iterable<number>,
  tracer: Tracer | null, allocatedOnly: boolean, nullStale = false): Marks {
  const dataOff = layout.dataOff
  const count = chunks.chunkCount
  const dataEnd = dataOff + count * layout.chunkSize
  const shift = layout.chunkShift
  const marks = new Uint32Array((count * layout.chunkSize) / 512) // one bit per granule; not >>>: past 4 GiB
  // Offsets past 4 GiB need more than 32 bits: a Float64Array in a wide heap (a process that
  // opens heaps of one segment only keeps this code monomorphic on Uint32Array).
  let stack: Uint32Array | Float64Array = mem.wide ? new Float64Array(1 << 16) : new Uint32Array(1 << 16)
  let sp = 0
  let marked = 0
  let stale = 0

  const { size, inverse, blocks } = blockShapes(layout, chunks)
  const blockStart = blockStartTest(size, inverse, blocks, dataOff, count, shift)
  /** The usable size of the block starting at q, or 0 if q is not a block start (with allocatedOnly: an allocated one). */
  const blockAt = allocatedOnly ? (q: number): number => { const n = blockStart(q); return n > 0 && !chunks.testBit(q) ? 0 : n } : blockStart
  const mark = (p: number, leaf = false): void => {
    const rel = p - dataOff
    const w = bitWord(rel)
    const bit = bitMask(rel)
    if (marks[w] & bit) return
    marks[w] |= bit
    marked++
    if (leaf) return // the tracer vouched that the block holds no pointer: it is never read
    if (sp === stack.length) {
      const bigger = mem.wide ? new Float64Array(stack.length * 2) : new Uint32Array(stack.length * 2)
      bigger.set(stack)
      stack = bigger
    }
    stack[sp++] = p
  }
  for (const r of roots) {
    if (r === 0) continue
    if (blockAt(r) > 0) mark(r)
    else stale++
  }

  const u = mem.u32
  const bytes0 = mem.bytes
  if (tracer) {
    let block = 0
    let blockEnd = 0
    const visit = (q: number, at?: number, leaf?: boolean): void => {
      if (q === 0) return
      if (blockAt(q) > 0) return mark(q, leaf === true)
      stale++
      if (nullStale && staleWordInBlock(at, block, blockEnd) &&
          mem.readPointer(at) === q) {
        mem.writePointer(at, 0)
        mem.region.flush(at, 8)
      }
    }
    while (sp > 0) {
      const p = stack[--sp]
      const before = sp
      block = p
      blockEnd = p + blockAt(p)
      tracer.trace(p < 4294967296 ? bytes0 : mem.bytesAt(p), p, blockEnd - p, visit) // the block's segment (recovery.ts Tracer)
      if (sp - before > SORT_AT) inAddressOrder(stack.subarray(before, sp))
    }
  } else {
    while (sp > 0) {
      const p = stack[--sp]
      const before = sp
      // The block's segment, indexed by offsets within it (p >>> 2); a block may end at 4 GiB.
      const w = p < 4294967296 ? u : mem.u32At(p)
      const from = p >>> 2
      const end = from + blockAt(p) / 4
      for (let i = from; i < end; i += 2) {
        const hi = w[i + 1]
        if (hi !== 0) {
          if (hi >= MAX_POINTER_HIGH) continue
          const q = hi * 4294967296 + w[i]
          if (blockAt(q) > 0) mark(q)
          continue
        }
        const q = w[i]
        if (q < dataOff || q >= dataEnd || (q & 15) !== 0) continue
        if (blockAt(q) > 0) mark(q)
      }
      if (sp - before > SORT_AT) inAddressOrder(stack.subarray(before, sp))
    }
  }
  return { bits: marks, marked, stale }
}
