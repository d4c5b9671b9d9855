import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { SimRegion } from '@makalu/allocator'
import { PHeap, Persistent, field, FieldTypeError, LayoutError, ImportError, SchemaMismatchError, layoutOf, validateLayout, readFieldValue } from '../src'
import { Task, Priority, Status } from './models'
import { simHeap, reachable } from './helpers'

const D1 = new Date('2026-12-02T00:30:00.123Z')
const D2 = new Date(-62_135_596_800_000) // 0001-01-01

/** Every field of a Task as plain values (what each test compares). */
function values(t: Task): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of layoutOf(Task).fields) {
    if (f.name === 'next') continue
    const v = (t as unknown as Record<string, unknown>)[f.name]
    out[f.name] = v instanceof Date ? `date:${v.getTime()}` : v
  }
  return out
}

function full(heap: PHeap): Task {
  return heap.new(Task, {
    title: 't', due: D1, created: D2, priority: Priority.High, status: Status.Done, estimate: -3, count: 4_000_000_000,
    ratio: 0.25, done: false, note: '', closed: D1, review: Status.Open, assignee: 'ann', score: -0, flag: true,
    escalation: Priority.Low, started: D2,
  })
}

function reopen(region: SimRegion, heap: PHeap): { region: SimRegion; heap: PHeap } {
  heap.close()
  const r = new SimRegion(region.durableImage())
  return { region: r, heap: PHeap.openIn(r, { types: [Task] }) }
}

describe('pobj value kinds: Date, enums, optional and nullable', () => {
  it('lays out every new kind soundly (one aligned word each)', () => {
    const l = layoutOf(Task)
    expect(validateLayout(l)).to.deep.equal([])
    const kinds = Object.fromEntries(l.fields.map((f) => [f.name, `${f.presence} ${f.kind} ${f.size}`]))
    expect(kinds.due).to.equal('required date 8')
    expect(kinds.priority).to.equal('required enum 4')
    expect(kinds.estimate).to.equal('optional i32 8')
    expect(kinds.done).to.equal('optional bool 1')
    expect(kinds.escalation).to.equal('nullable enum 8')
    expect(kinds.review).to.equal('optional enum 4')
  })

  it('a fresh object: optional fields read undefined, nullable ones null, enums a member, dates the epoch', () => {
    const { heap } = simHeap([Task])
    const t = heap.new(Task)
    expect(values(t)).to.deep.equal({
      title: '', due: 'date:0', created: 'date:0', priority: Priority.Low, status: Status.Blocked, estimate: undefined,
      count: undefined, ratio: undefined, done: undefined, note: undefined, closed: undefined, review: undefined,
      assignee: null, score: null, flag: null, escalation: null, started: null,
    })
    heap.close()
  })

  it('writes, reads and reopens every kind; absence and "" / 0 / false / -0 stay distinct', () => {
    let { region, heap } = simHeap([Task])
    const t = full(heap)
    heap.setRoot('t', t)
    const want = values(t)
    expect(want).to.include({ note: '', estimate: -3, done: false, assignee: 'ann', priority: 10, status: 'done', review: 'open' })
    expect(Object.is(t.score, -0)).to.equal(true)
    const u = heap.new(Task, { ratio: NaN, escalation: null, started: null })
    expect(u.ratio).to.be.NaN
    heap.setRoot('u', u)
    ;({ region, heap } = reopen(region, heap))
    const t2 = heap.root('t', Task)!
    expect(values(t2)).to.deep.equal(want)
    expect(Object.is(t2.score, -0)).to.equal(true)
    expect(heap.root('u', Task)!.ratio).to.be.NaN
    // Clear every optional field, then reopen.
    heap.transaction(() => {
      t2.estimate = undefined; t2.count = undefined; t2.ratio = undefined; t2.done = undefined; t2.note = undefined
      t2.closed = undefined; t2.review = undefined
    })
    t2.assignee = null; t2.score = null; t2.flag = null; t2.escalation = null; t2.started = null
    ;({ region, heap } = reopen(region, heap))
    const t3 = heap.root('t', Task)!
    expect([t3.estimate, t3.count, t3.ratio, t3.done, t3.note, t3.closed, t3.review]).to.deep.equal(Array(7).fill(undefined))
    expect([t3.assignee, t3.score, t3.flag, t3.escalation, t3.started]).to.deep.equal(Array(5).fill(null))
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })

  for (const backend of ['mmap', 'file'] as const) {
    it(`a real heap file (${backend}): every kind survives close and open`, () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-values-'))
      try {
        const file = path.join(dir, 'v.heap')
        const heap = PHeap.create(file, { size: 1 << 20, types: [Task], backend })
        const t = full(heap)
        t.next = heap.new(Task, { title: 'absent' })
        heap.setRoot('t', t)
        const want = [values(t), values(t.next)]
        heap.close()
        const h2 = PHeap.open(file, { types: [Task], backend })
        const t2 = h2.root('t', Task)!
        expect([values(t2), values(t2.next!)]).to.deep.equal(want)
        h2.close()
      } finally { fs.rmSync(dir, { recursive: true, force: true }) }
    })
  }

  it('a Date read is a new Date each time: mutating it writes nothing back', () => {
    const { heap } = simHeap([Task])
    const t = heap.new(Task, { due: D1 })
    const d = t.due
    expect(d).to.not.equal(t.due)
    d.setFullYear(1999)
    expect(t.due.getTime()).to.equal(D1.getTime())
    heap.close()
  })

  it('bad values are refused with FieldTypeError and nothing changes', () => {
    const { heap } = simHeap([Task])
    const t = full(heap)
    const before = values(t)
    const bad: Array<[keyof Task, unknown]> = [
      ['due', new Date(NaN)], ['due', D1.getTime()], ['due', '2026-01-01'], ['created', null], ['started', undefined],
      ['priority', 7.5], ['priority', 2], ['priority', 'High'], ['status', 'bogus'], ['status', 'Done'], ['status', undefined],
      ['review', null], ['review', 'bogus'], ['escalation', undefined], ['escalation', 3],
      ['estimate', 1.5], ['estimate', null], ['count', -1], ['ratio', '1'], ['ratio', null], ['done', 0], ['note', null], ['note', 5],
      ['assignee', undefined], ['score', undefined], ['flag', undefined], ['flag', 'yes'], ['closed', new Date(NaN)],
      ['title', undefined], ['title', null],
    ]
    for (const [k, v] of bad) {
      expect(() => { (t as unknown as Record<string, unknown>)[k] = v }, `${k} = ${String(v)}`).to.throw(FieldTypeError, /^pobj: Task\./)
      expect(() => heap.new(Task, { [k]: v } as never), `new with ${k}`).to.satisfy((f: () => void) => {
        if (v === undefined) { f(); return true } // undefined in init means "not given"
        try { f(); return false } catch (e) { return e instanceof FieldTypeError }
      })
    }
    expect(values(t)).to.deep.equal(before)
    expect(() => heap.transaction(() => { t.estimate = 9; t.status = 'nope' as Status })).to.throw(FieldTypeError)
    expect(values(t)).to.deep.equal(before)
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })

  it('export and import through toPlain / fromPlain: ISO dates, enum values, absence kept', () => {
    const { heap } = simHeap([Task])
    const t = full(heap)
    t.next = heap.new(Task, { title: 'empty' })
    t.score = 2.5 // (-0 becomes 0 in JSON, as for every f64)
    const plain = JSON.parse(JSON.stringify(heap.toPlain(t)))
    expect(plain.nodes[0]).to.include({ due: D1.toISOString(), created: D2.toISOString(), priority: 10, status: 'done', note: '', assignee: 'ann' })
    expect(plain.nodes[1]).to.not.have.property('estimate')
    expect(plain.nodes[1]).to.include({ assignee: null, escalation: null })
    const back = heap.fromPlain(Task, plain)
    expect(values(back)).to.deep.equal(values(t))
    expect(values(back.next!)).to.deep.equal(values(t.next))
    heap.close()
  })

  it('fromPlain refuses bad values of each new kind with ImportError, allocating nothing', () => {
    const { heap } = simHeap([Task])
    const good = heap.toPlain(full(heap))
    const used = heap.stats().used
    const cases: Array<[string, unknown, RegExp]> = [
      ['due', 'yesterday', /ISO 8601/], ['due', '2026-13-45T00:00:00Z', /ISO 8601/], ['due', 5, /ISO 8601/], ['due', null, /ISO/],
      ['priority', 7.5, /member of the enum/], ['status', 'bogus', /member of the enum \("blocked", "done", "open"\)/],
      ['estimate', null, /optional: leave it out/], ['estimate', 1.5, /i32/], ['count', -1, /u32/], ['note', 3, /a string/],
      ['done', 'no', /a boolean/], ['escalation', 2, /member/], ['review', 'Done', /member/], ['started', 'x', /ISO/],
    ]
    for (const [k, v, msg] of cases) {
      const g = JSON.parse(JSON.stringify(good))
      g.nodes[0][k] = v
      let err: unknown
      try { heap.fromPlain(Task, g) } catch (e) { err = e }
      expect(err, `${k} = ${JSON.stringify(v)}`).to.be.instanceOf(ImportError)
      expect((err as ImportError).path).to.equal(`$.nodes[0].${k}`)
      expect((err as Error).message).to.match(msg)
    }
    expect(heap.stats().used).to.equal(used)
    heap.close()
  })

  it('recovery and gc with no class loaded keep everything (strings of optional fields included)', () => {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: [Task] })
    const t = full(heap)
    t.next = heap.new(Task, { note: 'second', assignee: 'bob', title: 'n' })
    heap.setRoot('t', t)
    for (let i = 0; i < 10; i++) heap.new(Task, { note: `garbage${i}` })
    const want = [values(t), values(t.next!)]
    const img = region.crash({ mode: 'strict' })
    heap.close()
    const h1 = PHeap.openIn(new SimRegion(img), { types: [] })
    expect(h1.recovery.tracing).to.equal('precise')
    const live = reachable(h1)
    expect(live.unknown).to.equal(0)
    expect(h1.stats().used).to.equal(live.bytes)
    h1.gc()
    expect(h1.stats().used).to.equal(live.bytes)
    expect(h1.check().ok).to.equal(true)
    const img2 = h1.raw.region.bytes.slice()
    h1.close()
    const h2 = PHeap.openIn(new SimRegion(img2), { types: [Task] })
    const t2 = h2.root('t', Task)!
    expect([values(t2), values(t2.next!)]).to.deep.equal(want)
    expect(h2.stats().strings.count).to.equal(6) // t: title, note "", assignee; next: title, note, assignee
    h2.close()
  })

  it('readFieldValue reads every kind from the type table alone, as the handles do (for tools)', () => {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: [Task] })
    const t = full(heap)
    const u = heap.new(Task, { title: 'absent', next: t })
    heap.setRoot('u', u)
    const want = [values(u), values(t)]
    const ptrs = [heap.pointerOf(u), heap.pointerOf(t)]
    heap.close()
    const bare = PHeap.openIn(new SimRegion(region.durableImage()), { types: [] })
    const e = bare.types.byStableName('Task')!
    const read = (p: number) => Object.fromEntries(e.fields.filter((f) => f.name !== 'next').map((f) => {
      const v = readFieldValue(bare.raw.bytes, p, f)
      return [f.name, v instanceof Date ? `date:${v.getTime()}` : v]
    }))
    expect([read(ptrs[0]), read(ptrs[1])]).to.deep.equal(want)
    expect(readFieldValue(bare.raw.bytes, ptrs[0], e.fields.find((f) => f.name === 'next')!)).to.equal(ptrs[1])
    bare.close()
  })

  it('the type table records presence and enum members; a changed enum is a schema mismatch', () => {
    let { region, heap } = simHeap([Task])
    heap.setRoot('t', full(heap))
    const e = heap.types.byStableName('Task')!
    const f = Object.fromEntries(e.fields.map((x) => [x.name, x]))
    expect(f.status).to.include({ kind: 'enum', enumType: 'string', presence: 'required' })
    expect(f.status.members).to.deep.equal(['blocked', 'done', 'open'])
    expect(f.escalation.members).to.deep.equal([1, 5, 10])
    expect(f.note.presence).to.equal('optional')
    expect(f.assignee.presence).to.equal('nullable')
    ;({ region, heap } = reopen(region, heap))
    expect(heap.types.byStableName('Task')!.fields.find((x) => x.name === 'status')!.members).to.deep.equal(['blocked', 'done', 'open'])
    heap.close()
    // A member removed is a schema change that needs a migration; one added is automatic.
    enum Status2 { Open = 'open', Done = 'done' }
    @Persistent('Task')
    class Task2 { @field.enum(Status2) status!: Status2 }
    expect(() => PHeap.openIn(new SimRegion(region.durableImage()), { types: [Task2] }))
      .to.throw(SchemaMismatchError, /status: enum members "blocked" are gone from the class/)
    enum Status3 { Open = 'open', Done = 'done', Blocked = 'blocked', Later = 'later' }
    @Persistent('Task')
    class Task3 { @field.enum(Status3) status!: Status3 }
    const h3 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Task3] })
    expect(h3.root('t', Task3)!.status).to.equal('done') // full() stores Status.Done
    h3.root('t', Task3)!.status = Status3.Later
    expect(h3.root('t', Task3)!.status).to.equal('later')
    h3.close()
  })

  it('refuses declarations it can not store, with LayoutError', () => {
    enum Mixed { A = 1, B = 'b' }
    enum Big { A = 2 ** 40 }
    enum Empty {}
    const declare = (make: () => Function) => () => layoutOf(make())
    expect(declare(() => { @Persistent('M1') class M { @field.enum(Mixed) m!: Mixed } return M })).to.throw(LayoutError, /heterogeneous/)
    expect(declare(() => { @Persistent('M2') class M { @field.enum(Big) m!: Big } return M })).to.throw(LayoutError, /not an i32/)
    expect(declare(() => { @Persistent('M3') class M { @field.enum(Empty) m!: Empty } return M })).to.throw(LayoutError, /at least one member/)
    expect(() => field.enum(undefined as never)).to.throw(LayoutError, /enum object/)
  })

  it('@field.optional() infers the kind of `x?: T` from design:type; a union names the explicit kinds', () => {
    @Persistent('Inferred')
    class Inferred {
      @field.optional() n?: number
      @field.optional() s?: string
      @field.optional() d?: Date
      @field.optional() b?: boolean
    }
    const l = layoutOf(Inferred)
    expect(l.fields.map((f) => `${f.presence} ${f.kind}`)).to.deep.equal(['optional f64', 'optional string', 'optional date', 'optional bool'])
    expect(() => {
      @Persistent('Union') class Union { @field.optional() d?: Date | null }
      return Union
    }).to.throw(LayoutError, /@field\.optional\.i32/)
  })
})
