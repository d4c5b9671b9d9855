/**
 * How the CLI opens a heap file: read-only by default (a private copy: no lock, nothing
 * written), as a pobj heap with no class loaded when it is one, else as a raw allocator heap.
 */
import { Heap, HeapFormatError, format as F } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'

/** What the CLI reads of either kind of heap (a raw Heap has all of it). */
export type RawView = PHeap['raw']

export interface Opened {
  /** The pobj view, or null for a heap of the raw allocator. */
  pobj: PHeap | null
  raw: RawView
}

export function openHeap(file: string, opts: { write?: boolean } = {}): Opened {
  try {
    const pobj = PHeap.open(file, { types: [], readOnly: !opts.write, gc: false })
    // Records a crash tore are settled first (in a read-only copy, in memory only), so every command reads blocks as they are.
    pobj.settleRecords()
    return { pobj, raw: pobj.raw }
  } catch (e) {
    if (!(e instanceof HeapFormatError) || !/owner|belongs/.test(e.message)) throw e
  }
  return { pobj: null, raw: Heap.open(file, { readOnly: !opts.write }) }
}

export function closeHeap(o: Opened): void {
  if (o.pobj) o.pobj.close()
  else o.raw.close()
}

/** The superblock's fixed fields, read through the format's named offsets. */
export function superblockOf(raw: RawView): { version: number; chunkSize: number; maxChunks: number; dataOff: number; owner: string } {
  const b = raw.bytes
  const dv = new DataView(b.buffer, b.byteOffset, 4096)
  const ownerBytes = b.subarray(F.SB_OWNER, F.SB_OWNER + F.OWNER_MAX)
  const end = ownerBytes.indexOf(0)
  return {
    version: dv.getUint32(F.SB_VERSION, true),
    chunkSize: dv.getUint32(F.SB_CHUNK_SIZE, true),
    maxChunks: dv.getUint32(F.SB_MAX_CHUNKS, true),
    dataOff: dv.getUint32(F.SB_DATA_OFF, true),
    owner: Buffer.from(ownerBytes.subarray(0, end < 0 ? ownerBytes.length : end)).toString('utf8'),
  }
}
