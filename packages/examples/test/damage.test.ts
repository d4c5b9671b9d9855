/**
 * Damage to map and list header words, detected where cheap (issue 15.7): a heap file is
 * written, closed cleanly, one word is overwritten in the file, and the reopened collection
 * refuses it with HeapCorruptError (at open, at a lookup, or in check()), never an untyped
 * error, a hang or a value read from elsewhere.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { PHeap, HeapCorruptError } from '@makalu/pobj'
import { PersistentMap, PersistentList, MapHeader, ListHeader } from '../src'
import { offsetOf } from '../src/block-io'

interface Places { map: number; list: number; mapSlots: number; listSlots: number; entry: number }

/** A heap file with a map of 20 entries and a list of 10 items; the addresses of their words. */
function build(file: string): Places {
  const heap = PHeap.create(file, { size: 4 << 20, backend: 'file', durability: 'process' })
  const m = PersistentMap.open<string, string>(heap, 'm')
  for (let i = 0; i < 20; i++) m.set('key' + i, 'value ' + i)
  const l = PersistentList.open<string>(heap, 'l')
  for (let i = 0; i < 10; i++) l.push('item ' + i)
  const u32 = new Uint32Array(heap.raw.bytes.buffer, heap.raw.bytes.byteOffset, heap.raw.bytes.byteLength >>> 2)
  const mapSlots = u32[(m.header + offsetOf(MapHeader, 'slots')) >>> 2]
  let entry = 0
  for (let i = 0; entry === 0; i++) entry = u32[(mapSlots + 16 + i * 8) >>> 2]
  const p: Places = {
    map: m.header, list: l.header, mapSlots, entry,
    listSlots: u32[(l.header + offsetOf(ListHeader, 'slots')) >>> 2],
  }
  heap.close()
  // A session that only reads the size: the recount stamps the counts EXACT, so the next one trusts them.
  const again = PHeap.open(file, { backend: 'file', durability: 'process' })
  void PersistentMap.open(again, 'm').size
  again.close()
  return p
}

function poke(file: string, at: number, value: number): void {
  const fd = fs.openSync(file, 'r+')
  const b = Buffer.alloc(4)
  b.writeUInt32LE(value >>> 0)
  fs.writeSync(fd, b, 0, 4, at)
  fs.closeSync(fd)
}

/** Reopens and runs fn; it must throw HeapCorruptError naming the collection. */
function expectDamage(file: string, fn: (heap: PHeap) => void, what: RegExp): void {
  const heap = PHeap.open(file, { backend: 'file', durability: 'process' })
  try {
    let err: unknown = null
    try { fn(heap) } catch (e) { err = e }
    expect(err, 'no error').to.be.instanceOf(HeapCorruptError)
    expect((err as Error).message).to.match(what)
  } finally { heap.close() }
}

const openMap = (h: PHeap): PersistentMap<string, string> => PersistentMap.open<string, string>(h, 'm')
const openList = (h: PHeap): PersistentList<string> => PersistentList.open<string>(h, 'l')

describe('damaged map and list header words give HeapCorruptError', function () {
  this.timeout(0)
  let dir: string
  let file: string
  let at: Places
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'damage-'))
    file = path.join(dir, 'h.heap')
    at = build(file)
  })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('map counts word: a size beyond the capacity', () => {
    poke(file, at.map + offsetOf(MapHeader, 'size'), 1000)
    expectDamage(file, (h) => { void openMap(h).size }, /PersistentMap 'm': the counts/)
  })

  it('map counts word: a size that fits but is wrong is found by check()', () => {
    poke(file, at.map + offsetOf(MapHeader, 'size'), 5)
    expectDamage(file, (h) => openMap(h).check(), /PersistentMap 'm': the counts say size 5/)
  })

  it('map slot array pointer: into the middle of a block, and null', () => {
    poke(file, at.map + offsetOf(MapHeader, 'slots'), at.mapSlots + 8)
    expectDamage(file, (h) => { openMap(h).get('key1') }, /PersistentMap 'm': slot array pointer/)
    poke(file, at.map + offsetOf(MapHeader, 'slots'), 0)
    expectDamage(file, (h) => { openMap(h).get('key1') }, /PersistentMap 'm': slot array pointer 0/)
  })

  it('map slot array pointer: an allocated block that is not a slot array', () => {
    poke(file, at.map + offsetOf(MapHeader, 'slots'), at.entry)
    expectDamage(file, (h) => { openMap(h).get('key1') }, /PersistentMap 'm': block \d+ is not a record array/)
  })

  it('map capacity: a slot array length that is not a power of two, or overruns its block', () => {
    poke(file, at.mapSlots + 8, 48)
    expectDamage(file, (h) => { openMap(h).has('x') }, /length 48 is not a power of two/)
    poke(file, at.mapSlots + 8, 1 << 20)
    expectDamage(file, (h) => { openMap(h).has('x') }, /overruns its/)
  })

  it('a map record whose bytes no longer match its seal is found by map.check() and heap.check()', () => {
    poke(file, at.entry + 16 + 24, 0x41414141) // the first key bytes
    expectDamage(file, (h) => openMap(h).check(), /PersistentMap 'm': slot \d+'s record is not intact/)
    const heap = PHeap.open(file, { backend: 'file', durability: 'process' })
    try {
      const r = heap.check()
      expect(r.ok).to.equal(false)
      expect(r.violations.join("\n")).to.match(/record array@\d+\[\d+\]: record \d+ is not intact/)
    } finally { heap.close() }
  })

  it('map slots all taken (no empty slot): a lookup of a missing key throws instead of spinning', () => {
    const heap = PHeap.open(file, { backend: 'file', durability: 'process' })
    const cap = new Uint32Array(heap.raw.bytes.buffer, heap.raw.bytes.byteOffset)[(at.mapSlots + 8) >>> 2]
    heap.close()
    for (let i = 0; i < cap; i++) {
      const fd = fs.openSync(file, 'r')
      const b = Buffer.alloc(4)
      fs.readSync(fd, b, 0, 4, at.mapSlots + 16 + i * 8)
      fs.closeSync(fd)
      if (b.readUInt32LE() === 0) poke(file, at.mapSlots + 16 + i * 8, at.entry)
    }
    expectDamage(file, (h) => { openMap(h).has('missing') }, /has no empty slot/)
  })

  it('list head beyond the capacity, and a length beyond it', () => {
    poke(file, at.list + offsetOf(ListHeader, 'head'), 999)
    expectDamage(file, (h) => { openList(h).get(0) }, /PersistentList 'l': head 999/)
    poke(file, at.list + offsetOf(ListHeader, 'head'), 0)
    poke(file, at.list + offsetOf(ListHeader, 'length'), 999)
    expectDamage(file, (h) => { openList(h).get(0) }, /PersistentList 'l': length 999 exceeds/)
  })

  it('list slot array pointer: null, and a block that is not a slot array', () => {
    poke(file, at.list + offsetOf(ListHeader, 'slots'), 0)
    expectDamage(file, (h) => { openList(h).get(0) }, /PersistentList 'l': slot array pointer 0/)
    poke(file, at.list + offsetOf(ListHeader, 'slots'), at.entry)
    expectDamage(file, (h) => { openList(h).get(0) }, /PersistentList 'l': block \d+ is not a ref array/)
  })

  it('a zeroed list slot inside the elements reads as damage, not as a value from elsewhere', () => {
    poke(file, at.listSlots + 16 + 4 * 8, 0)
    expectDamage(file, (h) => { openList(h).get(4) }, /element 4 of 10 has no item/)
    expectDamage(file, (h) => openList(h).check(), /element 4 of 10 has no item/)
  })

  it('a list slot past the end holding a pointer is found by check()', () => {
    poke(file, at.listSlots + 16 + 13 * 8, at.entry)
    expectDamage(file, (h) => openList(h).check(), /past the end holds/)
  })

  it('undamaged, both collections pass check()', () => {
    const heap = PHeap.open(file, { backend: 'file', durability: 'process' })
    openMap(heap).check()
    openList(heap).check()
    expect(openList(heap).get(9)).to.equal('item 9')
    heap.close()
  })
})
