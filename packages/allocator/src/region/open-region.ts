import * as fs from 'fs'
import * as nodePath from 'path'
import { MakaluError, RegionError } from '../errors'
import { Durability, MAX_MEMORY_REGION_SIZE, MAX_REGION_SIZE, MIN_REGION_SIZE } from './region'
import { FileRegion } from './file-region'
import { HeldLock, lockHeapFile } from './lock'
import { MmapRegion } from './mmap-region'
import { RegionFile } from './file-backed'
import { NativeMmap, loadNative, nativeLoadFailure } from './native'
import { realSizeProblem } from './page-ranges'
import { reserveExisting, reserveSpace } from './space'

export type RegionBackend = 'mmap' | 'file'

export interface OpenRegionOptions {
  /**
   * Size in bytes of a file to create: a multiple of 4096 in [4096, 256 GiB] on mmap, [4096, 4 GiB]
   * on the file backend (it holds the region in one buffer in process memory).
   * When opening an existing file it may be given only if it equals the file's size.
   */
  size?: number
  /**
   * `true`: create the file, which must not exist (an existing file is never
   * overwritten: RegionError). `'if-missing'`: open the file if it exists (as it
   * is; `size` then applies only when creating), else create it. Default false:
   * the file must exist.
   */
  create?: boolean | 'if-missing'
  /**
   * Bytes the region may grow to without a new mapping (mmap: address space mapped at open,
   * past the file's end; the file backend only checks it is at most 4 GiB). Default: the file's size.
   */
  maxSize?: number
  /** Default 'power'. */
  durability?: Durability
  /** Default 'mmap' when the native addon is built, else 'file'. */
  backend?: RegionBackend
}

/**
 * Opens (or creates) a heap file as a locked region. Bad input throws a
 * RegionError and leaves the file system as it was: a refused open never
 * creates, truncates or writes anything. A file already open, in this process
 * or another, throws HeapLockedError.
 */
export function openRegion(path: string, opts: OpenRegionOptions = {}): MmapRegion | FileRegion {
  const { durability, backend, create, size, maxSize } = checkOptions(path, opts)
  const native = loadNative()
  if (backend === 'mmap' && native === null) {
    throw new RegionError(`region: backend 'mmap' asked for ${path}, but the native addon is not available (${nativeLoadFailure()}); ` +
      `rebuild it with 'npx node-gyp rebuild' in packages/allocator, or use backend 'file'`)
  }
  let created = false
  let fd: number
  if (create === true) {
    fd = createExclusive(path)
    created = true
  } else {
    const existing = openExisting(path, create === 'if-missing')
    if (existing === null) {
      fd = createExclusive(path)
      created = true
    } else {
      fd = existing
    }
  }

  let lock: HeldLock | null = null
  try {
    let fileSize: number
    if (created) {
      fileSize = size!
    } else {
      fileSize = checkExistingFile(path, fd, create === 'if-missing' ? undefined : size, backend)
    }
    lock = lockHeapFile(path, fd, native)
    if (created) sizeNewFile(path, fd, fileSize, durability, native)
    else reserveExisting(path, fd, fileSize, native)
    const file: RegionFile = { path, fd, size: fileSize, lock, native }
    return backend === 'mmap' ? new MmapRegion(file, durability, native as NativeMmap, maxSize) : new FileRegion(file, durability)
  } catch (e) {
    try { lock?.release() } catch { /* closing the fd drops it anyway */ }
    try { fs.closeSync(fd) } catch { /* nothing more to do */ }
    if (created) { try { fs.unlinkSync(path) } catch { /* gone already */ } }
    if (e instanceof MakaluError) throw e
    throw new RegionError(`region: cannot open ${path}: ${(e as Error).message}`)
  }
}

function checkOptions(path: string, opts: OpenRegionOptions) {
  if (typeof path !== 'string' || path.length === 0) throw new RegionError(`region: path must be a non-empty string, got ${String(path)}`)
  if (opts === null || typeof opts !== 'object') throw new RegionError('region: options must be an object')
  const durability = opts.durability ?? 'power'
  if (durability !== 'power' && durability !== 'process') {
    throw new RegionError(`region: durability must be 'power' or 'process', got '${String(durability)}'`)
  }
  const backend = opts.backend ?? (loadNative() ? 'mmap' : 'file')
  if (backend !== 'mmap' && backend !== 'file') throw new RegionError(`region: backend must be 'mmap' or 'file', got '${String(backend)}'`)
  const create = opts.create ?? false
  if (create !== true && create !== false && create !== 'if-missing') {
    throw new RegionError(`region: create must be true, false or 'if-missing', got '${String(create)}'`)
  }
  const size = opts.size
  if (size !== undefined) {
    const problem = realSizeProblem(size, MIN_REGION_SIZE, maxFor(backend))
    if (problem) throw new RegionError(`region: cannot open ${path}: ${problem}${memoryLimitNote(backend, size)}`)
  } else if (create !== false) {
    throw new RegionError(`region: creating ${path} needs a size`)
  }
  const maxSize = opts.maxSize
  if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && maxSize > 0 && maxSize <= maxFor(backend))) {
    throw new RegionError(`region: cannot open ${path}: maxSize must be an integer from 1 to ${maxFor(backend) / 2 ** 30} GiB, ` +
      `got ${String(maxSize)}${memoryLimitNote(backend, maxSize)}`)
  }
  return { durability, backend, create, size, maxSize }
}

/** O_RDWR of an existing file; null when it is missing and `missingOk`. */
function openExisting(path: string, missingOk: boolean): number | null {
  try {
    return fs.openSync(path, 'r+')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && missingOk) return null
    throw new RegionError(`region: cannot open ${path}: ${describe(code, e as Error, false)}`)
  }
}

/** O_RDWR | O_CREAT | O_EXCL: never touches an existing file. */
function createExclusive(path: string): number {
  try {
    return fs.openSync(path, 'wx+', 0o644)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new RegionError(`region: cannot create ${path}: ${describe(code, e as Error, true)}`)
  }
}

function describe(code: string | undefined, e: Error, creating: boolean): string {
  switch (code) {
    case 'ENOENT': return creating ? 'its directory does not exist' : 'no such file (pass create: true to create it)'
    case 'EEXIST': return 'the file exists already (create: true never overwrites a file; omit create to open it)'
    case 'EISDIR': return 'it is a directory'
    case 'EACCES': case 'EPERM': return `permission denied: a heap file must be readable and writable (${code})`
    case 'EROFS': return 'read-only file system'
    case 'ENOTDIR': return 'a component of the path is not a directory'
    default: return e.message
  }
}

/** The size of an open existing file, after checking it can be a region. */
/** The largest region of a backend: the file backend holds it in one buffer of at most 4 GiB. */
const maxFor = (backend: RegionBackend): number => backend === 'mmap' ? MAX_REGION_SIZE : MAX_MEMORY_REGION_SIZE

function memoryLimitNote(backend: RegionBackend, size: unknown): string {
  return backend === 'file' && typeof size === 'number' && size > MAX_MEMORY_REGION_SIZE && size <= MAX_REGION_SIZE
    ? " (the file backend holds the heap in one buffer of at most 4 GiB; heaps over 4 GiB need backend 'mmap')" : ''
}

function checkExistingFile(path: string, fd: number, expected: number | undefined, backend: RegionBackend): number {
  const st = fs.fstatSync(fd)
  if (!st.isFile()) throw new RegionError(`region: cannot open ${path}: not a regular file`)
  if (st.size === 0) throw new RegionError(`region: cannot open ${path}: the file is empty (zero-length), not a heap file`)
  const problem = realSizeProblem(st.size, MIN_REGION_SIZE, maxFor(backend))
  if (problem) throw new RegionError(`region: cannot open ${path}: file ${problem}${memoryLimitNote(backend, st.size)}`)
  if (expected !== undefined && expected !== st.size) {
    throw new RegionError(`region: cannot open ${path}: the file is ${st.size} bytes, not the ${expected} asked for (size applies when creating)`)
  }
  return st.size
}

/**
 * Gives a file we just created its size, with disk space behind it (RegionFullError when the
 * file system has no room); in 'power' mode makes the size and the name durable.
 */
function sizeNewFile(path: string, fd: number, size: number, durability: Durability, native: NativeMmap | null): void {
  reserveSpace(path, fd, 0, size, native, 'create')
  fs.ftruncateSync(fd, size)
  if (durability !== 'power') return
  fs.fsyncSync(fd)
  const dir = fs.openSync(nodePath.dirname(nodePath.resolve(path)), 'r')
  try { fs.fsyncSync(dir) } finally { fs.closeSync(dir) }
}
