/**
 * End to end, the domain model a new user writes first: a task tracker. Project (name, tasks
 * as a growable array), Task (title, due Date, optional assignee, tags as a string array,
 * subtasks as a growable array, a string-enum status), Bug extends Task (numeric-enum
 * severity). Create, mutate, reopen a real heap file, toPlain/fromPlain, bad values refused
 * with nothing changed, and a power failure (SimRegion at every drain) while tasks are added.
 */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { SimRegion } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field, FieldTypeError } from '@makalu/pobj'

enum Status { Open = 'open', InProgress = 'in-progress', Done = 'done' }
enum Severity { Low = 1, Medium = 2, High = 3 }

@Persistent('tracker.Task')
class Task {
  @field.string title!: string
  @field.date due!: Date
  @field.optional.string assignee?: string
  @field.array('string') tags!: PArray<string> | null
  @field.array(() => Task) subtasks!: PArray<Task> | null
  @field.enum(Status) status!: Status

  isLate(now: Date): boolean { return this.status !== Status.Done && this.due.getTime() < now.getTime() }
}

@Persistent('tracker.Bug')
class Bug extends Task {
  @field.enum(Severity) severity!: Severity
}

@Persistent('tracker.Project')
class Project {
  @field.string name!: string
  @field.array(() => Task) tasks!: PArray<Task> | null
}

const TYPES = [Project, Task, Bug]

function newTask(heap: PHeap, title: string, due: string, tags: string[] = []): Task {
  return heap.new(Task, { title, due: new Date(due), tags: heap.newArray('string', tags), subtasks: heap.newArray(Task, []), status: Status.Open })
}

/** The project as plain data (what a user would compare or print). */
function view(p: Project): unknown {
  const task = (t: Task): unknown => ({
    kind: t instanceof Bug ? 'bug' : 'task', title: t.title, due: t.due.toISOString(), assignee: t.assignee,
    tags: t.tags?.toArray() ?? null, status: t.status, severity: t instanceof Bug ? t.severity : undefined,
    subtasks: t.subtasks?.toArray().map(task) ?? null,
  })
  return { name: p.name, tasks: p.tasks!.toArray().map(task) }
}

describe('task tracker, end to end (Project, Task, Bug: dates, optional, enums, string and growable arrays)', () => {
  let dir: string
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tracker-')) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('creates, mutates, reopens a heap file, and round-trips through toPlain/fromPlain', () => {
    const file = path.join(dir, 'tracker.heap')
    let heap = PHeap.create(file, { size: 8 << 20, types: TYPES, durability: 'process' })
    const p = heap.root('project', () => heap.new(Project, { name: 'makalu', tasks: heap.newArray(Task, []) }))
    const docs = newTask(heap, 'write docs', '2026-12-10T00:00:00Z', ['docs'])
    p.tasks!.push(docs)
    heap.transaction(() => {
      const bug = heap.new(Bug, {
        title: 'crash on open', due: new Date('2026-12-03T12:00:00Z'), tags: heap.newArray('string', ['p0', 'recovery']),
        subtasks: heap.newArray(Task, []), status: Status.InProgress, severity: Severity.High, assignee: 'ana',
      })
      bug.subtasks!.push(newTask(heap, 'reproduce', '2026-12-02T00:00:00Z'), newTask(heap, 'fix', '2026-12-03T00:00:00Z', ['code']))
      p.tasks!.push(bug)
    })
    for (let i = 0; i < 40; i++) p.tasks!.push(newTask(heap, `chore ${i}`, '2027-01-01T00:00:00Z', [`n${i}`])) // several capacity steps
    // Mutate: tags, status, assignee set and cleared, a task removed, one inserted at the front.
    docs.tags!.push('readme', 'api')
    docs.status = Status.Done
    docs.assignee = 'bo'
    docs.assignee = undefined
    expect(p.tasks!.splice(2, 38).length).to.equal(38)
    p.tasks!.splice(0, 0, newTask(heap, 'plan', '2026-12-01T00:00:00Z', ['meta']))
    const bug = p.tasks!.at(2) as Bug
    expect(bug).to.be.instanceOf(Bug)
    expect(bug.isLate(new Date('2026-12-05T00:00:00Z'))).to.equal(true)
    bug.subtasks!.at(-1)!.tags!.pop()
    const before = view(p)
    expect((before as { tasks: unknown[] }).tasks.length).to.equal(5)
    heap.close()

    heap = PHeap.open(file, { types: TYPES })
    const again = heap.root('project', Project)!
    expect(view(again)).to.deep.equal(before)
    expect(again.tasks!.toArray().map((t) => t.title)).to.deep.equal(['plan', 'write docs', 'crash on open', 'chore 38', 'chore 39'])
    expect(again.tasks!.at(1)!.assignee).to.equal(undefined)
    const b = again.tasks!.at(2) as Bug
    expect([b.severity, b.status, b.assignee, b.tags!.toArray()]).to.deep.equal([Severity.High, Status.InProgress, 'ana', ['p0', 'recovery']])

    const copy = heap.fromPlain(Project, JSON.parse(JSON.stringify(heap.toPlain(again))))
    expect(view(copy)).to.deep.equal(before)
    expect(copy.tasks!.at(2)).to.be.instanceOf(Bug)
    copy.tasks!.push(newTask(heap, 'only in the copy', '2027-02-01T00:00:00Z'))
    expect(again.tasks!.length).to.equal(5)
    expect(heap.check().violations).to.deep.equal([])
    heap.close()
  })

  it('bad values get FieldTypeError and change nothing', () => {
    const heap = PHeap.createIn(new SimRegion(4 << 20), { types: TYPES })
    const p = heap.root('project', () => heap.new(Project, { name: 'x', tasks: heap.newArray(Task, []) }))
    const t = newTask(heap, 'a', '2026-12-01T00:00:00Z', ['t'])
    p.tasks!.push(t)
    const bug = heap.new(Bug, { title: 'b', due: new Date(0), status: Status.Open, severity: Severity.Low })
    p.tasks!.push(bug)
    const before = view(p)
    const used = heap.stats().used
    const bad: Array<[string, () => void]> = [
      ['status', () => { t.status = 'bogus' as Status }],
      ['severity', () => { bug.severity = 7 as Severity }],
      ['severity 1.5', () => { bug.severity = 1.5 as Severity }],
      ['due', () => { t.due = new Date('not a date') }],
      ['assignee', () => { t.assignee = 42 as unknown as string }],
      ['tags push', () => { t.tags!.push('ok', 5 as unknown as string) }],
      ['tags splice', () => { t.tags!.splice(0, 1, null as unknown as string) }],
      ['tasks push', () => { p.tasks!.push(p as unknown as Task) }],
      ['subtasks in a transaction', () => heap.transaction(() => { t.subtasks!.push(newTask(heap, 'fine', '2026-12-01T00:00:00Z')); t.subtasks!.push({} as Task) })],
      ['new with a bad tag', () => { heap.new(Task, { title: 'n', due: new Date(0), status: Status.Done, tags: heap.newArray('string', ['x', 1 as unknown as string]) }) }],
    ]
    for (const [what, f] of bad) expect(f, what).to.throw(FieldTypeError)
    expect(view(p)).to.deep.equal(before)
    heap.gc({ fromHandles: false })
    expect(heap.stats().used).to.equal(used)
    heap.close()
  })

  it('a power failure at every drain while tasks are added: the project holds the tasks before or after the add, heap clean', function () {
    this.timeout(120_000)
    const ADDS = 24
    const region = new SimRegion(2 << 20)
    const heap = PHeap.createIn(region, { types: TYPES, chunkSize: 4096, logSize: 32 * 1024 })
    heap.root('project', () => heap.new(Project, { name: 'crashy', tasks: heap.newArray(Task, []) }))
    const titles = (h: PHeap): string[] => h.root('project', Project)!.tasks!.toArray().map((t) => `${t.title}|${t.tags!.toArray().join(',')}|${t.subtasks!.length}`)
    const expected: string[][] = [[]]
    let done = 0
    let crashes = 0
    let failure: Error | null = null
    region.onDrain = () => {
      if (failure) return
      crashes++
      const img = region.crash({ mode: 'strict' })
      try {
        const h = PHeap.openIn(new SimRegion(img), { types: TYPES })
        try {
          expect(h.check().violations).to.deep.equal([])
          expect(h.recovery.stalePointers).to.equal(0)
          const got = JSON.stringify(titles(h))
          const ok = [JSON.stringify(expected[done])]
          if (done + 1 < expected.length) ok.push(JSON.stringify(expected[done + 1]))
          expect(ok, `crash ${crashes} after ${done} adds`).to.include(got)
        } finally { h.close() }
      } catch (e) { failure = e as Error }
    }
    const p = heap.root('project', Project)!
    for (let k = 0; k < ADDS && !failure; k++) {
      const tags = Array.from({ length: k % 4 }, (_, i) => `tag${k}.${i}`)
      const next = [...expected[k], `t${k}|${tags.join(',')}|${k % 3}`]
      expected.push(next)
      const add = (): void => {
        const t = newTask(heap, `t${k}`, '2026-12-01T00:00:00Z', tags)
        for (let s = 0; s < k % 3; s++) t.subtasks!.push(newTask(heap, `t${k}.${s}`, '2026-12-02T00:00:00Z'))
        p.tasks!.push(t) // outside a transaction: the one store that publishes the task
      }
      if (k % 2 === 0) heap.transaction(add)
      else add()
      done++
    }
    region.onDrain = null
    heap.close()
    if (failure) throw failure
    expect(crashes).to.be.greaterThan(ADDS)
  })
})
