/**
 * pobj under TC39 standard decorators: this project is compiled without
 * experimentalDecorators and emitDecoratorMetadata (TypeScript 5's default), so every kind is
 * explicit. The same heap is then read by classes of the legacy dialect (the main tests).
 */
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, Persistent, field, was, LayoutError, PArray } from '@makalu/pobj'

enum Status { Open = 'open', Done = 'done' }

@Persistent('std.Task')
class Task {
  @field.string title!: string
  @field.date due!: Date
  @field.optional.string assignee?: string
  @field.enum(Status) status!: Status
  @field.i64 points!: bigint
  @field.ref(() => Task) parent!: Task | null
  @field.array(() => Task) subtasks!: PArray<Task> | null
  done(): boolean { return this.status === Status.Done }
}

@Persistent('std.Bug')
class Bug extends Task {
  @field.u32 severity!: number
}

describe('pobj with TC39 standard decorators', () => {
  it('declares, writes, reads, reopens: every explicit kind, inheritance and methods', () => {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: [Task, Bug] })
    const due = new Date('2027-01-02T03:04:05Z')
    const t = heap.new(Task, { title: 'ship', due, status: Status.Open, points: 5n, parent: null, subtasks: null })
    const b = heap.new(Bug, { title: 'crash', due, status: Status.Done, points: -1n, parent: t, severity: 3, assignee: 'ann' })
    t.subtasks = heap.newArray(Task, [b])
    heap.setRoot('t', t)
    expect(t.assignee).to.equal(undefined)
    expect(b.done()).to.equal(true)
    expect(b).to.be.instanceOf(Task)
    heap.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Task, Bug] })
    const t2 = h2.root('t', Task)!
    const b2 = t2.subtasks!.get(0) as Bug
    expect([t2.title, t2.due.getTime(), t2.status, t2.points]).to.deep.equal(['ship', due.getTime(), 'open', 5n])
    expect([b2.title, b2.severity, b2.assignee, b2.parent]).to.deep.equal(['crash', 3, 'ann', t2])
    expect(b2).to.be.instanceOf(Bug)
    h2.close()
  })

  it('renames with @was under standard decorators too', () => {
    @Persistent('std.Note') class NoteV1 { @field.string body!: string }
    @Persistent('std.Note') class NoteV2 { @was('body') @field.string text!: string }
    const region = new SimRegion(1 << 20)
    const h = PHeap.createIn(region, { types: [NoteV1] })
    h.setRoot('n', h.new(NoteV1, { body: 'hello' }))
    h.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [NoteV2] })
    expect(h2.root('n', NoteV2)!.text).to.equal('hello')
    h2.close()
  })

  it('refuses @field() (nothing to infer from), static and #private fields, with LayoutError', () => {
    expect(() => {
      @Persistent('std.Bad1') class Bad1 { @field() x!: number }
      return Bad1
    }).to.throw(LayoutError, /TC39 standard decorators carry no type.*explicit kind/)
    expect(() => {
      class Bad2 { @field.i32 static n: number }
      return Bad2
    }).to.throw(LayoutError, /static fields/)
    expect(() => {
      class Bad3 { @field.i32 #n!: number; get n() { return this.#n } }
      return Bad3
    }).to.throw(LayoutError, /#private fields/)
  })
})
