/**
 * Typed errors of the persistent-object layer. One class per condition a user
 * or a heap file can cause, each with a stable `code`; messages start "pobj: ".
 * Every one of them is thrown before the heap is changed.
 */
import { MakaluError } from '@makalu/allocator'

/** A class or field declaration pobj can not lay out (no inferable type, bad kind, duplicate name). */
export class LayoutError extends MakaluError {
  override readonly code: string = 'EPOBJLAYOUT'
}
/** A class passed to open differs from the layout the heap's type table holds for its stable name. */
export class SchemaMismatchError extends MakaluError {
  override readonly code: string = 'EPOBJSCHEMA'
  constructor(message: string, readonly className: string, readonly fields: string[]) {
    super(message)
  }
}
/** An object is not of the class the caller asked for (a root read with the wrong class, ...). */
export class TypeMismatchError extends MakaluError {
  override readonly code: string = 'EPOBJTYPEMISMATCH'
}
/** A value of the wrong type (or out of range) was written to a field or array element. */
export class FieldTypeError extends MakaluError {
  override readonly code: string = 'EPOBJFIELDTYPE'
}
/** A handle of another heap was stored into (or passed to) this heap. */
export class ForeignHandleError extends MakaluError {
  override readonly code: string = 'EPOBJFOREIGN'
}
/** The handle's object was deleted (or its creating transaction rolled back). */
export class FreedObjectError extends MakaluError {
  override readonly code: string = 'EPOBJFREED'
}
/** The heap holds a type this process has no class for, or a class was never made @Persistent. */
export class UnknownTypeError extends MakaluError {
  override readonly code: string = 'EPOBJUNKNOWNTYPE'
}
/** An index outside an array's length. */
export class IndexRangeError extends MakaluError {
  override readonly code: string = 'EPOBJINDEX'
}
/** A length-changing operation (push, pop, splice, `length =`) on a fixed-length array. */
export class FixedArrayError extends MakaluError {
  override readonly code: string = 'EPOBJFIXEDARRAY'
}
/** The persisted type table can not be read: the heap file is damaged. */
export class TypeTableCorruptError extends MakaluError {
  override readonly code: string = 'EPOBJTYPETABLE'
}
/**
 * A graph given to `fromPlain` is malformed: a value of the wrong type or range, a bad or
 * duplicate `$id`, a dangling or mistyped `$ref`, a node not reachable from the root, a
 * forbidden or unknown key, nesting past the limit. `path` is the JSON path of the bad
 * value (`$.nodes[3].friend`). Thrown before anything is allocated.
 */
export class ImportError extends MakaluError {
  override readonly code: string = 'EPOBJIMPORT'
  constructor(message: string, readonly path: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}
