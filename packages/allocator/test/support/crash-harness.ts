/**
 * Crash harness: runs a workload on a SimRegion, and at drains builds post-crash
 * images, recovers each, and checks it: the state is the last acknowledged one or
 * the one the operation in flight would give; every reachable block is allocated
 * and disjoint; used bytes = reachable bytes (nothing leaked); check() is clean;
 * new allocations do not overlap what is live.
 */
import { expect } from 'chai'
import { isDeepStrictEqual } from 'util'
import { Heap, HeapCreateInOptions, SimRegion, WriteBack, mulberry32 } from '../../src'
import { Workload, State } from './workloads'

export const SMALL_HEAP: HeapCreateInOptions = { chunkSize: 4096, logSize: 8192, rootCapacity: 16 }
export const SMALL_REGION = 512 * 1024

export interface CrashRunOptions {
  workload: Workload
  seed: number
  ops: number
  /** Which drains to crash at: every one, or one chosen at random. */
  at: 'every' | 'random'
  /** Random-survivor images per crash point (besides the strict one). */
  randomImages: number
  precise?: boolean
  /** The region's write-back model: 'any-time' (mmap, NVM; default) or 'at-drain' (the file backend). */
  writeBack?: WriteBack
}

/**
 * Recovers an image and checks it against the accepted states. With `crashRecovery`, the
 * recovery itself is crashed at each of its drains too (strict and random), and each of
 * those images must recover to an accepted state as well.
 */
export function verifyImage(image: Uint8Array, w: Workload, accepted: State[], precise: boolean, label: string,
  crashRecovery = false): void {
  const region = new SimRegion(image)
  const opts = precise && w.tracer ? { tracer: w.tracer } : {}
  if (crashRecovery) {
    region.onDrain = (d) => {
      verifyImage(region.crash({ mode: 'strict' }), w, accepted, precise, `${label}, recovery crashed at its drain ${d}`)
      verifyImage(region.crash({ mode: 'random', seed: d + 1 }), w, accepted, precise, `${label}, recovery crashed at its drain ${d}, random`)
    }
  }
  const heap = Heap.openIn(region, opts)
  region.onDrain = null
  const where = `${w.name}, ${label}`
  const report = heap.check()
  expect(report.violations, `check() after recovery (${where})`).to.deep.equal([])
  // No workload frees what is referenced: a stale pointer here is a crash-consistency bug.
  expect(heap.recovery.stalePointers, `stale pointers after recovery (${where})`).to.equal(0)
  expect(report.stalePointers, `stale pointers in check() (${where})`).to.equal(0)
  const { state, blocks } = w.read(heap)
  if (!accepted.some((s) => isDeepStrictEqual(s, state))) {
    throw new Error(`${where}: recovered state ${JSON.stringify(state)} is none of ${JSON.stringify(accepted)}`)
  }
  const roots = heap.roots().length
  let bytes = 0
  const spans: Array<[number, number]> = []
  for (const p of blocks) {
    expect(heap.isAllocated(p), `reachable block ${p} allocated (${where})`).to.equal(true)
    const size = heap.usableSize(p)
    bytes += size
    spans.push([p, p + size])
  }
  spans.sort((a, b) => a[0] - b[0])
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new Error(`${where}: reachable blocks overlap at ${spans[i][0]}`)
  }
  const stats = heap.stats()
  expect(stats.used, `used bytes = reachable bytes (${where}; ${roots} roots)`).to.equal(bytes)
  expect(stats.liveBlocks, `live blocks = reachable blocks (${where})`).to.equal(new Set(blocks).size)
  // New allocations never overlap live blocks.
  const fresh: number[] = []
  try {
    for (let k = 0; k < 64; k++) fresh.push(heap.alloc(16 + ((k * 37) % 400)))
  } catch { /* a full heap is fine here */ }
  for (const p of fresh) {
    const end = p + heap.usableSize(p)
    for (const [s, e] of spans) if (p < e && s < end) throw new Error(`${where}: new block ${p} overlaps live block ${s}`)
  }
  expect(heap.check().violations, `check() after new allocations (${where})`).to.deep.equal([])
}

/** Runs the workload, crashing at drains; returns how many images were checked. */
export function runCrashes(o: CrashRunOptions): number {
  const region = new SimRegion(SMALL_REGION, { writeBack: o.writeBack ?? 'any-time' })
  const heap = Heap.createIn(region, SMALL_HEAP)
  const w = o.workload
  let committed: State = w.initial
  let pending: State = w.initial
  const pick = mulberry32(o.seed ^ 0x5eed)
  const target = o.at === 'random' ? Math.floor(pick() * (o.ops * 3)) : -1
  let checked = 0
  region.onDrain = (d) => {
    if (o.at === 'random' && d !== target) return
    const accepted = [committed, pending]
    verifyImage(region.crash({ mode: 'strict' }), w, accepted, !!o.precise, `seed ${o.seed}, drain ${d}, strict`, true)
    checked++
    for (let k = 0; k < o.randomImages; k++) {
      const seed = o.seed * 65599 + d * 31 + k
      const survival = [0.5, 0.1, 0.9][k % 3]
      verifyImage(region.crash({ mode: 'random', seed, survival }), w, accepted, !!o.precise,
        `seed ${o.seed}, drain ${d}, random ${seed} p=${survival}`)
      checked++
    }
  }
  for (let i = 0; i < o.ops; i++) {
    pending = w.model(committed, o.seed, i)
    w.apply(heap, o.seed, i)
    committed = pending
    if (o.at === 'random' && checked > 0) break
  }
  region.onDrain = null
  // The end state, too, once everything is drained.
  heap.drain()
  verifyImage(region.crash({ mode: 'strict' }), w, [committed], !!o.precise, `seed ${o.seed}, after the last op`)
  return checked + 1
}
