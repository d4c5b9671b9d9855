import * as path from 'path'
import { markAsUntransferable } from 'worker_threads'

/**
 * The native mmap addon (native/mmap.cc, V8 API, loads in worker_threads too), built by
 * node-gyp at install into build/Release/makalu_mmap.node. Absent when the build failed or
 * was skipped: callers then fall back to FileRegion.
 */
export interface NativeMmap {
  /**
   * An ArrayBuffer of `reserve` bytes (default and at least `length`; at most 256 GiB): its first
   * `length` bytes are mmap(PROT_READ|PROT_WRITE, MAP_SHARED) of [0, length) of fd, the rest
   * reads as zeros and faults (SIGSEGV) on a write, so views must stop at `length`. V8 does not
   * count the buffer as external memory (no GC is started by mapping). It is unmapped by
   * unmap(), else when the GC collects it, else when the thread exits. Marked untransferable:
   * postMessage copies it, never moves it.
   */
  map(fd: number, length: number, reserve?: number): ArrayBuffer
  /**
   * Maps [0, length) of fd into a buffer from map(fd, ..., reserve), length ≤ reserve, once
   * the file is that long: the same address and buffer, only more of it backed by the file.
   * Absent from an addon built before it existed.
   */
  extend?(buffer: ArrayBuffer, fd: number, length: number): void
  /** msync(MS_SYNC) of the pages covering [offset, offset + length) of a mapped buffer. */
  sync(buffer: ArrayBuffer, offset: number, length: number): void
  /** Detaches the buffer (its views read as empty) and munmaps it. */
  unmap(buffer: ArrayBuffer): void
  /** flock(LOCK_EX | LOCK_NB): false when another open file description holds it. */
  lock(fd: number): boolean
  unlock(fd: number): void
  /**
   * fallocate(fd, 0, offset, length): backs the range with disk space (and extends the
   * file to cover it). 0 on success, else the errno (ENOSPC 28, EOPNOTSUPP 95, ...).
   * Absent from an addon built before it existed.
   */
  allocate?(fd: number, offset: number, length: number): number
  readonly pageSize: number
}

/** Set MAKALU_NO_NATIVE=1 to ignore the addon (tests of the fallback). */
export const NO_NATIVE_ENV = 'MAKALU_NO_NATIVE'

let loaded: NativeMmap | null | undefined
let failure: string | null = null

/** The addon, or null when it is not built (or disabled by MAKALU_NO_NATIVE=1). Loaded once. */
export function loadNative(): NativeMmap | null {
  if (loaded !== undefined) return loaded
  loaded = null
  if (process.env[NO_NATIVE_ENV] === '1') {
    failure = `disabled by ${NO_NATIVE_ENV}=1`
    return loaded
  }
  // dist/src/region/native.js -> <package>/build/{Release,Debug}/makalu_mmap.node
  const pkg = path.resolve(__dirname, '..', '..', '..')
  const errors: string[] = []
  for (const build of ['Release', 'Debug']) {
    const file = path.join(pkg, 'build', build, 'makalu_mmap.node')
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- a .node addon found at run time
      const addon = require(file) as NativeMmap
      const map = addon.map
      // A transfer would move the memory away from the addon's record, which then unmaps it
      // under the receiver; the addon's detach key makes a transfer abort, this makes it copy.
      loaded = Object.freeze({ ...addon, map: (fd: number, length: number, reserve?: number) => markUntransferable(map(fd, length, reserve)) })
      failure = null
      return loaded
    } catch (e) {
      errors.push(`${file}: ${(e as Error).message.split('\n')[0]}`)
    }
  }
  failure = errors.join('; ')
  return loaded
}

/** Why loadNative() returned null, for diagnostics; null when the addon loaded. */
export function nativeLoadFailure(): string | null {
  loadNative()
  return failure
}

function markUntransferable(buffer: ArrayBuffer): ArrayBuffer {
  markAsUntransferable(buffer)
  return buffer
}
