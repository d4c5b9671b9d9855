/**
 * The map + list workload of the crash tests: operation i is a pure function of
 * (seed, i), so a parent (or a reference run) can replay a model of it. Besides the map and
 * list under roots, a Board object holds a map in a field (collections as fields), whose
 * values are lists of Items (a map of lists of objects).
 */
import * as assert from 'node:assert/strict'
import { mulberry32 } from '@makalu/allocator'
import { PHeap, Persistent, field, reachable } from '@makalu/pobj'
import { PersistentMap, PersistentList, PValue, ListHeader } from '@makalu/examples'

@Persistent('torture.Item')
export class Item {
  @field() name!: string
}

/** A root object holding a map in a field: tag → the header of a list of Items. */
@Persistent('torture.Board')
export class Board {
  @field.ref(() => PersistentMap) tags!: PersistentMap<string, ListHeader> | null
}

export type Op =
  | { t: 'set'; key: string | number; value: PValue }
  | { t: 'del'; key: string | number }
  | { t: 'setObj'; key: string; name: string }
  | { t: 'delObj'; key: string }
  | { t: 'group'; sets: Array<[string, number]>; push: string }
  | { t: 'clear' }
  | { t: 'push' | 'unshift'; value: PValue }
  | { t: 'pop' | 'shift' }
  | { t: 'lset' | 'insert'; at: number; value: PValue }
  | { t: 'removeAt'; at: number }
  | { t: 'tag'; tag: string; name: string }
  | { t: 'untag'; tag: string }

/** A value from r: numbers, strings of 0..120 chars (crossing size classes, some non-ASCII), booleans, null. */
function valueFrom(r: () => number): PValue {
  const x = r()
  if (x < 0.3) return Math.floor(r() * 2000) - 1000 + (r() < 0.3 ? 0.5 : 0)
  if (x < 0.85) {
    const n = Math.floor(r() * r() * 120)
    let s = ''
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(r() * 26))
    return r() < 0.1 ? s + 'é€' : s
  }
  if (x < 0.95) return r() < 0.5
  return null
}

/** Operation i of workload `seed`. `listLen` is the model's list length (index ops need it). */
export function opAt(seed: number, i: number, listLen: number): Op {
  const r = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0)
  const x = r()
  const key = (): string | number => (r() < 0.75 ? 'k' + Math.floor(r() * 96) : Math.floor(r() * 32))
  if (x < 0.33) return { t: 'set', key: key(), value: valueFrom(r) }
  if (x < 0.35) return { t: 'tag', tag: 't' + Math.floor(r() * 6), name: 'tagged' + i }
  if (x < 0.36) return { t: 'untag', tag: 't' + Math.floor(r() * 6) }
  if (x < 0.50) return { t: 'del', key: key() }
  if (x < 0.55) return { t: 'setObj', key: 'o' + Math.floor(r() * 8), name: 'item' + i }
  if (x < 0.57) return { t: 'delObj', key: 'o' + Math.floor(r() * 8) }
  if (x < 0.61) return { t: 'group', sets: [0, 1, 2].map(() => ['g' + Math.floor(r() * 40), i] as [string, number]), push: 'g' + i }
  if (x < 0.612) return { t: 'clear' }
  if (x < 0.72) return { t: 'push', value: valueFrom(r) }
  if (x < 0.78) return { t: 'unshift', value: valueFrom(r) }
  if (x < 0.84) return { t: listLen > 40 ? 'pop' : 'push', value: valueFrom(r) } as Op
  if (x < 0.90) return { t: listLen > 40 ? 'shift' : 'unshift', value: valueFrom(r) } as Op
  if (listLen === 0) return { t: 'push', value: valueFrom(r) }
  if (x < 0.94) return { t: 'lset', at: Math.floor(r() * listLen), value: valueFrom(r) }
  if (x < 0.97) return { t: 'insert', at: Math.floor(r() * (listLen + 1)), value: valueFrom(r) }
  return { t: 'removeAt', at: Math.floor(r() * listLen) }
}

/** The plain model: what the map and list must hold (object values are `{ obj: name }`), and the board's tags. */
export interface Model { map: Map<string | number, unknown>; list: unknown[]; tags: Map<string, string[]> }

export function emptyModel(): Model { return { map: new Map(), list: [], tags: new Map() } }
export function cloneModel(m: Model): Model {
  return { map: new Map(m.map), list: m.list.slice(), tags: new Map([...m.tags].map(([k, v]) => [k, v.slice()])) }
}

export function applyModel(m: Model, op: Op): void {
  switch (op.t) {
    case 'set': m.map.set(op.key, op.value); break
    case 'del': m.map.delete(op.key); break
    case 'setObj': m.map.set(op.key, { obj: op.name }); break
    case 'delObj': m.map.delete(op.key); break
    case 'group': for (const [k, v] of op.sets) m.map.set(k, v); m.list.push(op.push); break
    case 'clear': m.map.clear(); break
    case 'push': m.list.push(op.value); break
    case 'unshift': m.list.unshift(op.value); break
    case 'pop': m.list.pop(); break
    case 'shift': m.list.shift(); break
    case 'lset': m.list[op.at] = op.value; break
    case 'insert': m.list.splice(op.at, 0, op.value); break
    case 'removeAt': m.list.splice(op.at, 1); break
    case 'tag': { const l = m.tags.get(op.tag) ?? []; l.push(op.name); m.tags.set(op.tag, l); break }
    case 'untag': m.tags.delete(op.tag); break
  }
}

export const MAP = 'torture.map'
export const LIST = 'torture.list'
export const BOARD = 'torture.board'

function boardOf(heap: PHeap): Board { return heap.root(BOARD, Board, () => heap.new(Board, { tags: null })) }

/** Runs op on the heap. Ops that change object ownership or several structures use one transaction. */
export function applyHeap(heap: PHeap, op: Op): void {
  const map = PersistentMap.open(heap, MAP)
  const list = PersistentList.open(heap, LIST)
  switch (op.t) {
    case 'set': map.set(op.key, op.value); break
    case 'del': map.delete(op.key); break
    // An Item replaced or removed is garbage: the next collection frees it.
    case 'setObj': heap.transaction(() => { map.set(op.key, heap.new(Item, { name: op.name })) }); break
    case 'delObj': map.delete(op.key); heap.gc(); break // a collection: no change of state, garbage freed
    case 'group': heap.transaction(() => { for (const [k, v] of op.sets) map.set(k, v); list.push(op.push) }); break
    case 'clear': map.clear(); heap.gc(); break
    case 'push': list.push(op.value); break
    case 'unshift': list.unshift(op.value); break
    case 'pop': list.pop(); break
    case 'shift': list.shift(); break
    case 'lset': list.set(op.at, op.value); break
    case 'insert': list.insert(op.at, op.value); break
    case 'removeAt': list.removeAt(op.at); break
    // The board's map (created at first use, in a field) of lists; a list created and filled in the transaction.
    case 'tag': heap.transaction(() => {
      const b = boardOf(heap)
      if (b.tags === null) b.tags = PersistentMap.create<string, ListHeader>(heap)
      const h = b.tags.get(op.tag)
      const l = h ? PersistentList.of<Item>(heap, h) : PersistentList.create<Item>(heap)
      if (!h) b.tags.set(op.tag, l.object)
      l.push(heap.new(Item, { name: op.name }))
    }); break
    case 'untag': boardOf(heap).tags?.delete(op.tag); break // the list and its items are garbage
  }
}

/** A canonical JSON of a state (map entries sorted), for comparing heap and model. */
export function canonical(map: Iterable<[string | number, unknown]>, list: unknown[], tags: Iterable<[string, string[]]>): string {
  const entries = [...map].map(([k, v]) => [typeof k + ':' + String(k), v instanceof Item ? { obj: v.name } : v] as [string, unknown])
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  const t = [...tags].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  return JSON.stringify({ map: entries, list, tags: t })
}

export function modelState(m: Model): string { return canonical(m.map, m.list, m.tags) }

export function heapState(heap: PHeap): string {
  const map = PersistentMap.open(heap, MAP)
  const list = PersistentList.open(heap, LIST)
  const entries = [...map]
  assert.equal(map.size, entries.length, 'map.size vs the entries iterated')
  const b = heap.root(BOARD, Board)
  const tags: Array<[string, string[]]> = []
  for (const [tag, h] of b?.tags ?? []) tags.push([tag, PersistentList.of<Item>(heap, h).toArray().map((x) => (x as Item).name)])
  return canonical(entries, list.toArray(), tags)
}

export { reachable }

/**
 * check() clean, nothing leaked (after a collection, used bytes == reachable bytes: the
 * heap was just opened, so no handle holds an unreachable object), every block of a known type.
 */
export function checkHeapSound(heap: PHeap): void {
  heap.gc()
  const c = heap.check()
  assert.deepEqual(c.violations, [], 'check()')
  PersistentMap.open(heap, MAP).check()
  PersistentList.open(heap, LIST).check()
  const tags = heap.root(BOARD, Board)?.tags
  if (tags) {
    tags.check()
    for (const [, h] of tags) PersistentList.of(heap, h).check()
  }
  const live = reachable(heap)
  assert.equal(live.unknown, 0, 'blocks of unknown type')
  const s = heap.raw.stats()
  assert.equal(s.used, live.bytes, 'used bytes vs reachable bytes (a leak)')
  assert.equal(s.liveBlocks, live.blocks, 'live blocks vs reachable blocks')
}

/**
 * Accepts the heap's state if it is the model after `done` ops or after done + 1
 * (the op in flight). Advances `model` accordingly; returns the number of ops the heap holds.
 */
export function matchModel(heap: PHeap, model: Model, seed: number, done: number): number {
  const got = heapState(heap)
  if (got === modelState(model)) return done
  const next = cloneModel(model)
  applyModel(next, opAt(seed, done, model.list.length))
  const after = modelState(next)
  if (got === after) {
    model.map = next.map
    model.list = next.list
    model.tags = next.tags
    return done + 1
  }
  assert.equal(got, modelState(model), `state after ${done} ops (or ${done + 1})`)
  return -1
}
