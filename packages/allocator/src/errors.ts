/**
 * Typed errors: one class per condition a user or a file can cause, each with a
 * stable `code`. Messages are prefixed by subsystem ("region: ", "heap: ", ...).
 * Our own bugs are assertions (`assert` below), not these.
 */
export class MakaluError extends Error {
  readonly code: string = 'EMAKALU'
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** A region can not be opened or used: missing file, directory, bad size, permissions. */
export class RegionError extends MakaluError {
  override readonly code: string = 'EREGION'
}
/**
 * The file system has no room for the region's bytes (ENOSPC, quota): found when a file is
 * created, grown or opened, before any byte of it is used. Nothing was written.
 */
export class RegionFullError extends RegionError {
  override readonly code: string = 'EREGIONFULL'
}
/** The file is not a heap of a format this version reads. Nothing was written. */
export class HeapFormatError extends MakaluError {
  override readonly code: string = 'EHEAPFORMAT'
}
/** The heap's metadata contradicts itself (bad checksum, pointer outside the heap, ...). */
export class HeapCorruptError extends MakaluError {
  override readonly code: string = 'EHEAPCORRUPT'
}
/** No room for the request, even after growing where the region can. The heap is unchanged. */
export class HeapFullError extends MakaluError {
  override readonly code: string = 'EHEAPFULL'
}
/** The heap file is open elsewhere, in this process or another. */
export class HeapLockedError extends MakaluError {
  override readonly code: string = 'EHEAPLOCKED'
}
/** The heap was closed; the handle can not be used. */
export class HeapClosedError extends MakaluError {
  override readonly code: string = 'EHEAPCLOSED'
}
/** A pointer passed in is not the start of an allocated block (or was freed already). */
export class InvalidPointerError extends MakaluError {
  override readonly code: string = 'EINVALIDPTR'
}
/** A misuse of a transaction: snapshot outside one, a log overflow, a nested call. */
export class TransactionError extends MakaluError {
  override readonly code: string = 'ETRANSACTION'
}
/** A bad argument: a root name too long, a size out of range, ... */
export class ArgumentError extends MakaluError {
  override readonly code: string = 'EARGUMENT'
}

/** An internal invariant failed: a bug in this library, never bad input. */
export function assert(cond: unknown, what: string): asserts cond {
  if (!cond) throw new Error(`makalu internal assertion failed: ${what}`)
}

/**
 * A transaction did not commit because a drain failed while committing (a full disk, an
 * I/O error); `cause` is that error. The transaction was rolled back: the heap is as it
 * was before it, in memory and on media, and stays usable.
 */
export class CommitFailedError extends TransactionError {
  override readonly code: string = 'ECOMMITFAILED'
}
/**
 * An I/O error left the heap in a state this process can not settle (a rollback that could
 * not be made durable, a commit whose last write could not be confirmed). Every later call
 * throws this; close() releases the file without marking it clean, and the next open
 * recovers it from what reached media: each transaction is then whole or absent.
 */
export class HeapFailedError extends MakaluError {
  override readonly code: string = 'EHEAPFAILED'
}

/** A write to a heap opened read-only (a snapshot of the file: nothing is ever written back). */
export class ReadOnlyError extends MakaluError {
  override readonly code: string = 'EREADONLY'
}

/**
 * A heap shared between worker_threads (heap.share() / Heap.attach()) can not do this now:
 * close() of the heap that shared it while others are attached, collect() or backup() while
 * others are attached, share() of a backend that can not be shared, a token that is not valid
 * here. Nothing was changed.
 */
export class HeapSharedError extends MakaluError {
  override readonly code: string = 'EHEAPSHARED'
}
