/**
 * pobj heaps over 4 GiB (the allocator's wide heaps on mmap, maxSize 64 GiB, sparse): objects,
 * strings, bytes and arrays placed past 4 GiB, refs linking segment 0 and segment 1 both ways,
 * gc(), toPlain/fromPlain, check(), a SIGKILL in a transaction past 4 GiB and its recovery; the
 * limits pobj keeps (typed errors above 64 GiB and for what it does not read past 4 GiB yet).
 */
import 'reflect-metadata'
import { expect } from 'chai'
import { spawnSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { ArgumentError, Heap, HeapFormatError, SimRegion, loadNative } from '@makalu/allocator'
import { PHeap, Persistent, field, Class, exportHeap } from '../src'
import { Tree } from './models'
import { GiB, SEG, WNode, TYPES, buildWide, createWide, sparseProblem, verifyWide } from './support/wide-pheap'

const CHILD = path.join(__dirname, 'support', 'wide-pheap-child.js')

const fieldName = (i: number): string => `field_${i}_${'x'.repeat(40)}`
/** A @Persistent class of n i32 fields with long names (a type table entry of ~60·n bytes). */
function manyFields(name: string, n: number): Class {
  const C = class {}
  for (let i = 0; i < n; i++) (field.i32 as (proto: object, key: string) => void)(C.prototype, fieldName(i))
  ;(Persistent(name) as (target: Function) => void)(C)
  return C
}
const COUNT = 3000

describe('pobj heaps over 4 GiB', function () {
  this.timeout(60_000)
  let dir: string
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-wide-')) })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  function needWide(ctx: Mocha.Context): void {
    if (!loadNative()) { console.log('      skipped: a heap over 4 GiB needs the mmap addon'); ctx.skip() }
    const why = sparseProblem(dir)
    if (why) { console.log(`      skipped: ${why}`); ctx.skip() }
  }

  it('objects, strings, bytes and arrays past 4 GiB, refs across the boundary: read back, gc() frees the dead ones past 4 GiB, toPlain/fromPlain, check(), reopen', function () {
    needWide(this)
    const file = path.join(dir, 'wide.heap')
    let heap = createWide(file)
    const { nodes, ptrs } = buildWide(heap, COUNT)
    const count = COUNT
    expect(ptrs.filter((p) => p < SEG).length).to.be.at.least(10)
    expect(ptrs.filter((p) => p >= SEG).length).to.be.at.least(1000)
    expect(verifyWide(heap, count)).to.deep.equal(ptrs)
    // A far node's string, bytes and arrays lie past 4 GiB too.
    const far = nodes.find((n) => heap.pointerOf(n) > SEG)!
    expect(heap.pointerOf(far.tags!)).to.be.greaterThan(SEG)
    expect(heap.check().violations).to.deep.equal([])

    // Writes through far handles: a ref swung from past 4 GiB to segment 0 and back, a growable array grown past 4 GiB.
    const tail = nodes[count - 1]
    tail.next = nodes[0] // a cycle: far → near
    expect(tail.next!.id).to.equal(0)
    tail.next = null
    for (let i = 0; i < 50; i++) far.tags!.push(`more ${i}`)
    expect(far.tags!.length).to.equal(52)
    expect(far.tags!.get(51)).to.equal('more 49')
    far.tags!.splice(2, 50)

    // Unreachable objects past 4 GiB: freed by gc().
    const deadPtrs: number[] = []
    for (let i = 0; i < 100; i++) {
      const d = heap.new(WNode, { id: -i, label: `dead ${i}`, data: new Uint8Array([i]), tags: heap.newArray('string', [`d${i}`]) })
      deadPtrs.push(heap.pointerOf(d), heap.pointerOf(d.tags!))
    }
    expect(deadPtrs.every((p) => p > SEG)).to.equal(true)
    const r = heap.gc({ fromHandles: false })
    expect(r.freedBlocks).to.be.at.least(100 * 4) // node, label, bytes, tags array (+ its string)
    for (const p of deadPtrs) expect(heap.raw.isAllocated(p), `dead block ${p}`).to.equal(false)
    expect(verifyWide(heap, count)).to.deep.equal(ptrs)

    // A class first used now: its entry does not fit the table block, which is rewritten past 4 GiB.
    const Wide = manyFields('WideMany', 60)
    const w = heap.new(Wide, {}) as Record<string, number>
    expect(heap.raw.getRoot('pobj.types')).to.be.greaterThan(SEG)
    w[fieldName(59)] = 59
    heap.setRoot('many', w)
    heap.gc({ fromHandles: false }) // the tracer reads the table past 4 GiB
    expect((heap.root('many', Wide) as Record<string, number>)[fieldName(59)]).to.equal(59)

    // toPlain of the list, and fromPlain: a copy made past 4 GiB, equal to the original.
    const plain = heap.toPlain(heap.root('list', WNode))
    const copy = heap.fromPlain(WNode, plain)
    expect(heap.pointerOf(copy)).to.be.greaterThan(SEG)
    expect(JSON.stringify(heap.toPlain(copy))).to.equal(JSON.stringify(plain))
    heap.setRoot('copy', copy)
    expect(heap.check().violations).to.deep.equal([])
    heap.close()

    heap = PHeap.open(file, { types: [...TYPES, Wide] })
    expect(heap.raw.recovery.clean).to.equal(true)
    expect(verifyWide(heap, count)).to.deep.equal(ptrs)
    expect((heap.root('many', Wide) as Record<string, number>)[fieldName(59)]).to.equal(59)
    expect(JSON.stringify(heap.toPlain(heap.root('copy', WNode)))).to.equal(JSON.stringify(plain))
    expect(heap.check().violations).to.deep.equal([])
    heap.close()
  })

  it('a SIGKILL inside a transaction past 4 GiB: recovery rolls it back, check() is clean, gc() keeps every node, a clean reopen', function () {
    needWide(this)
    const file = path.join(dir, 'wide.heap')
    const killAt = 3
    const run = spawnSync(process.execPath, [CHILD, file, String(killAt), String(COUNT)], { encoding: 'utf8', timeout: 60_000 })
    expect(run.signal, run.stderr).to.equal('SIGKILL')
    const lines = run.stdout.trim().split('\n')
    const { ptrs } = JSON.parse(lines[0]) as { ptrs: number[] }
    expect(lines.slice(1)).to.deep.equal(['committed 1', 'committed 2'])
    let heap = PHeap.open(file, { types: TYPES })
    expect(heap.raw.recovery.clean).to.equal(false)
    // New blocks take whatever the recovery freed: a live label or array it missed would be overwritten.
    for (let i = 0; i < COUNT; i++) heap.new(WNode, { id: -1, label: 'j'.repeat(i % 40), data: new Uint8Array(i % 16), tags: heap.newArray('string', ['junk']) })
    expect(verifyWide(heap, COUNT, killAt - 1)).to.deep.equal(ptrs) // version 3 was cut: 2 is what committed
    expect(heap.check().violations).to.deep.equal([])
    heap.gc({ fromHandles: false })
    expect(verifyWide(heap, COUNT, killAt - 1)).to.deep.equal(ptrs)
    heap.close()
    heap = PHeap.open(file, { types: TYPES })
    expect(heap.raw.recovery.clean).to.equal(true)
    expect(verifyWide(heap, COUNT, killAt - 1)).to.deep.equal(ptrs)
    expect(heap.check().violations).to.deep.equal([])
    heap.close()
  })

  it('what pobj does not read past 4 GiB yet is refused with typed errors, nothing written', function () {
    needWide(this)
    const heap = createWide(path.join(dir, 'wide.heap'))
    try {
      expect(() => heap.newFixedArray('record', 4)).to.throw(ArgumentError, /record arrays are not supported in heaps over 4 GiB/)
      expect(() => exportHeap(heap, path.join(dir, 'x.jsonl'))).to.throw(ArgumentError, /whole-heap export of a heap over 4 GiB/)
      expect(fs.existsSync(path.join(dir, 'x.jsonl'))).to.equal(false)
      expect(heap.check().ok).to.equal(true)
    } finally { heap.close() }
  })

  it('PHeap.create and createIn refuse maxSize over 64 GiB with ArgumentError, creating nothing', () => {
    const file = path.join(dir, 'h.heap')
    expect(() => PHeap.create(file, { size: 64 << 20, maxSize: 128 * GiB, types: [Tree] })).to.throw(ArgumentError, /pobj: maxSize 137438953472 is over 64 GiB/)
    expect(fs.existsSync(file)).to.equal(false)
    const region = new SimRegion(1 << 20)
    expect(() => PHeap.createIn(region, { maxSize: 128 * GiB, types: [Tree] })).to.throw(ArgumentError, /over 64 GiB/)
    expect(region.counters.drains).to.equal(0)
  })

  it('PHeap.open refuses a heap formatted for pobj by the allocator that may grow over 64 GiB (HeapFormatError), writing nothing', function () {
    if (!loadNative()) this.skip() // a heap over 4 GiB needs the mmap backend
    const file = path.join(dir, 'wide.heap')
    Heap.create(file, { size: 2 * GiB, maxSize: 128 * GiB, owner: PHeap.OWNER, durability: 'process', tracer: { segmented: true, trace() {} } }).close()
    const page0 = (): Buffer => { const b = Buffer.alloc(4096); const fd = fs.openSync(file, 'r'); try { fs.readSync(fd, b, 0, 4096, 0) } finally { fs.closeSync(fd) } return b }
    const before = page0()
    expect(() => PHeap.open(file, { types: [Tree] })).to.throw(HeapFormatError, /over 64 GiB; pobj reads heaps of at most 64 GiB/)
    expect(page0().equals(before)).to.equal(true)
  })
})
