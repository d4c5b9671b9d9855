/**
 * The decorators. They only record into `metadataArgs`; the layout builder
 * validates and seals at first use. The one check made at declaration is for a
 * `@field()` whose type TypeScript could not describe (a union, an interface,
 * `any`): that error is certain, so it is raised where it is written.
 */
import 'reflect-metadata'
import { hasLoneSurrogate } from '@makalu/allocator'
import { LayoutError } from './errors'
import { metadataArgs, ClassThunk, FieldKind, Class, Presence, EnumObject, ArrayValueKind, FieldArgs, StoredAs } from './metadata-args'

const ARRAY_VALUE_KINDS: readonly string[] = ['i32', 'u32', 'f64', 'i64', 'string', 'record']

/**
 * Both decorator dialects are served. Legacy decorators (`experimentalDecorators`) are called
 * as (prototype, key) and read `design:type`; TC39 standard decorators (TypeScript 5's default)
 * are called as (value, context) and carry no type, so they need explicit kinds. A standard
 * field decorator runs before its class's decorator and knows no class: it leaves its record in
 * the class's decorator metadata (`context.metadata`), and `@Persistent` takes them from there.
 */
type StandardContext = { kind: string; name: string | symbol; static?: boolean; private?: boolean; metadata?: Record<PropertyKey, unknown> }
const isStandard = (c: unknown): c is StandardContext => c !== null && typeof c === 'object' && 'kind' in c

// TypeScript's emit gives each class a metadata object only when Symbol.metadata exists (Node 20 has none).
if (typeof (Symbol as { metadata?: symbol }).metadata !== 'symbol') {
  Object.defineProperty(Symbol, 'metadata', { value: Symbol.for('Symbol.metadata'), configurable: true })
}

/** What standard field decorators leave for their class's @Persistent. */
interface Pending { fields: Array<Omit<FieldArgs, 'target'>>; formerNames: Array<[string, string[]]> }
const PENDING = Symbol('pobj.pending')

function pendingOf(which: string, c: StandardContext): Pending {
  const md = c.metadata
  if (!md) throw new LayoutError(`pobj: ${which}: the decorator context has no metadata object (Symbol.metadata); compile with TypeScript ≥ 5.2`)
  if (!Object.prototype.hasOwnProperty.call(md, PENDING)) md[PENDING] = { fields: [], formerNames: [] } satisfies Pending
  return md[PENDING] as Pending
}

/** A field decorator of either dialect. */
export interface FieldDecorator {
  (prototype: object, key: string | symbol): void
  (value: undefined, context: ClassFieldDecoratorContext): void
}
/** A class decorator of either dialect. */
export interface ClassDecoratorOfBoth {
  <T extends Function>(target: T): void
  (target: Function, context: ClassDecoratorContext): void
}

/** Marks a class persistent; `stableName` (default: the class name) is what the heap stores. */
export function Persistent(stableName?: string): ClassDecoratorOfBoth {
  return ((target: Function, context?: unknown) => {
    if (isStandard(context)) {
      if (context.kind !== 'class') throw new LayoutError(`pobj: @Persistent decorates classes, not a ${context.kind}`)
      const p = pendingOf('@Persistent', context)
      for (const f of p.fields) metadataArgs.addField({ target, ...f })
      for (const [n, was] of p.formerNames) metadataArgs.addFormerNames(target, n, was)
    }
    const name = stableName ?? target.name
    if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name.startsWith('$') || hasLoneSurrogate(name)) {
      throw new LayoutError(`pobj: @Persistent on ${target.name || '<anonymous class>'}: stable name must be 1..255 characters ` +
        `of well-formed UTF-16 (no lone surrogate), not starting with '$'`)
    }
    for (const f of metadataArgs.ownFields(target)) {
      if (f.kind === undefined) checkInferable(target, f.name, f.designType, f.presence, isStandard(context))
    }
    metadataArgs.addClass({ target, stableName: name })
  }) as ClassDecoratorOfBoth
}

/** Raises the declaration-time error for a `@field()` without a usable `design:type`. */
function checkInferable(target: Function, name: string, t: unknown, presence: Presence | undefined, standard: boolean): void {
  if (standard) {
    throw new LayoutError(`pobj: ${target.name}.${name}: TC39 standard decorators carry no type, so @field() can not infer one; ` +
      'give an explicit kind such as @field.string, @field.i32 or @field.ref(() => Class) ' +
      '(or compile with "experimentalDecorators": true and "emitDecoratorMetadata": true to infer kinds)')
  }
  if (t === undefined) {
    throw new LayoutError(`pobj: ${target.name}.${name}: no design:type metadata was emitted for @field(); compile with ` +
      '"experimentalDecorators": true and "emitDecoratorMetadata": true (tsc: esbuild and tsx do not emit it), ' +
      'or give an explicit kind such as @field.i32 or @field.string')
  }
  if (t === Object || t === Array || t === Function || t === Symbol || t === null) {
    const what = t === Array ? 'an array; use @field.array(kind or () => Class)'
      : presence === 'optional' ? 'not inferable (a union, an interface, any or Object); use an explicit kind such as @field.optional.i32 or @field.optional.string'
      : 'not inferable (a union such as `T | null`, an interface, any or Object); use an explicit kind such as @field.i32, @field.nullable.string or @field.ref(() => Class)'
    throw new LayoutError(`pobj: ${target.name}.${name}: the field type is ${what}`)
  }
}

interface Extra { refTarget?: ClassThunk; element?: ArrayValueKind | ClassThunk; presence?: Presence; enumObject?: EnumObject }

/** The field name a standard decorator context names; LayoutError for what can not be a persistent field. */
function standardFieldName(which: string, c: StandardContext): string {
  const what = typeof c.name === 'string' ? c.name : String(c.name)
  if (c.kind !== 'field') throw new LayoutError(`pobj: ${which} on ${what}: only fields can be persistent (this is a ${c.kind})`)
  if (typeof c.name !== 'string') throw new LayoutError(`pobj: ${which}: symbol-named fields can not be persistent`)
  if (c.static) throw new LayoutError(`pobj: ${which} on ${c.name}: static fields can not be persistent`)
  if (c.private) throw new LayoutError(`pobj: ${which} on ${c.name}: #private fields can not be persistent`)
  return c.name
}

function record(kind: FieldKind | undefined, extra: Extra = {}): FieldDecorator {
  return ((proto: object | undefined, key: string | symbol | StandardContext) => {
    if (isStandard(key)) {
      pendingOf('@field', key).fields.push({ name: standardFieldName('@field', key), kind, designType: undefined, ...extra })
      return
    }
    proto = proto as object
    const owner = typeof proto === 'function' ? proto : proto.constructor
    if (typeof key !== 'string') {
      throw new LayoutError(`pobj: ${owner.name}: symbol-named fields can not be persistent`)
    }
    if (typeof proto === 'function') {
      throw new LayoutError(`pobj: ${owner.name}.${key}: static fields can not be persistent`)
    }
    const designType: unknown = Reflect.getMetadata('design:type', proto, key)
    metadataArgs.addField({ target: owner, name: key, kind, designType, ...extra })
  }) as FieldDecorator
}

/** `@field.optional...` and `@field.nullable...`: the kinds that can be absent. */
interface PresenceKinds {
  readonly i32: FieldDecorator
  readonly u32: FieldDecorator
  readonly f64: FieldDecorator
  readonly bool: FieldDecorator
  readonly string: FieldDecorator
  readonly date: FieldDecorator
  readonly bytes: FieldDecorator
  /** A member of `e`, or absent. */
  enum(e: object): FieldDecorator
}
/** `@field.optional` also infers: `x?: number` emits design:type Number (a `T | null` union emits Object, so nullable has no inference). */
interface OptionalFieldFn extends PresenceKinds {
  /** Infers the kind from `design:type` of `x?: T` (number → f64, boolean, string, Date). */
  (): FieldDecorator
}

/** Options of `@field(options)`. */
export interface FieldOptions {
  /** The field's name(s) in earlier versions of the class: a rename is then an automatic schema change. */
  was?: string | readonly string[]
}

interface FieldFn {
  /** Infers the kind from `design:type`: number → f64, boolean → bool, string → string, bigint → i64, Date → date, a @Persistent class → ref. */
  (options?: FieldOptions): FieldDecorator
  readonly i32: FieldDecorator
  readonly u32: FieldDecorator
  readonly f64: FieldDecorator
  /** A signed 64-bit integer, read and written as a bigint. */
  readonly i64: FieldDecorator
  readonly bool: FieldDecorator
  readonly string: FieldDecorator
  /** A Date, stored as epoch milliseconds; each read returns a new Date (mutating it writes nothing back). */
  readonly date: FieldDecorator
  /** Bytes (a Uint8Array, Buffer included), copied in and out: each read returns a new Uint8Array (mutating it writes nothing back). */
  readonly bytes: FieldDecorator
  /** A member of the TypeScript enum `e` (numeric or string); any other value throws FieldTypeError. */
  enum(e: object): FieldDecorator
  /** A reference to an object of `target()` (or a subclass), or to an instance of a class registered with storeAs; null allowed. */
  ref(target: () => Function): FieldDecorator
  /** A persistent (growable) array of a number kind, of strings, or of refs to `() => Class`; null allowed. */
  array(element: ArrayValueKind | (() => Class)): FieldDecorator
  /** Fields that may be absent, read back as undefined: `@field.optional.i32 estimate?: number`. */
  readonly optional: OptionalFieldFn
  /** Fields that may be absent, read back as null: `@field.nullable.string note!: string | null`. */
  readonly nullable: PresenceKinds
}

/** The enum object of `@field.enum(e)`, checked for shape (the layout builder checks the members). */
function enumArg(e: unknown, presence: Presence): Extra {
  if (e === null || typeof e !== 'object') {
    throw new LayoutError(`pobj: @field.enum needs a TypeScript enum object, e.g. @field.enum(Status), got ${e === null ? 'null' : typeof e}`)
  }
  return { enumObject: e as EnumObject, presence }
}

function presenceFn(presence: 'optional'): OptionalFieldFn
function presenceFn(presence: 'nullable'): PresenceKinds
function presenceFn(presence: Presence): PresenceKinds {
  const f = (presence === 'optional' ? () => record(undefined, { presence }) : {}) as { -readonly [K in keyof PresenceKinds]: PresenceKinds[K] }
  f.i32 = record('i32', { presence })
  f.u32 = record('u32', { presence })
  f.f64 = record('f64', { presence })
  f.bool = record('bool', { presence })
  f.string = record('string', { presence })
  f.date = record('date', { presence })
  f.bytes = record('bytes', { presence })
  f.enum = (e: object) => record('enum', enumArg(e, presence))
  return f
}

/** Checks former names: well-formed, non-empty strings. */
function formerNames(was: unknown): string[] {
  const list = typeof was === 'string' ? [was] : Array.isArray(was) ? was : undefined
  if (!list || list.length === 0 || list.some((n) => typeof n !== 'string' || n.length === 0 || hasLoneSurrogate(n))) {
    throw new LayoutError(`pobj: was: expected a field name or a non-empty list of names, got ${JSON.stringify(was)}`)
  }
  return list as string[]
}

/**
 * `@was('mail')`: the field was called `mail` in an earlier version of the class (stack it
 * with any `@field...`). Opening a heap whose objects have `mail` then reads them as this
 * field: a rename is an automatic schema change. `@field({ was: 'mail' })` says the same.
 */
export function was(...names: string[]): FieldDecorator {
  const list = formerNames(names.length === 1 ? names[0] : names)
  return ((proto: object | undefined, key: string | symbol | StandardContext) => {
    if (isStandard(key)) { pendingOf('@was', key).formerNames.push([standardFieldName('@was', key), list]); return }
    proto = proto as object
    const owner = typeof proto === 'function' ? proto : proto.constructor
    if (typeof key !== 'string') throw new LayoutError(`pobj: ${owner.name}: symbol-named fields can not be persistent`)
    metadataArgs.addFormerNames(owner, key, list)
  }) as FieldDecorator
}

const fieldFn = ((options?: FieldOptions) => {
  if (options === undefined) return record(undefined)
  if (options === null || typeof options !== 'object') throw new LayoutError(`pobj: @field(options): expected an options object, got ${String(options)}`)
  const inner = record(undefined)
  const renamed = options.was === undefined ? undefined : was(...formerNames(options.was))
  return ((a: never, b: never) => { inner(a, b); renamed?.(a, b) }) as FieldDecorator
}) as unknown as { -readonly [K in keyof FieldFn]: FieldFn[K] } & (() => FieldDecorator)
fieldFn.i32 = record('i32')
fieldFn.u32 = record('u32')
fieldFn.f64 = record('f64')
fieldFn.i64 = record('i64')
fieldFn.bool = record('bool')
fieldFn.string = record('string')
fieldFn.date = record('date')
fieldFn.bytes = record('bytes')
fieldFn.enum = (e: object) => record('enum', enumArg(e, 'required'))
fieldFn.ref = (target: () => Function) => {
  if (typeof target !== 'function') throw new LayoutError('pobj: @field.ref needs a thunk, e.g. @field.ref(() => Node)')
  return record('ref', { refTarget: target as () => Class })
}
fieldFn.array = (element: ArrayValueKind | (() => Class)) => {
  if (typeof element !== 'function' && !ARRAY_VALUE_KINDS.includes(element)) {
    throw new LayoutError(`pobj: @field.array('${String(element)}'): the element must be one of ${ARRAY_VALUE_KINDS.join(', ')} or () => Class`)
  }
  return record('array', { element })
}
fieldFn.optional = presenceFn('optional')
fieldFn.nullable = presenceFn('nullable')

/**
 * Field decorators: `@field()`, `@field.i32`, ..., `@field.date`, `@field.enum(E)`, `@field.ref(() => C)`,
 * `@field.array('f64')`, and `@field.optional.<kind>` / `@field.nullable.<kind>` for values that may be absent.
 */
export const field: FieldFn = fieldFn

/**
 * Lets ref fields hold instances of `cls`, a class that is not @Persistent, stored as one
 * @Persistent object of `how.stored` (its header): `@field.ref(() => cls)` then reads `wrap(heap,
 * object)` and writes `unwrap(value)`. For data structures built on pobj (PersistentMap is stored
 * as its MapHeader). `unwrap` must throw for a value that is not an instance.
 */
export function storeAs<T, S extends object>(cls: Function, how: StoredAs<T, S>): void {
  if (typeof cls !== 'function' || metadataArgs.classes.has(cls)) throw new LayoutError(`pobj: storeAs: ${String((cls as Function)?.name ?? cls)} must be a class that is not @Persistent`)
  if (!how || typeof how.wrap !== 'function' || typeof how.unwrap !== 'function' || !metadataArgs.classes.has(how.stored)) {
    throw new LayoutError(`pobj: storeAs(${cls.name}): give { stored: a @Persistent class, wrap(heap, object), unwrap(value) }`)
  }
  metadataArgs.storedAs.set(cls, how as StoredAs)
}
