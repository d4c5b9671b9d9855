import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { PHeap, Persistent, field, PArray } from '@makalu/pobj'
import { makalu } from './run-cli'

/** Release 1 (the fixture mig-v2.js is release 2). */
@Persistent('mig.Review') class ReviewV1 { @field() text!: string; @field.i32 stars!: number }
@Persistent('mig.Shelf') class Shelf { @field.array(() => ReviewV1) all!: PArray<ReviewV1> }

const V2 = path.join(__dirname, 'fixtures', 'mig-v2.js')

describe('makalu migrate', function () {
  this.timeout(60_000)
  let dir: string
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-cli-migrate-')) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('applies a module\'s class changes and migrations now, and says what changed', () => {
    const file = path.join(dir, 'reviews.heap')
    const h = PHeap.create(file, { size: 4 << 20, types: [Shelf, ReviewV1] })
    h.setRoot('shelf', h.new(Shelf, { all: h.newArray(ReviewV1, [1, 2, 3].map((n) => h.new(ReviewV1, { text: `r${n}`, stars: n }))) }))
    h.close()
    expect(makalu('migrate', file).code).to.equal(2) // --types is needed
    const r = makalu('migrate', file, '--types', V2)
    expect(r.code, r.err).to.equal(0)
    expect(r.out).to.match(/reviews\.heap: 3 objects rewritten by migrations/)
    expect(r.out).to.match(/mig\.Review: 1 layout versions \(1 with objects\) → 2 \(1 with objects\)/)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const v2 = require(V2) as { Review: new () => { text: string; stars: string; lang?: string } }
    const heap = PHeap.open(file, { types: [v2.Review as never] })
    const stars = [...heap.objects(v2.Review as never)].map((x) => (x as { stars: string }).stars).sort()
    expect(stars).to.deep.equal(['★', '★★', '★★★'])
    heap.close()
    // info counts objects per layout version: the old one is retired and empty, its blocks forwarders now.
    const info = JSON.parse(makalu('info', file, '--json').out) as { types: Array<{ name: string; layoutVersion: number; retired?: boolean; objects: number }>; forwarders: { count: number } }
    const rev = info.types.filter((t) => t.name === 'mig.Review').map((t) => [t.layoutVersion, t.retired === true, t.objects])
    expect(rev).to.deep.equal([[1, true, 0], [2, false, 3]])
    expect(info.forwarders.count).to.equal(3)
    // Nothing left to do: the file is only opened and closed cleanly.
    const again = makalu('migrate', file, '--types', V2)
    expect(again.code, again.err).to.equal(0)
    expect(again.out).to.match(/0 objects rewritten by migrations .*; the type table already matched the classes/)
  })
})
