/**
 * Diagnostics over a PHeap: what recovery would keep. A leak check compares this with
 * `heap.stats().used` (after a crash recovery they are equal: nothing unreachable survives).
 */
import type { PHeap } from './pheap'
import { pobjTracer, PreciseTracer } from './tracer'

/**
 * Blocks and usable bytes reachable from the roots (and from the objects in `from`, handles
 * of this heap), traced from the heap's own type table.
 */
export function reachable(heap: PHeap, from: object[] = []): { blocks: number; bytes: number; unknown: number } {
  const raw = heap.raw
  const bytes = raw.bytes
  const tracer = pobjTracer({ bytes, segments: raw.segments, getRoot: (n) => raw.getRoot(n) }) as PreciseTracer
  const seen = new Set<number>()
  const stack = raw.roots().map(([, p]) => p).filter((p) => p !== 0)
  for (const h of from) stack.push(heap.pointerOf(h))
  let total = 0
  const see = (p: number): boolean => {
    if (seen.has(p)) return false
    if (!raw.isAllocated(p)) throw new Error(`pobj: reachable block ${p} is not allocated`)
    seen.add(p)
    total += raw.usableSize(p)
    return true
  }
  const visit = (q: number, _at?: number, leaf?: boolean): void => {
    if (!leaf) stack.push(q)
    else see(q) // a leaf (string, record) holds no pointer: counted, never read
  }
  while (stack.length > 0) {
    const p = stack.pop()!
    if (see(p)) tracer.trace(p < 2 ** 32 ? bytes : raw.segments[Math.floor(p / 2 ** 32)], p, raw.usableSize(p), visit) // the block's segment
  }
  return { blocks: seen.size, bytes: total, unknown: tracer.unknownBlocks }
}

/**
 * Resolves once the current job has ended (a handle made or read in it is kept alive until then:
 * a WeakRef rule) and, when node runs with --expose-gc, after a full V8 collection: the handles
 * the program dropped are then gone, so the next heap.gc() frees what only they held. For tests
 * and for programs that want a collection to see their garbage now; without --expose-gc it
 * only ends the job (V8 collects when it will).
 */
export async function settleHandles(): Promise<void> {
  await new Promise((r) => setImmediate(r))
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc) {
    gc()
    await new Promise((r) => setImmediate(r))
  }
}
