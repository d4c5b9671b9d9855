/**
 * Opening is safe whatever the heap went through: a stale ref left by a block freed by hand
 * while referenced never makes the heap unopenable (issue 15.3); a heap pobj did not
 * format is refused before anything is written (issue 15.2).
 */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { createHash } from 'crypto'
import { Heap, HeapFormatError, SimRegion } from '@makalu/allocator'
import { PHeap } from '../src'
import { AllKinds, Tree } from './models'

const TYPES = [AllKinds, Tree]

/**
 * pobj itself frees only what is unreachable; a data-structure author using the block API
 * can still free a block by hand (heap.raw.free(heap.pointerOf(obj))). Here: root 'r' → Tree
 * r; r.left → Tree l, freed while referenced, with every other object of its chunk, so the
 * chunk is released; root 'a' → a; a.nums → a large array freed while referenced; root
 * 'gone' → an array freed while still a root.
 */
function misuse(): { region: SimRegion; heap: PHeap } {
  const region = new SimRegion(4 << 20)
  const heap = PHeap.createIn(region, { types: TYPES })
  const r = heap.new(Tree, { key: 1 })
  heap.setRoot('r', r)
  const filler: Tree[] = []
  for (let i = 0; i < 2000; i++) filler.push(heap.new(Tree, { key: 100 + i }))
  const l = heap.new(Tree, { key: 2 })
  for (let i = 0; i < 2000; i++) filler.push(heap.new(Tree, { key: 5000 + i }))
  r.left = l
  const a = heap.new(AllKinds, { i: 7 })
  a.nums = heap.newFixedArray('f64', 2000) // one large block (a growable array's header is small)
  heap.setRoot('a', a)
  heap.setRoot('gone', heap.newFixedArray('f64', 2000))
  const free = (o: object): void => heap.raw.free(heap.pointerOf(o))
  free(l) // still r.left
  for (const t of filler) free(t)
  free(a.nums!) // still a.nums
  free(heap.root('gone')!) // still a root
  heap.raw.drain() // as any later durable operation would: the releases reach media
  return { region, heap }
}

describe('pobj: an object freed by hand while referenced never makes the heap unopenable', () => {
  it('after a crash: recovery treats the stale refs as null, drops the stale root, and reports them', () => {
    const { region } = misuse()
    const image = region.crash({ mode: 'strict' })
    const r2 = new SimRegion(image)
    const heap = PHeap.openIn(r2, { types: TYPES })
    expect(heap.recovery.reason).to.equal('crash')
    expect(heap.recovery.staleRoots).to.deep.equal(['gone'])
    expect(heap.recovery.stalePointers).to.equal(3)
    expect(heap.check().violations).to.deep.equal([])
    expect(heap.rootNames().sort()).to.deep.equal(['a', 'r'])
    const r = heap.root('r', Tree)!
    expect(r.key).to.equal(1)
    expect(r.left).to.equal(null)
    const a = heap.root('a', AllKinds)!
    expect(a.i).to.equal(7)
    expect(a.nums).to.equal(null)
    // It keeps working, and the nulls are durable.
    r.right = heap.new(Tree, { key: 3 })
    const again = PHeap.openIn(new SimRegion(r2.crash({ mode: 'strict' })), { types: TYPES })
    expect(again.recovery.stalePointers).to.equal(0)
    expect(again.root('r', Tree)!.right!.key).to.equal(3)
    expect(again.root('a', AllKinds)!.nums).to.equal(null)
    expect(again.check().violations).to.deep.equal([])
  })

  it('after a clean close: the open drops the stale root and reports it by name', () => {
    const { region, heap: h } = misuse()
    h.close()
    const heap = PHeap.openIn(new SimRegion(region.durableImage()), { types: TYPES })
    expect(heap.recovery.reason).to.equal('clean')
    expect(heap.recovery.staleRoots).to.deep.equal(['gone'])
    expect(heap.rootNames().sort()).to.deep.equal(['a', 'r'])
    expect(heap.check().violations).to.deep.equal([])
    expect(heap.root('r', Tree)!.key).to.equal(1)
  })
})

describe('pobj: opens only heaps it formatted (issue 15.2)', () => {
  const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-owner-'))
  const sha = (file: string): string => createHash('sha256').update(fs.readFileSync(file)).digest('hex')

  it('refuses a raw allocator heap with HeapFormatError, before writing anything (clean and crashed)', () => {
    const dir = tmp()
    const file = path.join(dir, 'raw.heap')
    const raw = Heap.create(file, { size: 2 << 20, backend: 'file' })
    const p = raw.alloc(64)
    raw.bytes.fill(0x5a, p, p + 64)
    raw.persist(p, 64)
    raw.setRoot('data', p)
    raw.close()
    const before = sha(file)
    expect(() => PHeap.open(file, { types: TYPES, backend: 'file' })).to.throw(HeapFormatError, /not formatted by pobj|owner/)
    expect(sha(file), 'file bytes unchanged').to.equal(before)
    const again = Heap.open(file, { backend: 'file' })
    expect(again.recovery.reason).to.equal('clean')
    expect(again.bytes[again.getRoot('data')]).to.equal(0x5a)
    again.close()
    fs.rmSync(dir, { recursive: true })

    // Crashed: PHeap's precise recovery would free everything below the roots.
    const region = new SimRegion(2 << 20)
    const h = Heap.createIn(region)
    const q = h.alloc(64)
    h.persist(q, 64)
    h.setRoot('data', q)
    const image = region.crash({ mode: 'strict' })
    const crashed = new SimRegion(image)
    expect(() => PHeap.openIn(crashed, { types: TYPES })).to.throw(HeapFormatError)
    expect(crashed.durableImage()).to.deep.equal(image)
    expect(crashed.pendingWords()).to.equal(0)
    expect(Heap.openIn(new SimRegion(image)).isAllocated(q)).to.equal(true)
  })

  it('a pobj heap: a raw open without its owner is refused; with the owner it opens', () => {
    const dir = tmp()
    const file = path.join(dir, 'pobj.heap')
    const heap = PHeap.create(file, { size: 2 << 20, types: TYPES, backend: 'file' })
    heap.setRoot('r', heap.new(Tree, { key: 42 }))
    heap.close()
    const before = sha(file)
    expect(() => Heap.open(file, { backend: 'file' })).to.throw(HeapFormatError, /makalu\.pobj/)
    expect(() => Heap.open(file, { backend: 'file', owner: 'someone.else' })).to.throw(HeapFormatError, /makalu\.pobj/)
    expect(sha(file), 'file bytes unchanged').to.equal(before)
    const raw = Heap.open(file, { backend: 'file', owner: PHeap.OWNER })
    expect(raw.owner).to.equal('makalu.pobj')
    raw.close()
    const back = PHeap.open(file, { types: TYPES, backend: 'file' })
    expect(back.root('r', Tree)!.key).to.equal(42)
    back.close()
    fs.rmSync(dir, { recursive: true })
  })
})
