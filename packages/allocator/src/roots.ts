import * as F from './format'
import { Layout } from './superblock'
import { Memory, fnv1a, fnv1aWord } from './memory'
import { ArgumentError, HeapCorruptError, HeapFullError } from './errors'

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })
/**
 * Whether `s` holds a lone surrogate (it is not well-formed UTF-16). UTF-8 can not hold one:
 * TextEncoder and Buffer turn it into U+FFFD, so two different names would store the same.
 * Node 20's native String.prototype.isWellFormed (ES2024; not in the ES2022 typings) is about
 * twice as fast as a regular expression, and runs on every string field write.
 */
export function hasLoneSurrogate(s: string): boolean { return !(s as unknown as { isWellFormed(): boolean }).isWellFormed() }

function nameCheck(bytes: Uint8Array, from: number, length: number): number {
  return fnv1a(bytes, from, from + length, fnv1aWord(length, 0x811c9dc5))
}

/**
 * Named roots: a persistent table of (name, pointer) slots and a volatile
 * name → slot index. A slot is in use exactly when its pointer is not 0.
 *
 * Adding a root, in order:
 *   1. write the name, its length and its check into a free slot; flush
 *   2. drain                    (the name is durable before the slot is)
 *   3. write the pointer; flush (commits: the slot is in use)
 *   4. drain
 * Changing or removing a root is step 3-4 alone (a pointer of 0 frees the slot).
 * Inside a transaction the heap snapshots the whole slot first and flushes it at commit,
 * so a slot freed and reused in one transaction rolls back with its old name.
 *
 * Invariants (checked by load, so by every open and by check()): a slot in use has a name
 * of 1..ROOT_NAME_MAX bytes of well-formed UTF-8 whose check matches, no two slots in use
 * have the same name, and its pointer is the start of an allocated block.
 */
export class RootTable {
  private readonly slots = new Map<string, number>()

  constructor(private readonly mem: Memory, private readonly layout: Layout) {}

  slotOff(i: number): number { return this.layout.rootTableOff + i * F.ROOT_SLOT_SIZE }

  /** Encodes and checks a root name. */
  static encodeName(name: string): Uint8Array {
    if (typeof name !== 'string' || name.length === 0) throw new ArgumentError('heap: a root name must be a non-empty string')
    if (hasLoneSurrogate(name)) {
      throw new ArgumentError(`heap: root name ${JSON.stringify(name.slice(0, 40))} holds a lone surrogate (not well-formed UTF-16); names are stored as UTF-8`)
    }
    const bytes = utf8.encode(name)
    if (bytes.length > F.ROOT_NAME_MAX) {
      throw new ArgumentError(`heap: root name '${name.slice(0, 40)}…' is ${bytes.length} UTF-8 bytes; the limit is ${F.ROOT_NAME_MAX}`)
    }
    return bytes
  }

  /** Rebuilds the volatile index from the table; throws HeapCorruptError on a bad slot. Reads only. */
  load(isBlockStart: (p: number) => boolean, source: string): void {
    this.slots.clear()
    const b = this.mem.bytes
    const u = this.mem.u32
    for (let i = 0; i < this.layout.rootCapacity; i++) {
      const off = this.layout.rootTableOff + i * F.ROOT_SLOT_SIZE
      if (u[off >>> 2] === 0 && u[(off >>> 2) + 1] === 0) continue // a free slot: the common case, kept cheap
      const ptr = this.mem.readPointer(off)
      const len = this.mem.u32[(off + F.RS_NAME_LENGTH) >>> 2]
      let name: string
      try {
        if (len === 0 || len > F.ROOT_NAME_MAX) throw new Error('length')
        if (u[(off + F.RS_NAME_CHECK) >>> 2] !== nameCheck(b, off + F.RS_NAME, len)) throw new Error('check')
        name = utf8Decoder.decode(b.subarray(off + F.RS_NAME, off + F.RS_NAME + len))
      } catch {
        throw new HeapCorruptError(`heap: ${source}: root slot ${i} is damaged (its name, length or check does not match)`)
      }
      if (ptr < 0 || !isBlockStart(ptr)) throw new HeapCorruptError(`heap: ${source}: root '${name}' points to ${ptr}, not a block`)
      if (this.slots.has(name)) throw new HeapCorruptError(`heap: ${source}: root '${name}' is in two slots`)
      this.slots.set(name, i)
    }
  }

  get(name: string): number {
    const i = this.slots.get(name)
    return i === undefined ? 0 : this.mem.readPointer(this.slotOff(i))
  }

  entries(): Array<[string, number]> {
    return [...this.slots].map(([name, i]) => [name, this.mem.readPointer(this.slotOff(i))])
  }

  pointers(): number[] {
    return [...this.slots.values()].map((i) => this.mem.readPointer(this.slotOff(i)))
  }

  get count(): number { return this.slots.size }

  /** The slot of `name`, or −1. */
  slotOf(name: string): number { return this.slots.get(name) ?? -1 }

  /** A slot free now (pointer 0, not bound in the index); throws HeapFullError when there is none. */
  freeSlot(name: string): number {
    const used = new Set(this.slots.values())
    for (let i = 0; i < this.layout.rootCapacity; i++) {
      if (!used.has(i) && this.mem.readPointer(this.slotOff(i)) === 0) return i
    }
    throw new HeapFullError(`heap: the root table is full (${this.layout.rootCapacity} roots); cannot add '${name}'`)
  }

  /** Step 1: writes the name, its length and its check into free slot i; flushed unless `flush` is false. */
  writeName(i: number, encoded: Uint8Array, flush = true): void {
    const off = this.slotOff(i)
    this.mem.u32[(off + F.RS_NAME_LENGTH) >>> 2] = encoded.length
    this.mem.bytes.set(encoded, off + F.RS_NAME)
    this.mem.u32[(off + F.RS_NAME_CHECK) >>> 2] = nameCheck(this.mem.bytes, off + F.RS_NAME, encoded.length)
    if (flush) this.mem.region.flush(off + F.RS_NAME_LENGTH, F.ROOT_SLOT_SIZE - F.RS_NAME_LENGTH)
  }

  /** Step 3: stores the pointer of slot i and updates the index; flushed (not drained) unless `flush` is false. */
  writePointer(name: string, i: number, ptr: number, flush = true): void {
    this.mem.writePointer(this.slotOff(i), ptr)
    if (flush) this.mem.region.flush(this.slotOff(i), 8)
    if (ptr === 0) this.slots.delete(name)
    else this.slots.set(name, i)
  }
}
