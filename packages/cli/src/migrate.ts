/**
 * `makalu migrate FILE --types MODULE`: opens FILE with the @Persistent classes a module
 * exports and the migrations it exports as `migrations` (pobj's `PHeap.open(..., { types,
 * migrations })`), so that class changes are applied now, with a progress bar, instead of at
 * the application's next start. Reports each stable name's layout versions before and after
 * and how many objects were rewritten.
 */
import { PHeap, Migration, TypeEntry } from '@makalu/pobj'
import { classesOf, loadModule } from './transfer'
import { progressBar } from './progress'

export function migrateCommand(file: string, typesModule: string): string {
  const m = loadModule(typesModule)
  const types = classesOf(typesModule)
  const migrations = (m.migrations ?? []) as Migration[]
  if (!Array.isArray(migrations)) throw new Error(`--types ${typesModule}: its export 'migrations' is not an array`)
  const versions = (es: readonly TypeEntry[]) => {
    const out = new Map<string, { versions: number; live: number }>()
    for (const e of es) {
      const v = out.get(e.name) ?? { versions: 0, live: 0 }
      v.versions++
      if (!e.retired) v.live++
      out.set(e.name, v)
    }
    return out
  }
  const before = (() => { const h = PHeap.open(file, { types: [], readOnly: true, gc: false }); try { return versions(h.types.all) } finally { h.close() } })()
  const bar = progressBar('migrate')
  let rewritten = 0
  const t0 = performance.now()
  const heap = PHeap.open(file, {
    types, migrations, gc: false,
    onProgress: (p) => { rewritten = p.total; bar.update(p.done, p.total) },
  })
  bar.done()
  try {
    const after = versions(heap.types.all)
    const lines = [...after].filter(([n, a]) => { const b = before.get(n); return !b || b.versions !== a.versions || b.live !== a.live })
      .map(([n, a]) => { const b = before.get(n); return `  ${n}: ${b ? `${b.versions} layout versions (${b.live} with objects)` : 'new'} → ${a.versions} (${a.live} with objects)` })
    return `${file}: ${rewritten} objects rewritten by migrations in ${(performance.now() - t0).toFixed(0)} ms` +
      (lines.length > 0 ? `\n${lines.join('\n')}` : '; the type table already matched the classes')
  } finally {
    heap.close()
  }
}
