import * as F from './format'
import { Layout, isClean, readChunkCount } from './superblock'
import { Memory, fnv1a } from './memory'
import { ChunkSpace, C_FREE, C_RUN, C_LARGE, C_CONT, C_QUARANTINE } from './chunk-space'
import { RootTable } from './roots'
import { UndoLog } from './undo-log'
import type { Tracer } from './recovery'
import { markReachable } from './mark'

export interface CheckReport {
  ok: boolean
  violations: string[]
  /** Blocks and bytes counted by the walk (they must equal the heap's counters). */
  blocks: number
  bytes: number
  /**
   * Pointers to no allocated block, left by a free of a block still referenced: roots and
   * precisely traced pointers that are not block starts, and, with no tracer, words equal to
   * an unallocated block start (they may be data). Not violations: recovery and collect treat
   * them as null. With a tracer, a reachable block start that is not allocated is a violation.
   */
  stalePointers: number
}

/**
 * Whole-heap validation of the invariants stated in chunk-space.ts, roots.ts
 * and undo-log.ts, and of the bitmap against a fresh mark from the roots (traced with `tracer`,
 * else conservatively): every block reachable is allocated, so none can be handed out again.
 * Reads only. Cost: linear in the heap.
 */
export function checkHeap(mem: Memory, layout: Layout, chunks: ChunkSpace, roots: RootTable, log: UndoLog,
  inTransaction: boolean, tracer: Tracer | null): CheckReport {
  const v: string[] = []
  const u = mem.u32
  const fail = (s: string): void => { if (v.length < 100) v.push(s) }

  if (u[F.SB_CHECKSUM >> 2] !== fnv1a(mem.bytes, 0, F.SB_CHECKED_BYTES)) fail('superblock checksum mismatch')
  if (isClean(mem)) fail('state word says CLEAN while the heap is open')
  if (readChunkCount(mem) !== chunks.chunkCount) fail(`chunk count on media ${readChunkCount(mem)} ≠ ${chunks.chunkCount}`)
  if (!inTransaction && log.pending()) fail('undo log holds an unfinished transaction outside a transaction')

  chunks.checkCaches(fail)
  const cached = chunks.cachedPerChunk()
  const per = chunks.classes.perChunk
  const sizes = chunks.classes.sizes
  let blocks = 0
  let bytes = 0
  for (let c = 0; c < chunks.chunkCount; c++) {
    const lo = u[chunks.entryOff(c) >>> 2]
    const hi = u[(chunks.entryOff(c) >>> 2) + 1]
    const entryKind = lo & 0xff
    const k = chunks.kind[c]
    const bits = chunks.countBits(c)
    if (k === C_FREE || k === C_QUARANTINE || k === C_CONT) {
      if (entryKind !== F.KIND_FREE) fail(`chunk ${c}: volatile kind ${k} but entry kind ${entryKind}`)
      if (k === C_CONT && bits !== 0) fail(`chunk ${c}: covered by a large object but ${bits} bitmap bits set`)
      if (k === C_CONT) {
        const h = chunks.span[c]
        if (chunks.kind[h] !== C_LARGE || h >= c || h + chunks.span[h] <= c) fail(`chunk ${c}: continuation of ${h}, which does not cover it`)
      }
    } else if (k === C_RUN) {
      const sc = chunks.cls[c]
      if (entryKind !== F.KIND_RUN || ((lo >>> 8) & 0xff) !== sc) fail(`chunk ${c}: run of class ${sc} but entry 0x${lo.toString(16)}`)
      const nFree = chunks.freeOf(c)
      if (bits !== per[sc] - nFree) fail(`chunk ${c}: ${bits} bits set but ${per[sc] - nFree} blocks counted live`)
      // Bits only at block starts.
      const base = chunks.chunkBase(c)
      let atStarts = 0
      for (let i = 0; i < per[sc]; i++) if (chunks.testBit(base + i * sizes[sc])) atStarts++
      if (atStarts !== bits) fail(`chunk ${c}: ${bits - atStarts} bitmap bits set off block starts`)
      if (chunks.built[c]) {
        const listed = chunks.freeListLength(c)
        const bumped = Math.max(0, (base + per[sc] * sizes[sc] - chunks.bump[c]) / sizes[sc])
        if (listed < 0) fail(`chunk ${c}: free list is broken`)
        else if (listed + bumped + cached[c] !== nFree) {
          fail(`chunk ${c}: free list ${listed} + untouched ${bumped} + cached ${cached[c]} ≠ ${nFree} free`)
        }
        for (let p = chunks.bump[c]; p < base + per[sc] * sizes[sc]; p += sizes[sc]) {
          if (chunks.testBit(p)) { fail(`chunk ${c}: allocated block ${p} past the bump pointer`); break }
        }
      }
      blocks += bits
      bytes += bits * sizes[sc]
    } else if (k === C_LARGE) {
      const n = chunks.span[c]
      if (entryKind !== F.KIND_LARGE || hi !== n) fail(`chunk ${c}: large of ${n} chunks but entry 0x${hi.toString(16)}_${lo.toString(16)}`)
      if (!chunks.testBit(chunks.chunkBase(c)) || bits !== 1) fail(`chunk ${c}: large head bitmap has ${bits} bits, head bit ${chunks.testBit(chunks.chunkBase(c))}`)
      for (let j = 1; j < n; j++) if (chunks.kind[c + j] !== C_CONT || chunks.span[c + j] !== c) fail(`chunk ${c + j}: not marked as covered by ${c}`)
      blocks += 1
      bytes += n * layout.chunkSize
    } else fail(`chunk ${c}: unknown volatile kind ${k}`)
  }
  for (let c = chunks.chunkCount; c < layout.maxChunks; c++) {
    if (u[chunks.entryOff(c) >>> 2] !== 0) { fail(`chunk ${c}: past the end but its entry is in use`); break }
  }
  if (blocks !== chunks.liveBlocks) fail(`liveBlocks ${chunks.liveBlocks} ≠ ${blocks} counted`)
  if (bytes !== chunks.used) fail(`used ${chunks.used} ≠ ${bytes} counted`)
  for (const [name, p] of roots.entries()) {
    if (chunks.allocatedSize(p) < 0) fail(`root '${name}' → ${p}, not an allocated block`)
  }
  // The table on media, read afresh, says what the volatile index says.
  const onMedia = new RootTable(mem, layout)
  try {
    onMedia.load((p) => chunks.allocatedSize(p) > 0, 'check')
    const a = JSON.stringify(onMedia.entries().sort()), b = JSON.stringify(roots.entries().sort())
    if (a !== b) fail(`root table on media ${a.slice(0, 200)} ≠ the index ${b.slice(0, 200)}`)
  } catch (e) {
    fail((e as Error).message)
  }
  // The bitmap against a fresh mark from the roots. Precisely, a reachable block start that is
  // not allocated means the bitmap lost a live block (or the program freed a referenced one):
  // a violation. Conservatively, such a word may be data: counted, like the stale pointers.
  const { bits: marks, stale } = markReachable(mem, layout, chunks, roots.pointers(), tracer, false)
  let unallocated = 0
  for (let w = 0; w < marks.length; w++) {
    let lost = marks[w] & ~u[(layout.bitmapOff >>> 2) + w]
    for (; lost !== 0; lost &= lost - 1) {
      unallocated++
      const p = layout.dataOff + (w * 32 + 31 - Math.clz32(lost & -lost)) * F.GRANULE
      if (tracer) fail(`block ${p} is reachable from the roots but not allocated`)
    }
  }
  return { ok: v.length === 0, violations: v, blocks, bytes, stalePointers: stale + (tracer ? 0 : unallocated) }
}
