/**
 * SIGKILL during a whole-heap import (pobj importHeap, as `makalu import` runs it), on mmap and
 * on the file backend: the parent exports a heap of 40k objects (a list, and an array shared by
 * two roots), a child imports it into a heap holding one root of its own, and is killed at a
 * random progress report or after a random delay. The reopened heap (recovered, no class
 * passed) must hold all of the export's roots or none, nothing unreachable (used bytes ==
 * reachable bytes), no stale pointer, check() clean; an import cut short is run again into
 * the same heap and then succeeds.
 */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { mulberry32 } from '@makalu/allocator'
import { PHeap, Persistent, field, PArray, exportHeap, exportLines, reachable } from '@makalu/pobj'
import { runUntilKilled } from './kill-kit'

@Persistent('kill.Item')
class Item {
  @field.i32 n!: number
  @field() label!: string
  @field.ref(() => Item) next!: Item | null
}
@Persistent('kill.Bag')
class Bag {
  @field.array(() => Item) items!: PArray<Item | null> | null
}

const CHILD = path.join(__dirname, 'import-kill-child.js')
const KILLS = Number(process.env.MAKALU_IMPORT_KILLS || (process.env.MAKALU_SOAK === '1' ? 100 : 8))
const N = 40_000
const ROOTS = ['bag1', 'bag2', 'keep', 'list']

describe('SIGKILL during a whole-heap import', function () {
  this.timeout(0)
  let dir: string
  let exported: string
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-import-kill-'))
    const src = PHeap.create(path.join(dir, 'src.heap'), { size: 32 << 20, types: [Item, Bag], gc: false })
    let prev: Item | null = null
    for (let i = 0; i < N; i++) prev = src.new(Item, { n: i, label: `item ${i}`, next: prev as Item })
    src.setRoot('list', prev)
    const shared = src.newArray(Item, [prev, prev!.next, null])
    src.setRoot('bag1', src.new(Bag, { items: shared }))
    src.setRoot('bag2', src.new(Bag, { items: shared }))
    exported = path.join(dir, 'src.ndjson')
    exportHeap(src, exported)
    src.close()
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  const fresh = (file: string, backend: 'mmap' | 'file'): void => {
    fs.rmSync(file, { force: true })
    const h = PHeap.create(file, { size: 32 << 20, backend, types: [Item], gc: false })
    h.setRoot('keep', h.new(Item, { n: -1, label: 'kept' }))
    h.close()
  }

  for (const backend of ['mmap', 'file'] as const) {
    it(`${backend}: ${KILLS} kills; every reopened heap has all of the export's roots or none`, async () => {
      const file = path.join(dir, `${backend}.heap`)
      fresh(file, backend)
      const rand = mulberry32(backend === 'mmap' ? 21 : 22)
      let none = 0
      let all = 0
      for (let k = 0; k < KILLS; k++) {
        const at = k === KILLS - 1 ? 10 : 1 + Math.floor(rand() * 10) // the 10th report is the one after the commit
        const byTime = rand() < 0.3
        let reports = 0
        const run = await runUntilKilled(CHILD, [exported, file, backend], (line, kill) => {
          if (line.startsWith('progress ') && ++reports === at && !byTime) kill()
        }, { mayExit: true, ...(byTime ? { killAfterMs: 100 + Math.floor(rand() * 1500) } : {}) })
        const h = PHeap.open(file, { backend, types: [], gc: false })
        try {
          const roots = h.rootNames().sort()
          expect(h.check().violations).to.deep.equal([])
          expect(h.recovery.stalePointers).to.equal(0)
          expect(reachable(h).bytes, 'used == reachable: no half-import kept').to.equal(h.stats().used)
          if (roots.length === 1) {
            expect(roots).to.deep.equal(['keep'])
            expect(run.lines).to.not.include('published')
            none++
          } else {
            expect(roots).to.deep.equal(ROOTS)
            const head = JSON.parse(exportLines(h).next().value as string)
            expect(head.objects).to.equal(N + 4) // N items, the array, two bags, the kept item
            expect(h.stats().types['kill.Item'].count).to.equal(N + 1)
            all++
          }
        } finally {
          h.close()
        }
        if (roots2(file, backend).length > 1) fresh(file, backend) // published: start again from an empty heap
      }
      console.log(`      ${backend}: ${none} kills before the commit, ${all} after`)
      expect(none).to.be.greaterThan(0)
      expect(all).to.be.greaterThan(0)
    })
  }

  function roots2(file: string, backend: 'mmap' | 'file'): string[] {
    const h = PHeap.open(file, { backend, readOnly: true, types: [], gc: false })
    try { return h.rootNames() } finally { h.close() }
  }
})
