/**
 * What the decorators record, raw and unvalidated (like TypeORM's metadata-args).
 * The layout builder reads this store and turns it into sealed layouts.
 */

/** A fixed-size number or boolean kind. */
export type ScalarKind = 'i32' | 'u32' | 'f64' | 'i64' | 'bool'
/** Every kind a field can have. */
export type FieldKind = ScalarKind | 'string' | 'ref' | 'array' | 'date' | 'enum' | 'bytes'
/** How a field treats absence: 'required' (no absent value), 'optional' (reads undefined), 'nullable' (reads null). */
export type Presence = 'required' | 'optional' | 'nullable'
/** A TypeScript enum object (numeric or string members), as passed to `@field.enum(E)`. */
export type EnumObject = Readonly<Record<string, string | number>>
/** A number kind (of a field or array element). */
export type NumberKind = 'i32' | 'u32' | 'f64' | 'i64'
/** What an array holds: a number kind, strings, or refs to objects of a class. */
/** 'record': record arrays (object-format.ts), read as the records' payloads, written by the structures that own them. */
export type ElementKind = NumberKind | 'string' | 'ref' | 'record'
/** An element kind named by a string in `@field.array(kind)` / `heap.newArray(kind, …)` (refs name a class). */
export type ArrayValueKind = NumberKind | 'string' | 'record'

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Class<T = any> = abstract new (...args: any[]) => T
/** A thunk naming a class, so a field can point at a class declared later. */
export type ClassThunk = () => Class

/**
 * How instances of a class that is not itself @Persistent are stored in a ref field: as one
 * @Persistent object of `stored` (e.g. a collection as its header object). `wrap` makes the
 * instance from that object; `unwrap` gives the object of an instance (and throws for anything else).
 */
export interface StoredAs<T = unknown, S extends object = object> {
  readonly stored: Class<S>
  wrap(heap: unknown, object: S): T
  unwrap(value: T): S
}

/** One `@field...` as written. */
export interface FieldArgs {
  readonly target: Function
  readonly name: string
  /** The explicit kind, or undefined for `@field()` (inferred from designType). */
  readonly kind: FieldKind | undefined
  /** `design:type` as emitted by TypeScript (may be undefined, Object, Array, ...). */
  readonly designType: unknown
  /** For 'ref': the target class thunk. */
  readonly refTarget?: ClassThunk
  /** For 'array': the element kind or a thunk naming the element class. */
  readonly element?: ArrayValueKind | ClassThunk
  /** 'optional' / 'nullable' from `@field.optional...` / `@field.nullable...`; default 'required'. */
  readonly presence?: Presence
  /** For 'enum': the enum object. */
  readonly enumObject?: EnumObject
}

/** One `@Persistent(...)` as written. */
export interface ClassArgs {
  readonly target: Function
  /** The stable name the heap stores; defaults to the class name. */
  readonly stableName: string
}

/** The store: own fields per class in declaration order, and the persistent classes. */
export class MetadataArgsStorage {
  readonly fields = new Map<Function, FieldArgs[]>()
  readonly classes = new Map<Function, ClassArgs>()
  /** Classes stored as an object of another class (storeAs). */
  readonly storedAs = new Map<Function, StoredAs>()
  /** Former names of fields (`@field({ was })`, `@was(...)`), per class and field. */
  readonly formerNames = new Map<Function, Map<string, readonly string[]>>()

  /** Records the names a field had in earlier versions of its class. */
  addFormerNames(target: Function, name: string, was: readonly string[]): void {
    let m = this.formerNames.get(target)
    if (!m) this.formerNames.set(target, (m = new Map()))
    m.set(name, [...(m.get(name) ?? []), ...was])
  }

  /** The former names of `target`'s own field `name` ([] if none). */
  formerNamesOf(target: Function, name: string): readonly string[] {
    return this.formerNames.get(target)?.get(name) ?? []
  }

  /** Records a field; a second decorator on the same field replaces the first. */
  addField(args: FieldArgs): void {
    let list = this.fields.get(args.target)
    if (!list) this.fields.set(args.target, (list = []))
    const i = list.findIndex((f) => f.name === args.name)
    if (i >= 0) list[i] = args
    else list.push(args)
  }

  addClass(args: ClassArgs): void {
    this.classes.set(args.target, args)
  }

  /** Own fields of `target`, in declaration order. */
  ownFields(target: Function): readonly FieldArgs[] {
    return this.fields.get(target) ?? []
  }
}

/** The process-wide store (decorators run at module load, before any heap exists). */
export const metadataArgs = new MetadataArgsStorage()
