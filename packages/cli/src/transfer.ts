/**
 * `makalu export FILE OUT` and `makalu import IN FILE`: a whole heap as the NDJSON of pobj's
 * export format, and back. Export opens FILE read-only with no class (the heap's type table
 * says everything). Import needs classes: by default it recreates them from the export's own
 * type table (pobj's `types: 'from-export'`), so `makalu export a x && makalu import x b` is a
 * full copy of a, compacted (only what the roots reach, in a fresh heap); with `--types
 * MODULE` it uses the @Persistent classes a module exports (moving data to new class
 * versions, fields matched by name).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { PHeap, Class, exportHeap, importHeap, isPersistentClass } from '@makalu/pobj'
import { progressBar } from './progress'

export function exportCommand(file: string, out: string): string {
  const heap = PHeap.open(file, { types: [], readOnly: true, gc: false })
  const bar = progressBar('export')
  try {
    const r = exportHeap(heap, out, { onProgress: (d, t) => bar.update(d, t) })
    bar.done()
    return `${out}: ${r.objects} objects, ${r.roots} roots, ${r.bytes} bytes in ${r.ms.toFixed(0)} ms` +
      (r.stalePointers > 0 ? ` (${r.stalePointers} stale pointers written as null)` : '')
  } finally {
    heap.close()
  }
}

export interface ImportCommandOptions { typesModule?: string; dropUnknownFields?: boolean; size?: number }

/** The @Persistent classes exported by a module (its exports, and one level of objects in them). */
function classesOf(module: string): Class[] {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const m = require(path.resolve(module)) as Record<string, unknown>
  const out = new Set<Class>()
  for (const v of [m, ...Object.values(m)]) {
    if (isPersistentClass(v)) out.add(v)
    else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) if (isPersistentClass(x)) out.add(x)
  }
  if (out.size === 0) throw new Error(`--types ${module}: the module exports no @Persistent class (of this @makalu/pobj)`)
  return [...out]
}

/**
 * Imports IN into FILE: a new heap (sized from IN, growing to 16 times that, at most 4 GiB), or an existing one
 * (its roots must not clash). All roots are published in one transaction at the end, so a
 * crash leaves FILE without any of them; a refused import of a new FILE removes it.
 */
export function importCommand(input: string, file: string, o: ImportCommandOptions): string {
  const types = o.typesModule ? classesOf(o.typesModule) : undefined
  const fresh = !fs.existsSync(file)
  // The heap's data is smaller than its NDJSON; it grows up to 16 times that (metadata is sized for the maximum).
  const size = o.size ?? Math.min(2 ** 32, Math.max(4 << 20, 2 ** Math.ceil(Math.log2(Math.max(1, fs.statSync(input).size)))))
  const heap = fresh
    ? PHeap.create(file, { size, maxSize: Math.min(2 ** 32, Math.max(size, 16 * size)), types, gc: false })
    : PHeap.open(file, { types, gc: false })
  const bar = progressBar('import')
  let ok = false
  try {
    const r = importHeap(heap, input, { types: types ?? 'from-export', dropUnknownFields: o.dropUnknownFields, onProgress: (d, t) => bar.update(d, t) })
    bar.done()
    ok = true
    const notes = [
      r.droppedFields.length > 0 ? `dropped fields: ${r.droppedFields.join(', ')}` : '',
      r.defaultedFields.length > 0 ? `fields not in the data (defaults): ${r.defaultedFields.join(', ')}` : '',
    ].filter((s) => s)
    return `${file}: ${r.objects} objects, ${r.roots.length} roots imported in ${r.ms.toFixed(0)} ms${notes.length ? `; ${notes.join('; ')}` : ''}`
  } finally {
    bar.done()
    if (!heap.closed) heap.close()
    if (!ok && fresh) { fs.rmSync(file, { force: true }); fs.rmSync(`${file}.lock`, { force: true }) }
  }
}
