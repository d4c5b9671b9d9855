/**
 * Parallel marking for crash recovery ([scale]): the opening thread and `threads − 1`
 * worker threads mark one shared mark bitmap (shared-mark.ts); the result is the one
 * markReachable(…, nullStale) gives: the same bits, the same stale count, the same words
 * repaired and nulled.
 *
 * Plan, in order:
 *   1. shared state: mark bits, pool, control words, per-chunk block shapes (SharedArrayBuffers)
 *   2. start the workers (each maps the heap file itself, through the region's descriptor,
 *      and builds its tracer from `tracerModule` over its own view); the opening thread marks
 *      the roots and starts tracing at once, so a worker's start-up (20-30 ms) overlaps it
 *   3. wait until every worker that joined has posted its result (blocks: Atomics.wait)
 *   4. apply the workers' results on the opening thread: stale words stored 0 and flushed,
 *      tracer repairs through the heap's `repair` (so both are written only here, as serial
 *      recovery writes them), tracer results merged (Tracer.mergeWorkerResult)
 * A worker that fails (its tracer module does not load, its tracer throws) aborts the
 * parallel mark before anything of it is written: the caller then marks serially. So does a
 * worker that joined and then goes silent (no heartbeat for STALL_MS: its thread ended without
 * reaching a handler); the opening thread stops waiting for it and terminates it.
 */
import * as os from 'os'
import * as path from 'path'
import { Worker, MessageChannel, MessagePort, receiveMessageOnPort } from 'worker_threads'
import { Layout } from './superblock'
import { Memory } from './memory'
import { ChunkSpace, C_RUN, C_LARGE } from './chunk-space'
import type { Tracer, TracerModule, TraceContext } from './recovery'
import { Marks, blockShapes } from './mark'
import { ArgumentError } from './errors'
import { SharedMarkState, Liveness, markShared, lockPool, unlockPool, wake, POOL_ITEMS, CTL_WORDS, ACTIVE, HUNGRY, DONE, ABORT, SEQ, STARTED, FINISHED } from './shared-mark'

/** Below this many blocks (what the chunks in use can hold) 'auto' marks on one thread. */
export const AUTO_MIN_BLOCKS = 6_000_000
/** 'auto' uses at most this many threads. */
export const AUTO_MAX_THREADS = 4
/** Threads an explicit `recoveryWorkers` may ask for. */
export const MAX_THREADS = 64

/**
 * Set to 1, the opening thread waits until every worker is ready before it marks, so that
 * they all take part however small the heap (the tests; a real open overlaps their start-up).
 */
export const WAIT_ENV = 'MAKALU_RECOVERY_WAIT_WORKERS'

/** What a worker is given (workerData). */
export interface MarkWorkerInput {
  id: number
  ctl: SharedArrayBuffer
  marks: SharedArrayBuffer
  pool: SharedArrayBuffer
  size: SharedArrayBuffer
  blocks: SharedArrayBuffer
  dataOff: number
  chunkShift: number
  fd: number
  length: number
  /** The heap may pass 4 GiB (SharedMarkState.wide). */
  wide: boolean
  roots: Array<[string, number]>
  tracerModule: TracerModule | null
  port: MessagePort
  /** Its heartbeat word in ctl. */
  beat: number
}

/** What a worker posts back. */
export type MarkWorkerResult =
  | { ok: true; marked: number; stale: number; nulls: number[]; repairs: number[]; tracer: unknown }
  | { ok: false; error: string }

/** Word of ctl a worker sets once its result is posted (POSTED + id). */
export const POSTED = CTL_WORDS
/** A worker's heartbeat (beats(workers) + id): 1 when it joins, then counted up while it marks or waits. */
export const beats = (workers: number): number => CTL_WORDS + workers

/**
 * How long a worker that joined may go without a heartbeat before the opening thread gives
 * up the parallel mark and marks serially (a thread ended without reaching any handler:
 * `process.exit` in a tracer, an out-of-memory end). A worker beats every 64 traced items or
 * 20 ms of waiting, so only a tracer that takes this long over one block is mistaken for
 * a dead one, and that costs only the serial mark. Milliseconds; MAKALU_RECOVERY_STALL_MS
 * sets it (the tests).
 */
export const STALL_MS = 10_000
export const STALL_ENV = 'MAKALU_RECOVERY_STALL_MS'

export const WORKER_SCRIPT = path.join(__dirname, 'mark-worker.js')

/** Checks Heap.open's `recoveryWorkers` and `tracerModule` before anything is opened. */
export function checkParallelOptions(workers: unknown, module: unknown, tracer: unknown): void {
  if (workers !== undefined && workers !== 'auto' && !(Number.isInteger(workers) && (workers as number) >= 1 && (workers as number) <= MAX_THREADS)) {
    throw new ArgumentError(`heap: recoveryWorkers must be 'auto' or an integer from 1 to ${MAX_THREADS} (threads that mark), got ${String(workers)}`)
  }
  if (module !== undefined) {
    const m = module as TracerModule
    if (typeof m !== 'object' || m === null || typeof m.path !== 'string' || !path.isAbsolute(m.path) || typeof m.name !== 'string') {
      throw new ArgumentError('heap: tracerModule must be { path: an absolute module path, name: the export of its tracer factory }')
    }
  } else if (typeof workers === 'number' && workers > 1 && tracer !== undefined) {
    throw new ArgumentError(`heap: recoveryWorkers: ${workers} with a tracer needs tracerModule (a worker thread cannot use a function of this one)`)
  }
}

/** The factory a TracerModule names (the opening thread's tracer when no `tracer` is given). */
export function loadTracerModule(m: TracerModule): (ctx: TraceContext) => Tracer {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the tracer module is named at run time
  const factory = (require(m.path) as Record<string, unknown>)[m.name]
  if (typeof factory !== 'function') throw new ArgumentError(`heap: tracerModule ${m.path} exports no function '${m.name}'`)
  return factory as (ctx: TraceContext) => Tracer
}

/**
 * How many threads mark this recovery: 1 unless the heap is mapped (mmap: a worker maps the
 * file itself and sees the opening thread's stores) and a worker can build the tracer (none,
 * or `tracerModule`); 'auto' only past AUTO_MIN_BLOCKS, on at most the cores available.
 */
export function markingThreads(option: number | 'auto' | undefined, chunks: ChunkSpace, mapped: boolean,
  tracer: Tracer | null, tracerModule: TracerModule | undefined): number {
  if (option === 1 || !mapped || (tracer !== null && tracerModule === undefined)) return 1
  if (typeof option === 'number') return option
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length
  if (cores < 2) return 1
  let blocks = 0
  for (let c = 0; c < chunks.chunkCount; c++) {
    if (chunks.kind[c] === C_RUN) blocks += chunks.classes.perChunk[chunks.cls[c]]
    else if (chunks.kind[c] === C_LARGE) blocks++
  }
  return blocks >= AUTO_MIN_BLOCKS ? Math.min(cores, AUTO_MAX_THREADS) : 1
}

export interface ParallelMarkInput {
  mem: Memory
  layout: Layout
  chunks: ChunkSpace
  roots: Array<[string, number]>
  /** The opening thread's tracer (it may repair at once: no other thread reads what it traces). */
  tracer: Tracer | null
  tracerModule: TracerModule | null
  threads: number
  /** The heap file's descriptor (the region's): each worker maps it. */
  fd: number
  /** Applies a worker's tracer repair as the heap applies its own (checked, stored, flushed). */
  repair: (at: number, lo: number, hi: number) => void
}

/** The marks, or the reason the parallel mark gave up (nothing of it was written then). */
export type ParallelMarkOutcome = { marks: Marks; threads: number } | { failure: string }

export function markInParallel(input: ParallelMarkInput): ParallelMarkOutcome {
  const { mem, layout, chunks, tracer } = input
  const workers = input.threads - 1
  // 1. Shared state.
  const shared = (n: number): SharedArrayBuffer => new SharedArrayBuffer(n)
  const ctlBuf = shared((CTL_WORDS + 2 * workers) * 4)
  const marksBuf = shared((chunks.chunkCount * layout.chunkSize) / 128) // a bit per granule; not >>>: past 4 GiB
  const poolBuf = shared(POOL_ITEMS * 3 * (mem.wide ? 8 : 4))
  const shapes = blockShapes(layout, chunks, shared)
  const state: SharedMarkState = {
    ctl: new Int32Array(ctlBuf), marks: new Uint32Array(marksBuf), pool: mem.wide ? new Float64Array(poolBuf) : new Uint32Array(poolBuf),
    size: shapes.size, blocks: shapes.blocks, dataOff: layout.dataOff, chunkShift: layout.chunkShift, wide: mem.wide,
  }
  const ctl = state.ctl
  ctl[ACTIVE] = 1 // the opening thread, with the roots
  // 2. Workers.
  const ports: MessagePort[] = []
  const started: Worker[] = []
  for (let id = 0; id < workers; id++) {
    const { port1, port2 } = new MessageChannel()
    const data: MarkWorkerInput = {
      id, ctl: ctlBuf, marks: marksBuf, pool: poolBuf, size: shapes.size.buffer as SharedArrayBuffer,
      blocks: shapes.blocks.buffer as SharedArrayBuffer, dataOff: layout.dataOff, chunkShift: layout.chunkShift,
      fd: input.fd, length: mem.size, wide: mem.wide, roots: input.roots, tracerModule: input.tracerModule, port: port2,
      beat: beats(workers) + id,
    }
    try {
      const w = new Worker(WORKER_SCRIPT, { workerData: data, transferList: [port2] })
      w.unref()
      w.on('error', () => { /* reported through the port or by the join count */ })
      started.push(w)
      ports.push(port1)
    } catch {
      port1.close()
      break // workers unavailable here: fewer threads
    }
  }
  if (process.env[WAIT_ENV] === '1') waitForJoin(ctl, started.length)
  const watch = heartbeatWatch(ctl, started.length)
  let own
  try {
    own = markShared(state, mem.seg8, tracer, (at) => {
      mem.writePointer(at, 0)
      mem.region.flush(at, 8)
    }, input.roots.map(([, p]) => p), watch)
  } catch (e) {
    Atomics.store(ctl, ABORT, 1)
    wake(ctl)
    waitForWorkers(ctl, watch)
    for (const p of ports) p.close()
    throw e
  }
  // 3. Every worker that joined posts its result (or one stops beating).
  const joined = waitForWorkers(ctl, watch)
  if (watch.stopped !== null) {
    for (let id = 0; id < started.length; id++) {
      ports[id].close()
      if (Atomics.load(ctl, POSTED + id) === 0) void started[id].terminate().catch(() => { /* it has ended already */ })
    }
    return { failure: watch.stopped }
  }
  const results: MarkWorkerResult[] = []
  for (let id = 0; id < ports.length; id++) {
    if (Atomics.load(ctl, POSTED + id) === 0) { ports[id].close(); continue }
    let m = receiveMessageOnPort(ports[id])
    while (m === undefined) { Atomics.wait(ctl, SEQ, Atomics.load(ctl, SEQ), 1); m = receiveMessageOnPort(ports[id]) }
    results.push(m.message as MarkWorkerResult)
    ports[id].close()
  }
  const failed = results.find((r) => !r.ok)
  if (failed && !failed.ok) return { failure: failed.error }
  if (Atomics.load(ctl, ABORT) !== 0) return { failure: 'a worker aborted the mark' }
  // 4. The workers' writes, applied here.
  let marked = own.marked
  let stale = own.stale
  for (const r of results) {
    if (!r.ok) continue
    marked += r.marked
    stale += r.stale
    for (const at of r.nulls) {
      mem.writePointer(at, 0)
      mem.region.flush(at, 8)
    }
    for (let i = 0; i < r.repairs.length; i += 3) input.repair(r.repairs[i], r.repairs[i + 1], r.repairs[i + 2])
    if (r.tracer !== undefined) tracer?.mergeWorkerResult?.(r.tracer)
  }
  return { marks: { bits: state.marks, marked, stale }, threads: 1 + joined }
}

/** Until every worker is ready and hungry (or one failed), at most 60 s. */
function waitForJoin(ctl: Int32Array, workers: number): void {
  const until = Date.now() + 60_000
  while (Atomics.load(ctl, HUNGRY) < workers && Atomics.load(ctl, ABORT) === 0 && Date.now() < until) {
    Atomics.wait(ctl, SEQ, Atomics.load(ctl, SEQ), 5)
  }
}

/** The opening thread's view of the workers' heartbeats: `stalled()` once one that joined and has not posted is silent for the stall time. */
function heartbeatWatch(ctl: Int32Array, workers: number): Liveness & { stopped: string | null } {
  const env = Number(process.env[STALL_ENV])
  const stallMs = env > 0 ? env : STALL_MS
  const seen = new Int32Array(workers)
  const since = new Float64Array(workers).fill(Date.now())
  const base = beats(workers)
  return {
    stopped: null,
    beat() { /* the opening thread is watched by no one */ },
    stalled() {
      if (this.stopped !== null) return true
      const now = Date.now()
      for (let id = 0; id < workers; id++) {
        const b = Atomics.load(ctl, base + id)
        if (b !== seen[id] || b === 0 || Atomics.load(ctl, POSTED + id) !== 0) { seen[id] = b; since[id] = now; continue }
        if (now - since[id] >= stallMs) {
          this.stopped = `heap: a recovery worker stopped: no heartbeat for ${stallMs} ms (its thread ended without a word, or one block took that long)`
          return true
        }
      }
      return false
    },
  }
}

/** Waits until DONE (or ABORT) and every worker that joined finished, or one stops beating; returns how many joined. */
function waitForWorkers(ctl: Int32Array, watch: Liveness): number {
  for (;;) {
    const seq = Atomics.load(ctl, SEQ)
    lockPool(ctl)
    const over = ctl[DONE] !== 0 || ctl[ABORT] !== 0
    const joined = ctl[STARTED]
    const finished = ctl[FINISHED]
    unlockPool(ctl)
    if (over && finished === joined) return joined
    Atomics.wait(ctl, SEQ, seq, 20)
    if (watch.stalled()) {
      Atomics.store(ctl, ABORT, 1)
      wake(ctl)
      return joined
    }
  }
}
