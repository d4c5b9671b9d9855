import 'reflect-metadata'
import { expect } from 'chai'
import { inspect } from 'util'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { SimRegion, HeapClosedError } from '@makalu/allocator'
import {
  PHeap, PArray, FieldTypeError, ForeignHandleError, FreedObjectError, TypeMismatchError, UnknownTypeError, IndexRangeError,
} from '../src'
import { AllKinds, Account, Bank, Node, Tree, Shape, Circle, Person } from './models'
import { simHeap, reachable } from './helpers'

const ALL = [AllKinds, Account, Bank, Node, Tree, Shape, Circle, Person]

function reopen(region: SimRegion, heap: PHeap, types = ALL): { region: SimRegion; heap: PHeap } {
  heap.close()
  const r = new SimRegion(region.durableImage())
  return { region: r, heap: PHeap.openIn(r, { types }) }
}

describe('pobj handles and PHeap', () => {
  it('reads and writes every kind through a handle, straight to the heap', () => {
    const { region, heap } = simHeap(ALL)
    const a = heap.new(AllKinds)
    expect([a.i, a.flag, a.u, a.d, a.big, a.s, a.n, a.other, a.nums, a.refs]).to.deep.equal([0, false, 0, 0, 0n, '', 0, null, null, null])
    a.i = -7; a.flag = true; a.u = 4_000_000_000; a.d = 1.5; a.big = -(2n ** 62n); a.s = 'hé'; a.n = NaN
    const b = heap.new(AllKinds, { i: 2 })
    a.other = b
    a.nums = heap.newArray('f64', [1, 2.5])
    a.refs = heap.newArray(AllKinds, [b, null])
    expect([a.i, a.flag, a.u, a.d, a.big, a.s]).to.deep.equal([-7, true, 4_000_000_000, 1.5, -(2n ** 62n), 'hé'])
    expect(a.n).to.be.NaN
    expect(a.other).to.equal(b)
    expect(a.nums!.toArray()).to.deep.equal([1, 2.5])
    expect(a.refs!.get(0)).to.equal(b)
    heap.setRoot('a', a)
    // No copy: the block in the heap holds the values.
    const view = new DataView(heap.raw.bytes.buffer)
    const p = (a as unknown as { _$ptr: number })._$ptr
    expect(view.getInt32(p + 8, true)).to.equal(-7)
    expect(view.getFloat64(p + 24, true)).to.equal(1.5)
    const r = reopen(region, heap)
    const a2 = r.heap.root('a', AllKinds)!
    expect([a2.i, a2.flag, a2.u, a2.d, a2.big, a2.s]).to.deep.equal([-7, true, 4_000_000_000, 1.5, -(2n ** 62n), 'hé'])
    expect(a2.other!.i).to.equal(2)
    expect(a2.refs!.get(0)).to.equal(a2.other)
    expect(a2.refs!.get(1)).to.equal(null)
    r.heap.close()
  })

  it('gives instances of the user class: instanceof, methods, subclasses through a base ref', () => {
    const { heap } = simHeap(ALL)
    const acc = heap.new(Account, { owner: 'ann', balance: 10 })
    expect(acc).to.be.instanceOf(Account)
    expect(acc.constructor).to.equal(Account)
    acc.deposit(5)
    expect(acc.balance).to.equal(15)
    const c = heap.new(Circle, { r: 2, name: 'c', filled: true })
    expect(c).to.be.instanceOf(Shape).and.instanceOf(Circle)
    expect(c.area()).to.be.closeTo(4 * Math.PI, 1e-12)
    expect(Object.keys(c)).to.deep.equal(['_$heap', '_$ptr'])
    const shapes = heap.newArray(Shape, [c, heap.new(Shape, { name: 's' })])
    expect(shapes.get(0)).to.equal(c)
    expect(shapes.get(1).area()).to.equal(0)
    heap.close()
  })

  it('gives the same handle for a ref read twice, and after a reopen per heap', () => {
    const { region, heap } = simHeap(ALL)
    const n1 = heap.new(Node, { value: 1 })
    const n2 = heap.new(Node, { value: 2, next: n1 })
    n1.next = n2 // a cycle
    heap.setRoot('list', n2)
    expect(n2.next).to.equal(n1)
    expect(n2.next!.next).to.equal(n2)
    expect(heap.root('list')).to.equal(n2)
    const r = reopen(region, heap)
    const m2 = r.heap.root('list', Node)!
    expect(m2.next!.next).to.equal(m2)
    expect(m2).to.not.equal(n2)
    r.heap.close()
  })

  it('stores strings of any length: empty, non-ASCII, long; replacing frees the old block', () => {
    const { region, heap } = simHeap(ALL, 4 << 20)
    const t = heap.new(Tree, { name: '' })
    heap.setRoot('t', t)
    expect(t.name).to.equal('')
    const samples = ['a', 'héllo wörld', '日本語のテキスト', '🎉 emoji 👩‍👩‍👧', 'x'.repeat(100_000), '']
    for (const s of samples) {
      t.name = s
      expect(t.name).to.equal(s)
    }
    t.name = 'Ωmega'
    expect(heap.stats().strings.count).to.equal(1)
    const r = reopen(region, heap)
    expect(r.heap.root('t', Tree)!.name).to.equal('Ωmega')
    r.heap.close()
  })

  it('makes arrays of every number kind and of refs, iterable, usable as field values', () => {
    const { heap } = simHeap(ALL)
    const i32 = heap.newArray('i32', [1, -2, 3])
    const u32 = heap.newArray('u32', 4)
    const i64 = heap.newArray('i64', [5n, -(2n ** 63n)])
    const f64 = heap.newArray('f64', 3)
    expect([...i32]).to.deep.equal([1, -2, 3])
    expect([...u32]).to.deep.equal([0, 0, 0, 0])
    expect([...i64]).to.deep.equal([5n, -(2n ** 63n)])
    f64.set(2, Math.PI)
    expect(f64.get(2)).to.equal(Math.PI)
    expect(f64.length).to.equal(3)
    expect(() => f64.get(3)).to.throw(IndexRangeError)
    expect(() => i32.set(0, 1.5)).to.throw(FieldTypeError)
    expect(() => u32.set(0, -1)).to.throw(FieldTypeError)
    expect(() => i64.set(0, 1 as never)).to.throw(FieldTypeError)
    const p = heap.new(Person, { name: 'p', scores: heap.newArray('i32', [9, 8]) })
    expect(p.scores!.toArray()).to.deep.equal([9, 8])
    expect(() => { p.scores = f64 as never }).to.throw(FieldTypeError, /Person\.scores: expected a PArray of i32/)
    const kids = heap.newArray(Person, [heap.new(Person, { name: 'k' })])
    p.children = kids
    expect(p.children!.get(0)!.name).to.equal('k')
    expect(() => kids.set(0, heap.new(Account) as never)).to.throw(FieldTypeError)
    expect(heap.newArray('f64', 0).length).to.equal(0)
    heap.close()
  })

  it('binds roots: missing is null, a factory creates, the wrong class is a TypeMismatchError', () => {
    const { heap } = simHeap(ALL)
    expect(heap.root('nope')).to.equal(null)
    expect(heap.root('nope', Account)).to.equal(null)
    let made = 0
    const bank = heap.root('bank', () => { made++; return heap.new(Bank, { accounts: heap.newArray(Account, [heap.new(Account), heap.new(Account)]) }) })
    expect(heap.root('bank', Bank, () => { made++; return heap.new(Bank) })).to.equal(bank)
    expect(made).to.equal(1)
    expect(() => heap.root('bank', Account)).to.throw(TypeMismatchError, /root 'bank' holds a Bank, not a Account/)
    expect(heap.rootNames()).to.deep.equal(['bank'])
    heap.setRoot('bank', null)
    expect(heap.root('bank')).to.equal(null)
    expect(() => heap.setRoot('pobj.types', null)).to.throw(/reserved/)
    heap.close()
  })

  it('iterates live objects by type (subclasses included) and counts them per type', () => {
    const { heap } = simHeap(ALL)
    const accounts = Array.from({ length: 5 }, (_, i) => heap.new(Account, { owner: `o${i}`, balance: i }))
    const accountBytes = heap.raw.usableSize((accounts[0] as unknown as { _$ptr: number })._$ptr)
    heap.new(Shape); heap.new(Circle); heap.new(Circle)
    expect([...heap.objects(Account)].map((a) => a.balance).sort()).to.deep.equal([0, 1, 2, 3, 4])
    expect([...heap.objects(Shape)].length).to.equal(3)
    expect([...heap.objects(Circle)].length).to.equal(2)
    expect([...heap.objects()].length).to.equal(8)
    const s = heap.stats()
    expect(s.types.Account).to.deep.equal({ count: 5, bytes: 5 * accountBytes })
    expect(s.types.Circle.count).to.equal(2)
    expect(s.strings.count).to.equal(5)
    expect(s.typeTable.count).to.equal(1)
    expect(s.liveBlocks).to.be.greaterThan(10)
    heap.close()
  })

  it('collects unreachable objects (and their strings) at gc({ fromHandles: false }); their handles then throw', () => {
    const { heap } = simHeap(ALL)
    const used0 = heap.stats().used
    const a = heap.new(Account, { owner: 'gone', balance: 1 })
    expect(heap.gc().freedBlocks, 'a live handle keeps it').to.equal(0)
    expect(heap.gc({ fromHandles: false }).freedBlocks).to.equal(2)
    expect(heap.stats().used).to.equal(used0)
    expect(() => a.balance).to.throw(FreedObjectError)
    expect(() => { a.balance = 2 }).to.throw(FreedObjectError)
    expect(() => heap.setRoot('x', a)).to.throw(FreedObjectError)
    expect([...heap.objects(Account)]).to.deep.equal([])
    heap.close()
  })

  it('transactions: commit all, or roll back on a throw (values, new objects, deletes, strings)', () => {
    const { heap } = simHeap(ALL)
    const a = heap.new(Account, { owner: 'a', balance: 100 })
    const b = heap.new(Account, { owner: 'b', balance: 0 })
    heap.setRoot('a', a); heap.setRoot('b', b)
    heap.transaction(() => { a.balance -= 30; b.balance += 30; a.owner = 'A' })
    expect([a.balance, b.balance, a.owner]).to.deep.equal([70, 30, 'A'])
    const used = heap.stats().used
    let created: Account | undefined
    expect(() => heap.transaction(() => {
      a.balance = 0; b.owner = 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
      created = heap.new(Account, { owner: 'new' })
      heap.setRoot('b', null)
      heap.setRoot('c', created)
      throw new Error('boom')
    })).to.throw('boom')
    expect([a.balance, b.balance, a.owner, b.owner]).to.deep.equal([70, 30, 'A', 'b'])
    expect(() => created!.balance).to.throw(FreedObjectError)
    expect(heap.root('c')).to.equal(null)
    expect(heap.stats().used).to.equal(used)
    expect(heap.root('b')).to.equal(b)
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })

  it('a write outside a transaction is durable when it returns', () => {
    const { region, heap } = simHeap(ALL)
    const t = heap.new(Tree, { key: 1, name: 'one' })
    heap.setRoot('t', t)
    t.key = 2
    t.name = 'two'
    t.left = heap.new(Tree, { key: 3 })
    const h2 = PHeap.openIn(new SimRegion(region.crash({ mode: 'strict' })), { types: ALL })
    const t2 = h2.root('t', Tree)!
    expect([t2.key, t2.name, t2.left!.key]).to.deep.equal([2, 'two', 3])
    const live = reachable(h2)
    expect(h2.stats().used).to.equal(live.bytes)
    h2.close()
  })

  it('a refused PHeap.create leaves no file behind (a class that is not persistent, a bad gc policy, a bad size)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-create-'))
    try {
      class NotPersistent { x = 1 }
      const cases: Array<[string, () => unknown, RegExp]> = [
        ['not persistent', () => PHeap.create(path.join(dir, 'a.heap'), { size: 1 << 20, types: [NotPersistent as never] }), /not a @Persistent class/],
        ['bad gc policy', () => PHeap.create(path.join(dir, 'b.heap'), { size: 1 << 20, types: ALL, gc: { growth: -2 } }), /gc\.growth/],
        ['bad size', () => PHeap.create(path.join(dir, 'c.heap'), { size: 12345, types: ALL }), /size/],
      ]
      for (const [what, create, message] of cases) {
        expect(create, what).to.throw(message)
        expect(fs.readdirSync(dir), what).to.deep.equal([])
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it('rejects wrong values, foreign handles and a closed heap with typed errors, heap unchanged', () => {
    const { heap } = simHeap(ALL)
    const other = simHeap(ALL).heap
    const a = heap.new(AllKinds, { i: 1, s: 'keep' })
    const used = heap.stats().used
    const bad: Array<[keyof AllKinds, unknown, RegExp]> = [
      ['i', 1.5, /AllKinds\.i: expected an i32/], ['i', 2 ** 31, /i32/], ['u', -1, /u32/], ['d', '1', /number/],
      ['big', 1, /i64/], ['big', 2n ** 63n, /i64/], ['flag', 1, /boolean/], ['s', 5, /string/], ['s', null, /string/],
      ['other', heap.new(Account), /AllKinds\.other: expected a AllKinds handle/], ['other', new AllKinds(), /plain AllKinds object is not in the heap/],
      ['nums', [1, 2], /PArray of f64/],
    ]
    const used2 = heap.stats().used
    for (const [k, v, re] of bad) expect(() => { (a as unknown as Record<string, unknown>)[k] = v }, String(k)).to.throw(FieldTypeError, re)
    expect([a.i, a.s]).to.deep.equal([1, 'keep'])
    expect(heap.stats().used).to.equal(used2)
    expect(used2).to.be.greaterThan(used)
    const foreign = other.new(AllKinds)
    expect(() => { a.other = foreign }).to.throw(ForeignHandleError)
    expect(() => heap.setRoot('f', foreign)).to.throw(ForeignHandleError)
    expect(() => heap.new(AllKinds, { nope: 1 } as never)).to.throw(FieldTypeError, /no persistent field 'nope'/)
    expect(() => heap.new(AllKinds, { i: 1, s: 'x', d: 'bad' as never })).to.throw(FieldTypeError)
    expect(heap.stats().used).to.equal(used2) // the half-built object and its string were freed
    class NotPersistent {}
    expect(() => heap.new(NotPersistent)).to.throw(UnknownTypeError)
    other.close()
    expect(() => foreign.i).to.throw(HeapClosedError, /^pobj: /)
    heap.close()
    expect(() => a.i).to.throw(HeapClosedError)
    expect(() => heap.new(Account)).to.throw(HeapClosedError)
  })

  it('JSON.stringify and util.inspect show fields, not the heap', () => {
    const { heap } = simHeap(ALL)
    const p = heap.new(Person, { name: 'ann', id: 5n, scores: heap.newArray('i32', [1, 2]) })
    const json = JSON.parse(JSON.stringify(p))
    expect(json).to.deep.include({ name: 'ann', id: '5', friend: null, children: null, scores: [1, 2] })
    expect(JSON.stringify(p.scores)).to.equal('[1,2]')
    // Refs nest as plain objects, bounded: a cycle is marked, depth and length are capped, never the heap.
    const q = heap.new(Person, { name: 'bob', id: 6n, friend: p })
    p.friend = q
    expect(JSON.parse(JSON.stringify(q))).to.deep.include({ name: 'bob', friend: { name: 'ann', id: '5', friend: { $cycle: 'Person' }, children: null, scores: [1, 2] } })
    let deep = heap.new(Person, { name: 'd0', id: 0n })
    for (let i = 1; i < 10; i++) deep = heap.new(Person, { name: `d${i}`, id: BigInt(i), friend: deep })
    expect(JSON.stringify(deep)).to.contain('"$more":"Person"')
    expect(JSON.stringify(deep).length).to.be.below(600)
    // A spread handle carries only its heap and pointer; the heap prints and serialises as a summary.
    expect(JSON.stringify({ ...p }).length).to.be.below(200)
    expect(inspect({ ...p }).length).to.be.below(200)
    const long = heap.newArray('i32', 5000)
    expect(JSON.parse(JSON.stringify(long))).to.have.length(101)
    expect(JSON.parse(JSON.stringify(long))[100]).to.equal('… 4900 more')
    const shown = inspect(p)
    expect(shown).to.match(/Person \{[^]*name: 'ann'/)
    expect(shown.length).to.be.lessThan(400)
    expect(inspect(p.scores)).to.equal('PArray<i32>(2) [1,2]')
    heap.close()
  })

  it('keeps handles working when the heap grows (views refreshed after allocations)', () => {
    const region = new SimRegion(256 * 1024)
    const heap = PHeap.createIn(region, { types: ALL, chunkSize: 4096, logSize: 16384, rootCapacity: 16, maxSize: 8 << 20 })
    const first = heap.new(Node, { value: 1, label: 'first' })
    heap.setRoot('list', first)
    const bytes0 = heap.raw.bytes
    let tail = first
    for (let i = 0; i < 3000; i++) {
      const n = heap.new(Node, { value: i, label: `node ${i} ${'z'.repeat(i % 50)}` })
      tail.next = n
      tail = n
    }
    expect(heap.raw.bytes).to.not.equal(bytes0) // the region grew
    expect(region.size).to.be.greaterThan(256 * 1024)
    first.label = 'still works'
    expect(first.label).to.equal('still works')
    let count = 0
    for (let n: Node | null = first; n; n = n.next) count++
    expect(count).to.equal(3001)
    const r = reopen(region, heap)
    expect(r.heap.root('list', Node)!.next!.label).to.equal('node 0 ')
    r.heap.close()
  })

  it('keeps handles working when the heap grows through a raw allocation', () => {
    const region = new SimRegion(256 * 1024)
    const heap = PHeap.createIn(region, { types: ALL, chunkSize: 4096, logSize: 16384, rootCapacity: 16, maxSize: 8 << 20 })
    const n = heap.new(Node, { value: 42, label: 'x' })
    const bytes0 = heap.raw.bytes
    while (heap.raw.bytes === bytes0) heap.raw.alloc(4000)
    expect(n.value).to.equal(42)
    n.value = 43
    expect(n.value).to.equal(43)
  })

  it('reads an object whose class was not passed: an UnknownTypeError, unless found by stable name', () => {
    const { region, heap } = simHeap([Node])
    heap.setRoot('n', heap.new(Node, { value: 1, label: 'x' }))
    const r = reopen(region, heap, [])
    expect(r.heap.root('n', Node)!.label).to.equal('x') // found by its unique stable name
    r.heap.close()
  })
})

describe('PArray', () => {
  it('is exported and is what newArray returns', () => {
    const { heap } = simHeap(ALL)
    expect(heap.newArray('i32', 1)).to.be.instanceOf(PArray)
    heap.close()
  })
})
