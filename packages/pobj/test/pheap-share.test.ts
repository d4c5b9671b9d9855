/**
 * pobj over one heap shared by worker_threads (pheap.share(), PHeap.attach()): real workers over
 * a mapped file, a class registered by two workers at once, objects passed as tokens.
 */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Worker } from 'worker_threads'
import { loadNative, SimRegion } from '@makalu/allocator'
import { PHeap, ObjectToken, HeapSharedError, FreedObjectError, ArgumentError, TypeTable } from '../src'
import { Item, Note } from './share-models'

const WORKER = path.join(__dirname, 'fixtures', 'share-worker.js')

;(loadNative() ? describe : describe.skip)('pobj: worker_threads share one heap (mmap)', function () {
  this.timeout(120_000)
  let dir = ''
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-share-')) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('two workers register a new class at once, build lists in transactions and pass objects as tokens', async () => {
    const file = path.join(dir, 'shared.heap')
    const heap = PHeap.create(file, { size: 16 << 20, types: [Item], backend: 'mmap', durability: 'process' })
    const token = heap.share()
    const COUNT = 200
    const workers = [1, 2].map((id) => new Worker(WORKER, { workerData: { token, id, count: COUNT } }))
    const exited = workers.map((w) => new Promise((r) => w.on('exit', r)))
    const received = new Map<number, string[]>()
    const fromWorkers: string[] = []
    await new Promise<void>((resolve, reject) => {
      let built = 0
      workers.forEach((w, k) => {
        const other = workers[1 - k]
        w.on('message', (m: { note?: ObjectToken; built?: boolean; received?: string[]; error?: string }) => {
          if (m.error) return reject(new Error(m.error))
          if (m.note) {
            other.postMessage({ note: m.note }) // the other worker materialises it
            const n = heap.fromToken(m.note) as Note // and so does the main thread
            fromWorkers.push(`${n.text}@${n.about?.serial}`)
          }
          if (m.built && ++built === 2) for (const x of workers) x.postMessage({ done: true })
          if (m.received) {
            received.set(k + 1, m.received)
            if (received.size === 2) resolve()
          }
        })
        w.on('error', reject)
      })
    })
    await Promise.all(exited)
    expect(heap.raw.attachedHeaps).to.equal(1)
    // Each worker received the other's notes, as handles of the right objects.
    expect(received.get(1)!.length).to.equal(COUNT / 25)
    expect(received.get(1)!.every((s) => s.startsWith('from 2@'))).to.equal(true)
    expect(received.get(2)!.every((s) => s.startsWith('from 1@'))).to.equal(true)
    expect(fromWorkers.length).to.equal(2 * COUNT / 25)
    // One version of Note in the table, though both workers registered it.
    expect(heap.raw.check().violations).to.deep.equal([])
    heap.close()

    const again = PHeap.open(file, { types: [Item, Note] })
    expect(again.raw.recovery.clean).to.equal(true)
    const notes = [...again.objects(Note)]
    expect(notes.length).to.equal(2 * COUNT / 25)
    for (const id of [1, 2]) {
      const serials: number[] = []
      for (let it = again.root<Item>(`items-${id}`); it; it = it.next) {
        expect([it.worker, it.label]).to.deep.equal([id, `w${id}-${it.serial}`])
        serials.push(it.serial)
      }
      // Every tenth transaction dropped the item below it: 200 pushed, 20 dropped.
      expect(serials.length).to.equal(COUNT - COUNT / 10)
      expect(serials[0]).to.equal(COUNT)
    }
    const entries = (again as unknown as { table: { versionsOf(n: string): unknown[] } }).table.versionsOf('share.Note')
    expect(entries.length, 'one layout version of the class both workers registered').to.equal(1)
    expect(again.raw.check().violations).to.deep.equal([])
    again.close()
  })

  it('refusals: gc() while attached, a bad token, a token of a freed object; the automatic policy waits', () => {
    const heap = PHeap.create(path.join(dir, 'r.heap'), { size: 4 << 20, types: [Item], backend: 'mmap', durability: 'process', gc: { minBytes: 0, growth: 0 } })
    const token = heap.share()
    const other = PHeap.attach(token, { types: [Item] })
    const a = other.new(Item, { serial: 1 }) // the automatic policy would collect at every allocation: not while shared
    const t = other.tokenOf(a)
    expect((heap.fromToken(t) as Item).serial).to.equal(1)
    expect(() => heap.gc()).to.throw(HeapSharedError)
    expect(() => heap.fromToken({} as ObjectToken)).to.throw(ArgumentError)
    expect(() => PHeap.attach({} as never)).to.throw(ArgumentError)
    other.close()
    heap.gc({ fromHandles: false }) // alone again: a collects (a is unreachable)
    expect(() => heap.fromToken(t)).to.throw(FreedObjectError)
    heap.close()
    const sim = PHeap.createIn(new SimRegion(1 << 20), { types: [Item] })
    const s2 = PHeap.attach(sim.share(), { types: [Item] }) // one thread over a SimRegion (the tests' region)
    s2.close()
    sim.close()
  })
})

describe('pobj: a class registered by one attached heap is seen by the others (one thread, SimRegion)', () => {
  function scenario(): { versions: number; text: string } {
    const region = new SimRegion(1 << 20)
    const a = PHeap.createIn(region, { types: [Item] })
    const b = PHeap.attach(a.share(), { types: [Item] })
    const n1 = b.new(Note, { text: 'by b' }) // b registers Note
    b.setRoot('n1', n1)
    const n2 = a.new(Note, { text: 'by a' }) // a must find b's entry, not append its own over it
    a.setRoot('n2', n2)
    const t = b.tokenOf(n1)
    const text = (a.fromToken(t) as Note).text
    b.close()
    a.close()
    const again = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Item, Note] })
    const versions = (again as unknown as { table: TypeTable }).table.versionsOf('share.Note').length
    const both = `${again.root<Note>('n1')!.text}|${again.root<Note>('n2')!.text}|${text}`
    expect(again.raw.check().violations).to.deep.equal([])
    again.close()
    return { versions, text: both }
  }

  it('one layout version, both objects readable after a reopen', () => {
    expect(scenario()).to.deep.equal({ versions: 1, text: 'by b|by a|by b' })
  })

  it('finds a planted bug: a heap that registers without reading the table again', () => {
    const proto = TypeTable.prototype as unknown as Record<string, unknown>
    const reload = proto.reload
    proto.reload = function () { /* stale */ }
    let outcome: unknown
    try { outcome = scenario() } catch (e) { outcome = e } finally { proto.reload = reload }
    if (process.env.MAKALU_DEBUG) console.log(String(outcome instanceof Error ? outcome.message : JSON.stringify(outcome)).slice(0, 300))
    expect(outcome).not.to.deep.equal({ versions: 1, text: 'by b|by a|by b' })
  })
})
