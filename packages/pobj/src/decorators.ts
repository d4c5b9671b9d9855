/**
 * The decorators. They only record into `metadataArgs`; the layout builder
 * validates and seals at first use. The one check made at declaration is for a
 * `@field()` whose type TypeScript could not describe (a union, an interface,
 * `any`): that error is certain, so it is raised where it is written.
 */
import 'reflect-metadata'
import { hasLoneSurrogate } from '@makalu/allocator'
import { LayoutError } from './errors'
import { metadataArgs, ClassThunk, FieldKind, NumberKind, Class } from './metadata-args'

const NUMBER_KINDS: readonly string[] = ['i32', 'u32', 'f64', 'i64']

/** Marks a class persistent; `stableName` (default: the class name) is what the heap stores. */
export function Persistent(stableName?: string): ClassDecorator {
  return ((target: Function, context?: unknown) => {
    refuseStandardDecorators('@Persistent', context)
    const name = stableName ?? target.name
    if (typeof name !== 'string' || name.length === 0 || name.length > 255 || name.startsWith('$') || hasLoneSurrogate(name)) {
      throw new LayoutError(`pobj: @Persistent on ${target.name || '<anonymous class>'}: stable name must be 1..255 characters ` +
        `of well-formed UTF-16 (no lone surrogate), not starting with '$'`)
    }
    for (const f of metadataArgs.ownFields(target)) {
      if (f.kind === undefined) checkInferable(target, f.name, f.designType)
    }
    metadataArgs.addClass({ target, stableName: name })
  }) as ClassDecorator
}

/**
 * TC39 standard decorators (TypeScript 5's default without experimentalDecorators) call a
 * decorator with a context object as the second argument; pobj's decorators are legacy ones.
 */
function refuseStandardDecorators(which: string, second: unknown): void {
  if (second !== null && typeof second === 'object' && 'kind' in second) {
    throw new LayoutError(`pobj: ${which} is a legacy decorator: set "experimentalDecorators": true and ` +
      '"emitDecoratorMetadata": true in tsconfig.json (TC39 standard decorators are not supported yet)')
  }
}

/** Raises the declaration-time error for a `@field()` without a usable `design:type`. */
function checkInferable(target: Function, name: string, t: unknown): void {
  if (t === undefined) {
    throw new LayoutError(`pobj: ${target.name}.${name}: no design:type metadata was emitted for @field(); compile with ` +
      '"experimentalDecorators": true and "emitDecoratorMetadata": true (tsc: esbuild and tsx do not emit it), ' +
      'or give an explicit kind such as @field.i32 or @field.string')
  }
  if (t === Object || t === Array || t === Function || t === Symbol || t === null) {
    const what = t === Array ? 'an array; use @field.array(kind or () => Class)'
      : 'not inferable (a union such as `T | null`, an interface, any or Object); use an explicit kind such as @field.i32 or @field.ref(() => Class)'
    throw new LayoutError(`pobj: ${target.name}.${name}: the field type is ${what}`)
  }
}

function record(kind: FieldKind | undefined, extra: { refTarget?: ClassThunk; element?: NumberKind | ClassThunk } = {}): PropertyDecorator {
  return (proto: object, key: string | symbol) => {
    refuseStandardDecorators('@field', key)
    const owner = typeof proto === 'function' ? proto : proto.constructor
    if (typeof key !== 'string') {
      throw new LayoutError(`pobj: ${owner.name}: symbol-named fields can not be persistent`)
    }
    if (typeof proto === 'function') {
      throw new LayoutError(`pobj: ${owner.name}.${key}: static fields can not be persistent`)
    }
    const designType: unknown = Reflect.getMetadata('design:type', proto, key)
    metadataArgs.addField({ target: owner, name: key, kind, designType, ...extra })
  }
}

type FieldDecorator = PropertyDecorator
interface FieldFn {
  /** Infers the kind from `design:type`: number → f64, boolean → bool, string → string, bigint → i64, a @Persistent class → ref. */
  (): FieldDecorator
  readonly i32: FieldDecorator
  readonly u32: FieldDecorator
  readonly f64: FieldDecorator
  /** A signed 64-bit integer, read and written as a bigint. */
  readonly i64: FieldDecorator
  readonly bool: FieldDecorator
  readonly string: FieldDecorator
  /** A reference to an object of `target()` (or a subclass); null allowed. */
  ref(target: () => Class): FieldDecorator
  /** A persistent array of a number kind or of refs to `() => Class`; null allowed. */
  array(element: NumberKind | (() => Class)): FieldDecorator
}

const fieldFn = (() => record(undefined)) as unknown as { -readonly [K in keyof FieldFn]: FieldFn[K] } & (() => FieldDecorator)
fieldFn.i32 = record('i32')
fieldFn.u32 = record('u32')
fieldFn.f64 = record('f64')
fieldFn.i64 = record('i64')
fieldFn.bool = record('bool')
fieldFn.string = record('string')
fieldFn.ref = (target: () => Class) => {
  if (typeof target !== 'function') throw new LayoutError('pobj: @field.ref needs a thunk, e.g. @field.ref(() => Node)')
  return record('ref', { refTarget: target })
}
fieldFn.array = (element: NumberKind | (() => Class)) => {
  if (typeof element !== 'function' && !NUMBER_KINDS.includes(element)) {
    throw new LayoutError(`pobj: @field.array('${String(element)}'): the element must be one of ${NUMBER_KINDS.join(', ')} or () => Class`)
  }
  return record('array', { element })
}

/** Field decorators: `@field()`, `@field.i32`, ..., `@field.ref(() => C)`, `@field.array('f64')`. */
export const field: FieldFn = fieldFn
