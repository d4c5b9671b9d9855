/**
 * `makalu dump FILE [ROOT] [--json] [--limit N]`: the objects reachable from a root (or from
 * every root), read through the heap's own type table: no application class is needed.
 * Breadth-first, each object once (`#n` names it; later references say `#n`), at most
 * `limit` objects.
 */
import { objectFormat as O, readFieldValue } from '@makalu/pobj'
import { Opened } from './open-heap'

export interface DumpedObject { id: string; type: string; fields: Record<string, unknown> }
export interface Dump { roots: Record<string, string | null>; objects: DumpedObject[]; truncated: boolean }

export function dump(o: Opened, root: string | undefined, limit: number): Dump {
  const raw = o.raw
  const b = raw.bytes
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const ids = new Map<number, string>()
  const queue: number[] = []
  const idOf = (p: number): string => {
    p = O.resolveForwarders(dv, p) // an upgraded object is its newest block
    let id = ids.get(p)
    if (id === undefined) { ids.set(p, (id = `#${ids.size + 1}`)); queue.push(p) }
    return id
  }
  const names = raw.roots().map(([n]) => n).filter((n) => root === undefined ? !n.startsWith(O.RESERVED_ROOT_PREFIX) : n === root)
  if (root !== undefined && names.length === 0) throw new Error(`no root named '${root}' (roots: ${raw.roots().map(([n]) => n).join(', ')})`)
  const roots: Record<string, string | null> = {}
  for (const n of names) { const p = raw.getRoot(n); roots[n] = p === 0 ? null : idOf(p) }

  const ptr = (at: number): number => dv.getUint32(at, true)
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
  const str = (q: number): string => {
    const start = q + O.STRING_HEADER_SIZE
    return buf.toString(O.blockTag(dv, q) === O.TAG_STRING16 ? 'utf16le' : 'utf8', start, start + O.stringByteLength(dv, q))
  }
  /** An array element, or a ref/array field (as its #id); other fields read through readFieldValue. */
  const scalar = (kind: string, at: number): unknown => {
    switch (kind) {
      case 'i32': return dv.getInt32(at, true)
      case 'u32': return dv.getUint32(at, true)
      case 'f64': return dv.getFloat64(at, true)
      case 'i64': return dv.getBigInt64(at, true).toString() + 'n'
      case 'bool': return dv.getUint8(at) !== 0
      case 'ref': case 'array': { const q = ptr(at); return q === 0 ? null : idOf(q) }
      case 'string': { const q = ptr(at); return q === 0 ? '' : str(q) }
      case 'record': { // a record element: empty, vacated, or the record (its size, the first payload bytes, its ref)
        const q = ptr(at)
        if (q === 0) return dv.getUint32(at + 4, true) === 0 ? null : '<vacated>'
        const n = O.recordByteLength(dv, q)
        const head = buf.toString('hex', q + O.RECORD_HEADER_SIZE, q + O.RECORD_HEADER_SIZE + Math.min(n, 16))
        const ref = O.recordRef(dv, q)
        return `<record ${n} bytes: ${head}${n > 16 ? '…' : ''}${ref !== 0 ? ` ref ${idOf(ref)}` : ''}>`
      }
      default: return `<${kind}>`
    }
  }

  const objects: DumpedObject[] = []
  let truncated = false
  for (let i = 0; i < queue.length; i++) {
    if (objects.length >= limit) { truncated = true; break }
    const p = queue[i]
    const tag = dv.getUint32(p, true)
    const id = ids.get(p)!
    if (tag === O.TAG_ARRAY || tag === O.TAG_ARRAY_HEAD) {
      // A growable array (header) shows its elements block; a fixed one is its own.
      const e = tag === O.TAG_ARRAY_HEAD ? O.arrayElements(dv, p) : p
      const kind = O.CODE_KIND[dv.getUint8(p + O.ARR_ELEM)] ?? '?'
      const n = e === 0 ? 0 : dv.getUint32(e + O.ARR_LENGTH, true)
      const size = O.ELEMENT_SIZE[kind as keyof typeof O.ELEMENT_SIZE] ?? 8
      const shown = Math.min(n, 100)
      const items = Array.from({ length: shown }, (_, k) => scalar(kind, e + O.ARRAY_HEADER_SIZE + k * size))
      if (n > shown) items.push(`… ${n - shown} more`)
      objects.push({ id, type: `array<${kind}>(${n})`, fields: { items } })
    } else if (tag >= O.FIRST_TYPE_ID && o.pobj) {
      const e = o.pobj.types.byTypeId(tag)
      if (!e) { objects.push({ id, type: `<unknown type ${tag}>`, fields: {} }); continue }
      const fields: Record<string, unknown> = {}
      for (const f of e.fields) {
        // Refs and arrays become #ids; every other kind reads as a handle would (dates, enums, absence).
        if (f.kind === 'ref' || f.kind === 'array') { fields[f.name] = scalar(f.kind, p + f.offset); continue }
        const v = readFieldValue(b, p, f)
        fields[f.name] = v instanceof Date ? v.toISOString() : typeof v === 'bigint' ? `${v}n`
          : v instanceof Uint8Array ? `<${v.length} bytes${v.length > 0 ? `: ${Buffer.from(v.subarray(0, 16)).toString('hex')}${v.length > 16 ? '…' : ''}` : ''}>` : v
      }
      objects.push({ id, type: e.name, fields })
    } else {
      objects.push({ id, type: `<block of ${raw.usableSize(p)} bytes, tag ${tag}>`, fields: {} })
    }
  }
  return { roots, objects, truncated }
}

/** The dump as readable text, one line per object. */
export function dumpText(d: Dump): string {
  const lines = Object.entries(d.roots).map(([n, id]) => `root ${JSON.stringify(n)} → ${id ?? 'null'}`)
  for (const ob of d.objects) {
    const fs = Object.entries(ob.fields).map(([k, v]) => `${k}: ${typeof v === 'string' && !v.startsWith('#') ? JSON.stringify(v) : Array.isArray(v) ? `[${v.join(', ')}]` : String(v)}`)
    lines.push(`${ob.id} ${ob.type} { ${fs.join(', ')} }`)
  }
  if (d.truncated) lines.push(`… more objects (raise --limit)`)
  return lines.join('\n')
}
