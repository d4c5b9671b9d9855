/**
 * The on-media format of a heap. Constants and layouts only: no logic lives here.
 *
 * Every integer is little-endian. A pointer stored in the heap is an 8-byte
 * byte offset from the start of the region; 0 is null. In a heap of at most 4 GiB
 * (format version 3) its high half is always 0, and multi-part words are written
 * as two 4-byte stores, high half first: the low half commits (a killed process may
 * stop between the two stores, and every such prefix must be valid). In a wide heap
 * (version 4, maxSize over 4 GiB) a pointer's high half is its offset / 2^32, and
 * the whole word is written by one 8-byte store.
 *
 * Wide heaps, in segments of 2^32 bytes:
 *
 *  0                 4 GiB               8 GiB                      maxSize
 *  ├── segment 0 ─────┼── segment 1 ───────┼── segment 2 ... ──────────┤
 *  │ metadata │ chunks│ chunks             │ chunks                    │
 *            dataOff: a multiple of chunkSize, so a segment boundary is a chunk boundary;
 *            no block (run or large object) crosses a boundary, and all metadata
 *            (superblock, chunk table, roots, log, bitmap) lies in segment 0.
 *
 *  region
 *  ┌─────────────┬─────────────┬────────────┬─────────────┬──────────┬─────────────────────────┐
 *  │ superblock  │ chunk table │ root table │ undo log    │ bitmap   │ chunks ...              │
 *  │ 4 KiB       │ 8 B/chunk   │ 128 B/root │ logSize     │ 1 bit/16B│ chunkSize each          │
 *  └─────────────┴─────────────┴────────────┴─────────────┴──────────┴─────────────────────────┘
 *  0             chunkTableOff rootTableOff logOff        bitmapOff  dataOff
 *
 * Every area is 4 KiB aligned. Areas are sized for `maxChunks`, so the heap can
 * grow (the file grows, `chunkCount` goes up) without moving anything.
 *
 * What is persistent, and what is rebuilt: the chunk table, the roots and the
 * undo log are kept durable at all times. The bitmap lives in the file but is
 * written without flushes while the heap is open: it is durable, and trusted,
 * only when the state word says CLEAN and the hashes saved at close match.
 * Otherwise it is rebuilt by marking.
 */

export const PAGE = 4096
export const GRANULE = 16
export const GRANULE_SHIFT = 4
export const POINTER_SIZE = 8

// ── superblock ────────────────────────────────────────────────────────────────
//
//  0 ┌──────────────────────────────────────┐
//    │ magic "MAKALUTS"              8 bytes │
//  8 │ formatVersion u32 │ headerBytes u32   │  headerBytes: bytes covered by the checksum
// 16 │ uuid                         16 bytes │
// 32 │ chunkSize u32     │ maxChunks u32     │
// 40 │ chunkTableOff u32 │ rootTableOff u32  │
// 48 │ rootCapacity u32  │ logOff u32        │
// 56 │ logSize u32       │ bitmapOff u32     │
// 64 │ bitmapSize u32    │ dataOff u32       │
// 72 │ owner, UTF-8, NUL-padded     16 bytes │  the layer that formatted the heap ('makalu.pobj');
//    │                                      │  all 0: a raw allocator heap. Opens must name it.
// 88 │ checksum u32 (FNV-1a of bytes 0..88)  │
//    ├──────────────────────────────────────┤  mutable words, one 8-byte word each:
// 128│ state u32 (CLEAN | DIRTY)   │ 0     │
// 136│ chunkCount u32               │ 0     │  chunks now backed by the file
// 144│ tableHash u32     │ cacheHash u32     │  hashes of the state saved at close; trusted only when CLEAN
//    └──────────────────────────────────────┘
//
// tableHash covers what only the chunk table knows: the chunk count, each entry's low half
// (kind, class) and a large head's span. cacheHash covers what a trace can rebuild: each
// run's live count and its bitmap words. Version 2 added the root name check; version 3 the
// owner and the hashes; version 4 is version 3 for heaps over 4 GiB (above). Older files are
// refused (HeapFormatError): there is no upgrade path. A library before version 4 refuses a wide
// heap by its version.
export const SB_MAGIC = 0
export const MAGIC = 'MAKALUTS'
export const SB_VERSION = 8
export const FORMAT_VERSION = 3
/** A wide heap (its layout ends past 4 GiB): pointers with a high half, log targets with one (LE_TARGET_HIGH). */
export const WIDE_FORMAT_VERSION = 4
/** Bytes per segment of a wide heap. */
export const SEGMENT_SIZE = 2 ** 32
export const SB_HEADER_BYTES = 12
export const SB_UUID = 16
export const SB_CHUNK_SIZE = 32
export const SB_MAX_CHUNKS = 36
export const SB_CHUNK_TABLE_OFF = 40
export const SB_ROOT_TABLE_OFF = 44
export const SB_ROOT_CAPACITY = 48
export const SB_LOG_OFF = 52
export const SB_LOG_SIZE = 56
export const SB_BITMAP_OFF = 60
export const SB_BITMAP_SIZE = 64
export const SB_DATA_OFF = 68
export const SB_OWNER = 72
export const OWNER_MAX = 16
export const SB_CHECKSUM = 88
export const SB_CHECKED_BYTES = 88
export const SB_STATE = 128
export const SB_CHUNK_COUNT = 136
export const SB_TABLE_HASH = 144
export const SB_CACHE_HASH = 148

export const STATE_CLEAN = 0x4e41454c // "LEAN"
export const STATE_DIRTY = 0x59545249 // "IRTY"

// ── chunk table: one 8-byte entry per chunk ─────────────────────────────────────
//
//  0 ┌────────┬────────┬─────────────────┐
//    │ kind u8│class u8│ reserved u16 (0)│  low half: commits
//  4 ├────────┴────────┴─────────────────┤
//    │ arg u32                           │  LARGE: chunks spanned (n ≥ 1)
//    │                                   │  RUN: live blocks, trusted only when CLEAN
//  8 └───────────────────────────────────┘
//
// A large object is described by its head entry alone: the entries of the
// chunks it covers stay FREE on media. Every chunk transition is therefore one
// aligned store, failure-atomic without a log.
export const CHUNK_ENTRY_SIZE = 8
export const CE_KIND = 0
export const CE_CLASS = 1
export const CE_ARG = 4

export const KIND_FREE = 0
export const KIND_RUN = 1
export const KIND_LARGE = 2

// ── root table: rootCapacity slots of 128 bytes ────────────────────────────────
//
//  0 ┌───────────────────────────────────┐
//    │ ptr u64 (0: the slot is free)      │  commits the slot
//  8 │ nameLength u32   │ nameCheck u32   │  nameCheck: FNV-1a of nameLength and the name
// 16 │ name, UTF-8, up to 112 bytes       │
//128 └───────────────────────────────────┘
// The name, its length and its check are written (and made durable) before the pointer
// turns the slot into a root, and are not changed while the slot is in use.
export const ROOT_SLOT_SIZE = 128
export const RS_PTR = 0
export const RS_NAME_LENGTH = 8
export const RS_NAME_CHECK = 12
export const RS_NAME = 16
export const ROOT_NAME_MAX = ROOT_SLOT_SIZE - RS_NAME

// ── undo log ──────────────────────────────────────────────────────────────────
//
// header (64 bytes)                       entries from offset 64, 8-byte aligned
//  0 ┌──────────────────────────┐          0 ┌──────────────────────────────┐
//    │ activeTx u32     │ 0     │            │ txId u32      │ seq u32      │
//  8 │ committedTx u32  │ 0     │          8 │ target u32    │ length u32   │
// 64 └──────────────────────────┘         16 │ checksum u32  │ targetHi u32 │  targetHi: wide heaps only
//                                         24 │ old bytes, padded to 8       │
//                                            └──────────────────────────────┘
// A transaction is unfinished when activeTx ≠ committedTx; its entries are the
// leading run of entries with txId = activeTx, seq = 0, 1, 2, ... and a valid
// checksum (FNV-1a over txId, seq, target, length, targetHi when not 0, and the old bytes).
export const LOG_HEADER_SIZE = 64
export const LH_ACTIVE_TX = 0
export const LH_COMMITTED_TX = 8
export const LOG_ENTRY_HEADER = 24
export const LE_TX = 0
export const LE_SEQ = 4
export const LE_TARGET = 8
export const LE_LENGTH = 12
export const LE_CHECKSUM = 16
export const LE_TARGET_HIGH = 20

// ── bitmap: one bit per 16-byte granule of the chunk area ──────────────────────
// bit g set ⇔ a block starts at dataOff + 16·g and is allocated.
// Trusted only when the state word says CLEAN and cacheHash matches.

export const DEFAULT_CHUNK_SIZE = 64 * 1024
export const MIN_CHUNK_SIZE = 4 * 1024
export const MAX_CHUNK_SIZE = 1024 * 1024
export const DEFAULT_ROOT_CAPACITY = 1024
export const DEFAULT_LOG_SIZE = 256 * 1024
export const MIN_LOG_SIZE = 4096
