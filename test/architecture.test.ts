/**
 * Guards on the shape of the code: dependencies point down only (allocator ← pobj ← examples,
 * cli), no package imports another's internals (only its name), and no import cycle inside a
 * package's sources. Reads the TypeScript sources as text.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as path from 'node:path'

const ROOT = path.resolve(__dirname, '..', '..')
const LAYERS: Record<string, string[]> = {
  allocator: [],
  pobj: ['allocator'],
  examples: ['allocator', 'pobj'],
  cli: ['allocator', 'pobj'],
}
/** What a package's library sources (src/) may import: the examples are built on pobj's API alone. */
const LIBRARY_LAYERS: Record<string, string[]> = { ...LAYERS, examples: ['pobj'] }

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"\n]*?from\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1] ?? m[2])
  return out
}

describe('architecture', () => {
  for (const [pkg, allowed] of Object.entries(LAYERS)) {
    it(`${pkg}: imports only ${allowed.length ? allowed.map((a) => '@makalu/' + a).join(', ') : 'no other package'} (its library: ${LIBRARY_LAYERS[pkg].map((a) => '@makalu/' + a).join(', ') || 'none'}), by package name only`, () => {
      const bad: string[] = []
      for (const dir of ['src', 'test', 'bench']) {
        const d = path.join(ROOT, 'packages', pkg, dir)
        if (!fs.existsSync(d)) continue
        for (const f of sources(d)) {
          for (const spec of importsOf(f)) {
            const m = /^@makalu\/([^/]+)(\/.*)?$/.exec(spec)
            if (!m) continue
            if (m[2]) bad.push(`${path.relative(ROOT, f)}: deep import '${spec}'`)
            const ok = dir === 'src' ? LIBRARY_LAYERS[pkg] : allowed
            if (!ok.includes(m[1]) && m[1] !== pkg) bad.push(`${path.relative(ROOT, f)}: '${spec}' is not below ${pkg}${dir === 'src' ? ' (library sources)' : ''}`)
          }
        }
      }
      expect(bad).to.deep.equal([])
    })

    it(`${pkg}: no import cycle among its sources`, () => {
      const dir = path.join(ROOT, 'packages', pkg, 'src')
      const files = sources(dir)
      const edges = new Map<string, string[]>()
      for (const f of files) {
        edges.set(f, importsOf(f).filter((s) => s.startsWith('.')).map((s) => {
          const base = path.resolve(path.dirname(f), s)
          return [base + '.ts', path.join(base, 'index.ts')].find((c) => fs.existsSync(c)) ?? base
        }))
      }
      // Type-only imports do not run; `import type` lines are left out by a second pass.
      for (const f of files) {
        const typeOnly = new Set([...fs.readFileSync(f, 'utf8').matchAll(/import\s+type\s[^'"\n]*from\s+['"]([^'"]+)['"]/g)]
          .map((m) => path.resolve(path.dirname(f), m[1]) + '.ts'))
        edges.set(f, edges.get(f)!.filter((t) => !typeOnly.has(t)))
      }
      const state = new Map<string, 1 | 2>()
      const cycles: string[] = []
      const visit = (f: string, trail: string[]): void => {
        if (state.get(f) === 2) return
        if (state.get(f) === 1) { cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(dir, x)).join(' → ')); return }
        state.set(f, 1)
        for (const t of edges.get(f) ?? []) if (edges.has(t)) visit(t, [...trail, f])
        state.set(f, 2)
      }
      for (const f of files) visit(f, [])
      expect(cycles).to.deep.equal([])
    })
  }
})
