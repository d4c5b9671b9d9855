/**
 * Crash testing of pobj workloads on SimRegion. A workload is deterministic
 * (seeded): a reference run records the state after each operation; a second
 * run crashes at drains (the image is built at the start of the drain, before
 * it takes effect), opens each image and checks that the recovered state is the
 * state after the last completed operation or after the one in progress, that
 * nothing leaked (used bytes == reachable bytes), the type table is intact, and
 * check() is clean.
 */
import { expect } from 'chai'
import { SimRegion, mulberry32, CrashMode, WriteBack } from '@makalu/allocator'
import { PHeap, Class, stableNameOf } from '../src'
import { reachable } from './helpers'

export interface Workload<S> {
  name: string
  types: Class[]
  ops: number
  setup(heap: PHeap): void
  /** A durable heap image to start from (opened with `types`, then `setup`), instead of a fresh heap: e.g. one written by older classes. */
  image?: () => Uint8Array
  /** Operation k; `rand` is the workload's own PRNG (same sequence in every run). */
  op(heap: PHeap, k: number, rand: () => number): void
  read(heap: PHeap): S
  /** An invariant every recovered state must satisfy. */
  invariant?(s: S): void
}

export const HEAP_OPTS = { chunkSize: 4096, logSize: 16 * 1024, rootCapacity: 16 }
export const REGION_SIZE = 512 * 1024

export interface CrashRunOptions {
  mode: CrashMode
  /** The region's write-back model (default 'any-time'; 'at-drain' is the file backend's). */
  writeBack?: WriteBack
  seed?: number
  /** Crash at drain i when pick(i) is true (default: every drain). */
  pick?: (i: number) => boolean
  /** Also open every n-th image without any class passed, before opening it with the classes. */
  partialEvery?: number
  /** The workload's PRNG seed. */
  workloadSeed?: number
}

export interface CrashRunResult { crashes: number; drains: number; rolledBack: number; atEnd: number }

/** The states after 0..ops operations, from a run without crashes. */
/** The workload's starting heap: its image opened with its classes, or a fresh heap; then setup. */
function start<S>(w: Workload<S>, writeBack?: WriteBack): { region: SimRegion; heap: PHeap } {
  const region = w.image ? new SimRegion(w.image(), { writeBack }) : new SimRegion(REGION_SIZE, { writeBack })
  const heap = w.image ? PHeap.openIn(region, { types: w.types }) : PHeap.createIn(region, { ...HEAP_OPTS, types: w.types })
  w.setup(heap)
  return { region, heap }
}

export function referenceStates<S>(w: Workload<S>, seed = 1): S[] {
  const { heap } = start(w)
  const states = [w.read(heap)]
  const rand = mulberry32(seed)
  for (let k = 0; k < w.ops; k++) { w.op(heap, k, rand); states.push(w.read(heap)) }
  heap.close()
  return states
}

export function crashRun<S>(w: Workload<S>, states: S[], o: CrashRunOptions): CrashRunResult {
  const { region, heap } = start(w, o.writeBack)
  let done = 0
  const result: CrashRunResult = { crashes: 0, drains: 0, rolledBack: 0, atEnd: 0 }
  const crashSeed = mulberry32(o.seed ?? 7)
  let failure: unknown = null
  region.onDrain = (i) => {
    result.drains++
    if (failure || (o.pick && !o.pick(i))) return
    const img = region.crash({ mode: o.mode, seed: Math.floor(crashSeed() * 2 ** 31) })
    result.crashes++
    try {
      const partial = o.partialEvery !== undefined && result.crashes % o.partialEvery === 0
      const at = verifyImage(w, img, states, done, partial)
      if (at > done) result.atEnd++
    } catch (e) {
      failure = e
      ;(e as Error).message = `${w.name}: crash at drain ${i} (after ${done} ops, mode ${o.mode}): ${(e as Error).message}`
    }
  }
  const rand = mulberry32(o.workloadSeed ?? 1)
  for (let k = 0; k < w.ops && !failure; k++) { w.op(heap, k, rand); done++ }
  region.onDrain = null
  heap.close()
  if (failure) throw failure
  return result
}

/** Opens a crash image and checks it; returns which state it holds (done or done + 1). */
export function verifyImage<S>(w: Workload<S>, img: Uint8Array, states: S[], done: number, partial: boolean): number {
  if (partial) {
    // Recovery from the persisted table alone: no class passed.
    const r = new SimRegion(img)
    const h = PHeap.openIn(r, { types: [] })
    checkHeap(h, w)
    h.close()
    img = r.durableImage()
  }
  const h = PHeap.openIn(new SimRegion(img), { types: w.types })
  try {
    checkHeap(h, w)
    const got = w.read(h)
    w.invariant?.(got)
    const before = JSON.stringify(states[done], bigints)
    const after = done + 1 < states.length ? JSON.stringify(states[done + 1], bigints) : undefined
    const g = JSON.stringify(got, bigints)
    if (g === before) return done
    if (g === after) return done + 1
    expect(g).to.equal(before, 'the recovered state is neither the last committed one nor the next')
    return -1
  } finally {
    h.close()
  }
}

function checkHeap(h: PHeap, w: Workload<unknown>): void {
  const c = h.check()
  expect(c.violations).to.deep.equal([])
  // No workload frees what is referenced: a stale pointer here is a crash-consistency bug.
  expect(h.recovery.stalePointers, 'stale pointers after recovery').to.equal(0)
  expect(c.stalePointers, 'stale pointers after recovery (check)').to.equal(0)
  const live = reachable(h)
  expect(live.unknown).to.equal(0)
  expect(h.stats().used).to.equal(live.bytes, 'used bytes != reachable bytes (a leak)')
  expect(h.stats().liveBlocks).to.equal(live.blocks)
  const names = h.types.all.map((e) => e.name)
  for (const t of w.types) expect(names, 'the type table').to.include(stableNameOf(t))
}

function bigints(_k: string, v: unknown): unknown { return typeof v === 'bigint' ? v.toString() + 'n' : v }
