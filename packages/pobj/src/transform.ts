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
 *
 * Import is two steps. (1) `checkGraph` validates the whole plain graph and plans
 * the heap writes; it is pure (no allocation, nothing in the heap read or written)
 * and iterative (no recursion over nodes or values). Anything malformed is an
 * ImportError naming the JSON path of the bad value. (2) `writeGraph` allocates
 * and fills every node inside one heap transaction: a throw there (HeapFullError)
 * rolls back and frees every block allocated in it.
 *
 * The rules `checkGraph` enforces (README, "Export and import"):
 *   graph    = { format: GRAPH_FORMAT, root: id, nodes: node[] }, no other key
 *   id       = integer in [0, 2^53); each $id once; root and every $ref name a node
 *   object   = { $id, $type: stable name, <field>: value ... }; a missing field keeps its
 *              zero value; a key that is no persistent field is refused
 *   array    = { $id, $array: element kind, $element: stable name (ref arrays only), $fixed: true (fixed arrays only), items }
 *   value    = as the field kind: i32/u32 integers in range; f64 a number or 'NaN',
 *              'Infinity', '-Infinity'; i64 a decimal string or a safe integer, in
 *              range; bool; string; date an ISO 8601 string of a valid date (toPlain
 *              writes toISOString()); enum a member value; ref and array { $ref: id } or
 *              null, naming a node of the declared class (or a subclass) or element kind;
 *              a nullable field also null; an absent optional field is left out
 *   every node is reachable from the root (an unreachable node would be a leaked block)
 *   no key __proto__, constructor or prototype anywhere; field values nest at most
 *   MAX_VALUE_DEPTH levels (before class-transformer, which recurses, sees them)
 */
import { instanceToPlain, plainToInstance } from 'class-transformer'
import { ImportError, TypeMismatchError } from './errors'
import { Class, ElementKind, NumberKind, ArrayValueKind } from './metadata-args'
import { FieldLayout, Layout, layoutOf, stableNameOf, isPersistentClass } from './layout-builder'
import { ELEMENT_SIZE } from './object-format'
import { PArray } from './persistent-array'
import type { PHeap } from './pheap'

export const GRAPH_FORMAT = 'makalu-pobj-graph/1'

export interface PlainRef { $ref: number }
export interface PlainObjectNode { $id: number; $type: string; [field: string]: unknown }
export interface PlainArrayNode { $id: number; $array: ElementKind; $element?: string; $fixed?: true; items: unknown[] }
export type PlainNode = PlainObjectNode | PlainArrayNode
export interface PlainGraph { format: typeof GRAPH_FORMAT; root: number | null; nodes: PlainNode[] }

/** The graph reachable from `obj` (an object or array handle of `heap`). */
export function exportGraph(_heap: PHeap, obj: object | null): PlainGraph {
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
      const items = o.element === 'record'
        ? Array.from({ length: o.length }, (_, i) => {
          const r = o.recordAt(i) // a record: its payload as base64 and its ref
          return r === null || r === 0 ? r : { payload: Buffer.from(r.payload).toString('base64'), ref: idOf(r.ref) }
        })
        : o.toArray().map((v) => o.element === 'ref' ? idOf(v as object | null) : exportNumber(o.element, v))
      const node: PlainArrayNode = { $id: id, $array: o.element, items }
      if (!o.growable) node.$fixed = true
      if (o.elementClass) node.$element = stableNameOf(o.elementClass)
      nodes.push(node)
      continue
    }
    const layout = layoutOf(o.constructor)
    const detached = Object.create(layout.cls.prototype) as Record<string, unknown>
    for (const f of layout.fields) {
      let v = (o as Record<string, unknown>)[f.name]
      if (f.storedAs && v !== null) v = f.storedAs.unwrap(v) // a collection is its header object
      detached[f.name] = f.kind === 'ref' || f.kind === 'array' ? idOf(v as object | null) : exportValue(f, v)
    }
    nodes.push({ $id: id, $type: layout.stableName, ...instanceToPlain(detached) })
  }
  return { format: GRAPH_FORMAT, root: root ? root.$ref : null, nodes }
}

/** How deeply a field value may nest objects and arrays (toPlain writes at most 1: a { $ref }). */
export const MAX_VALUE_DEPTH = 32

/**
 * Builds the graph in `heap` and returns the root's handle, which must be an instance of
 * `cls` (else TypeMismatchError). The whole graph is checked first (ImportError, nothing
 * allocated), then written in one transaction (all or nothing). Publish it with setRoot.
 */
export function importGraph<T extends object>(heap: PHeap, cls: Class<T> | typeof PArray, graph: PlainGraph,
  resolve: (stableName: string) => Class): T {
  return writeGraph(heap, checkGraph(graph, cls, resolve)) as T
}

// ── step 1: check and plan (pure) ──────────────────────────────────────────

/** A node ready to write: converted values, refs as node ids (null for null). */
type NodePlan =
  | { kind: 'object'; id: number; layout: Layout; values: Array<[FieldLayout, unknown]> }
  | { kind: 'array'; id: number; element: ArrayValueKind | Class; refs: boolean; fixed: boolean; items: unknown[] }

interface GraphPlan { nodes: NodePlan[]; root: number }

/** What is known of a node after the first pass: its id, and its class or element type. */
type NodeHead =
  | { kind: 'object'; id: number; cls: Class; layout: Layout }
  | { kind: 'array'; id: number; element: ElementKind; elementClass: Class | undefined; fixed: boolean }

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])
const GRAPH_KEYS: readonly string[] = ['format', 'root', 'nodes']
const ARRAY_NODE_KEYS: readonly string[] = ['$id', '$array', '$element', '$fixed', 'items']
const NON_FINITE: readonly string[] = ['NaN', 'Infinity', '-Infinity']
const I64_MIN = -(2n ** 63n)
const I64_MAX = 2n ** 63n - 1n
const DECIMAL = /^-?[0-9]{1,20}$/

function checkGraph(graph: unknown, cls: Class | typeof PArray, resolve: (name: string) => Class): GraphPlan {
  // The graph object.
  if (!isRecord(graph)) fail('$', `expected a ${GRAPH_FORMAT} graph object, got ${describe(graph)}`)
  checkKeys(graph, '$', GRAPH_KEYS)
  if (graph.format !== GRAPH_FORMAT) fail('$.format', `expected '${GRAPH_FORMAT}', got ${describe(graph.format)}`)
  const nodes = graph.nodes
  if (!Array.isArray(nodes)) fail('$.nodes', `expected an array of nodes, got ${describe(nodes)}`)
  const root = graph.root
  if (root === null) fail('$.root', 'the graph has no root (an export of null): nothing to import')
  if (!isId(root)) fail('$.root', `expected a node $id (an integer in [0, 2^53)), got ${describe(root)}`)

  // Pass 1: every node's id, kind and class; ids unique.
  const heads: NodeHead[] = []
  const indexOf = new Map<number, number>()
  for (let i = 0; i < nodes.length; i++) {
    const n: unknown = nodes[i]
    const p = `$.nodes[${i}]`
    if (!isRecord(n)) fail(p, `expected a node object, got ${describe(n)}`)
    checkKeys(n, p, undefined)
    if (!hasOwn(n, '$id')) fail(`${p}.$id`, 'missing')
    const id = n.$id
    if (!isId(id)) fail(`${p}.$id`, `expected an integer in [0, 2^53), got ${describe(id)}`)
    const other = indexOf.get(id)
    if (other !== undefined) fail(`${p}.$id`, `duplicate $id ${id} (also $.nodes[${other}].$id)`)
    indexOf.set(id, i)
    const isObject = hasOwn(n, '$type')
    if (isObject === hasOwn(n, '$array')) {
      fail(p, isObject ? 'has both $type and $array' : 'has neither $type (an object node) nor $array (an array node)')
    }
    if (isObject) {
      const c = resolveName(n.$type, `${p}.$type`, resolve)
      heads.push({ kind: 'object', id, cls: c, layout: layoutOf(c) })
      continue
    }
    checkKeys(n, p, ARRAY_NODE_KEYS)
    const element = n.$array
    if (typeof element !== 'string' || !hasOwn(ELEMENT_SIZE, element)) {
      fail(`${p}.$array`, `expected one of ${Object.keys(ELEMENT_SIZE).join(', ')}, got ${describe(element)}`)
    }
    let elementClass: Class | undefined
    if (element === 'ref') elementClass = resolveName(n.$element, `${p}.$element`, resolve)
    else if (hasOwn(n, '$element')) fail(`${p}.$element`, `only a ref array names an element class (this is an array of ${element})`)
    if (!Array.isArray(n.items)) fail(`${p}.items`, `expected an array, got ${describe(n.items)}`)
    if (hasOwn(n, '$fixed') && n.$fixed !== true) fail(`${p}.$fixed`, `expected true (or no $fixed), got ${describe(n.$fixed)}`)
    heads.push({ kind: 'array', id, element: element as ElementKind, elementClass, fixed: n.$fixed === true })
  }

  // The root: present, and of the class asked for.
  const rootIndex = indexOf.get(root)
  if (rootIndex === undefined) fail('$.root', `no node has $id ${root}`)
  const rootHead = heads[rootIndex]
  if (rootHead.kind === 'array' ? cls !== PArray : !(cls !== PArray && isSubclass(rootHead.cls, cls as Class))) {
    throw new TypeMismatchError(`pobj: fromPlain: the root is a ${rootHead.kind === 'array' ? 'PArray' : rootHead.cls.name}, not a ${cls.name}`)
  }

  // Pass 2: every value, converted; refs resolved to node ids and checked against their targets.
  const edges: number[][] = []
  const refTo = (v: unknown, path: string, out: number[]): NodeHead | null => {
    if (v === null) return null
    if (!isRecord(v) || !isId(v.$ref) || Object.keys(v).length !== 1) {
      fail(path, `expected { $ref: id } or null, got ${describe(v)}`)
    }
    const i = indexOf.get(v.$ref)
    if (i === undefined) fail(path, `$ref ${v.$ref}: no node has this $id`)
    out.push(i)
    return heads[i]
  }
  const plans: NodePlan[] = []
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i] as Record<string, unknown>
    const h = heads[i]
    const p = `$.nodes[${i}]`
    const out: number[] = []
    edges.push(out)
    if (h.kind === 'array') {
      const src = n.items as unknown[]
      const items = new Array<unknown>(src.length)
      for (let j = 0; j < src.length; j++) {
        const at = `${p}.items[${j}]`
        if (h.element === 'string') {
          if (typeof src[j] !== 'string') fail(at, `expected a string, got ${describe(src[j])}`)
          items[j] = src[j]
          continue
        }
        if (h.element === 'record') {
          const r = src[j] as { payload?: unknown; ref?: unknown } | null | 0
          if (r === null || r === 0) { items[j] = r; continue }
          if (typeof r !== 'object' || typeof r.payload !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(r.payload) || r.payload.length % 4 !== 0) {
            fail(at, `expected a record { payload: base64, ref }, null or 0, got ${describe(src[j])}`)
          }
          const t = refTo(r.ref, `${at}.ref`, out)
          if (t !== null && t.kind !== 'object') fail(`${at}.ref`, `$ref ${t.id} is ${describeHead(t)}, expected an object`)
          items[j] = { payload: Buffer.from(r.payload as string, 'base64'), ref: t === null ? null : t.id }
          continue
        }
        if (h.element !== 'ref') { items[j] = convertNumber(h.element, src[j], at); continue }
        const t = refTo(src[j], at, out)
        if (t !== null && !(t.kind === 'object' && isSubclass(t.cls, h.elementClass as Class))) {
          fail(at, `$ref ${t.id} is ${describeHead(t)}, expected a ${(h.elementClass as Class).name}`)
        }
        items[j] = t === null ? null : t.id
      }
      plans.push({ kind: 'array', id: h.id, element: h.element === 'ref' ? h.elementClass as Class : h.element, refs: h.element === 'ref', fixed: h.fixed, items })
      continue
    }
    const layout = h.layout
    const rest: Record<string, unknown> = {}
    for (const k of Object.keys(n)) {
      if (k === '$id' || k === '$type') continue
      scanValue(n[k], pathOf(p, k))
      rest[k] = n[k]
    }
    let detached: Record<string, unknown>
    try {
      detached = plainToInstance(layout.cls as unknown as new () => object, rest) as Record<string, unknown>
    } catch (e) {
      fail(p, `class-transformer failed on this ${layout.cls.name} node: ${(e as Error)?.message ?? String(e)}`, e)
    }
    for (const k of Object.keys(detached)) {
      if (!layout.byName.has(k) && hasOwn(rest, k)) fail(pathOf(p, k), `unknown key: ${layout.cls.name} has no persistent field '${k}'`)
    }
    const values: Array<[FieldLayout, unknown]> = []
    for (const f of layout.fields) {
      const v = detached[f.name]
      if (v === undefined) continue // missing: the field keeps its zero value
      const at = pathOf(p, f.name)
      if (f.kind !== 'ref' && f.kind !== 'array') { values.push([f, convertScalar(f, v, at)]); continue }
      const t = refTo(v, at, out)
      if (t !== null) {
        const ok = f.kind === 'ref'
          ? t.kind === 'object' && isSubclass(t.cls, f.targetClass as Class)
          : t.kind === 'array' && t.element === f.element && (t.element !== 'ref' || isSubclass(t.elementClass as Class, f.targetClass as Class))
        if (!ok) fail(at, `$ref ${t.id} is ${describeHead(t)}, expected ${describeField(f)}`)
      }
      values.push([f, t === null ? null : t.id])
    }
    plans.push({ kind: 'object', id: h.id, layout, values })
  }

  // Pass 3: every node reachable from the root (iteratively), so nothing allocated is unreachable.
  const reached = new Uint8Array(nodes.length)
  const stack = [rootIndex]
  reached[rootIndex] = 1
  while (stack.length > 0) {
    for (const j of edges[stack.pop() as number]) if (!reached[j]) { reached[j] = 1; stack.push(j) }
  }
  const lost = reached.indexOf(0)
  if (lost >= 0) fail(`$.nodes[${lost}]`, `$id ${heads[lost].id} is not reachable from the root; an unreachable node is refused, not allocated`)
  return { nodes: plans, root: root }
}

function convertScalar(f: FieldLayout, v: unknown, at: string): unknown {
  if (v === null && f.presence !== 'required') {
    if (f.presence === 'nullable') return null
    fail(at, `expected ${expectedOf(f)}; ${f.name} is optional: leave it out when absent (null is for nullable fields)`)
  }
  switch (f.kind) {
    case 'bool': if (typeof v !== 'boolean') fail(at, `expected ${expectedOf(f)}, got ${describe(v)}`); return v
    case 'string': if (typeof v !== 'string') fail(at, `expected ${expectedOf(f)}, got ${describe(v)}`); return v
    case 'bytes':
      if (v instanceof Uint8Array) return v
      if (typeof v !== 'string' || !BASE64.test(v)) fail(at, `expected ${expectedOf(f)}, got ${describe(v)}`)
      return new Uint8Array(Buffer.from(v as string, 'base64'))
    case 'date': {
      const d = v instanceof Date ? new Date(v.getTime()) : typeof v === 'string' && ISO_DATE.test(v) ? new Date(v) : undefined
      if (d === undefined || Number.isNaN(d.getTime())) fail(at, `expected ${expectedOf(f)}, got ${describe(v)}`)
      return d
    }
    case 'enum':
      if (!(f.members as readonly unknown[]).includes(v)) fail(at, `expected ${expectedOf(f)}, got ${describe(v)}`)
      return v
    default: return convertNumber(f.kind as NumberKind, v, at)
  }
}

/** What a field accepts, for messages. */
function expectedOf(f: FieldLayout): string {
  const base = f.kind === 'date' ? 'an ISO 8601 date string (as toPlain writes, e.g. 2026-12-02T00:00:00.000Z)'
    : f.kind === 'enum' ? `a member of the enum (${(f.members as readonly unknown[]).slice(0, 12).map((m) => JSON.stringify(m)).join(', ')})`
    : f.kind === 'bool' ? 'a boolean' : f.kind === 'string' ? 'a string' : f.kind === 'bytes' ? 'bytes as a base64 string' : `a ${f.kind}`
  return f.presence === 'nullable' ? `${base} or null` : base
}

/** Bytes as toPlain writes them (standard base64, padded). */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** A date as toPlain writes it (Date.prototype.toISOString), or a date-only / offset form. */
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/

function convertNumber(kind: NumberKind | 'ref', v: unknown, at: string): number | bigint {
  switch (kind) {
    case 'i32':
      if (typeof v !== 'number' || (v | 0) !== v) fail(at, `expected an i32 (an integer in [-2^31, 2^31)), got ${describe(v)}`)
      return v
    case 'u32':
      if (typeof v !== 'number' || v >>> 0 !== v) fail(at, `expected a u32 (an integer in [0, 2^32)), got ${describe(v)}`)
      return v
    case 'f64':
      if (typeof v === 'number') return v
      if (typeof v === 'string' && NON_FINITE.includes(v)) return Number(v)
      return fail(at, `expected a number (or 'NaN', 'Infinity', '-Infinity'), got ${describe(v)}`)
    case 'i64': {
      const b = typeof v === 'string' && DECIMAL.test(v) ? BigInt(v) : Number.isSafeInteger(v) ? BigInt(v as number) : undefined
      if (b === undefined || b < I64_MIN || b > I64_MAX) {
        fail(at, `expected an i64 (a decimal string or a safe integer, in [-2^63, 2^63)), got ${describe(v)}`)
      }
      return b
    }
    default: return fail(at, 'expected a number')
  }
}

/** Refuses forbidden keys anywhere in a value and nesting past MAX_VALUE_DEPTH, without recursion. */
function scanValue(value: unknown, path: string): void {
  const stack: Array<[unknown, number, string]> = [[value, 0, path]]
  while (stack.length > 0) {
    const [v, depth, at] = stack.pop() as [unknown, number, string]
    if (v === null || typeof v !== 'object') continue
    if (depth >= MAX_VALUE_DEPTH) fail(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`)
    if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) stack.push([v[i], depth + 1, `${at}[${i}]`]); continue }
    for (const k of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(k)) fail(pathOf(at, k), `forbidden key '${k}'`)
      stack.push([(v as Record<string, unknown>)[k], depth + 1, pathOf(at, k)])
    }
  }
}

/** Refuses forbidden keys, and (with `allowed`) any other key not listed. */
function checkKeys(o: Record<string, unknown>, path: string, allowed: readonly string[] | undefined): void {
  for (const k of Object.keys(o)) {
    if (FORBIDDEN_KEYS.has(k)) fail(pathOf(path, k), `forbidden key '${k}'`)
    if (allowed && !allowed.includes(k)) fail(pathOf(path, k), `unknown key; expected only ${allowed.join(', ')}`)
  }
}

function resolveName(name: unknown, at: string, resolve: (name: string) => Class): Class {
  if (typeof name !== 'string' || name === '') fail(at, `expected a stable name, got ${describe(name)}`)
  let c: Class
  try { c = resolve(name) } catch (e) { return fail(at, `no class for stable name '${name}': ${(e as Error)?.message}`, e) }
  if (!isPersistentClass(c)) fail(at, `stable name '${name}' is bound to a class that is not @Persistent`)
  return c
}

function fail(path: string, what: string, cause?: unknown): never {
  throw new ImportError(`pobj: fromPlain: ${path}: ${what}`, path, cause === undefined ? undefined : { cause })
}

function pathOf(base: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing'
  if (v === null) return 'null'
  if (Array.isArray(v)) return `an array of ${v.length}`
  if (typeof v === 'object') {
    const keys = Object.keys(v)
    return keys.length === 0 ? 'an empty object' : `an object with keys ${keys.slice(0, 5).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 5 ? ', …' : ''}`
  }
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`
  return `${typeof v} ${String(v)}`
}

function describeHead(h: NodeHead): string {
  return h.kind === 'object' ? `a ${h.cls.name}` : `an array of ${h.element === 'ref' ? (h.elementClass as Class).name : h.element}`
}

function describeField(f: FieldLayout): string {
  if (f.kind === 'ref') return `a ${(f.targetClass as Class).name} (${f.name} is a ref)`
  return `an array of ${f.element === 'ref' ? (f.targetClass as Class).name : f.element}`
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function isId(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0
}

function hasOwn(o: object, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k)
}

function isSubclass(c: Function, of: Function): boolean {
  return c === of || c.prototype instanceof of
}

// ── step 2: write (one transaction) ─────────────────────────────────────────

/** Allocates every planned node, then fills them, resolving ids to handles; a throw rolls it all back. */
function writeGraph(heap: PHeap, plan: GraphPlan): object {
  return heap.transaction(() => {
    const made = new Map<number, object>()
    for (const n of plan.nodes) {
      made.set(n.id, n.kind === 'array'
        ? (n.fixed ? heap.newFixedArray(n.element as 'f64', n.items.length) : heap.newArray(n.element as 'f64', n.items.length)) /* the kind is known only at run time */
        : heap.new(n.layout.cls))
    }
    const handle = (id: unknown): object | null => id === null ? null : made.get(id as number) as object
    for (const n of plan.nodes) {
      const target = made.get(n.id) as Record<string, unknown>
      if (n.kind === 'array') {
        const a = target as unknown as PArray<unknown>
        if (n.element === 'record') {
          for (let i = 0; i < n.items.length; i++) {
            const r = n.items[i] as null | 0 | { payload: Uint8Array; ref: number | null }
            if (r !== null) a.putRecord(i, r === 0 ? 0 : { payload: r.payload, ref: handle(r.ref) }, Object)
          }
          continue
        }
        for (let i = 0; i < n.items.length; i++) a.set(i, n.refs ? handle(n.items[i]) : n.items[i])
        continue
      }
      for (const [f, v] of n.values) target[f.name] = f.kind === 'ref' || f.kind === 'array' ? handle(v) : v // a storeAs field takes its stored object
    }
    return made.get(plan.root) as object
  })
}

/** A field value as JSON-safe plain data: dates as ISO strings, absent values as undefined or null. */
function exportValue(f: FieldLayout, v: unknown): unknown {
  if (v instanceof Date) return v.toISOString()
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.length).toString('base64') // bytes as base64
  return v === undefined || v === null ? v : exportNumber(f.kind, v)
}

function exportNumber(kind: string, v: unknown): unknown {
  if (kind === 'i64') return (v as bigint).toString()
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v)
  return v
}
