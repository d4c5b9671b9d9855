import * as F from './format'
import { ArgumentError, HeapCorruptError, HeapFormatError } from './errors'
import { MAX_REGION_SIZE } from './region/region'
import { Memory, fnv1a } from './memory'
import { randomBytes } from 'crypto'

/** Where every area sits: the superblock's immutable part, decoded. */
export interface Layout {
  chunkSize: number
  chunkShift: number
  maxChunks: number
  chunkTableOff: number
  rootTableOff: number
  rootCapacity: number
  logOff: number
  logSize: number
  bitmapOff: number
  bitmapSize: number
  dataOff: number
  uuid: string
  /** The layer that formatted the heap ('' for a raw allocator heap). */
  owner: string
}

/** Bytes the layout may grow to: its end at maxChunks. */
export const layoutEnd = (l: Layout): number => l.dataOff + l.maxChunks * l.chunkSize
/** A wide heap: it may pass 4 GiB (format.ts WIDE_FORMAT_VERSION). */
export const isWide = (l: Layout): boolean => layoutEnd(l) > F.SEGMENT_SIZE

export interface LayoutOptions {
  chunkSize?: number
  rootCapacity?: number
  logSize?: number
  maxSize?: number
  /**
   * A short tag (1 to 16 UTF-8 bytes, no NUL) naming the layer that formats the heap, e.g.
   * 'makalu.pobj'. Stored in the superblock; every open must pass the same `owner`.
   */
  owner?: string
}

const utf8 = new TextEncoder()
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

const roundUp = (n: number, to: number): number => Math.ceil(n / to) * to

/** Whether `n` is an integer number in [min, max] (no NaN, no Infinity, no string). */
const isIntIn = (n: unknown, min: number, max: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max

/**
 * Plans the areas of a new heap of `maxSize` bytes. Checks every option first (finite
 * integers in range; NaN, Infinity, fractions and strings are refused): ArgumentError.
 */
export function planLayout(regionSize: number, opts: LayoutOptions): Layout {
  if (!isIntIn(regionSize, F.PAGE, MAX_REGION_SIZE)) {
    throw new ArgumentError(`heap: size must be an integer number of bytes from ${F.PAGE} to ${MAX_REGION_SIZE / 2 ** 30} GiB, got ${String(regionSize)}`)
  }
  const chunkSize = opts.chunkSize ?? F.DEFAULT_CHUNK_SIZE
  if (!isIntIn(chunkSize, F.MIN_CHUNK_SIZE, F.MAX_CHUNK_SIZE) || (chunkSize & (chunkSize - 1)) !== 0) {
    throw new ArgumentError(`heap: chunkSize must be a power of two from ${F.MIN_CHUNK_SIZE} to ${F.MAX_CHUNK_SIZE}, got ${String(chunkSize)}`)
  }
  const rootCapacity = opts.rootCapacity ?? F.DEFAULT_ROOT_CAPACITY
  if (!isIntIn(rootCapacity, 1, 1 << 20)) {
    throw new ArgumentError(`heap: rootCapacity must be an integer from 1 to 1048576, got ${String(rootCapacity)}`)
  }
  const logOpt = opts.logSize ?? F.DEFAULT_LOG_SIZE
  if (!isIntIn(logOpt, 1, 2 ** 30)) { // rounded up to whole pages below
    throw new ArgumentError(`heap: logSize must be an integer from ${F.MIN_LOG_SIZE} bytes to 1 GiB, got ${String(opts.logSize)}`)
  }
  const logSize = roundUp(logOpt, F.PAGE)
  const owner = opts.owner ?? ''
  if (typeof owner !== 'string' || (owner !== '' && (utf8.encode(owner).length > F.OWNER_MAX || owner.includes('\0')))) {
    throw new ArgumentError(`heap: owner must be a string of at most ${F.OWNER_MAX} UTF-8 bytes without NUL, got ${JSON.stringify(owner)}`)
  }
  const maxSize = opts.maxSize ?? regionSize
  if (!isIntIn(maxSize, regionSize, MAX_REGION_SIZE)) {
    throw new ArgumentError(`heap: maxSize must be an integer from the size (${regionSize}) to ${MAX_REGION_SIZE / 2 ** 30} GiB, got ${String(maxSize)}`)
  }
  // Wide (over 4 GiB): the chunks start at a multiple of chunkSize, so that every segment
  // boundary is a chunk boundary (format.ts).
  const wide = maxSize > F.SEGMENT_SIZE
  const fixed = F.PAGE + roundUp(rootCapacity * F.ROOT_SLOT_SIZE, F.PAGE) + logSize
  // Each chunk costs its bytes, 8 bytes of table and chunkSize/128 bytes of bitmap.
  let maxChunks = Math.floor((maxSize - fixed) / (chunkSize + F.CHUNK_ENTRY_SIZE + chunkSize / 128))
  const layoutFor = (n: number): Layout => {
    const chunkTableOff = F.PAGE
    const rootTableOff = chunkTableOff + roundUp(n * F.CHUNK_ENTRY_SIZE, F.PAGE)
    const logOff = rootTableOff + roundUp(rootCapacity * F.ROOT_SLOT_SIZE, F.PAGE)
    const bitmapOff = logOff + logSize
    const bitmapSize = roundUp((n * chunkSize) / 128, F.PAGE)
    const dataOff = wide ? roundUp(bitmapOff + bitmapSize, chunkSize) : bitmapOff + bitmapSize
    return {
      chunkSize, chunkShift: Math.log2(chunkSize), maxChunks: n, chunkTableOff, rootTableOff, rootCapacity,
      logOff, logSize, bitmapOff, bitmapSize, dataOff, uuid: '', owner,
    }
  }
  while (maxChunks > 0 && layoutFor(maxChunks).dataOff + maxChunks * chunkSize > maxSize) maxChunks--
  const layout = layoutFor(Math.max(maxChunks, 1))
  if (maxChunks < 1 || layout.dataOff + chunkSize > regionSize) {
    throw new ArgumentError(
      `heap: a region of ${regionSize} bytes is too small for one ${chunkSize}-byte chunk after the metadata ` +
      `(${layout.dataOff} bytes); use a size of at least ${layout.dataOff + chunkSize} or smaller logSize/rootCapacity/chunkSize`)
  }
  return layout
}

/** Chunks that fit in a region of `regionSize` bytes. */
export function chunksIn(layout: Layout, regionSize: number): number {
  return Math.min(layout.maxChunks, Math.floor((regionSize - layout.dataOff) / layout.chunkSize))
}

/** Writes the immutable part of a new superblock and its checksum. Not flushed. */
export function writeSuperblock(mem: Memory, l: Layout): void {
  const b = mem.bytes
  const u = mem.u32
  b.fill(0, 0, F.SB_STATE) // the mutable words are written before it
  for (let i = 0; i < 8; i++) b[F.SB_MAGIC + i] = F.MAGIC.charCodeAt(i)
  u[F.SB_VERSION >> 2] = isWide(l) ? F.WIDE_FORMAT_VERSION : F.FORMAT_VERSION
  u[F.SB_HEADER_BYTES >> 2] = F.SB_CHECKED_BYTES
  b.set(randomBytes(16), F.SB_UUID)
  u[F.SB_CHUNK_SIZE >> 2] = l.chunkSize
  u[F.SB_MAX_CHUNKS >> 2] = l.maxChunks
  u[F.SB_CHUNK_TABLE_OFF >> 2] = l.chunkTableOff
  u[F.SB_ROOT_TABLE_OFF >> 2] = l.rootTableOff
  u[F.SB_ROOT_CAPACITY >> 2] = l.rootCapacity
  u[F.SB_LOG_OFF >> 2] = l.logOff
  u[F.SB_LOG_SIZE >> 2] = l.logSize
  u[F.SB_BITMAP_OFF >> 2] = l.bitmapOff
  u[F.SB_BITMAP_SIZE >> 2] = l.bitmapSize
  u[F.SB_DATA_OFF >> 2] = l.dataOff
  b.set(utf8.encode(l.owner), F.SB_OWNER)
  u[F.SB_CHECKSUM >> 2] = fnv1a(b, 0, F.SB_CHECKED_BYTES)
}

/**
 * Step 1 of open: verifies magic, version and checksum and decodes the layout.
 * Throws HeapFormatError (not a heap of ours) or HeapCorruptError; reads only.
 */
export function readSuperblock(mem: Memory, source: string): Layout {
  const b = mem.bytes
  const u = mem.u32
  if (b.length < F.PAGE) throw new HeapFormatError(`heap: ${source} is ${b.length} bytes, too small to be a heap`)
  for (let i = 0; i < 8; i++) {
    if (b[F.SB_MAGIC + i] !== F.MAGIC.charCodeAt(i)) throw new HeapFormatError(`heap: ${source} is not a makalu heap (bad magic)`)
  }
  const version = u[F.SB_VERSION >> 2]
  if (version !== F.FORMAT_VERSION && version !== F.WIDE_FORMAT_VERSION) {
    throw new HeapFormatError(`heap: ${source} has format version ${version}; this library reads versions ${F.FORMAT_VERSION} ` +
      `and ${F.WIDE_FORMAT_VERSION} (over 4 GiB)` + (version > F.WIDE_FORMAT_VERSION ? ' (written by a newer version)' : ''))
  }
  if (u[F.SB_CHECKSUM >> 2] !== fnv1a(b, 0, F.SB_CHECKED_BYTES) || u[F.SB_HEADER_BYTES >> 2] !== F.SB_CHECKED_BYTES) {
    throw new HeapCorruptError(`heap: ${source}: superblock checksum mismatch`)
  }
  const l: Layout = {
    chunkSize: u[F.SB_CHUNK_SIZE >> 2], chunkShift: 0, maxChunks: u[F.SB_MAX_CHUNKS >> 2],
    chunkTableOff: u[F.SB_CHUNK_TABLE_OFF >> 2], rootTableOff: u[F.SB_ROOT_TABLE_OFF >> 2],
    rootCapacity: u[F.SB_ROOT_CAPACITY >> 2], logOff: u[F.SB_LOG_OFF >> 2], logSize: u[F.SB_LOG_SIZE >> 2],
    bitmapOff: u[F.SB_BITMAP_OFF >> 2], bitmapSize: u[F.SB_BITMAP_SIZE >> 2], dataOff: u[F.SB_DATA_OFF >> 2],
    uuid: Buffer.from(b.subarray(F.SB_UUID, F.SB_UUID + 16)).toString('hex'), owner: '',
  }
  const ownerBytes = b.subarray(F.SB_OWNER, F.SB_OWNER + F.OWNER_MAX)
  const end = ownerBytes.indexOf(0)
  try {
    l.owner = utf8Decoder.decode(ownerBytes.subarray(0, end < 0 ? F.OWNER_MAX : end))
  } catch {
    throw new HeapCorruptError(`heap: ${source}: superblock owner is not UTF-8`)
  }
  l.chunkShift = Math.log2(l.chunkSize)
  const ordered = F.PAGE <= l.chunkTableOff && l.chunkTableOff + l.maxChunks * 8 <= l.rootTableOff &&
    l.rootTableOff + l.rootCapacity * F.ROOT_SLOT_SIZE <= l.logOff && l.logOff + l.logSize <= l.bitmapOff &&
    l.bitmapOff + l.bitmapSize <= l.dataOff && l.bitmapSize * 128 >= l.maxChunks * l.chunkSize
  if (!Number.isInteger(l.chunkShift) || l.chunkSize < F.MIN_CHUNK_SIZE || l.chunkSize > F.MAX_CHUNK_SIZE || !ordered ||
      l.logSize < F.MIN_LOG_SIZE || l.dataOff % F.PAGE !== 0 || isWide(l) !== (version === F.WIDE_FORMAT_VERSION) ||
      layoutEnd(l) > MAX_REGION_SIZE || (isWide(l) && l.dataOff % l.chunkSize !== 0)) {
    throw new HeapCorruptError(`heap: ${source}: superblock describes an impossible layout`)
  }
  const state = u[F.SB_STATE >> 2]
  if ((state !== F.STATE_CLEAN && state !== F.STATE_DIRTY) || u[(F.SB_STATE >> 2) + 1] !== 0) {
    throw new HeapCorruptError(`heap: ${source}: bad state word 0x${state.toString(16)}`)
  }
  const count = readChunkCount(mem)
  if (count < 1 || count > l.maxChunks) throw new HeapCorruptError(`heap: ${source}: chunk count ${count} outside 1..${l.maxChunks}`)
  if (l.dataOff + count * l.chunkSize > mem.size) {
    throw new HeapCorruptError(`heap: ${source} is truncated: ${mem.size} bytes, the heap needs ${l.dataOff + count * l.chunkSize}`)
  }
  return l
}

/**
 * Step 1b of open (reads only): the heap must belong to the layer opening it. A layer over
 * the allocator (pobj) reads blocks as its own objects and traces them precisely; opening a
 * heap another layer formatted would misread it, and its recovery would free live data.
 */
export function checkOwner(l: Layout, expected: string | undefined, source: string): void {
  const want = expected ?? ''
  if (l.owner === want) return
  if (l.owner === '') {
    throw new HeapFormatError(`heap: ${source} is a raw allocator heap (no owner); it was not formatted by '${want}', ` +
      'so it is not opened as one (nothing was written)')
  }
  throw new HeapFormatError(`heap: ${source} belongs to '${l.owner}'` + (want === '' ? `; open it with that library, ` +
    `or pass { owner: '${l.owner}' } to open it with the allocator alone` : `, not to '${want}'`) + ' (nothing was written)')
}

export const isClean = (mem: Memory): boolean => mem.u32[F.SB_STATE >> 2] === F.STATE_CLEAN
export const writeState = (mem: Memory, state: number): void => { mem.u32[F.SB_STATE >> 2] = state }
export const readChunkCount = (mem: Memory): number => mem.u32[(F.SB_CHUNK_COUNT >> 2) + 1] === 0 ? mem.u32[F.SB_CHUNK_COUNT >> 2] : -1
export const writeChunkCount = (mem: Memory, n: number): void => mem.writePointer(F.SB_CHUNK_COUNT, n)
