/**
 * The precise tracer of parallel-recovery-bench's heaps, as a module a recovery worker loads
 * (`tracerModule`): a 64-B node holds two pointers (words 0 and 8); any other block (the
 * array of tree roots) is all pointers.
 */
import type { Tracer } from '../src'

type Visit = (p: number, at?: number, leaf?: boolean) => void

export function forestTracer(): Tracer {
  let cached: Uint8Array | null = null
  let u: Uint32Array = new Uint32Array(0)
  const range = (bytes: Uint8Array, ptr: number, size: number, from: number, to: number, visit: Visit): void => {
    if (bytes !== cached) { cached = bytes; u = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4) }
    const end = size === 64 ? Math.min(to, 16) : Math.min(to, size)
    for (let off = from; off < end; off += 8) {
      const i = (ptr + off) >>> 2
      if (u[i] !== 0 && u[i + 1] === 0) visit(u[i], ptr + off)
    }
  }
  return {
    trace: (bytes, ptr, size, visit) => range(bytes, ptr, size, 0, size, visit),
    traceRange: range,
  }
}
