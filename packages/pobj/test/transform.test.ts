import 'reflect-metadata'
import { expect } from 'chai'
import { Transform } from 'class-transformer'
import { mulberry32, HeapFullError } from '@makalu/allocator'
import { Persistent, field, PHeap, TypeMismatchError, ImportError, PArray, Class, reachable } from '../src'
import { AllKinds, Person, Shape, Circle, Node } from './models'
import { simHeap } from './helpers'

@Persistent()
class Tagged {
  @Transform(({ value }) => (value as string).toUpperCase(), { toPlainOnly: true })
  @Transform(({ value }) => (value as string).toLowerCase(), { toClassOnly: true })
  @field() tag!: string
  @field.i32 n!: number
}

@Persistent()
class Wide {
  @field.array('i64') big!: PArray<bigint> | null
  @field.array('u32') small!: PArray<number> | null
}

const TYPES = [AllKinds, Person, Shape, Circle, Tagged, Wide, Node]

function family(heap: PHeap): Person {
  const ann = heap.new(Person, { name: 'ann', id: 1n, scores: heap.newArray('i32', [3, 1, 4]) })
  const bob = heap.new(Person, { name: 'bob', id: -(2n ** 63n), friend: ann })
  ann.friend = bob // a cycle
  const kid = heap.new(Person, { name: 'kid', id: 3n, friend: ann })
  const kids = heap.newArray(Person, [kid, kid, null]) // shared twice
  ann.children = kids
  bob.children = kids // the same array from two objects
  return ann
}

describe('pobj toPlain / fromPlain (class-transformer)', () => {
  it('exports a graph with shared refs and cycles as JSON-safe data', () => {
    const { heap } = simHeap(TYPES)
    const g = heap.toPlain(family(heap))
    expect(g.format).to.equal('makalu-pobj-graph/1')
    expect(g.root).to.equal(0)
    expect(g.nodes[0]).to.deep.equal({ $id: 0, $type: 'Person', name: 'ann', friend: { $ref: 1 }, children: { $ref: 2 }, scores: { $ref: 3 }, id: '1' })
    expect(g.nodes.length).to.equal(5) // ann, bob, kids, scores, kid
    expect(JSON.parse(JSON.stringify(g))).to.deep.equal(g)
    heap.close()
  })

  it('round-trips through JSON into another heap: same shape, identity and cycles', () => {
    const a = simHeap(TYPES)
    const plain = JSON.parse(JSON.stringify(a.heap.toPlain(family(a.heap))))
    const b = simHeap(TYPES)
    const ann = b.heap.fromPlain(Person, plain)
    b.heap.setRoot('ann', ann)
    expect(ann.name).to.equal('ann')
    expect(ann.friend!.friend).to.equal(ann)
    expect(ann.children).to.equal(ann.friend!.children)
    expect(ann.children!.get(0)).to.equal(ann.children!.get(1))
    expect(ann.children!.get(2)).to.equal(null)
    expect(ann.friend!.id).to.equal(-(2n ** 63n))
    expect(ann.scores!.toArray()).to.deep.equal([3, 1, 4])
    expect(b.heap.toPlain(ann)).to.deep.equal(plain)
    expect(reachable(b.heap).blocks).to.equal(b.heap.stats().liveBlocks) // nothing allocated beside the graph
    a.heap.close(); b.heap.close()
  })

  it('round-trips every kind, including non-finite numbers and subclasses behind base refs', () => {
    const { heap } = simHeap(TYPES)
    const x = heap.new(AllKinds, { i: -1, flag: true, u: 2 ** 32 - 1, d: -Infinity, big: 2n ** 63n - 1n, s: 'ünï', n: NaN })
    x.other = x
    x.nums = heap.newArray('f64', [Infinity, 0.5])
    x.refs = heap.newArray(AllKinds, [x])
    const plain = JSON.parse(JSON.stringify(heap.toPlain(x)))
    const y = heap.fromPlain(AllKinds, plain)
    expect([y.i, y.flag, y.u, y.d, y.big, y.s]).to.deep.equal([-1, true, 2 ** 32 - 1, -Infinity, 2n ** 63n - 1n, 'ünï'])
    expect(y.n).to.be.NaN
    expect(y.other).to.equal(y)
    expect(y.nums!.toArray()).to.deep.equal([Infinity, 0.5])
    expect(y.refs!.get(0)).to.equal(y)
    const shapes = heap.newArray(Shape, [heap.new(Circle, { r: 2, name: 'c' })])
    const s2 = heap.fromPlain(PArray, heap.toPlain(shapes)) as PArray<Shape>
    expect(s2.get(0)).to.be.instanceOf(Circle)
    expect((s2.get(0) as Circle).r).to.equal(2)
    heap.close()
  })

  it('applies class-transformer decorators of the class', () => {
    const { heap } = simHeap(TYPES)
    const t = heap.new(Tagged, { tag: 'MiXed', n: 3 })
    const plain = heap.toPlain(t)
    expect(plain.nodes[0]).to.deep.include({ tag: 'MIXED', n: 3 })
    expect(heap.fromPlain(Tagged, plain).tag).to.equal('mixed')
    heap.close()
  })

  it('accepts what the import rules allow: any ids, any node order, i64 as a safe integer, missing fields as defaults', () => {
    const { heap } = simHeap(TYPES)
    const plain = clone(heap.toPlain(family(heap)))
    const renumbered = clone(plain) as Any
    const renum = (id: number): number => id * 7 + 3
    renumbered.root = renum(renumbered.root)
    for (const n of renumbered.nodes) {
      n.$id = renum(n.$id)
      for (const k of Object.keys(n)) if (n[k] && typeof n[k].$ref === 'number') n[k] = { $ref: renum(n[k].$ref) }
      if (Array.isArray(n.items)) n.items = n.items.map((v: Any) => v && typeof v.$ref === 'number' ? { $ref: renum(v.$ref) } : v)
    }
    renumbered.nodes.reverse()
    expect(heap.toPlain(heap.fromPlain(Person, renumbered))).to.deep.equal(plain)
    const sparse = clone(plain) as Any
    sparse.nodes[0].id = 12
    delete sparse.nodes[0].name
    const ann = heap.fromPlain(Person, sparse)
    expect([ann.id, ann.name]).to.deep.equal([12n, ''])
    heap.close()
  })

  it('a heap too small for the graph: HeapFullError, and the blocks allocated before it are freed (one transaction)', () => {
    const nodes: Any[] = []
    const N = 40_000 // 32-byte blocks: more than a 1 MiB heap holds
    for (let i = 0; i < N; i++) nodes.push({ $id: i, $type: 'ListNode', value: i, label: 'x', next: i + 1 < N ? { $ref: i + 1 } : null })
    const { heap } = simHeap(TYPES)
    const o = attempt(heap, () => heap.fromPlain(Node, { format: 'makalu-pobj-graph/1', root: 0, nodes } as Any))
    expect(o.error, describeOutcome(o)).to.be.instanceOf(HeapFullError)
    expect([o.dUsed, o.dLive, o.checkOk], describeOutcome(o)).to.deep.equal([0, 0, true])
    const small = heap.fromPlain(Node, { format: 'makalu-pobj-graph/1', root: 0, nodes: nodes.slice(N - 3).map((n, i) => ({ ...n, $id: i, next: i < 2 ? { $ref: i + 1 } : null })) } as Any)
    expect(small.next!.next!.value).to.equal(N - 1) // the heap is usable afterwards
    heap.close()
  })

  it('imports a 100k-node chain without recursion', function () {
    this.timeout(120_000)
    const N = 100_000
    const nodes: Any[] = []
    for (let i = 0; i < N; i++) nodes.push({ $id: i, $type: 'ListNode', value: i, label: '', next: i + 1 < N ? { $ref: i + 1 } : null })
    const { heap } = simHeap(TYPES, 8 << 20)
    const head = heap.fromPlain(Node, { format: 'makalu-pobj-graph/1', root: 0, nodes } as Any)
    let n = 0
    for (let p: Node | null = head; p; p = p.next) expect(p.value).to.equal(n++)
    expect(n).to.equal(N)
    heap.close()
  })
})

// ── malformed graphs ────────────────────────────────────────────────────────

type Any = any
type Base = 'all' | 'family' | 'wide' | 'shapes' | 'tagged'
type ErrorClass = new (...args: Any[]) => Error

interface Case {
  name: string
  base: Base
  mutate: (g: Any) => unknown
  /** The JSON path the error must name (exact), when it is certain. */
  path?: string
  cls?: Class | typeof PArray
  error?: ErrorClass
}

const ROOT_CLASS: Record<Base, Class | typeof PArray> = { all: AllKinds, family: Person, wide: Wide, shapes: PArray, tagged: Tagged }

/** The valid exports every case mutates (built once, each case gets a deep copy). */
function baseGraphs(): Record<Base, unknown> {
  const { heap } = simHeap(TYPES)
  const x = heap.new(AllKinds, { i: -1, flag: true, u: 7, d: 0.25, big: 5n, s: 's', n: NaN })
  x.other = x
  x.nums = heap.newArray('f64', [Infinity, 0.5]) // node 1
  x.refs = heap.newArray(AllKinds, [x, null]) // node 2
  const w = heap.new(Wide, { big: heap.newArray('i64', [-(2n ** 63n), 1n]), small: heap.newArray('u32', [0, 2 ** 32 - 1]) })
  const shapes = heap.newArray(Shape, [heap.new(Circle, { r: 2, name: 'c', filled: true }), null])
  const out = {
    all: clone(heap.toPlain(x)),
    family: clone(heap.toPlain(family(heap))), // 0 ann, 1 bob, 2 kids (ref Person), 3 scores (i32), 4 kid
    wide: clone(heap.toPlain(w)), // 0 Wide, 1 big (i64), 2 small (u32)
    shapes: clone(heap.toPlain(shapes)), // 0 array of Shape, 1 Circle
    tagged: clone(heap.toPlain(heap.new(Tagged, { tag: 'x', n: 1 }))),
  }
  heap.close()
  return out
}

function clone<T>(v: T): T { return JSON.parse(JSON.stringify(v)) as T }

/** Adds an own key (also `__proto__`, which assignment would not create). */
function withKey(o: Any, key: string, value: unknown): Any {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
  return o
}

function deepObject(levels: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}
function deepArray(levels: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

const set = (path: (string | number)[], value: unknown) => (g: Any): Any => {
  let o = g
  for (const k of path.slice(0, -1)) o = o[k]
  withKey(o, String(path[path.length - 1]), value)
  return g
}
const del = (path: (string | number)[]) => (g: Any): Any => {
  let o = g
  for (const k of path.slice(0, -1)) o = o[k]
  delete o[path[path.length - 1]]
  return g
}

/** Wrong values per field of the AllKinds node (node 0 of 'all'; node 1 is its f64 array, node 2 its ref array). */
const BAD_FIELDS: Record<string, unknown[]> = {
  i: ['1', 1.5, 2 ** 31, -(2 ** 31) - 1, 'NaN', 'Infinity', Infinity, NaN, null, true, [], [1], {}, { $ref: 0 }],
  u: [-1, 2 ** 32, 0.5, 'Infinity', NaN, '3', null, {}],
  flag: [1, 0, 'true', null, [], {}],
  d: ['x', '1', 'nan', '', null, [1], {}, true, { $ref: 1 }],
  big: ['abc', '', '0x10', '1e3', ' 12', '1.0', '9223372036854775808', '-9223372036854775809', 'Infinity', Infinity,
    1.5, 2 ** 53, true, null, [], {}],
  s: [5, null, true, {}, [], ['a'], { $ref: 0 }],
  other: ['x', 5, true, {}, [], [{ $ref: 0 }], { $ref: '0' }, { $ref: 99 }, { $ref: -1 }, { $ref: 1.5 }, { $ref: 0, x: 1 },
    { $ref: 1 }, { $ID: 0 }],
  nums: [5, 'x', [1, 2], {}, { $ref: 0 }, { $ref: 2 }, { $ref: 99 }],
  refs: [{ $ref: 1 }, { $ref: 0 }, [{ $ref: 0 }]],
}

const CASES: Case[] = [
  // the graph itself
  { name: 'graph null', base: 'all', mutate: () => null, path: '$' },
  { name: 'graph undefined', base: 'all', mutate: () => undefined, path: '$' },
  { name: 'graph a number', base: 'all', mutate: () => 5, path: '$' },
  { name: 'graph a string', base: 'all', mutate: () => 'graph', path: '$' },
  { name: 'graph an array', base: 'all', mutate: (g) => [g], path: '$' },
  { name: 'graph {}', base: 'all', mutate: () => ({}), path: '$.format' },
  { name: 'format missing', base: 'all', mutate: del(['format']), path: '$.format' },
  { name: 'format of another version', base: 'all', mutate: set(['format'], 'makalu-pobj-graph/2'), path: '$.format' },
  { name: 'unknown top-level key', base: 'all', mutate: set(['extra'], 1), path: '$.extra' },
  { name: 'nodes missing', base: 'all', mutate: del(['nodes']), path: '$.nodes' },
  { name: 'nodes an object', base: 'all', mutate: set(['nodes'], {}), path: '$.nodes' },
  { name: 'nodes null', base: 'all', mutate: set(['nodes'], null), path: '$.nodes' },
  { name: 'nodes of mixed garbage', base: 'all', mutate: set(['nodes'], [1, 'a', null, [], {}, true]), path: '$.nodes[0]' },
  { name: 'a garbage node appended', base: 'all', mutate: (g) => { g.nodes.push('garbage'); return g }, path: '$.nodes[3]' },
  { name: 'a null node', base: 'all', mutate: set(['nodes', 1], null), path: '$.nodes[1]' },
  { name: 'a node that is an array', base: 'all', mutate: set(['nodes', 1], [1]), path: '$.nodes[1]' },
  // root
  { name: 'root missing', base: 'all', mutate: del(['root']), path: '$.root' },
  { name: 'root null (an export of null)', base: 'all', mutate: set(['root'], null), path: '$.root' },
  { name: 'root a string', base: 'all', mutate: set(['root'], '0'), path: '$.root' },
  { name: 'root negative', base: 'all', mutate: set(['root'], -1), path: '$.root' },
  { name: 'root fractional', base: 'all', mutate: set(['root'], 0.5), path: '$.root' },
  { name: 'root dangling', base: 'all', mutate: set(['root'], 99), path: '$.root' },
  { name: 'root of another class', base: 'family', cls: AllKinds, mutate: (g) => g, error: TypeMismatchError },
  { name: 'root an object, PArray asked', base: 'family', cls: PArray, mutate: (g) => g, error: TypeMismatchError },
  { name: 'root an array, a class asked', base: 'family', mutate: set(['root'], 3), error: TypeMismatchError },
  // ids
  { name: '$id missing', base: 'family', mutate: del(['nodes', 1, '$id']), path: '$.nodes[1].$id' },
  { name: '$id a string', base: 'family', mutate: set(['nodes', 1, '$id'], '1'), path: '$.nodes[1].$id' },
  { name: '$id negative', base: 'family', mutate: set(['nodes', 1, '$id'], -1), path: '$.nodes[1].$id' },
  { name: '$id fractional', base: 'family', mutate: set(['nodes', 1, '$id'], 1.5), path: '$.nodes[1].$id' },
  { name: '$id beyond 2^53', base: 'family', mutate: set(['nodes', 1, '$id'], 2 ** 53), path: '$.nodes[1].$id' },
  { name: 'duplicate $id (different nodes)', base: 'family', mutate: set(['nodes', 4, '$id'], 1), path: '$.nodes[4].$id' },
  { name: 'duplicate $id (a copy)', base: 'family', mutate: (g) => { g.nodes.push(clone(g.nodes[1])); return g }, path: '$.nodes[5].$id' },
  { name: 'duplicate $id of an array', base: 'family', mutate: (g) => { g.nodes.push(clone(g.nodes[3])); return g }, path: '$.nodes[5].$id' },
  { name: 'unreferenced object node', base: 'family', mutate: (g) => { g.nodes.push({ ...clone(g.nodes[1]), $id: 50 }); return g }, path: '$.nodes[5]' },
  { name: 'unreferenced array node', base: 'family', mutate: (g) => { g.nodes.push({ $id: 60, $array: 'i32', items: [1, 2] }); return g }, path: '$.nodes[5]' },
  {
    name: 'unreferenced cycle of two nodes', base: 'family', path: '$.nodes[5]',
    mutate: (g) => {
      g.nodes.push({ ...clone(g.nodes[1]), $id: 50, friend: { $ref: 51 }, children: null })
      g.nodes.push({ ...clone(g.nodes[1]), $id: 51, friend: { $ref: 50 }, children: null })
      return g
    },
  },
  { name: 'a node removed (dangling $refs)', base: 'family', mutate: (g) => { g.nodes.splice(4, 1); return g }, path: '$.nodes[2].items[0]' },
  // $type / $array
  { name: '$type a number', base: 'family', mutate: set(['nodes', 1, '$type'], 5), path: '$.nodes[1].$type' },
  { name: '$type unknown', base: 'family', mutate: set(['nodes', 1, '$type'], 'Nope'), path: '$.nodes[1].$type' },
  { name: '$type empty', base: 'family', mutate: set(['nodes', 1, '$type'], ''), path: '$.nodes[1].$type' },
  { name: 'neither $type nor $array', base: 'family', mutate: del(['nodes', 1, '$type']), path: '$.nodes[1]' },
  { name: 'both $type and $array', base: 'family', mutate: set(['nodes', 1, '$array'], 'i32'), path: '$.nodes[1]' },
  { name: '$type of a class with other fields', base: 'family', mutate: set(['nodes', 1, '$type'], 'Tagged'), path: '$.nodes[0].friend' },
  { name: '$array unknown kind', base: 'family', mutate: set(['nodes', 3, '$array'], 'i8'), path: '$.nodes[3].$array' },
  { name: '$array a number', base: 'family', mutate: set(['nodes', 3, '$array'], 5), path: '$.nodes[3].$array' },
  { name: '$array ref without $element', base: 'family', mutate: del(['nodes', 2, '$element']), path: '$.nodes[2].$element' },
  { name: '$element unknown', base: 'family', mutate: set(['nodes', 2, '$element'], 'Nope'), path: '$.nodes[2].$element' },
  { name: '$element a number', base: 'family', mutate: set(['nodes', 2, '$element'], 5), path: '$.nodes[2].$element' },
  { name: '$element on a number array', base: 'family', mutate: set(['nodes', 3, '$element'], 'Person'), path: '$.nodes[3].$element' },
  { name: '$element of another class', base: 'family', mutate: set(['nodes', 2, '$element'], 'AllKinds') },
  // array items
  { name: 'items missing', base: 'family', mutate: del(['nodes', 3, 'items']), path: '$.nodes[3].items' },
  { name: 'items an object', base: 'family', mutate: set(['nodes', 3, 'items'], {}), path: '$.nodes[3].items' },
  { name: 'items a string', base: 'family', mutate: set(['nodes', 3, 'items'], 'abc'), path: '$.nodes[3].items' },
  { name: 'items null', base: 'family', mutate: set(['nodes', 3, 'items'], null), path: '$.nodes[3].items' },
  { name: 'i32 item fractional', base: 'family', mutate: set(['nodes', 3, 'items', 1], 1.5), path: '$.nodes[3].items[1]' },
  { name: 'i32 item out of range', base: 'family', mutate: set(['nodes', 3, 'items', 1], 2 ** 31), path: '$.nodes[3].items[1]' },
  { name: 'i32 item a string', base: 'family', mutate: set(['nodes', 3, 'items', 1], '1'), path: '$.nodes[3].items[1]' },
  { name: 'i32 item null', base: 'family', mutate: set(['nodes', 3, 'items', 1], null), path: '$.nodes[3].items[1]' },
  { name: 'i32 item an array', base: 'family', mutate: set(['nodes', 3, 'items', 1], [1]), path: '$.nodes[3].items[1]' },
  { name: 'i32 item a ref', base: 'family', mutate: set(['nodes', 3, 'items', 1], { $ref: 0 }), path: '$.nodes[3].items[1]' },
  { name: 'i32 item Infinity', base: 'family', mutate: set(['nodes', 3, 'items', 1], 'Infinity'), path: '$.nodes[3].items[1]' },
  { name: 'ref item a number', base: 'family', mutate: set(['nodes', 2, 'items', 0], 5), path: '$.nodes[2].items[0]' },
  { name: 'ref item a string', base: 'family', mutate: set(['nodes', 2, 'items', 0], 'x'), path: '$.nodes[2].items[0]' },
  { name: 'ref item {}', base: 'family', mutate: set(['nodes', 2, 'items', 0], {}), path: '$.nodes[2].items[0]' },
  { name: 'ref item to an array node', base: 'family', mutate: set(['nodes', 2, 'items', 0], { $ref: 3 }), path: '$.nodes[2].items[0]' },
  { name: 'ref item dangling', base: 'family', mutate: set(['nodes', 2, 'items', 0], { $ref: 99 }), path: '$.nodes[2].items[0]' },
  { name: 'ref item with an extra key', base: 'family', mutate: set(['nodes', 2, 'items', 0], { $ref: 4, y: 1 }), path: '$.nodes[2].items[0]' },
  { name: 'ref items of mixed garbage', base: 'family', mutate: set(['nodes', 2, 'items'], [1, 'a', null, [], {}, true, { $ref: 'x' }]), path: '$.nodes[2].items[0]' },
  { name: 'unknown key on an array node', base: 'family', mutate: set(['nodes', 3, 'extra'], 1), path: '$.nodes[3].extra' },
  { name: 'i64 item not decimal', base: 'wide', mutate: set(['nodes', 1, 'items', 1], 'abc'), path: '$.nodes[1].items[1]' },
  { name: 'i64 item empty string', base: 'wide', mutate: set(['nodes', 1, 'items', 1], ''), path: '$.nodes[1].items[1]' },
  { name: 'i64 item hex', base: 'wide', mutate: set(['nodes', 1, 'items', 1], '0x10'), path: '$.nodes[1].items[1]' },
  { name: 'i64 item out of range', base: 'wide', mutate: set(['nodes', 1, 'items', 1], '9223372036854775808'), path: '$.nodes[1].items[1]' },
  { name: 'i64 item fractional', base: 'wide', mutate: set(['nodes', 1, 'items', 1], 1.5), path: '$.nodes[1].items[1]' },
  { name: 'i64 item null', base: 'wide', mutate: set(['nodes', 1, 'items', 1], null), path: '$.nodes[1].items[1]' },
  { name: 'u32 item negative', base: 'wide', mutate: set(['nodes', 2, 'items', 0], -1), path: '$.nodes[2].items[0]' },
  { name: 'u32 item 2^32', base: 'wide', mutate: set(['nodes', 2, 'items', 0], 2 ** 32), path: '$.nodes[2].items[0]' },
  { name: 'u32 item NaN', base: 'wide', mutate: set(['nodes', 2, 'items', 0], 'NaN'), path: '$.nodes[2].items[0]' },
  { name: 'i64 array field -> u32 array', base: 'wide', mutate: set(['nodes', 0, 'big'], { $ref: 2 }), path: '$.nodes[0].big' },
  // refs to the wrong class
  {
    name: 'ref field to an object of another class', base: 'family', path: '$.nodes[0].friend',
    mutate: (g) => { g.nodes.push({ $id: 9, $type: 'AllKinds' }); g.nodes[0].friend = { $ref: 9 }; return g },
  },
  {
    name: 'ref item to an object of another class', base: 'shapes', path: '$.nodes[0].items[1]',
    mutate: (g) => { g.nodes.push({ $id: 9, $type: 'Person', name: 'p', id: '1' }); g.nodes[0].items[1] = { $ref: 9 }; return g },
  },
  {
    name: 'ref item to a base class where a subclass is declared', base: 'shapes', path: '$.nodes[0].items[0]',
    mutate: (g) => { g.nodes[0].$element = 'Circle'; g.nodes[1] = { $id: 1, $type: 'Shape', filled: true, name: 's' }; return g },
  },
  // keys
  { name: 'unknown key on an object node', base: 'family', mutate: set(['nodes', 1, 'nmae'], 'bob'), path: '$.nodes[1].nmae' },
  { name: 'unknown $-key on an object node', base: 'family', mutate: set(['nodes', 1, '$extra'], 1), path: '$.nodes[1].$extra' },
  { name: '__proto__ key on a node', base: 'family', mutate: set(['nodes', 1, '__proto__'], { polluted: 'yes' }), path: '$.nodes[1].__proto__' },
  { name: '__proto__ key from JSON.parse', base: 'family', path: '$.nodes[0].__proto__',
    mutate: (g) => JSON.parse(JSON.stringify(g).replace('"$id":0,', '"$id":0,"__proto__":{"polluted":"yes"},')) },
  { name: 'constructor key on a node', base: 'family', mutate: set(['nodes', 1, 'constructor'], { prototype: { polluted: 'yes' } }), path: '$.nodes[1].constructor' },
  { name: 'prototype key on a node', base: 'family', mutate: set(['nodes', 1, 'prototype'], { polluted: 'yes' }), path: '$.nodes[1].prototype' },
  { name: '__proto__ inside a field value', base: 'family', mutate: set(['nodes', 1, 'name'], withKey({}, '__proto__', { polluted: 'yes' })), path: '$.nodes[1].name.__proto__' },
  { name: '__proto__ inside a $ref', base: 'family', mutate: set(['nodes', 1, 'friend'], withKey({ $ref: 0 }, '__proto__', { polluted: 'yes' })), path: '$.nodes[1].friend.__proto__' },
  { name: '__proto__ at the top', base: 'family', mutate: (g) => withKey(g, '__proto__', { polluted: 'yes' }), path: '$.__proto__' },
  { name: '__proto__ on an array node', base: 'family', mutate: set(['nodes', 3, '__proto__'], { polluted: 'yes' }), path: '$.nodes[3].__proto__' },
  // nesting
  { name: 'field value nested 100k objects deep', base: 'family', mutate: set(['nodes', 1, 'name'], deepObject(100_000)), path: '$.nodes[1].name' },
  { name: 'field value nested 100k arrays deep', base: 'family', mutate: set(['nodes', 1, 'name'], deepArray(100_000)), path: '$.nodes[1].name' },
  { name: 'ref field nested 100k deep', base: 'family', mutate: set(['nodes', 1, 'friend'], deepObject(100_000)), path: '$.nodes[1].friend' },
  { name: 'array items nested 100k deep', base: 'family', mutate: set(['nodes', 3, 'items'], [deepArray(100_000)]), path: '$.nodes[3].items[0]' },
  { name: 'unknown key nested 100k deep', base: 'family', mutate: set(['nodes', 1, 'deep'], deepObject(100_000)) },
  // class-transformer
  { name: 'a value the class\'s @Transform throws on', base: 'tagged', mutate: set(['nodes', 0, 'tag'], 5), path: '$.nodes[0]' },
  // every field kind, wrong values
  ...Object.entries(BAD_FIELDS).flatMap(([f, vs]) => vs.map((v): Case => ({
    name: `AllKinds.${f} = ${show(v)}`, base: 'all', mutate: set(['nodes', 0, f], v), path: `$.nodes[0].${f}`,
  }))),
]

function show(v: unknown): string {
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : JSON.stringify(v)
}

interface Outcome { error: unknown; dUsed: number; dLive: number; checkOk: boolean; polluted: string[] }

const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).sort().join()

/** Runs fn and reports what it threw and how the heap changed. */
function attempt(heap: PHeap, fn: () => unknown): Outcome {
  const before = heap.stats()
  let error: unknown
  try { fn() } catch (e) { error = e }
  const after = heap.stats()
  const polluted: string[] = []
  if (Object.getOwnPropertyNames(Object.prototype).sort().join() !== PROTO_KEYS) polluted.push('Object.prototype keys changed')
  if (({} as Any).polluted !== undefined) polluted.push('({}).polluted is set')
  return { error, dUsed: after.used - before.used, dLive: after.liveBlocks - before.liveBlocks, checkOk: heap.check().ok, polluted }
}

function describeOutcome(o: Outcome): string {
  const e = o.error as Error | undefined
  const err = e === undefined ? 'no error' : `${e.constructor?.name}: ${String(e.message).slice(0, 160)}`
  return `${err}; used ${o.dUsed >= 0 ? '+' : ''}${o.dUsed} B, liveBlocks ${o.dLive >= 0 ? '+' : ''}${o.dLive}` +
    `${o.checkOk ? '' : ', check() failed'}${o.polluted.length ? ', ' + o.polluted.join(', ') : ''}`
}

describe('pobj fromPlain: malformed graphs get a typed error and leave the heap unchanged', () => {
  const bases = baseGraphs()
  let heap: PHeap
  before(() => {
    heap = simHeap(TYPES, 4 << 20).heap
    heap.setRoot('keep', heap.fromPlain(Person, clone(bases.family) as never)) // something already stored
  })
  after(() => heap.close())

  it('every base graph imports and round-trips', () => {
    for (const [b, g] of Object.entries(bases) as [Base, Any][]) {
      const o = attempt(heap, () => {
        const r = heap.fromPlain(ROOT_CLASS[b] as Class, clone(g))
        heap.setRoot(b, r)
        expect(heap.toPlain(r)).to.deep.equal(g)
      })
      expect(o.error, `${b}: ${describeOutcome(o)}`).to.equal(undefined)
    }
  })

  for (const c of CASES) {
    it(c.name, function () {
      if (c.name.includes('100k')) this.timeout(30_000)
      const g = c.mutate(clone(bases[c.base]))
      const o = attempt(heap, () => heap.fromPlain((c.cls ?? ROOT_CLASS[c.base]) as Class, g as never))
      const seen = describeOutcome(o)
      const want = c.error ?? ImportError
      expect(o.error, seen).to.be.instanceOf(want)
      expect((o.error as Error).message, seen).to.match(/^pobj: fromPlain: /)
      if (want === ImportError) {
        expect((o.error as ImportError).code).to.equal('EPOBJIMPORT')
        if (c.path) expect((o.error as ImportError).path, seen).to.equal(c.path)
        if (c.path) expect((o.error as Error).message, seen).to.include(c.path)
      }
      expect([o.dUsed, o.dLive, o.checkOk], seen).to.deep.equal([0, 0, true])
      expect(o.polluted, seen).to.deep.equal([])
    })
  }

  it('leaves the stored graph intact', () => {
    const ann = heap.root('keep', Person)!
    expect(heap.toPlain(ann)).to.deep.equal(bases.family)
    expect(reachable(heap).blocks).to.equal(heap.stats().liveBlocks)
  })
})

// ── random mutations of valid exports ──────────────────────────────────────

const GARBAGE: unknown[] = [0, 1, -1, 1.5, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 53, 'NaN', 'Infinity', '-Infinity', '', 'x', '12',
  '-9223372036854775809', '9223372036854775807', null, true, false, {}, [], [1, 2], { a: { b: { c: 1 } } }, { $ref: 'x' }, { $ref: -1 },
  'Person', 'AllKinds', 'ref', 'i32', 'f64']

function mutateRandomly(g: Any, r: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]
  const value = (): unknown => r() < 0.35 ? { $ref: Math.floor(r() * (g.nodes?.length ?? 3) + 1) - 1 } : clone(pick(GARBAGE))
  const nodes: Any[] = Array.isArray(g.nodes) ? g.nodes : []
  const node = (): Any => nodes.length > 0 ? pick(nodes) : undefined
  const op = Math.floor(r() * 10)
  const n = node()
  const keyed = (o: Any): string => pick([...Object.keys(o), 'extra', '__proto__', 'constructor', '$ref', '$id', '$type', '$array', '$element', 'items'])
  switch (op) {
    case 0: case 1: case 2: { // set a field of a node (or a new key)
      if (!n || typeof n !== 'object') return 'noop'
      const k = keyed(n)
      withKey(n, k, value())
      return `nodes[${nodes.indexOf(n)}].${k} = ${JSON.stringify(n[k])}`
    }
    case 3: { // delete a key of a node
      if (!n || typeof n !== 'object') return 'noop'
      const k = pick(Object.keys(n))
      delete n[k]
      return `delete nodes[${nodes.indexOf(n)}].${k}`
    }
    case 4: { // an array item
      const arrays = nodes.filter((x) => x && Array.isArray(x.items) && x.items.length > 0)
      if (arrays.length === 0) return 'noop'
      const a = pick(arrays)
      const i = Math.floor(r() * a.items.length)
      a.items[i] = value()
      return `nodes[${nodes.indexOf(a)}].items[${i}] = ${JSON.stringify(a.items[i])}`
    }
    case 5: if (n !== undefined) nodes.push(clone(n)); return 'duplicate a node'
    case 6: if (nodes.length > 0) nodes.splice(Math.floor(r() * nodes.length), 1); return 'remove a node'
    case 7: g.root = r() < 0.8 ? Math.floor(r() * (nodes.length + 1)) : pick(GARBAGE); return `root = ${JSON.stringify(g.root)}`
    case 8: { // a node of a copy with a new id, maybe referenced
      if (!n) return 'noop'
      const c = { ...clone(n), $id: 1000 + nodes.length }
      nodes.push(c)
      if (r() < 0.5) { const m = node(); if (m && typeof m === 'object') withKey(m, keyed(m), { $ref: c.$id }) }
      return 'add a copy with a new id'
    }
    default: { // shuffle the node order
      for (let i = nodes.length - 1; i > 0; i--) { const j = Math.floor(r() * (i + 1)); [nodes[i], nodes[j]] = [nodes[j], nodes[i]] }
      return 'shuffle'
    }
  }
}

describe('pobj fromPlain: random mutations of valid exports (seeded)', () => {
  it('either imports and round-trips, or throws ImportError/TypeMismatchError with the heap unchanged', function () {
    this.timeout(60_000)
    const bases = baseGraphs()
    const names: Base[] = ['all', 'family', 'wide', 'shapes', 'tagged']
    const heap = simHeap(TYPES, 16 << 20).heap
    const r = mulberry32(1505)
    const counts = { imported: 0, refused: 0 }
    for (let k = 0; k < 400; k++) {
      const b = names[k % names.length]
      const g = clone(bases[b]) as Any
      const steps: string[] = []
      for (let m = 1 + Math.floor(r() * 3); m > 0; m--) steps.push(mutateRandomly(g, r))
      const input = JSON.parse(JSON.stringify(g)) // what a file would hold
      let got: object | undefined
      const o = attempt(heap, () => { got = heap.fromPlain(ROOT_CLASS[b] as Class, input) })
      const seen = `case ${k} (${b}: ${steps.join('; ')}): ${describeOutcome(o)}`
      if (o.error === undefined) {
        counts.imported++
        heap.setRoot(`case${k}`, got!)
        expect(reachable(heap).blocks, `${seen}: allocated blocks not reachable from the root`).to.equal(heap.stats().liveBlocks)
        const e1 = clone(heap.toPlain(got!))
        const again = heap.fromPlain(ROOT_CLASS[b] as Class, clone(e1) as never)
        heap.setRoot(`again${k}`, again)
        expect(heap.toPlain(again), seen).to.deep.equal(e1)
      } else {
        counts.refused++
        expect(o.error instanceof ImportError || o.error instanceof TypeMismatchError, seen).to.equal(true)
        expect((o.error as Error).message, seen).to.match(/^pobj: fromPlain: /)
        expect([o.dUsed, o.dLive, o.checkOk], seen).to.deep.equal([0, 0, true])
      }
      expect(o.polluted, seen).to.deep.equal([])
    }
    expect(counts.imported, JSON.stringify(counts)).to.be.greaterThan(20)
    expect(counts.refused, JSON.stringify(counts)).to.be.greaterThan(100)
    heap.close()
  })
})
