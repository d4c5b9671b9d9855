import * as fs from 'fs'
import * as nodePath from 'path'
import { RegionError, RegionFullError } from '../errors'

/**
 * Creates the file `path` whole or not at all, never replacing one that exists. In order:
 *   1. write the bytes into a new file beside it (`path.<pid>.<random>`); with `sync`, fsync it
 *   2. hard-link it to `path` (commits: link fails on an existing file, so two writers can not
 *      both win, and a crash before it leaves no `path`)
 *   3. remove the name beside it; with `sync`, fsync the directory (the link is durable)
 * Returns false when `path` exists; throws RegionError (RegionFullError on a full disk),
 * naming `what`, for any other failure, leaving no file behind.
 */
export function createWhole(path: string, data: Uint8Array | readonly Uint8Array[], what: string, sync: boolean): boolean {
  const parts = data instanceof Uint8Array ? [data] : data
  const aside = `${path}.${process.pid}.${Math.random().toString(36).slice(2, 10)}`
  let fd: number
  try {
    fd = fs.openSync(aside, 'wx', 0o644)
  } catch (e) {
    throw failure(e, `cannot create ${what} beside ${path}`)
  }
  try {
    try {
      let base = 0 // parts follow each other in the file (segments of a region)
      for (const bytes of parts) {
        for (let at = 0; at < bytes.length;) at += fs.writeSync(fd, bytes, at, Math.min(bytes.length - at, 1 << 30), base + at)
        base += bytes.length
      }
      if (sync) fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    fs.linkSync(aside, path)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw failure(e, `cannot create ${what} ${path}`)
  } finally {
    try { fs.unlinkSync(aside) } catch { /* gone already */ }
  }
  if (sync) {
    try {
      const dir = fs.openSync(nodePath.dirname(nodePath.resolve(path)), 'r')
      try { fs.fsyncSync(dir) } finally { fs.closeSync(dir) }
    } catch { /* a file system that can not sync a directory */ }
  }
  return true
}

function failure(e: unknown, what: string): RegionError {
  const code = (e as NodeJS.ErrnoException).code
  const Err = code === 'ENOSPC' || code === 'EDQUOT' ? RegionFullError : RegionError
  return new Err(`region: ${what}: ${(e as Error).message}`)
}
