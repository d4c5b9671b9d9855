/**
 * Demo: a persistent word index. `npm run demo` (or node packages/examples/dist/src/demo.js [dataDir];
 * default ./data).
 *
 *   1. creates a heap file under a data folder and indexes a few documents:
 *      PersistentMap word → count, PersistentList of indexed document titles;
 *      each document is indexed in ONE heap transaction (all its words + its title);
 *   2. closes and reopens it: the data is intact, the open was clean;
 *   3. starts a child process that keeps indexing documents, and kills it (SIGKILL) mid-write;
 *   4. reopens: shows the recovery report, checks that every listed document is counted
 *      exactly once and nothing else is (no half-indexed document), check() and the stats.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { spawn } from 'node:child_process'
import { PHeap } from '@makalu/pobj'
import { PersistentMap, PersistentList } from './index'

const TEXTS = [
  'a block is allocated exactly when it is reachable from the roots',
  'the fast path writes nothing durable and recovery rebuilds the free lists by marking from the roots',
  'an aligned eight byte store is atomic so one pointer swing publishes a new entry',
  'after a crash the unfinished transaction is rolled back and unreachable blocks are reclaimed',
  'persistent objects survive process kills and power loss and are never leaked by a crash',
]

/** Document i: a title and its words (a pure function of i, so the parent can check the child's work). */
function documentAt(i: number): { title: string; words: string[] } {
  const words = TEXTS[i % TEXTS.length].split(' ')
  const extra = `doc${i % 97}`
  return { title: `document ${i}`, words: [...words, extra] }
}

function openIndex(heap: PHeap): { words: PersistentMap<string, number>; docs: PersistentList<string> } {
  return { words: PersistentMap.open<string, number>(heap, 'demo.words'), docs: PersistentList.open<string>(heap, 'demo.docs') }
}

/** Indexes document i failure-atomically: its word counts and its title, or nothing. */
function indexDocument(heap: PHeap, i: number): void {
  const { words, docs } = openIndex(heap)
  const d = documentAt(i)
  heap.transaction(() => {
    for (const w of d.words) words.set(w, (words.get(w) ?? 0) + 1)
    docs.push(d.title)
  })
}

/** Recomputes the index from the listed titles and compares it with the map. */
function verify(heap: PHeap): { docs: number; words: number; ok: boolean } {
  const { words, docs } = openIndex(heap)
  const expected = new Map<string, number>()
  for (const title of docs) {
    for (const w of documentAt(Number(title.slice('document '.length))).words) expected.set(w, (expected.get(w) ?? 0) + 1)
  }
  let ok = expected.size === words.size
  for (const [w, n] of words) if (expected.get(w) !== n) ok = false
  return { docs: docs.length, words: words.size, ok }
}

const say = (s: string): void => { process.stdout.write(s + '\n') }
const ms = (x: number): string => `${x.toFixed(2)} ms`

function child(file: string, from: number): void {
  const heap = PHeap.open(file, { durability: 'process' })
  for (let i = from; ; i++) {
    indexDocument(heap, i)
    fs.writeSync(1, `indexed ${i}\n`)
  }
}

async function main(): Promise<void> {
  if (process.argv[2] === '--child') return child(process.argv[3], Number(process.argv[4]))
  const dir = path.resolve(process.argv[2] ?? 'data') // `npm run demo`: ./data at the repository root
  const file = path.join(dir, 'words.heap')
  fs.mkdirSync(dir, { recursive: true })
  fs.rmSync(file, { force: true })

  say(`makalu-ts demo: a persistent word index in ${file}\n`)
  say('1. create the heap and index 200 documents (one transaction each)')
  let heap = PHeap.create(file, { size: 8 << 20, maxSize: 256 << 20, durability: 'process' })
  let t = performance.now()
  for (let i = 0; i < 200; i++) indexDocument(heap, i)
  let idx = openIndex(heap)
  say(`   ${idx.docs.length} documents, ${idx.words.size} distinct words in ${ms(performance.now() - t)}; ` +
    `"the" counted ${idx.words.get('the')} times, last document: "${idx.docs.get(-1)}"`)
  heap.close()
  say('   heap closed cleanly')

  say('\n2. reopen')
  t = performance.now()
  heap = PHeap.open(file, { durability: 'process' })
  let v = verify(heap)
  say(`   opened in ${ms(performance.now() - t)}: clean=${heap.recovery.clean}, ${v.docs} documents, ${v.words} words, index ${v.ok ? 'consistent' : 'INCONSISTENT'}`)
  const before = v.docs
  heap.close()

  say('\n3. a child process keeps indexing; SIGKILL it mid-write')
  const acked = await new Promise<number>((resolve, reject) => {
    const c = spawn(process.execPath, [__filename, '--child', file, String(before)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let last = -1
    let buf = ''
    c.stdout.setEncoding('utf8')
    c.stdout.on('data', (d: string) => {
      buf += d
      const lines = buf.split('\n')
      buf = lines.pop()!
      for (const l of lines) last = Number(l.slice('indexed '.length))
      if (last >= before + 300) c.kill('SIGKILL')
    })
    c.on('error', reject)
    c.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`child ended ${code}/${signal}`))
      else resolve(last + 1)
    })
  })
  say(`   child killed after it acknowledged documents up to ${acked - 1}`)

  say('\n4. reopen after the kill')
  t = performance.now()
  heap = PHeap.open(file, { durability: 'process' })
  const openMs = performance.now() - t
  const r = heap.recovery
  say(`   opened in ${ms(openMs)}; recovery report: clean=${r.clean}, ${ms(r.ms)}, tracing ${r.tracing}, ` +
    `rolled back a transaction: ${r.rolledBackTransaction}`)
  say(`   live ${r.liveBlocks} blocks / ${r.liveBytes} bytes, reclaimed ${r.reclaimedBlocks} blocks / ${r.reclaimedBytes} bytes`)
  v = verify(heap)
  idx = openIndex(heap)
  const inFlight = v.docs - acked
  say(`   ${v.docs} documents (${acked} acknowledged${inFlight > 0 ? ' + the one in flight, which had committed' : ''}), ` +
    `index ${v.ok ? 'consistent: every listed document counted exactly once, no half-indexed one' : 'INCONSISTENT'}`)
  const c = heap.check()
  const s = heap.stats()
  say(`   check(): ${c.ok ? 'clean' : c.violations.join('; ')}`)
  say(`   stats: ${s.liveBlocks} blocks, ${s.used} bytes used of ${s.size}; ` +
    Object.entries(s.types).filter(([, x]) => x.count > 0).map(([n, x]) => `${n} ${x.count}`).join(', ') +
    `, records (map entries) ${s.records.count}, strings ${s.strings.count}, arrays ${s.arrays.count}; map ${JSON.stringify(idx.words.stats())}`)
  heap.close()
  const good = v.ok && c.ok && v.docs >= acked && v.docs <= acked + 1
  say(`\n${good ? 'ok' : 'FAILED'}: the heap file stays in ${file}`)
  if (!good) process.exitCode = 1
}

main().catch((e) => { console.error(e); process.exit(1) })
