/** `makalu info FILE`: format, sizes, state, roots, type table and use per type. */
import { loadNative, nativeLoadFailure } from '@makalu/allocator'
import { Opened, superblockOf } from './open-heap'

export function info(o: Opened, file: string): Record<string, unknown> {
  const sb = superblockOf(o.raw)
  const s = o.raw.stats()
  const rec = o.raw.recovery
  const out: Record<string, unknown> = {
    file,
    format: { version: sb.version, owner: sb.owner || '(raw allocator heap)', chunkSize: sb.chunkSize, maxSize: sb.maxChunks * sb.chunkSize },
    state: rec.clean ? 'clean (closed cleanly)' : `dirty (${rec.reason === 'crash' ? 'open elsewhere, or not closed' : rec.reason}); traced in memory: ` +
      `${rec.reclaimedBlocks} unreachable blocks, ${rec.rolledBackTransaction ? 'an unfinished transaction rolled back' : 'no unfinished transaction'}`,
    sizes: { file: s.size, capacity: s.capacity, used: s.used, free: s.free, largestFree: s.largestFree, liveBlocks: s.liveBlocks,
      chunks: s.chunks, freeChunks: s.freeChunks },
    roots: Object.fromEntries(o.raw.roots().map(([n, p]) => [n, p])),
    native: loadNative() ? 'the mmap addon is loaded (backend mmap by default)' : `not built (${nativeLoadFailure()}): backend file only`,
  }
  if (o.pobj) {
    const ps = o.pobj.stats()
    // Objects and bytes per type id, that is per layout version (stats() sums a stable name's versions).
    const perId = new Map<number, { count: number; bytes: number }>()
    const b = o.raw.bytes
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
    o.raw.forEachBlock((p, size) => {
      const t = dv.getUint32(p, true)
      const c = perId.get(t) ?? { count: 0, bytes: 0 }
      c.count++
      c.bytes += size
      perId.set(t, c)
    })
    out.types = o.pobj.types.all.map((e) => ({
      typeId: e.typeId, name: e.name, layoutVersion: e.layoutVersion, ...(e.retired ? { retired: true } : {}), size: e.size,
      fields: e.fields.map((f) => `${f.name}: ${f.kind}${f.element ? `<${f.element}>` : ''}${f.target ? ` → ${f.target}` : ''} @${f.offset}`),
      objects: perId.get(e.typeId)?.count ?? 0, bytes: perId.get(e.typeId)?.bytes ?? 0,
    }))
    out.strings = ps.strings
    out.bytes = ps.bytes
    out.records = ps.records
    out.arrays = ps.arrays
    out.forwarders = ps.forwarders
  }
  return out
}
