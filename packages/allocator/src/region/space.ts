import * as fs from 'fs'
import { constants } from 'os'
import { RegionError, RegionFullError } from '../errors'
import { NativeMmap } from './native'

/**
 * Disk space for a heap file's bytes, taken when the file is created, grown or opened,
 * so that a full disk is a RegionFullError then, never a SIGBUS when a mapped page is
 * first touched (a sparse file's ftruncate succeeds on a full disk; its pages have no
 * blocks until written).
 *
 *   with the addon:    fallocate(2) of the range (quick: no bytes are written)
 *   without it:        zeros written over the range (only when creating or growing)
 */

const ZEROS = new Uint8Array(1 << 20)
const { ENOSPC, EDQUOT, EOPNOTSUPP } = constants.errno

/**
 * Makes [from, to) of the file backed by disk space and the file at least `to` bytes long.
 * `what` names the step for messages ("create", "grow"). Throws RegionFullError when the
 * file system has no room, RegionError on any other failure.
 */
export function reserveSpace(path: string, fd: number, from: number, to: number, native: NativeMmap | null, what: string): void {
  if (to <= from) return
  if (native && typeof native.allocate === 'function') {
    const err = native.allocate(fd, from, to - from)
    if (err === 0) return
    if (err !== EOPNOTSUPP) throw spaceError(path, what, to, err, `fallocate: errno ${err}`)
    // The file system cannot reserve space: write the zeros instead.
  }
  let at = from
  try {
    while (at < to) at += fs.writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, to - at), at)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw spaceError(path, what, to, code === 'ENOSPC' ? ENOSPC : code === 'EDQUOT' ? EDQUOT : -1, (e as Error).message)
  }
}

/**
 * Makes sure an existing file of `size` bytes is backed by disk space (a file made sparse by
 * a copy, or by an older version). Only with the addon, where an unbacked page would SIGBUS.
 */
export function reserveExisting(path: string, fd: number, size: number, native: NativeMmap | null): void {
  if (!native || typeof native.allocate !== 'function') return
  const err = native.allocate(fd, 0, size)
  if (err !== 0 && err !== EOPNOTSUPP) throw spaceError(path, 'open', size, err, `fallocate: errno ${err}`)
}

function spaceError(path: string, what: string, size: number, errno: number, detail: string): RegionError {
  if (errno === ENOSPC || errno === EDQUOT) {
    return new RegionFullError(`region: cannot ${what} ${path} at ${size} bytes: no space left on its file system ` +
      `(${errno === EDQUOT ? 'disk quota exceeded' : 'ENOSPC'})`)
  }
  return new RegionError(`region: cannot ${what} ${path} at ${size} bytes: ${detail}`)
}
