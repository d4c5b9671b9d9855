import * as fs from 'fs'
import { HeapSharedError } from '../errors'
import { Durability } from './region'
import { MmapRegion } from './mmap-region'
import { loadNative, nativeLoadFailure } from './native'

/**
 * The region of a heap attached in another thread of the process (heap.share(), Heap.attach()):
 * the heap file mapped again, on this thread, through the fd of the heap that shared it (fds
 * are per process). It takes no lock (the sharing heap holds the file's) and its close unmaps
 * this mapping only, leaving the fd open. Each thread maps on its own so that it can unmap at
 * a chosen moment (a SharedArrayBuffer over a mapping can not be detached; see
 * docs/design-notes.md); Atomics on the mapping are not needed: shared state is in SABs.
 */
export function attachMmapRegion(path: string, fd: number, durability: Durability): MmapRegion {
  const native = loadNative()
  if (!native) throw new HeapSharedError(`heap: attach ${path}: the native mmap addon is not available here (${nativeLoadFailure()})`)
  let size: number
  try {
    size = fs.fstatSync(fd).size
  } catch (e) {
    throw new HeapSharedError(`heap: attach ${path}: the file of the sharing heap is not open in this process (${(e as Error).message})`)
  }
  return new MmapRegion({ path, fd, size, lock: { kind: 'lockfile', release() {} }, native, borrowedFd: true }, durability, native)
}
