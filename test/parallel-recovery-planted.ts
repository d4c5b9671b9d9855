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
