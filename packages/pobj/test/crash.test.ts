import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field, was } from '../src'
import { Account, Bank, Node, Tree, Task, Priority, Status } from './models'
import { Workload, referenceStates, crashRun, HEAP_OPTS, REGION_SIZE } from './crash-harness'
import { reachable } from './helpers'

const ACCOUNTS = 6

/** Transfers between accounts in transactions; some rename an owner, some replace an account object. */
const bankWorkload: Workload<{ transfers: number; balances: number[]; owners: string[] }> = {
  name: 'bank',
  types: [Bank, Account],
  ops: 40,
  setup(heap) {
    heap.root('bank', () => heap.new(Bank, {
      accounts: heap.newArray(Account, Array.from({ length: ACCOUNTS }, (_, i) => heap.new(Account, { owner: `o${i}`, balance: 100 }))),
    }))
  },
  op(heap, k, rand) {
    const bank = heap.root('bank', Bank)!
    const i = Math.floor(rand() * ACCOUNTS)
    const j = (i + 1 + Math.floor(rand() * (ACCOUNTS - 1))) % ACCOUNTS
    const amount = Math.floor(rand() * 50)
    heap.transaction(() => {
      const a = bank.accounts.get(i)
      const b = bank.accounts.get(j)
      a.balance -= amount
      b.balance += amount
      bank.transfers++
      if (k % 3 === 0) a.owner = `owner-${k}-${'x'.repeat(k % 5 * 10)}`
      if (k % 7 === 0) {
        bank.accounts.set(j, heap.new(Account, { owner: b.owner, balance: b.balance })) // b is garbage now
      }
    })
    if (k % 5 === 4) heap.gc({ fromHandles: false })
  },
  read(heap) {
    const bank = heap.root('bank', Bank)!
    const accounts = bank.accounts.toArray()
    return { transfers: bank.transfers, balances: accounts.map((a) => a.balance), owners: accounts.map((a) => a.owner) }
  },
  invariant(s) {
    expect(s.balances.reduce((x, y) => x + y, 0)).to.equal(ACCOUNTS * 100)
  },
}

/** A linked list under a sentinel: pushes, removes, relabels, in and outside transactions. */
const listWorkload: Workload<Array<[number, string]>> = {
  name: 'list',
  types: [Node],
  ops: 40,
  setup(heap) { heap.setRoot('list', heap.new(Node, { label: 'head' })) },
  op(heap, k, rand) {
    const head = heap.root('list', Node)!
    const nodes: Node[] = []
    for (let n = head.next; n; n = n.next) nodes.push(n)
    const pick = nodes.length > 0 ? nodes[Math.floor(rand() * nodes.length)] : null
    switch (k < 6 ? k % 2 : Math.floor(rand() * 6)) {
      case 0: heap.transaction(() => { head.next = heap.new(Node, { value: k, label: `n${k}`, next: head.next }) }); break
      case 1: head.next = heap.new(Node, { value: k, label: `m${k}é`, next: head.next }); break // outside: init drained before publish
      case 2: if (nodes[0]) heap.transaction(() => { head.next = nodes[0].next }); break
      case 3: if (pick) pick.label = `relabel-${k}-${'y'.repeat(k)}`; break // a string replaced outside a transaction
      case 4: if (pick) pick.value = k * 1.5; break
      case 5: if (nodes[0]) head.next = nodes[0].next; break
    }
    if (k % 4 === 3) heap.gc({ fromHandles: false }) // the unlinked nodes are freed, their blocks reused
  },
  read(heap) {
    const out: Array<[number, string]> = []
    for (let n = heap.root('list', Node)!.next; n; n = n.next) out.push([n.value, n.label])
    return out
  },
}

/** A binary search tree: inserts and leaf deletes in transactions, renames outside. */
const treeWorkload: Workload<Array<[number, string]>> = {
  name: 'tree',
  types: [Tree],
  ops: 40,
  setup(heap) { heap.setRoot('tree', heap.new(Tree, { key: 500, name: 'root' })) },
  op(heap, k, rand) {
    const root = heap.root('tree', Tree)!
    const key = Math.floor(rand() * 1000)
    const r = rand()
    if (r < 0.6) {
      heap.transaction(() => {
        let t = root
        for (;;) {
          if (key === t.key) { t.name = `dup${k}`; return }
          const next = key < t.key ? t.left : t.right
          if (!next) {
            const leaf = heap.new(Tree, { key, name: `k${key}` })
            if (key < t.key) t.left = leaf; else t.right = leaf
            return
          }
          t = next
        }
      })
    } else {
      // Find a leaf along a random path; delete it (in a transaction) or rename it (outside).
      let parent: Tree | null = null
      let t = root
      for (;;) {
        const next = (rand() < 0.5 ? t.left : t.right) ?? t.left ?? t.right
        if (!next) break
        parent = t; t = next
      }
      if (parent && r < 0.85) {
        const p = parent
        heap.transaction(() => { if (p.left === t) p.left = null; else p.right = null })
      } else t.name = `renamed${k}`
    }
    if (k % 5 === 2) heap.gc({ fromHandles: false })
  },
  read(heap) {
    const out: Array<[number, string]> = []
    const walk = (t: Tree | null): void => { if (t) { walk(t.left); out.push([t.key, t.name]); walk(t.right) } }
    walk(heap.root('tree', Tree))
    return out
  },
  invariant(s) {
    for (let i = 1; i < s.length; i++) expect(s[i][0]).to.be.greaterThan(s[i - 1][0])
  },
}

/** A task's every value, dates as epoch ms (absent stays undefined / null). */
function taskValues(t: Task): unknown[] {
  const ms = (d: Date | null | undefined) => (d instanceof Date ? d.getTime() : d)
  return [t.title, ms(t.due), ms(t.created), t.priority, t.status, t.estimate, t.count, t.ratio, t.done, t.note, ms(t.closed),
    t.review, t.assignee, t.score, t.flag, t.escalation, ms(t.started)]
}

const PRIORITIES = [Priority.Low, Priority.Mid, Priority.High]
const STATUSES = [Status.Open, Status.Done, Status.Blocked]

/**
 * Tasks in a list using every value kind (Date, enums, optional and nullable primitives):
 * pushes, field updates that set and clear optional values, in and outside transactions.
 */
const taskWorkload: Workload<unknown[][]> = {
  name: 'tasks (dates, enums, optional and nullable values)',
  types: [Task],
  ops: 40,
  setup(heap) { heap.setRoot('tasks', heap.new(Task, { title: 'head', due: new Date(0) })) },
  op(heap, k, rand) {
    const head = heap.root('tasks', Task)!
    const tasks: Task[] = []
    for (let t = head.next; t; t = t.next) tasks.push(t)
    const pick = tasks.length > 0 ? tasks[Math.floor(rand() * tasks.length)] : head
    const pr = PRIORITIES[k % 3]
    const st = STATUSES[Math.floor(rand() * 3)]
    const some = rand() < 0.5
    switch (k < 4 ? k % 2 : Math.floor(rand() * 6)) {
      case 0: heap.transaction(() => { // a new task, some fields absent
        head.next = heap.new(Task, {
          title: `t${k}`, due: new Date(1_700_000_000_000 + k * 86_400_000), priority: pr, status: st,
          estimate: some ? k - 20 : undefined, note: some ? '' : `note ${k}`, assignee: some ? null : `a${k}`,
          escalation: some ? Priority.High : null, next: head.next,
        })
      }); break
      case 1: head.next = heap.new(Task, { // outside a transaction: the ABSENT slots are durable with the block
        title: `u${k}`, created: new Date(-k * 1000), ratio: some ? k / 3 : undefined, done: some ? false : undefined,
        closed: some ? new Date(k) : undefined, score: some ? -0 : null, flag: some ? true : null, review: some ? st : undefined,
        next: head.next,
      }); break
      case 2: { // set or clear one value outside a transaction: one store, durable on return
        const writes: Array<() => void> = [
          () => { pick.estimate = some ? k : undefined }, () => { pick.count = some ? 4_000_000_000 - k : undefined },
          () => { pick.ratio = some ? NaN : undefined }, () => { pick.done = some ? true : undefined },
          () => { pick.closed = some ? new Date(k * 7) : undefined }, () => { pick.review = some ? st : undefined },
          () => { pick.score = some ? k * 1.5 : null }, () => { pick.flag = some ? false : null },
          () => { pick.escalation = some ? pr : null }, () => { pick.started = some ? new Date(k) : null },
          () => { pick.priority = pr === pick.priority ? Priority.Mid : pr }, () => { pick.status = st },
          () => { pick.due = new Date(k * 1e6) },
        ]
        writes[Math.floor(rand() * writes.length)]()
        break
      }
      case 3: // optional strings: value, "", absent, outside a transaction
        if (some) pick.note = k % 3 === 0 ? undefined : k % 3 === 1 ? '' : `n${k}-${'z'.repeat(k % 4 * 8)}`
        else pick.assignee = k % 2 === 0 ? null : k % 3 === 0 ? '' : `who${k}`
        break
      case 4: heap.transaction(() => { // the same in one transaction
        pick.note = some ? `tx${k}` : undefined; pick.estimate = some ? undefined : -k; pick.escalation = some ? null : pr
        pick.started = some ? null : new Date(k); pick.status = st; pick.assignee = some ? '' : null
      }); break
      case 5: if (tasks[0]) heap.transaction(() => { head.next = tasks[0].next }); break // unlink: garbage
    }
    if (k % 4 === 3) heap.gc({ fromHandles: false })
  },
  read(heap) {
    const out: unknown[][] = []
    for (let t: Task | null = heap.root('tasks', Task); t; t = t.next) out.push(taskValues(t))
    return out
  },
}

/** A class in two releases: the second widens, renames, adds and drops fields. */
@Persistent('Crash.Person') class PersonV1 {
  @field() name!: string
  @field.i32 age!: number
  @field() mail!: string
  @field() note!: string
  @field.ref(() => PersonV1) next!: PersonV1 | null
}
@Persistent('Crash.Person') class PersonV2 {
  @field() name!: string
  @field.optional.string phone?: string
  @field.f64 age!: number
  @was('mail') @field() email!: string
  @field.ref(() => PersonV2) next!: PersonV2 | null
}
const PEOPLE = 6

/**
 * Lazy upgrades: a heap written by PersonV1, opened with PersonV2; each operation writes to a
 * person (its first write upgrades it: a new block, then the forwarder store), some two people
 * in one transaction, some relink the chain.
 */
const upgradeWorkload: Workload<Array<[string, string | undefined, number, string]>> = {
  name: 'upgrade',
  types: [PersonV2],
  ops: 24,
  image() {
    const region = new SimRegion(REGION_SIZE)
    const heap = PHeap.createIn(region, { ...HEAP_OPTS, types: [PersonV1] })
    let next: PersonV1 | null = null
    for (let i = PEOPLE - 1; i >= 0; i--) next = heap.new(PersonV1, { name: `p${i}`, age: i, mail: `m${i}`, note: `note ${i}`, next })
    heap.setRoot('people', next)
    heap.close()
    return region.durableImage()
  },
  setup() {},
  op(heap, k, rand) {
    const people: PersonV2[] = []
    for (let p = heap.root('people', PersonV2); p; p = p.next) people.push(p)
    const a = people[Math.floor(rand() * people.length)]
    const b = people[Math.floor(rand() * people.length)]
    if (k % 3 === 0) heap.transaction(() => { a.age += 0.5; b.phone = `t${k}` })
    else if (k % 3 === 1) a.email = `e${k}`
    else a.phone = k % 4 === 1 ? undefined : `p${k}`
  },
  read(heap) {
    const out: Array<[string, string | undefined, number, string]> = []
    for (let p = heap.root('people', PersonV2); p; p = p.next) out.push([p.name, p.phone, p.age, p.email])
    return out
  },
}

@Persistent('Crash.Blob') class Blob {
  @field.bytes data!: Uint8Array
  @field.nullable.bytes sig!: Uint8Array | null
}
const BLOBS = 4

/** Bytes values replaced (new block, pointer swing, old block freed), alone and two at a time in transactions. */
const bytesWorkload: Workload<Array<[number[], number[] | null]>> = {
  name: 'bytes',
  types: [Blob],
  ops: 30,
  setup(heap) {
    heap.root('blobs', () => heap.newArray(Blob, Array.from({ length: BLOBS }, (_, i) => heap.new(Blob, { data: new Uint8Array([i]), sig: null }))))
  },
  op(heap, k, rand) {
    const all = heap.root('blobs') as PArray<Blob>
    const bytes = (n: number) => new Uint8Array(n).map(() => Math.floor(rand() * 256))
    const a = all.get(Math.floor(rand() * BLOBS))
    if (k % 3 === 0) heap.transaction(() => { a.data = bytes(1 + k * 7); all.get((k + 1) % BLOBS).sig = k % 2 ? null : bytes(k) })
    else if (k % 3 === 1) a.data = bytes(k * 13)
    else a.sig = bytes(3)
  },
  read(heap) {
    return [...(heap.root('blobs') as PArray<Blob>)].map((b) => [[...b.data], b.sig === null ? null : [...b.sig]])
  },
}

const workloads = [bankWorkload, listWorkload, treeWorkload, taskWorkload, upgradeWorkload, bytesWorkload] as Array<Workload<unknown>>

describe('pobj crash recovery (SimRegion)', function () {
  this.timeout(300_000)
  for (const w of workloads) {
    describe(w.name, () => {
      const states = referenceStates(w)

      it('the reference run changes state at every operation', () => {
        expect(states.length).to.equal(w.ops + 1)
        for (const s of states) w.invariant?.(s)
      })

      it('strict crash at every drain: the last completed operation whole, the one in progress gone', () => {
        const r = crashRun(w, states, { mode: 'strict', partialEvery: 5 })
        expect(r.crashes).to.equal(r.drains)
        expect(r.crashes).to.be.greaterThan(w.ops)
      })

      it('random survivors at random drains, many seeds', () => {
        let crashes = 0
        let atEnd = 0
        for (let seed = 1; seed <= 12; seed++) {
          const pickRand = new SimRegionPicker(seed)
          const r = crashRun(w, states, { mode: 'random', seed, pick: () => pickRand.next() < 0.35, partialEvery: 7 })
          crashes += r.crashes
          atEnd += r.atEnd
        }
        expect(crashes).to.be.greaterThan(100)
        void atEnd
      })

      it("on an 'at-drain' region (the file backend's model): every drain strict, random survivors at random drains", () => {
        const r = crashRun(w, states, { mode: 'strict', writeBack: 'at-drain' })
        expect(r.crashes).to.equal(r.drains)
        let crashes = 0
        for (let seed = 21; seed <= 28; seed++) {
          const pickRand = new SimRegionPicker(seed)
          crashes += crashRun(w, states, { mode: 'random', seed, writeBack: 'at-drain', pick: () => pickRand.next() < 0.35 }).crashes
        }
        expect(crashes).to.be.greaterThan(50)
      })
    })
  }

  it('recovery with no class loaded keeps every reachable object (refs, ref arrays, strings, number arrays)', () => {
    const region = new SimRegion(REGION_SIZE)
    const heap = PHeap.createIn(region, { ...HEAP_OPTS, types: [Bank, Account, Node] })
    bankWorkload.setup(heap)
    listWorkload.setup(heap)
    for (let i = 0; i < 20; i++) heap.new(Node, { label: `garbage${i}` }) // unreachable: reclaimed
    const before = bankWorkload.read(heap)
    const img = region.crash({ mode: 'strict' })
    heap.close()
    const h1 = PHeap.openIn(new SimRegion(img), { types: [] })
    expect(h1.recovery.clean).to.equal(false)
    expect(h1.recovery.tracing).to.equal('precise')
    const live = reachable(h1)
    expect(h1.stats().used).to.equal(live.bytes)
    expect(h1.check().ok).to.equal(true)
    const img2 = h1.raw.region.bytes.slice()
    h1.close()
    const h2 = PHeap.openIn(new SimRegion(img2), { types: [Bank, Account, Node] })
    expect(bankWorkload.read(h2)).to.deep.equal(before)
    expect(h2.root('list', Node)!.label).to.equal('head')
    expect([...h2.objects(Node)].length).to.equal(1) // the unreachable nodes and their strings were reclaimed
    expect(h2.stats().strings.count).to.equal(ACCOUNTS + 1)
    h2.close()
  })

  it('a class first used inside a transaction is appended to the table crash-safely', () => {
    const region = new SimRegion(REGION_SIZE)
    const heap = PHeap.createIn(region, { ...HEAP_OPTS, types: [] })
    heap.transaction(() => heap.setRoot('t', heap.new(Tree, { key: 1, name: 'first' })))
    const h2 = PHeap.openIn(new SimRegion(region.crash({ mode: 'strict' })), { types: [Tree] })
    expect(h2.root('t', Tree)!.name).to.equal('first')
    h2.close()
    heap.close()
  })

  it('an aborted transaction that first used a class leaves a usable table', () => {
    const region = new SimRegion(REGION_SIZE)
    const heap = PHeap.createIn(region, { ...HEAP_OPTS, types: [] })
    expect(() => heap.transaction(() => { heap.new(Account, { owner: 'x' }); throw new Error('no') })).to.throw('no')
    heap.setRoot('a', heap.new(Account, { owner: 'y' }))
    const arr: PArray<number> = heap.newArray('f64', [1])
    heap.setRoot('arr', arr)
    const h2 = PHeap.openIn(new SimRegion(region.crash({ mode: 'strict' })), { types: [Account] })
    expect(h2.root('a', Account)!.owner).to.equal('y')
    expect(h2.root<PArray<number>>('arr')!.get(0)).to.equal(1)
    expect(h2.stats().used).to.equal(reachable(h2).bytes)
    h2.close()
    heap.close()
  })
})

/** A separate PRNG for choosing crash points, so the crash seed and the pick differ. */
class SimRegionPicker {
  private s: number
  constructor(seed: number) { this.s = seed * 2654435761 >>> 0 }
  next(): number { this.s = (this.s * 1664525 + 1013904223) >>> 0; return this.s / 2 ** 32 }
}
