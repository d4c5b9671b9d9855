/**
 * A worker thread of a parallel recovery mark (parallel-mark.ts): joins unless the mark is
 * over, maps the heap file itself (the opening thread's descriptor; it only reads), builds the
 * tracer from its module over its own view, marks its share (shared-mark.ts), and posts what it
 * must not write itself: the stale words to null, the tracer's repairs, the tracer's result.
 */
import { workerData } from 'worker_threads'
import { loadNative } from './region/native'
import { segmentViews } from './region/region'
import type { Tracer, TraceContext } from './recovery'
import { MarkWorkerInput, MarkWorkerResult, POSTED, loadTracerModule } from './parallel-mark'
import { SharedMarkState, markShared, lockPool, unlockPool, wake, DONE, ABORT, STARTED, FINISHED } from './shared-mark'

const d = workerData as MarkWorkerInput
const ctl = new Int32Array(d.ctl)

lockPool(ctl)
const join = ctl[DONE] === 0 && ctl[ABORT] === 0
if (join) {
  ctl[STARTED]++
  ctl[d.beat] = 1 // joined: the opening thread watches this word from now on
}
unlockPool(ctl)

if (join) {
  let result: MarkWorkerResult
  try {
    result = markOwnShare()
  } catch (e) {
    Atomics.store(ctl, ABORT, 1)
    result = { ok: false, error: `heap: a recovery worker failed: ${(e as Error)?.stack ?? String(e)}` }
  }
  d.port.postMessage(result)
  Atomics.store(ctl, POSTED + d.id, 1)
  Atomics.add(ctl, FINISHED, 1)
  wake(ctl)
}
d.port.close()

function markOwnShare(): MarkWorkerResult {
  const native = loadNative()
  if (native === null) throw new Error('the mmap addon is not loaded in this worker')
  const buffer = native.map(d.fd, d.length)
  try {
    const segments = segmentViews(buffer, d.length) // 4 GiB views (a heap may pass 4 GiB)
    const repairs: number[] = []
    const nulls: number[] = []
    let tracer: Tracer | null = null
    if (d.tracerModule) {
      const factory = loadTracerModule(d.tracerModule)
      const roots = new Map(d.roots)
      const ctx: TraceContext = {
        bytes: segments[0],
        segments,
        getRoot: (name) => roots.get(name) ?? 0,
        repair: (at, lo, hi) => { repairs.push(at, lo, hi) },
      }
      tracer = factory(ctx)
    }
    const state: SharedMarkState = {
      ctl, marks: new Uint32Array(d.marks), pool: d.wide ? new Float64Array(d.pool) : new Uint32Array(d.pool), size: new Float64Array(d.size),
      blocks: new Uint32Array(d.blocks), dataOff: d.dataOff, chunkShift: d.chunkShift, wide: d.wide,
    }
    const own = markShared(state, segments, tracer, (at) => { nulls.push(at) }, null, { beat: () => { Atomics.add(ctl, d.beat, 1) }, stalled: () => false })
    return { ok: true, marked: own.marked, stale: own.stale, nulls, repairs, tracer: tracer?.workerResult?.() }
  } finally {
    native.unmap(buffer)
  }
}
