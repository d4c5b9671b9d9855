/**
 * A planted bug for the parallel recovery tests, as a tracer module a worker loads: pobj's
 * tracer, except that in a worker thread it skips every range of a block past the first
 * (a worker that drops its share of a big array). On the opening thread it is pobj's own.
 */
import { isMainThread } from 'node:worker_threads'
import { pobjTracer } from '@makalu/pobj'
import type { Tracer, TraceContext } from '@makalu/allocator'

export function skippingTracer(ctx: TraceContext): Tracer {
  const t = pobjTracer(ctx)
  if (isMainThread) return t
  const traceRange = t.traceRange!.bind(t)
  t.traceRange = (bytes, ptr, size, from, to, visit) => { if (from === 0) traceRange(bytes, ptr, size, from, to, visit) }
  return t
}

/**
 * A worker whose thread ends in the middle of its share, without reaching any handler
 * (`process.exit` in a worker ends that thread only): pobj's tracer on the opening thread; in
 * a worker, its first trace of a block ends the thread.
 */
export function exitingTracer(ctx: TraceContext): Tracer {
  const t = pobjTracer(ctx)
  if (isMainThread) return t
  t.trace = () => process.exit(0)
  t.traceRange = () => process.exit(0)
  return t
}
