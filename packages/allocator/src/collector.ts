import { now } from './clock'
import * as F from './format'
import { Layout } from './superblock'
import { Memory } from './memory'
import { ChunkSpace, C_RUN, C_LARGE, bitWord, bitMask } from './chunk-space'
import type { Tracer } from './recovery'
import { markReachable } from './mark'

/** What one online collection did. */
export interface CollectReport {
  /** Wall time, in milliseconds. */
  ms: number
  markedBlocks: number
  freedBlocks: number
  freedBytes: number
  /** Pointers found that lead to no allocated block (treated as null). */
  stalePointers: number
}

/**
 * An online collection: mark from `roots` (the named roots and whatever else the caller
 * holds), then free every allocated block that was not marked.
 *
 * Nothing here is logged: a free of a small block writes nothing durable, and the release of
 * a chunk is one flushed store, quarantined until the next drain (chunk-space.ts). A crash in
 * the middle is therefore an ordinary crash: recovery marks from the same named roots, and
 * a block freed here was unreachable from them.
 */
export function collect(mem: Memory, layout: Layout, chunks: ChunkSpace, roots: Iterable<number>,
  tracer: Tracer | null): CollectReport {
  const t0 = now()
  const marks = markReachable(mem, layout, chunks, roots, tracer, true)
  const m = marks.bits
  const u = mem.u32
  const bitBase = layout.bitmapOff >>> 2
  const per = layout.chunkSize >>> (F.GRANULE_SHIFT + 5)
  let freedBlocks = 0
  let freedBytes = 0
  for (let c = 0; c < chunks.chunkCount; c++) {
    const k = chunks.kind[c]
    if (k === C_LARGE) {
      const p = chunks.chunkBase(c)
      const rel = p - layout.dataOff
      if ((m[bitWord(rel)] & bitMask(rel)) !== 0) continue
      freedBlocks++
      freedBytes += chunks.span[c] * layout.chunkSize
      chunks.free(p)
    } else if (k === C_RUN) {
      const size = chunks.classes.sizes[chunks.cls[c]]
      for (let w = c * per; w < (c + 1) * per; w++) {
        let dead = u[bitBase + w] & ~m[w]
        while (dead !== 0) {
          const bit = 31 - Math.clz32(dead)
          dead &= ~(1 << bit)
          freedBlocks++
          freedBytes += size
          chunks.free(layout.dataOff + (w * 32 + bit) * F.GRANULE) // may release c: it is then not a run (not <<: past 2 GiB)
        }
        if (chunks.kind[c] !== C_RUN) break
      }
    }
  }
  return { ms: now() - t0, markedBlocks: marks.marked, freedBlocks, freedBytes, stalePointers: marks.stale }
}
