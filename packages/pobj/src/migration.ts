/**
 * Migrations: the class changes schema-evolution.ts can not make by itself, applied by user
 * code at open, crash-atomically whatever their size (the undo log bounds nothing here).
 *
 * `PHeap.open(path, { types, migrations: [{ to: C, from?, migrate(old, obj, info) }] })`
 * rewrites, before open returns, every object of the migrated stable name (`from`, default
 * C's own) stored in an older layout version: `obj` is the object in C's current layout,
 * pre-filled with every field the automatic rules can carry over, and `migrate` sets the rest
 * from `old`, the old object's fields as plain values (refs and arrays as handles); `info.heap`
 * is the heap being opened (to create objects in). Steps:
 *   1. collect garbage (only reachable objects are migrated); find the old objects;
 *   2. per old object: allocate its new block, fill it, call migrate (which may create
 *      objects, e.g. to split one in two; it may write only to `obj` and to objects it
 *      creates); flush. Nothing reachable has changed: a crash or a throw here leaves the
 *      old heap (the new blocks are unreachable; a throw frees them);
 *   3. write the migration record (below) and flush it; drain: every new block is durable;
 *   4. COMMIT: setRoot(MIGRATION_ROOT, record), one durable root store;
 *   5. apply the record (`applyRecord`): each old block becomes a forwarder to its new block
 *      (one 8-byte store each), drain, retire the old versions in the type table, clear the
 *      root, free the record. Idempotent: after a crash from 4 on, the next open (even one
 *      without the migration) applies the record again before anything else.
 * So every open finds either the old heap, and the migration runs again, or the migrated one.
 *
 * Record (object-format.ts, MIGRATION_ROOT): a ref array [ids, old₀, new₀, old₁, new₁, …],
 * `ids` a u32 array of (type id to retire, type id its objects became) pairs. Both are ordinary array blocks, so the tracer
 * keeps the old and new blocks alive across a crash between 4 and 5.
 */
import type { Class } from './metadata-args'
import type { PHeap } from './pheap'
import {
  TAG_FORWARD, ARRAY_HEADER_SIZE, KIND_CODE, MIGRATION_ROOT, blockTag, forwardTarget, writeForwarder, arrayLength, readPtr, writePtr, writeArrayHeader,
} from './object-format'

/** One migration: objects of stable name `from` (default: `to`'s) in older layout versions become objects of `to`. */
export interface Migration<T extends object = object> {
  /** The class the objects become (it is added to `types`). */
  to: Class<T>
  /** The stable name of the objects to migrate, for a class rename or a merge; default: `to`'s stable name. */
  from?: string
  /**
   * Sets the fields of `obj` (already filled with what the automatic rules carry over) from
   * `old`, the stored fields by their stored names. Handles met here (in `old`, or made here)
   * are not usable after open returns; `obj` and the objects made here are.
   */
  migrate(old: Readonly<Record<string, unknown>>, obj: T, info: MigrationInfo): void
}

/** What `migrate` is told besides the object: the heap (to create objects in) and the old version. */
export interface MigrationInfo {
  readonly heap: PHeap
  readonly stableName: string
  readonly layoutVersion: number
}

/** Progress of a long operation, for a bar or a log line. */
export interface Progress {
  phase: 'migrate'
  /** The stable name being migrated (the last one started). */
  stableName: string
  done: number
  total: number
}

/** What writing and applying a record needs from the heap. */
export interface RecordHost {
  readonly dv: DataView
  alloc(size: number): number
  free(ptr: number): void
  flush(ptr: number, len: number): void
  drain(): void
  getRoot(name: string): number
  setRoot(name: string, ptr: number): void
  /** Marks the type ids as having no object left (durable); `into` gives the type id each one's objects became. */
  retire(typeIds: readonly number[], into: readonly number[]): void
}

/**
 * Steps 3 and 4: writes the record of `pairs` (old, new, old, new, …) and of `retired`
 * (type id, type id its objects became, …), durably, and commits it.
 */
export function commitRecord(host: RecordHost, pairs: readonly number[], retired: readonly number[]): void {
  const ids = host.alloc(ARRAY_HEADER_SIZE + 4 * retired.length)
  const rec = host.alloc(ARRAY_HEADER_SIZE + 8 * (1 + pairs.length))
  const dv = host.dv
  writeArrayHeader(dv, ids, KIND_CODE.u32, retired.length, 0)
  retired.forEach((id, i) => dv.setUint32(ids + ARRAY_HEADER_SIZE + 4 * i, id, true))
  writeArrayHeader(dv, rec, KIND_CODE.ref, 1 + pairs.length, 0)
  writePtr(dv, rec + ARRAY_HEADER_SIZE, ids)
  pairs.forEach((p, i) => writePtr(dv, rec + ARRAY_HEADER_SIZE + 8 * (1 + i), p))
  host.flush(ids, ARRAY_HEADER_SIZE + 4 * retired.length)
  host.flush(rec, ARRAY_HEADER_SIZE + 8 * (1 + pairs.length))
  host.drain()
  host.setRoot(MIGRATION_ROOT, rec) // COMMIT (durable on return)
}


/** Step 5: applies a committed record, if there is one; returns the number of objects forwarded. */
export function applyRecord(host: RecordHost): number {
  const rec = host.getRoot(MIGRATION_ROOT)
  if (rec === 0) return 0
  const dv = host.dv
  const n = arrayLength(dv, rec)
  const ids = readPtr(dv, rec + ARRAY_HEADER_SIZE)
  for (let i = 1; i + 1 < n; i += 2) {
    const old = readPtr(dv, rec + ARRAY_HEADER_SIZE + 8 * i)
    const nu = readPtr(dv, rec + ARRAY_HEADER_SIZE + 8 * (i + 1))
    if (blockTag(dv, old) === TAG_FORWARD && forwardTarget(dv, old) === nu) continue
    writeForwarder(dv, old, nu)
    host.flush(old, 8)
  }
  host.drain()
  const retired: number[] = []
  const into: number[] = []
  for (let i = 0; i + 1 < arrayLength(dv, ids); i += 2) {
    retired.push(dv.getUint32(ids + ARRAY_HEADER_SIZE + 4 * i, true))
    into.push(dv.getUint32(ids + ARRAY_HEADER_SIZE + 4 * (i + 1), true))
  }
  host.retire(retired, into)
  host.setRoot(MIGRATION_ROOT, 0)
  host.free(rec)
  host.free(ids)
  return (n - 1) / 2
}
