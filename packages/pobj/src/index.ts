/**
 * @makalu/pobj: @Persistent classes whose objects live in a crash-safe heap.
 */
import 'reflect-metadata'
export { Persistent, field, was, storeAs, FieldOptions } from './decorators'
export { Migration, MigrationInfo, Progress } from './migration'
export { UpgradePlan, Source } from './schema-evolution'
export {
  PHeap, PHeapCreateOptions, PHeapOpenOptions, PHeapCreateInOptions, PHeapOpenInOptions, PHeapStats, TypeStats, GcPolicy, GcStats, GcReport, Init,
  PHeapShareToken, PHeapAttachOptions, ObjectToken,
} from './pheap'
export { PArray } from './persistent-array'
export { Class, FieldKind, ElementKind, NumberKind, ArrayValueKind, ScalarKind, StoredAs } from './metadata-args'
export { Layout, FieldLayout, layoutOf, validateLayout, isPersistentClass, stableNameOf } from './layout-builder'
export { TypeTable, TypeEntry, TableField } from './type-table'
export { pobjTracer, pobjTracerModule, PreciseTracer } from './tracer'
export { readFieldValue } from './stored-values'
export { reachable, settleHandles } from './diagnostics'
/** The on-media formats of objects, strings, arrays and the type table (for layers that read blocks directly). */
export * as objectFormat from './object-format'
/** Records: blocks published with their one committing store in a single drain (object-format.ts, "Record"). */
export { recordSeal, recordIntact, recordSize, writeRecordHeader, writeRecordElement } from './record-blocks'
export {
  LayoutError, SchemaMismatchError, TypeMismatchError, FieldTypeError, ForeignHandleError, FreedObjectError,
  UnknownTypeError, IndexRangeError, FixedArrayError, TypeTableCorruptError, ImportError,
} from './errors'
/** The heap's errors a pobj user meets, so that one import is enough. */
export {
  HeapClosedError, HeapFullError, HeapLockedError, HeapFormatError, HeapCorruptError, HeapFailedError, CommitFailedError,
  TransactionError, ArgumentError, MakaluError, ReadOnlyError, RegionFullError, HeapSharedError,
} from '@makalu/allocator'
/** Whether a string holds a lone surrogate (is not well-formed UTF-16): pobj stores such strings as UTF-16 blocks. */
export { hasLoneSurrogate } from '@makalu/allocator'
export { exportHeap, exportLines, ExportOptions, ExportReport } from './heap-export'
export { importHeap, ImportOptions, ImportReport } from './heap-import'
export { backupCompact, CompactBackupReport } from './compact-backup'
/** The whole-heap export format (NDJSON), for tools that read or write it. */
export * as exportFormat from './export-format'
