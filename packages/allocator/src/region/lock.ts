import * as fs from 'fs'
import { HeapLockedError, RegionError } from '../errors'
import { NativeMmap } from './native'
import { createWhole } from './new-file'

/**
 * One open per heap file, whatever the backend and whether the addon is loaded.
 * Every open takes the lock file `path + '.lock'` (holding the owner's pid, created
 * atomically: written aside, then hard-linked into place; a lock whose pid is no
 * longer alive is stale and taken over): a process without the addon sees only that.
 * With the addon an open first takes flock(LOCK_EX | LOCK_NB) on its open file
 * description too, so a second open conflicts even inside one process, and the
 * kernel drops it when the holder dies. Both locks are held until release, so an
 * addon process excludes a process without it and the other way round (issue 15.1).
 *
 * A lock file written by an open that also held the flock says so (second line
 * `flock`): an open that now holds the flock knows its writer is gone, whatever its
 * pid (a pid reused after a restart does not wedge the heap).
 *
 * Known limits: two processes taking over the same stale lock file at the same
 * instant can race, unless both have the addon (their flock decides first); a lock
 * file left by a killed process without the addon whose pid is alive again (reused)
 * refuses every open until it is removed by hand.
 */
export interface HeldLock {
  readonly kind: 'flock+lockfile' | 'lockfile'
  release(): void
}

/** Takes the lock for `path` (open as `fd`); throws HeapLockedError when it is held. */
export function lockHeapFile(path: string, fd: number, native: NativeMmap | null): HeldLock {
  if (!native) return lockWithFile(path)
  const flock = lockWithFlock(path, fd, native)
  let file: HeldLock
  try {
    file = lockWithFile(path, true)
  } catch (e) {
    flock.release()
    throw e
  }
  let held = true
  return {
    kind: 'flock+lockfile',
    release() {
      if (!held) return
      held = false
      try { file.release() } finally { flock.release() }
    },
  }
}

export function lockWithFlock(path: string, fd: number, native: NativeMmap): { release(): void } {
  if (!native.lock(fd)) {
    throw new HeapLockedError(`region: ${path} is already open (locked by another open, in this process or another)`)
  }
  let held = true
  return {
    release() {
      if (!held) return
      held = false
      native.unlock(fd)
    },
  }
}

export function lockFilePath(path: string): string { return path + '.lock' }

/** Second line of a lock file written by an open that also held the flock. */
const FLOCK_MARK = 'flock'

/** `holdsFlock`: the caller holds the flock of `path` (and says so in the lock file). */
export function lockWithFile(path: string, holdsFlock = false): HeldLock {
  const lockPath = lockFilePath(path)
  const token = `${process.pid}\n${holdsFlock ? `${FLOCK_MARK}\n` : ''}`
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreateLockFile(lockPath, token)) {
      let held = true
      return {
        kind: 'lockfile',
        release() {
          if (!held) return
          held = false
          // Remove it only while it is still ours.
          if (readLockFile(lockPath) === token) unlinkQuietly(lockPath)
        },
      }
    }
    const content = readLockFile(lockPath)
    if (content === null) continue // removed meanwhile: try again
    const pid = parseInt(content, 10)
    // Written under the flock we now hold: its writer is gone, whatever its pid.
    const writerGone = holdsFlock && content.split('\n')[1] === FLOCK_MARK
    if (!writerGone && Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new HeapLockedError(
        `region: ${path} is already open (lock file ${lockPath} is held by live process ${pid}` +
        `${pid === process.pid ? ', this one' : ''})`)
    }
    // Stale: its owner died without closing (or it holds garbage). Take it over.
    unlinkQuietly(lockPath)
  }
  throw new HeapLockedError(`region: ${path}: could not take the lock file ${lockPath} (it keeps changing)`)
}

/** Creates lockPath holding `token` atomically; false when it exists. */
function tryCreateLockFile(lockPath: string, token: string): boolean {
  return createWhole(lockPath, Buffer.from(token), 'lock file', false)
}

function readLockFile(lockPath: string): string | null {
  try {
    return fs.readFileSync(lockPath, 'utf8')
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new RegionError(`region: cannot read lock file ${lockPath}: ${(e as Error).message}`)
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM' // exists, owned by another user
  }
}

function unlinkQuietly(p: string): void {
  try { fs.unlinkSync(p) } catch { /* already gone */ }
}
