import 'reflect-metadata'
import { expect } from 'chai'
import { Persistent, field, layoutOf, validateLayout, LayoutError } from '../src'
import { AllKinds, Shape, Circle, Node, Tree } from './models'

describe('pobj layouts', () => {
  it('places every kind naturally aligned after the 8-byte header, in declaration order', () => {
    const l = layoutOf(AllKinds)
    const at = Object.fromEntries(l.fields.map((f) => [f.name, [f.kind, f.offset]]))
    expect(at).to.deep.equal({
      i: ['i32', 8], flag: ['bool', 12], u: ['u32', 16], d: ['f64', 24], big: ['i64', 32], s: ['string', 40],
      n: ['f64', 48], other: ['ref', 56], nums: ['array', 64], refs: ['array', 72],
    })
    expect(l.size).to.equal(80)
    expect(l.pointerOffsets).to.deep.equal([40, 56, 64, 72])
    expect(validateLayout(l)).to.deep.equal([])
    expect(Object.isFrozen(l)).to.equal(true)
    expect(layoutOf(AllKinds)).to.equal(l) // sealed once
  })

  it('infers number, boolean, string and @Persistent class from design:type', () => {
    const l = layoutOf(Node)
    expect(l.stableName).to.equal('ListNode')
    expect(l.fields.map((f) => f.kind)).to.deep.equal(['f64', 'string', 'ref'])
    expect(l.fields[2].targetClass).to.equal(Node)
    expect(layoutOf(Tree).fields.map((f) => [f.name, f.kind])).to.deep.equal([['key', 'i32'], ['name', 'string'], ['left', 'ref'], ['right', 'ref']])
  })

  it('puts a subclass fields after its base fields', () => {
    const base = layoutOf(Shape)
    const sub = layoutOf(Circle)
    expect(base.fields.map((f) => [f.name, f.offset])).to.deep.equal([['filled', 8], ['name', 16]])
    expect(sub.fields.map((f) => [f.name, f.offset])).to.deep.equal([['filled', 8], ['name', 16], ['r', 24]])
    expect(sub.base).to.equal(base)
    expect(validateLayout(sub)).to.deep.equal([])
    expect(sub.size).to.equal(32)
  })

  it('packs small fields into alignment holes only in order (no reordering)', () => {
    @Persistent() class Packed {
      @field.bool a!: boolean
      @field.f64 b!: number
      @field.bool c!: boolean
      @field.i32 d!: number
    }
    expect(layoutOf(Packed).fields.map((f) => f.offset)).to.deep.equal([8, 16, 24, 28])
    expect(layoutOf(Packed).size).to.equal(32)
  })

  it('rejects a union or interface field at declaration, naming class and field', () => {
    expect(() => {
      @Persistent() class Bad { @field() x!: string | number }
      return Bad
    }).to.throw(LayoutError, /Bad\.x.*not inferable/)
  })

  it('names emitDecoratorMetadata when no design:type was emitted (esbuild, tsx, a missing flag)', () => {
    class NoMeta { x!: number }
    field()(NoMeta.prototype, 'x') // what a compiler without emitDecoratorMetadata leaves: no metadata at all
    expect(() => Persistent()(NoMeta)).to.throw(LayoutError, /NoMeta\.x.*emitDecoratorMetadata/)
  })

  it('a standard decorator context without a metadata object gets a typed error (the dialect itself is tested in test-tc39/)', () => {
    // What TypeScript before 5.2 passed: (value, context) with no context.metadata.
    const f = field.i32 as unknown as (v: unknown, c: unknown) => void
    expect(() => f(undefined, { kind: 'field', name: 'x' })).to.throw(LayoutError, /no metadata object.*5\.2/)
    expect(() => f(undefined, { kind: 'method', name: 'm', metadata: {} })).to.throw(LayoutError, /only fields can be persistent \(this is a method\)/)
  })

  it('rejects a plain array field at declaration', () => {
    expect(() => {
      @Persistent() class BadArr { @field() xs!: number[] }
      return BadArr
    }).to.throw(LayoutError, /BadArr\.xs.*@field\.array/)
  })

  it('rejects a ref to a non-persistent class at first use', () => {
    class Plain { x = 1 }
    @Persistent() class HasPlain { @field() p!: Plain }
    expect(() => layoutOf(HasPlain)).to.throw(LayoutError, /HasPlain\.p.*Plain is not a @Persistent class/)
    @Persistent() class HasPlain2 { @field.ref(() => Plain) p!: Plain }
    expect(() => layoutOf(HasPlain2)).to.throw(LayoutError, /HasPlain2\.p.*not a @Persistent class/)
  })

  it('rejects a bad array element kind at declaration', () => {
    expect(() => {
      class X { @field.array('bool' as 'f64') xs!: unknown }
      return X
    }).to.throw(LayoutError, /element must be one of/)
  })

  it('rejects a subclass redeclaring a base field', () => {
    @Persistent() class B1 { @field() a!: number }
    @Persistent() class D1 extends B1 { @field.i32 declare a: number }
    expect(() => layoutOf(D1)).to.throw(LayoutError, /D1\.a: redeclares/)
  })

  it('infers bigint as i64 and keeps the stable name apart from the class name', () => {
    @Persistent('v1.Thing') class Thing { @field() n!: bigint }
    expect(layoutOf(Thing).stableName).to.equal('v1.Thing')
    expect(layoutOf(Thing).fields[0].kind).to.equal('i64')
  })
})
