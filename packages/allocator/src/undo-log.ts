import * as F from './format'
import { Layout } from './superblock'
import { Memory, fnv1a, fnv1aWord } from './memory'
import { HeapCorruptError, TransactionError } from './errors'

/**
 * The undo log of the one open transaction: old bytes, appended before they change.
 *
 * A transaction, in order:
 *   1. per snapshot: append an entry (txId, seq, target, length, checksum, old bytes); flush.
 *      The first entry also stores activeTx = txId; flush. Drain: the old bytes are durable
 *      before the caller changes them.
 *   2. commit: flush every changed range and every block allocated inside; drain.
 *   3. store committedTx = txId; flush; drain. This store commits the transaction.
 * Recovery, when activeTx ≠ committedTx: copy the entries' old bytes back, newest first;
 * flush; drain; store committedTx = activeTx; flush; drain. Doing it twice is harmless.
 */
export class UndoLog {
  /** Id of the next (or the open) transaction. */
  txId = 1
  private tail = F.LOG_HEADER_SIZE
  private seq = 0

  constructor(private readonly mem: Memory, private readonly layout: Layout) {}

  private get base(): number { return this.layout.logOff }
  get entries(): number { return this.seq }
  get bytesUsed(): number { return this.tail }

  /** Whether the log holds an unfinished transaction. */
  pending(): boolean {
    const u = this.mem.u32
    return u[(this.base + F.LH_ACTIVE_TX) >>> 2] !== u[(this.base + F.LH_COMMITTED_TX) >>> 2]
  }

  /** The next transaction id after what the log holds. */
  resume(): void {
    const u = this.mem.u32
    this.txId = (Math.max(u[(this.base + F.LH_ACTIVE_TX) >>> 2], u[(this.base + F.LH_COMMITTED_TX) >>> 2]) + 1) >>> 0 || 1
    this.tail = F.LOG_HEADER_SIZE
    this.seq = 0
  }

  /** Appends an entry with the current bytes of [target, target+length); flushed, not drained. */
  append(target: number, length: number): void {
    const size = F.LOG_ENTRY_HEADER + ((length + 7) & ~7)
    if (this.tail + size > this.layout.logSize) {
      throw new TransactionError(`heap: transaction too large for the undo log (${this.layout.logSize} bytes; ` +
        `${this.seq} snapshots, ${this.tail} bytes used); create the heap with a larger logSize`)
    }
    const u = this.mem.u32
    const b = this.mem.bytes
    if (this.seq === 0) {
      this.mem.writePointer(this.base + F.LH_ACTIVE_TX, this.txId)
      this.mem.region.flush(this.base + F.LH_ACTIVE_TX, 8)
    }
    const e = this.base + this.tail
    if (target < F.SEGMENT_SIZE) b.copyWithin(e + F.LOG_ENTRY_HEADER, target, target + length)
    else b.set(this.mem.bytesAt(target).subarray(target >>> 0, (target >>> 0) + length), e + F.LOG_ENTRY_HEADER)
    u[(e + F.LE_TX) >>> 2] = this.txId
    u[(e + F.LE_SEQ) >>> 2] = this.seq
    u[(e + F.LE_TARGET) >>> 2] = target >>> 0
    u[(e + F.LE_TARGET_HIGH) >>> 2] = Math.floor(target / F.SEGMENT_SIZE)
    u[(e + F.LE_LENGTH) >>> 2] = length
    u[(e + F.LE_CHECKSUM) >>> 2] = entryChecksum(this.mem, e, this.txId, this.seq, target, length)
    this.mem.region.flush(e, F.LOG_ENTRY_HEADER + length)
    this.tail += size
    this.seq++
  }

  /** Step 3 of commit (or the end of a rollback): committedTx = txId; flushed, not drained. */
  markCommitted(): void {
    this.mem.writePointer(this.base + F.LH_COMMITTED_TX, this.txId)
    this.mem.region.flush(this.base + F.LH_COMMITTED_TX, 8)
    this.txId = (this.txId + 1) >>> 0 || 1
    this.tail = F.LOG_HEADER_SIZE
    this.seq = 0
  }

  /**
   * The valid entries of the unfinished transaction recorded on media, oldest first.
   * Checks every target lies in [lowest, highest); throws HeapCorruptError if not. Reads only.
   */
  scan(lowest: number, highest: number, source: string): Array<[entry: number, target: number, length: number]> {
    const u = this.mem.u32
    const tx = u[(this.base + F.LH_ACTIVE_TX) >>> 2]
    const out: Array<[number, number, number]> = []
    if (u[(this.base + F.LH_ACTIVE_TX + 4) >>> 2] !== 0 || u[(this.base + F.LH_COMMITTED_TX + 4) >>> 2] !== 0) {
      throw new HeapCorruptError(`heap: ${source}: undo log header is damaged`)
    }
    let off = F.LOG_HEADER_SIZE
    for (let seq = 0; off + F.LOG_ENTRY_HEADER <= this.layout.logSize; seq++) {
      const e = this.base + off
      const length = u[(e + F.LE_LENGTH) >>> 2]
      const target = entryTarget(u, e)
      if (u[(e + F.LE_TX) >>> 2] !== tx || u[(e + F.LE_SEQ) >>> 2] !== seq) break
      if (off + F.LOG_ENTRY_HEADER + length > this.layout.logSize) break
      if (u[(e + F.LE_CHECKSUM) >>> 2] !== entryChecksum(this.mem, e, tx, seq, target, length)) break
      if (target < lowest || target + length > highest) {
        throw new HeapCorruptError(`heap: ${source}: undo log entry ${seq} targets [${target}, ${target + length}) outside the heap`)
      }
      out.push([e, target, length])
      off += F.LOG_ENTRY_HEADER + ((length + 7) & ~7)
    }
    return out
  }

  /** Copies the old bytes of `entries` back, newest first, flushing each (not drained). */
  restore(entries: Array<[number, number, number]>): void {
    const b = this.mem.bytes
    for (let i = entries.length - 1; i >= 0; i--) {
      const [e, target, length] = entries[i]
      if (target < F.SEGMENT_SIZE) b.copyWithin(target, e + F.LOG_ENTRY_HEADER, e + F.LOG_ENTRY_HEADER + length)
      else this.mem.bytesAt(target).set(b.subarray(e + F.LOG_ENTRY_HEADER, e + F.LOG_ENTRY_HEADER + length), target >>> 0)
      this.mem.region.flush(target, length)
    }
  }

  /** The open transaction's own entries (for an abort), oldest first. */
  ownEntries(): Array<[number, number, number]> {
    const out: Array<[number, number, number]> = []
    const u = this.mem.u32
    for (let off = F.LOG_HEADER_SIZE, s = 0; s < this.seq; s++) {
      const e = this.base + off
      const length = u[(e + F.LE_LENGTH) >>> 2]
      out.push([e, entryTarget(u, e), length])
      off += F.LOG_ENTRY_HEADER + ((length + 7) & ~7)
    }
    return out
  }

  /** After recovery rolled back: the log's active id is now committed. */
  adoptActiveAsCommitted(): void {
    this.txId = this.mem.u32[(this.base + F.LH_ACTIVE_TX) >>> 2]
    this.markCommitted()
  }
}

export function entryChecksum(mem: Memory, e: number, tx: number, seq: number, target: number, length: number): number {
  let h = fnv1aWord(tx, 0x811c9dc5)
  h = fnv1aWord(seq, h)
  h = fnv1aWord(target >>> 0, h)
  const high = Math.floor(target / F.SEGMENT_SIZE)
  if (high !== 0) h = fnv1aWord(high, h) // absent when 0: a version 3 log's checksums hold
  h = fnv1aWord(length, h)
  return fnv1a(mem.bytes, e + F.LOG_ENTRY_HEADER, e + F.LOG_ENTRY_HEADER + length, h)
}

/** An entry's target: its low word and (wide heaps) high word. */
function entryTarget(u: Uint32Array, e: number): number {
  return u[(e + F.LE_TARGET) >>> 2] + u[(e + F.LE_TARGET_HIGH) >>> 2] * F.SEGMENT_SIZE
}
