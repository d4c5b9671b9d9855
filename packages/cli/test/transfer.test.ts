/** `makalu export` and `makalu import`, run as child processes on real heap files. */
import 'reflect-metadata'
import { expect } from 'chai'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { PHeap, PArray, Persistent, field } from '@makalu/pobj'

@Persistent('xfer.Person')
class Person {
  @field() name!: string
}
@Persistent('xfer.Note')
class Note {
  @field() text!: string
  @field.i32 stars!: number
  @field.bool draft!: boolean
  @field.ref(() => Person) by!: Person | null
  @field.array(() => Note) replies!: PArray<Note | null> | null
}

const MAIN = path.join(__dirname, '..', 'src', 'main.js')
const V2 = path.join(__dirname, 'fixtures', 'notes-v2.js')
function makalu(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' })
  return { code: r.status, out: r.stdout, err: r.stderr }
}
const sha = (p: string): string => crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')

describe('makalu export / import', function () {
  this.timeout(60_000)
  let dir: string
  let file: string
  const at = (n: string): string => path.join(dir, n)
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-xfer-'))
    file = at('notes.heap')
    const heap = PHeap.create(file, { size: 1 << 20, types: [Note, Person] })
    const ann = heap.new(Person, { name: 'ann' })
    const top = heap.new(Note, { text: 'top', stars: 5, by: ann })
    const reply = heap.new(Note, { text: 'a reply \uD83D\uDE00', stars: -1, draft: true, by: ann })
    top.replies = heap.newArray(Note, [reply, top, null])
    heap.setRoot('top', top)
    heap.setRoot('reply', reply) // shared with top.replies[0]
    heap.setRoot('ann', ann)
    for (let i = 0; i < 20; i++) heap.new(Note, { text: `garbage ${i}` }) // unreachable: not exported
    heap.close()
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('export then import (no classes anywhere) is a full, compacted copy: shared objects stay shared', () => {
    const before = sha(file)
    const x = makalu('export', file, at('notes.ndjson'))
    expect(x.code, x.err).to.equal(0)
    expect(x.out).to.match(/notes\.ndjson: 4 objects, 3 roots, \d+ bytes/)
    expect(x.err, 'no bar when stderr is not a terminal').to.equal('')
    expect(sha(file)).to.equal(before)
    const lines = fs.readFileSync(at('notes.ndjson'), 'utf8').trim().split('\n')
    expect(lines.length).to.equal(5)
    expect(JSON.parse(lines[0])).to.include({ format: 'makalu-heap', version: 1, objects: 4 })
    expect(makalu('export', file, at('notes.ndjson')).code, 'OUT exists').to.equal(1)

    const i = makalu('import', at('notes.ndjson'), at('copy.heap'))
    expect(i.code, i.err).to.equal(0)
    expect(i.out).to.match(/copy\.heap: 4 objects, 3 roots imported/)
    const copy = PHeap.open(at('copy.heap'), { types: [Note, Person] })
    const top = copy.root('top', Note)!
    expect(top.replies!.get(0)).to.equal(copy.root('reply', Note))
    expect(top.replies!.get(1)).to.equal(top)
    expect(top.by).to.equal(copy.root('ann', Person))
    expect(copy.root('reply', Note)!.text).to.equal('a reply \uD83D\uDE00')
    expect(copy.stats().types['xfer.Note'].count).to.equal(2) // the 20 unreachable notes are gone
    expect(copy.check().ok).to.equal(true)
    copy.close()
    expect(makalu('check', at('copy.heap')).code).to.equal(0)
    // The copy exports to the same records.
    expect(makalu('export', at('copy.heap'), at('copy.ndjson')).code).to.equal(0)
    expect(fs.readFileSync(at('copy.ndjson'), 'utf8').split('\n').slice(1)).to.deep.equal(fs.readFileSync(at('notes.ndjson'), 'utf8').split('\n').slice(1))
  })

  it('--types MODULE moves the data to new class versions by field name; an unknown field is refused unless dropped', () => {
    const refused = makalu('import', at('notes.ndjson'), at('v2.heap'), '--types', V2)
    expect(refused.code).to.equal(1)
    expect(refused.err).to.match(/ImportError \(EPOBJIMPORT\): pobj: import: line \d+: xfer\.Note\.draft is in the data but not in class Note/)
    expect(fs.existsSync(at('v2.heap')), 'a refused import leaves no new file').to.equal(false)
    const ok = makalu('import', at('notes.ndjson'), at('v2.heap'), '--types', V2, '--drop-unknown-fields')
    expect(ok.code, ok.err).to.equal(0)
    expect(ok.out).to.match(/dropped fields: xfer\.Note\.draft; fields not in the data \(defaults\): xfer\.Note\.tag/)
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const v2 = require(V2) as { Note: new () => { text: string; stars: number; tag?: string } }
    const h = PHeap.open(at('v2.heap'), { types: [v2.Note as never] })
    const top = h.root('top', v2.Note as never) as { text: string; stars: number; tag?: string }
    expect([top.text, top.stars, top.tag]).to.deep.equal(['top', 5, undefined])
    h.close()
  })

  it('malformed input: exit 1 with the ImportError and its line; an existing heap keeps its roots', () => {
    const text = fs.readFileSync(at('notes.ndjson'), 'utf8')
    fs.writeFileSync(at('cut.ndjson'), text.slice(0, text.length - 15))
    const r = makalu('import', at('cut.ndjson'), at('cut.heap'))
    expect(r.code).to.equal(1)
    expect(r.err).to.match(/EPOBJIMPORT.*line 5: not JSON/)
    expect(fs.existsSync(at('cut.heap'))).to.equal(false)
    // Into the copy, which has the same roots: refused, nothing changed.
    const before = makalu('dump', at('copy.heap'), '--json').out
    const again = makalu('import', at('notes.ndjson'), at('copy.heap'))
    expect(again.code).to.equal(1)
    expect(again.err).to.match(/already has a root 'top'/)
    expect(makalu('dump', at('copy.heap'), '--json').out).to.equal(before)
    expect(makalu('import', at('notes.ndjson')).code).to.equal(2)
    expect(makalu('help', 'import').out).to.match(/one transaction/)
    expect(makalu('help', 'export').out).to.match(/NDJSON/)
  })

  it('draws a progress bar on stderr when it is a terminal', function () {
    if (spawnSync('script', ['--version']).status !== 0) this.skip()
    const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(MAIN)} export ${JSON.stringify(file)} ${JSON.stringify(at('tty.ndjson'))}`
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' })
    expect(r.status, r.stderr).to.equal(0)
    expect(r.stdout).to.match(/export \[#{30}\] 100% 4\/4/)
    expect(r.stdout).to.match(/tty\.ndjson: 4 objects/)
  })
})
