/**
 * One open heap shared by worker_threads (heap.share(), Heap.attach(); shared-space.ts):
 * real workers over one mapped file, heaps attached in one thread over a SimRegion (the
 * remote-free, orphan and detach paths, deterministically), the refusals, crashes at every
 * drain with the shared chunk-claim path active, SIGKILL of the whole process, planted bugs.
 */
import { expect } from 'chai'
import { killAfterAcks } from './support/kill-child'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Worker } from 'worker_threads'
import { Heap, SimRegion, HeapSharedError, HeapFullError, ArgumentError, InvalidPointerError, TransactionError, loadNative, mulberry32 } from '../src'
import { ShareJob, ShareResult, makeCounter, readCounter, readList, recordProblem, recordKey } from './support/share-workload'
import { Workload } from './support/workloads'
import { runCrashes } from './support/crash-harness'
import { ChunkSpace } from '../src/chunk-space'

const SMALL = { chunkSize: 4096, logSize: 8192, rootCapacity: 16 }
const WORKER = path.join(__dirname, 'fixtures', 'share-worker.js')
const KILL_CHILD = path.join(__dirname, 'fixtures', 'share-kill-child.js')
const hasNative = loadNative() !== null

function clean(h: Heap, what: string): void {
  expect(h.check().violations, what).to.deep.equal([])
}

function tmp(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-share-')) }

/** Runs the share workload in `n` workers attached to `heap`; resolves with their results (rejects on a worker error). */
function runWorkers(heap: Heap, n: number, job: Omit<ShareJob, 'id' | 'mailbox'>, mailbox: SharedArrayBuffer, plant?: string,
  noClose = false): Promise<ShareResult[]> {
  const token = heap.share()
  const workers: Worker[] = []
  // A planted bug may leave a worker looping: every worker is ended after 60 s.
  const timer = setTimeout(() => { for (const w of workers) void w.terminate() }, 60_000)
  return Promise.all(Array.from({ length: n }, (_, k) => new Promise<ShareResult>((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { token, job: { ...job, id: k + 1, mailbox }, plant, noClose } })
    workers.push(w)
    let result: ShareResult | null = null
    w.on('message', (m: { result?: ShareResult; error?: string }) => {
      if (m.error) reject(new Error(m.error))
      else if (m.result) result = m.result
    })
    w.on('error', reject)
    w.on('exit', (code) => { if (code !== 0 || !result) reject(new Error(`worker exited ${code}`)); else resolve(result) })
  }))).finally(() => clearTimeout(timer))
}

/**
 * Verifies what the workers left: every held block and every block in the mailbox is
 * allocated, holds an intact record, and no two share a block or a record; live blocks are
 * exactly those plus the list nodes and the counter. Returns the number of records.
 */
function verifyLeft(heap: Heap, results: ShareResult[], mailbox: SharedArrayBuffer): number {
  const u = new Uint32Array(heap.bytes.buffer, heap.bytes.byteOffset, heap.bytes.length >>> 2)
  const blocks = new Set<number>()
  const keys = new Set<string>()
  const all = results.flatMap((r) => r.held).concat([...new Int32Array(mailbox)].filter((p) => p !== 0))
  for (const p of all) {
    expect(blocks.has(p), `block ${p} held twice`).to.equal(false)
    blocks.add(p)
    expect(heap.isAllocated(p), `held block ${p} allocated`).to.equal(true)
    const why = recordProblem(u, p)
    if (why) throw new Error(why)
    const key = recordKey(u, p)
    expect(keys.has(key), `record ${key} in two blocks`).to.equal(false)
    keys.add(key)
  }
  let listed = 0
  for (const r of results) listed += readList(heap, r.id).length
  expect(readCounter(heap), 'the counter = transactions committed (none ran at once)').to.equal(listed)
  expect(heap.stats().liveBlocks, 'live blocks = held + list nodes + counter').to.equal(all.length + listed + 1)
  return all.length
}

describe('heaps attached in one thread over a SimRegion (remote frees, orphans, detach)', function () {
  this.timeout(60_000)

  it('frees across heaps, detach and re-attach, against a shadow; check() clean throughout', () => {
    const a = Heap.createIn(new SimRegion(2 << 20), SMALL)
    const token = a.share()
    let b = Heap.attach(token)
    let c = Heap.attach(token)
    expect([a.attached, b.attached, a.attachedHeaps]).to.deep.equal([false, true, 3])
    const r = mulberry32(3)
    const live = new Map<number, number>() // block → its size
    const heaps = (): Heap[] => [a, b, c]
    for (let step = 0; step < 30_000; step++) {
      const h = heaps()[Math.floor(r() * 3)]
      if (live.size < 2000 && (live.size === 0 || r() < 0.55)) {
        const size = r() < 0.01 ? 9000 : 1 + Math.floor(r() * 300)
        const p = h.alloc(size)
        expect(live.has(p), `block ${p} handed out twice`).to.equal(false)
        live.set(p, size)
      } else {
        const keys = [...live.keys()]
        const p = keys[Math.floor(r() * keys.length)]
        h.free(p) // often a block of another heap's run: a remote free
        live.delete(p)
        expect(() => heaps()[Math.floor(r() * 3)].free(p), 'a second free').to.throw(InvalidPointerError)
      }
      if (step % 5000 === 4999) {
        clean(a, `step ${step}`)
        expect(a.stats().liveBlocks).to.be.at.least(live.size) // remote frees count until their owner takes them
        // The attached heaps detach (their runs become orphans) and attach again.
        if (step % 10000 === 9999) { b.close(); b = Heap.attach(token) } else { c.close(); c = Heap.attach(token) }
        clean(a, `step ${step}, after a detach`)
      }
    }
    b.close()
    c.close()
    clean(a, 'after both detached')
    expect(a.stats().liveBlocks, 'alone again: live blocks are exact').to.equal(live.size)
    let bytes = 0
    for (const p of live.keys()) bytes += a.usableSize(p)
    expect(a.stats().used).to.equal(bytes)
    for (const p of live.keys()) a.free(p)
    expect([a.stats().liveBlocks, a.stats().used]).to.deep.equal([0, 0])
    clean(a, 'all freed')
    a.close()
  })

  it('finds a planted bug: an attached heap that claims chunks from its own copy of their states (no shared claim)', () => {
    const a = Heap.createIn(new SimRegion(2 << 20), SMALL)
    const b = Heap.attach(a.share())
    const bChunks = (b as unknown as { chunks: { kind: Uint8Array } }).chunks
    bChunks.kind = Uint8Array.from(bChunks.kind) // planted: b's claims are no longer seen by a, nor a's by b
    const owner = new Map<number, string>()
    let failure = ''
    try {
      for (let i = 0; i < 3000 && !failure; i++) {
        for (const [h, name] of [[a, 'a'], [b, 'b']] as const) {
          const p = h.alloc(64 + (i % 3) * 100)
          if (owner.has(p)) { failure = `block ${p} handed to ${name} and to ${owner.get(p)}`; break }
          owner.set(p, name)
        }
      }
      if (!failure) failure = a.check().violations[0] ?? ''
    } catch (e) { failure = String(e) }
    expect(failure, 'the planted bug was not found').to.not.equal('')
    if (process.env.MAKALU_DEBUG) console.log(failure)
  })

  it('a root set or a transaction run in one heap is seen by the others; the heap lock serialises transactions', () => {
    const a = Heap.createIn(new SimRegion(1 << 20), SMALL)
    const b = Heap.attach(a.share())
    const p = b.alloc(64)
    b.transaction(() => { b.setRoot('x', p) })
    expect(a.getRoot('x')).to.equal(p)
    a.transaction(() => {
      a.snapshot(p, 8)
      a.bytes[p] = 7
      a.setRoot('y', p)
    })
    expect(b.roots().map(([n]) => n).sort()).to.deep.equal(['x', 'y'])
    expect(b.bytes[p]).to.equal(7)
    expect(() => b.transaction(() => { b.setRoot('z', p); throw new Error('roll back') })).to.throw('roll back')
    expect(a.getRoot('z')).to.equal(0)
    clean(b, 'after the transactions')
    b.close()
    a.close()
  })
})

describe('sharing: what is refused (typed errors, nothing changed)', function () {
  this.timeout(60_000)

  it('close() of the sharing heap, collect() and backup() while others are attached; a bad token; the file backend', () => {
    const dir = tmp()
    try {
      const a = Heap.createIn(new SimRegion(1 << 20), SMALL)
      const token = a.share()
      const b = Heap.attach(token)
      const p = b.alloc(40)
      expect(() => a.close()).to.throw(HeapSharedError, /heap: close\(\) of the heap that shared the file while 1 other heap/)
      expect(a.closed).to.equal(false)
      expect(() => a.collect()).to.throw(HeapSharedError, /collect\(\)/)
      expect(() => b.collect()).to.throw(HeapSharedError)
      expect(() => a.backup(path.join(dir, 'copy'))).to.throw(HeapSharedError)
      expect(fs.existsSync(path.join(dir, 'copy'))).to.equal(false)
      expect(() => b.transaction(() => b.close())).to.throw(TransactionError)
      expect(b.isAllocated(p)).to.equal(true)
      b.close()
      a.close() // alone: a clean close
      expect(() => Heap.attach(token)).to.throw(HeapSharedError, /closed/)
      expect(() => Heap.attach({} as never)).to.throw(ArgumentError)
      const f = Heap.create(path.join(dir, 'file.heap'), { size: 1 << 20, backend: 'file', durability: 'process' })
      expect(() => f.share()).to.throw(HeapSharedError, /mmap backend/)
      f.close()
      if (hasNative) {
        const w = Heap.create(path.join(dir, 'wide.heap'), { size: 128 << 20, maxSize: 2 ** 33, backend: 'mmap', durability: 'process' })
        expect(() => w.share()).to.throw(HeapSharedError, /wide heap/)
        w.close()
      }
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })

  it('a shared heap does not grow while others are attached (HeapFullError says why); alone again, it grows', () => {
    const a = Heap.createIn(new SimRegion(256 << 10), { ...SMALL, maxSize: 1 << 20 })
    const b = Heap.attach(a.share())
    const held: number[] = []
    let err: unknown = null
    try { for (;;) held.push(b.alloc(3000)) } catch (e) { err = e }
    expect(err).to.be.instanceOf(HeapFullError)
    expect(String(err)).to.match(/a shared heap does not grow while other heaps are attached/)
    const before = a.stats().size
    b.close()
    held.push(a.alloc(3000))
    expect(a.stats().size).to.be.greaterThan(before)
    clean(a, 'grown alone')
    a.close()
  })

  it('a SimRegion token attached in another thread is refused', async () => {
    const a = Heap.createIn(new SimRegion(1 << 20), SMALL)
    const job = { seed: 1, steps: 10, txEvery: 5 }
    makeCounter(a)
    let err: unknown = null
    try { await runWorkers(a, 1, job, new SharedArrayBuffer(64)) } catch (e) { err = e }
    expect(String(err)).to.match(/HeapSharedError: heap: attach: a SimRegion heap can be attached only in the thread that shared it/)
    a.close()
  })
})

;(hasNative ? describe : describe.skip)('worker_threads share one mapped heap (mmap)', function () {
  this.timeout(120_000)
  let dir = ''
  before(() => { dir = tmp() })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  let heaps = 0
  function newHeap(): Heap {
    const heap = Heap.create(path.join(dir, `h${heaps++}.heap`), { size: 32 << 20, chunkSize: 4096, rootCapacity: 16, backend: 'mmap', durability: 'process' })
    makeCounter(heap)
    return heap
  }
  async function run(n: number, steps: number, plant?: string, heap = newHeap()): Promise<{ heap: Heap; results: ShareResult[]; mailbox: SharedArrayBuffer }> {
    const mailbox = new SharedArrayBuffer(4 * 64)
    const results = await runWorkers(heap, n, { seed: 5, steps, txEvery: 100 }, mailbox, plant)
    return { heap, results, mailbox }
  }

  it('3 workers allocate, free each other\'s blocks, hand blocks on and run transactions: no block lost or handed out twice', async () => {
    const { heap, results, mailbox } = await run(3, 30_000)
    expect(heap.attachedHeaps).to.equal(1)
    expect(results.reduce((s, r) => s + r.remoteish, 0), 'blocks changed workers').to.be.greaterThan(50)
    clean(heap, 'after the workers detached')
    const records = verifyLeft(heap, results, mailbox)
    expect(records).to.be.greaterThan(100)
    // The heap goes on alone: everything freed, then a clean close and a clean reopen.
    for (const r of results) for (const p of r.held) heap.free(p)
    for (const p of new Int32Array(mailbox)) if (p !== 0) heap.free(p)
    expect(heap.stats().liveBlocks).to.equal(1 + results.reduce((s, r) => s + r.txs, 0))
    clean(heap, 'all records freed')
    const file = (heap.region as { path?: string }).path!
    heap.close()
    const again = Heap.open(file)
    expect(again.recovery.clean).to.equal(true)
    clean(again, 'reopened')
    again.close()
  })

  it('a worker that ends without close() detaches at its exit: the sharing heap then closes cleanly', async () => {
    const heap = newHeap()
    const mailbox = new SharedArrayBuffer(4 * 64)
    const results = await runWorkers(heap, 2, { seed: 8, steps: 5000, txEvery: 100 }, mailbox, undefined, true)
    expect(heap.attachedHeaps).to.equal(1)
    clean(heap, 'after the workers exited')
    verifyLeft(heap, results, mailbox)
    heap.close()
  })

  it('finds a planted bug: frees of blocks in another worker\'s run dropped (lost blocks)', async () => {
    const { heap, results, mailbox } = await run(2, 10_000, 'drop-remote-frees')
    let failure: unknown = null
    try { verifyLeft(heap, results, mailbox) } catch (e) { failure = e }
    expect(String(failure)).to.match(/live blocks = held \+ list nodes \+ counter/)
    if (process.env.MAKALU_DEBUG) console.log(String(failure))
    heap.close()
  })

  // Needs two threads really running at once (a busy 2-core machine often runs them one after the
  // other): a soak. The same bug in one thread, deterministically: 'claims from its own copy' below.
  ;(process.env.MAKALU_SOAK === '1' ? it : it.skip)('finds a planted bug: chunk claims and releases without the chunk lock (a chunk claimed twice)', async () => {
    let failure: unknown = null
    const heap = newHeap()
    try {
      const r = await run(3, 200_000, 'no-chunk-lock', heap)
      const v = r.heap.check().violations
      if (v.length > 0) throw new Error(v[0])
      verifyLeft(r.heap, r.results, r.mailbox)
    } catch (e) { failure = e }
    if (process.env.MAKALU_DEBUG) console.log(String(failure).slice(0, 300))
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    // The other workers end on their own (or by the 60 s timer); then the heap can be closed.
    for (let k = 0; k < 100 && heap.attachedHeaps > 1; k++) await new Promise((r) => setTimeout(r, 100))
    try { heap.close() } catch { /* a heap broken by the planted bug may refuse */ }
  })
})

// ── crashes at every drain with the shared chunk-claim path active (one thread) ─────────
/**
 * The list workload of the crash tests, with a second heap attached over the same SimRegion:
 * nodes are allocated by either heap (so claims take the shared path and drain at once), and
 * popped nodes and junk are freed by the other one (remote frees, adopted orphans after a
 * detach every 7 ops).
 */
const attachedOf = new WeakMap<Heap, Heap>()
function other(heap: Heap, i: number): Heap {
  let b = attachedOf.get(heap)
  if (b && i % 7 === 6) { b.close(); b = undefined }
  if (!b) {
    b = Heap.attach(heap.share())
    attachedOf.set(heap, b)
  }
  return b
}
const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)
const sharedListWorkload: Workload = {
  name: 'a list pushed and popped by two attached heaps',
  initial: [] as number[],
  apply(heap, seed, i) {
    const r = mulberry32(seed * 1000003 + i * 7919)
    const b = other(heap, i)
    const [mine, theirs] = r() < 0.5 ? [heap, b] : [b, heap]
    const head = heap.getRoot('list')
    if (head !== 0 && r() < 0.35) {
      mine.setRoot('list', u32(heap)[head >>> 2])
      theirs.free(head)
    } else {
      const node = mine.alloc(r() < 0.05 ? 5000 : 32)
      u32(heap)[node >>> 2] = head
      u32(heap)[(node >>> 2) + 2] = i + 1
      mine.persist(node, 16)
      theirs.setRoot('list', node)
    }
    const junk: number[] = []
    for (let k = 4 + Math.floor(r() * 30); k > 0; k--) junk.push(mine.alloc(1 + Math.floor(r() * 300)))
    for (const p of junk) if (r() < 0.8) theirs.free(p)
  },
  model(state, seed, i) {
    const s = state as number[]
    const r = mulberry32(seed * 1000003 + i * 7919)
    r()
    return s.length > 0 && r() < 0.35 ? s.slice(1) : [i + 1, ...s]
  },
  read(heap) {
    const values: number[] = []
    const blocks: number[] = []
    for (let p = heap.getRoot('list'); p !== 0; p = u32(heap)[p >>> 2]) {
      if (blocks.length > 1e5) throw new Error('list cycle')
      blocks.push(p)
      values.push(u32(heap)[(p >>> 2) + 2])
    }
    return { state: values, blocks }
  },
  tracer: { trace(bytes, ptr, _size, visit) { visit(new Uint32Array(bytes.buffer, bytes.byteOffset + ptr, 1)[0]) } },
}

describe('crash at every drain, two heaps attached over one SimRegion (the shared claim path)', function () {
  this.timeout(120_000)
  it('recovers every image, strict and random survivors', () => {
    expect(runCrashes({ workload: sharedListWorkload, seed: 1, ops: 40, at: 'every', randomImages: 2 })).to.be.greaterThan(40)
    runCrashes({ workload: sharedListWorkload, seed: 2, ops: 40, at: 'every', randomImages: 1, precise: true })
  })
  it('finds a planted bug: a claim (by either heap) whose table entry is never flushed', () => {
    const proto = ChunkSpace.prototype as unknown as Record<string, unknown>
    const writeEntry = proto.writeEntry as (...a: number[]) => void
    proto.writeEntry = function (this: ChunkSpace, c: number, kind: number, cls: number, arg: number) {
      const region = (this as unknown as { mem: { region: { flush: unknown } } }).mem.region
      const flush = region.flush
      if (kind !== 0) region.flush = () => {}
      try { writeEntry.call(this, c, kind, cls, arg) } finally { region.flush = flush }
    }
    let failure: unknown = null
    try {
      runCrashes({ workload: sharedListWorkload, seed: 7, ops: 40, at: 'every', randomImages: 1 })
    } catch (e) { failure = e } finally { proto.writeEntry = writeEntry }
    if (process.env.MAKALU_DEBUG) console.log(String(failure).slice(0, 300))
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    expect(failure).not.to.be.instanceOf(TypeError)
  })
})

// ── SIGKILL of the whole process while its workers share the heap ──────────────────────
async function runUntilAcks(file: string, workers: number, seed: number, acks: number): Promise<Map<number, number>> {
  const acked = new Map<number, number>()
  await killAfterAcks(KILL_CHILD, [file, String(workers), String(seed)], acks, ([id, txs]) => { acked.set(Number(id), Number(txs)) })
  return acked
}

;(hasNative ? describe : describe.skip)('SIGKILL of a process whose worker_threads share the heap (mmap)', function () {
  this.timeout(120_000)
  it('3 kills mid-workload: each recovery is consistent (lists, counter, nothing leaked) and the next run goes on', async () => {
    const dir = tmp()
    try {
      const file = path.join(dir, 'heap')
      const r = mulberry32(9)
      const lasting = new Map<number, number>()
      for (let k = 0; k < 3; k++) {
        const acked = await runUntilAcks(file, 2, 20 + k, 30 + Math.floor(r() * 150))
        const heap = Heap.open(file, { backend: 'mmap' })
        try {
          expect(heap.recovery.clean).to.equal(false)
          clean(heap, `after kill ${k}`)
          let listed = 0
          for (const id of [1, 2]) {
            const n = readList(heap, id).length
            expect(n, `worker ${id}'s list keeps every acknowledged transaction`).to.be.at.least(Math.max(acked.get(id) ?? 0, lasting.get(id) ?? 0))
            lasting.set(id, n)
            listed += n
          }
          expect(readCounter(heap), 'the counter = list nodes (each transaction whole or not at all)').to.equal(listed)
          expect(heap.stats().liveBlocks, 'nothing leaked: the lists and the counter').to.equal(listed + 1)
        } finally { heap.close() }
      }
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })
})
