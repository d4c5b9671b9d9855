/**
 * A compacted backup: a new heap file holding only what the named roots reach, each object
 * once (shared ones shared), in the newest layout version of its class (no forwarders), the
 * free space left out. Where `heap.backup(path)` copies the file's bytes, this copies its
 * objects. Steps:
 *   1. export the heap (heap-export.ts) and import it, with the export's own type table, into
 *      a fresh heap in memory (a SimRegion sized from the live bytes; doubled while too small);
 *   2. COMMIT: write that heap whole as `path` (Heap.backup: written beside, fsynced, then
 *      hard-linked into place: a crash leaves no file at `path` that looks complete).
 * The source heap is only read. Memory: the copy is held in memory until it is written.
 */
import { SimRegion, HeapFullError, TransactionError } from '@makalu/allocator'
import { PHeap } from './pheap'
import { exportLines } from './heap-export'
import { importHeap } from './heap-import'

export interface CompactBackupReport {
  /** Bytes of the new file. */
  bytes: number
  objects: number
  roots: number
  ms: number
}

/** Writes a compacted copy of `heap` to the new file `path` (outside a transaction). */
export function backupCompact(heap: PHeap, path: string, opts: { onProgress?: (done: number, total: number) => void } = {}): CompactBackupReport {
  if (heap.inTransaction) throw new TransactionError('pobj: backupCompact() inside a transaction; call it after the transaction')
  const t0 = performance.now()
  const { used, size: sourceSize } = heap.stats()
  // Room for the live bytes with a quarter to spare, plus the metadata of a small heap.
  let size = Math.max(1 << 20, 2 ** Math.ceil(Math.log2(used * 1.25 + (256 << 10))))
  for (;;) {
    const dst = PHeap.createIn(new SimRegion(size), { gc: false })
    try {
      const r = importHeap(dst, exportLines(heap), { types: 'from-export', onProgress: opts.onProgress })
      const w = dst.backup(path)
      return { bytes: w.bytes, objects: r.objects, roots: r.roots.length, ms: performance.now() - t0 }
    } catch (e) {
      if (!(e instanceof HeapFullError) || size >= 2 * Math.max(sourceSize, 1 << 20)) throw e
      size *= 2
    } finally {
      if (!dst.closed) dst.close()
    }
  }
}
