/**
 * Export and import of whole object graphs through class-transformer (backup,
 * migration, debugging). The graph is flattened into a table of nodes with ids,
 * so shared references and cycles survive:
 *
 *   { format: 'makalu-pobj-graph/1', root: 0, nodes: [
 *       { $id: 0, $type: 'Person', name: 'ann', friend: { $ref: 1 }, scores: { $ref: 2 }, id: '42' },
 *       { $id: 1, $type: 'Person', name: 'bob', friend: { $ref: 0 }, scores: null, id: '7' },
 *       { $id: 2, $array: 'i32', items: [1, 2] } ] }
 *
 * Each object node is produced by `instanceToPlain` from a detached instance of
 * the user's class and read back by `plainToInstance`, so class-transformer
 * decorators on the class (@Transform, @Exclude, ...) apply. The output is
 * JSON-safe: i64 values are decimal strings, non-finite f64 values are the
 * strings 'NaN', 'Infinity', '-Infinity'.
 */
import { instanceToPlain, plainToInstance } from 'class-transformer'
import { FieldTypeError, TypeMismatchError, UnknownTypeError } from './errors'
import { Class, ElementKind } from './metadata-args'
import { Layout, layoutOf, stableNameOf } from './layout-builder'
import { PArray } from './handles'
import type { PHeap } from './pheap'

export const GRAPH_FORMAT = 'makalu-pobj-graph/1'

export interface PlainRef { $ref: number }
export interface PlainObjectNode { $id: number; $type: string; [field: string]: unknown }
export interface PlainArrayNode { $id: number; $array: ElementKind; $element?: string; items: unknown[] }
export type PlainNode = PlainObjectNode | PlainArrayNode
export interface PlainGraph { format: typeof GRAPH_FORMAT; root: number | null; nodes: PlainNode[] }

/** The graph reachable from `obj` (an object or array handle of `heap`). */
export function exportGraph(heap: PHeap, obj: object | null): PlainGraph {
  const ids = new Map<object, number>()
  const queue: object[] = []
  const idOf = (o: object | null): PlainRef | null => {
    if (o === null) return null
    let id = ids.get(o)
    if (id === undefined) { ids.set(o, (id = queue.length)); queue.push(o) }
    return { $ref: id }
  }
  const root = idOf(obj)
  const nodes: PlainNode[] = []
  for (let id = 0; id < queue.length; id++) {
    const o = queue[id]
    if (o instanceof PArray) {
      const items = o.toArray().map((v) => o.element === 'ref' ? idOf(v as object | null) : exportNumber(o.element, v))
      const node: PlainArrayNode = { $id: id, $array: o.element, items }
      if (o.elementClass) node.$element = stableNameOf(o.elementClass)
      nodes.push(node)
      continue
    }
    const layout = layoutOf(o.constructor)
    const detached = Object.create(layout.cls.prototype) as Record<string, unknown>
    for (const f of layout.fields) {
      const v = (o as Record<string, unknown>)[f.name]
      detached[f.name] = f.kind === 'ref' || f.kind === 'array' ? idOf(v as object | null) : exportNumber(f.kind, v)
    }
    nodes.push({ $id: id, $type: layout.stableName, ...instanceToPlain(detached) })
  }
  return { format: GRAPH_FORMAT, root: root ? root.$ref : null, nodes }
}

/**
 * Builds the graph in `heap` inside one transaction (all or nothing) and returns
 * the root's handle, which must be an instance of `cls`. Publish it with setRoot.
 */
export function importGraph<T extends object>(heap: PHeap, cls: Class<T> | typeof PArray, graph: PlainGraph,
  resolve: (stableName: string) => Class): T {
  if (!graph || graph.format !== GRAPH_FORMAT || !Array.isArray(graph.nodes)) {
    throw new FieldTypeError(`pobj: fromPlain: not a ${GRAPH_FORMAT} graph`)
  }
  const nodes = new Map<number, PlainNode>()
  for (const n of graph.nodes) nodes.set(n.$id, n)
  const node = (id: number): PlainNode => {
    const n = nodes.get(id)
    if (!n) throw new FieldTypeError(`pobj: fromPlain: reference to missing node ${id}`)
    return n
  }
  if (graph.root === null) throw new FieldTypeError('pobj: fromPlain: the graph has no root')
  const rootNode = node(graph.root)
  if (isArrayNode(rootNode) ? cls !== PArray : !(cls !== PArray && isSubclass(resolve(rootNode.$type), cls as Class))) {
    throw new TypeMismatchError(`pobj: fromPlain: the root is a ${isArrayNode(rootNode) ? 'PArray' : rootNode.$type}, not a ${cls.name}`)
  }
  return heap.transaction(() => {
    // Pass 1: allocate every node; pass 2: fill fields, resolving refs by id.
    const made = new Map<number, object>()
    for (const n of graph.nodes) {
      if (isArrayNode(n)) {
        const el = n.$array === 'ref' ? resolveElement(n, resolve) : n.$array
        made.set(n.$id, heap.newArray(el as never, n.items.length))
      } else {
        made.set(n.$id, heap.new(resolve(n.$type)))
      }
    }
    const ref = (v: unknown, where: string): object | null => {
      if (v === null || v === undefined) return null
      const id = (v as PlainRef).$ref
      const o = typeof id === 'number' ? made.get(id) : undefined
      if (!o) throw new FieldTypeError(`pobj: fromPlain: ${where}: expected { $ref: id } or null`)
      return o
    }
    for (const n of graph.nodes) {
      const target = made.get(n.$id)!
      if (isArrayNode(n)) {
        const a = target as PArray<unknown>
        n.items.forEach((v, i) => a.set(i, a.element === 'ref' ? ref(v, `node ${n.$id}[${i}]`) : importNumber(a.element, v)))
        continue
      }
      const layout: Layout = layoutOf(target.constructor)
      const { $id: _id, $type: _type, ...rest } = n
      const detached = plainToInstance(layout.cls as unknown as new () => object, rest) as Record<string, unknown>
      for (const f of layout.fields) {
        if (!(f.name in detached) || detached[f.name] === undefined) continue
        const v = detached[f.name]
        ;(target as Record<string, unknown>)[f.name] = f.kind === 'ref' || f.kind === 'array'
          ? ref(v, `${layout.cls.name}.${f.name}`) : importNumber(f.kind, v)
      }
    }
    return made.get(graph.root as number) as T
  })
}

function resolveElement(n: PlainArrayNode, resolve: (name: string) => Class): Class {
  if (!n.$element) throw new UnknownTypeError(`pobj: fromPlain: ref array node ${n.$id} has no $element`)
  return resolve(n.$element)
}

function isArrayNode(n: PlainNode): n is PlainArrayNode {
  return '$array' in n
}

function isSubclass(c: Function, of: Function): boolean {
  return c === of || c.prototype instanceof of
}

function exportNumber(kind: string, v: unknown): unknown {
  if (kind === 'i64') return (v as bigint).toString()
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  return v
}

function importNumber(kind: string, v: unknown): unknown {
  if (kind === 'i64' && (typeof v === 'string' || typeof v === 'number')) {
    try { return BigInt(v) } catch { return v }
  }
  if ((kind === 'f64') && (v === 'NaN' || v === 'Infinity' || v === '-Infinity')) return Number(v)
  return v
}
