#!/usr/bin/env node
/**
 * makalu: inspect heap files without the application's classes.
 *
 *   makalu info FILE [--json]                    format, sizes, state, roots, types, use per type
 *   makalu check FILE [--repair]                 every invariant; exit 1 on a violation or damage
 *   makalu dump FILE [ROOT] [--json] [--limit N] the objects reachable from a root (or all roots)
 *   makalu backup FILE COPY                      a consistent copy (takes the lock: the heap must not be open)
 *   makalu gc FILE                               an offline collection of a pobj heap, and its report
 *   makalu export FILE OUT                       every root and what it reaches, as NDJSON (no class needed)
 *   makalu import IN FILE [--types MODULE]       an export into a new (or existing) heap, all roots at once
 *
 * Every command but `check --repair`, `backup`, `gc` and `import` opens the file read-only: no lock, nothing
 * written, a recovery (if the heap is dirty) runs in a private copy.
 */
import 'reflect-metadata'
import { parseArgs } from 'node:util'
import { MakaluError } from '@makalu/allocator'
import { openHeap, closeHeap } from './open-heap'
import { info } from './info'
import { picture } from './picture'
import * as fs from 'node:fs'
import * as path from 'node:path'
// eslint-disable-next-line @typescript-eslint/no-var-requires
const VERSION: string = require('../../package.json').version
import { dump, dumpText } from './dump'
import { exportCommand, importCommand } from './transfer'

const HELP: Record<string, string> = {
  info: 'makalu info FILE [--json]\n  Format, owner, sizes, state, roots, the type table, objects and bytes per type. Read-only.',
  check: 'makalu check FILE [--repair]\n  Every invariant of the heap; exit 1 on a violation or damage. Read-only unless --repair,\n  which opens for writing: a dirty heap is recovered on disk.',
  dump: 'makalu dump FILE [ROOT] [--json] [--limit N]\n  The objects reachable from ROOT (or every user root), breadth-first, each once, at most N\n  (default 1000). Read-only; needs none of the application classes.',
  backup: 'makalu backup FILE COPY\n  A consistent copy of FILE in the new file COPY (heap.backup). Takes the lock: FILE must not be open.',
  picture: 'makalu picture FILE OUT.svg\n  An SVG of the chunk map (runs by block size and fill, large objects, free chunks) and the bytes\n  per type against the free space. Read-only.',
  gc: 'makalu gc FILE\n  Frees every block no root reaches (an offline collection of a pobj heap) and reports it. Takes the lock.',
  export: 'makalu export FILE OUT\n  Every user root and everything it reaches, each object once, as NDJSON in the new file OUT\n' +
    '  (pobj\'s export format: a header with the type table and the roots, then one line per object).\n' +
    '  Read-only; needs none of the application classes. A progress bar on stderr when it is a terminal.',
  import: 'makalu import IN FILE [--types MODULE] [--drop-unknown-fields] [--size BYTES]\n' +
    '  Imports the export IN into FILE (created if missing, sized from IN, growing to 16 times that; an existing\n' +
    '  heap must not have roots of the same names). Without --types the classes are recreated from the\n' +
    '  type table in IN, so `export` then `import` is a full, compacted copy. With --types, the @Persistent\n' +
    '  classes MODULE exports (a .js file) take the data, fields matched by name: a field the data lacks\n' +
    '  reads its default; one the class lacks is an error unless --drop-unknown-fields. Every root is\n' +
    '  published in one transaction at the end: a crash or an error leaves none of them.',
}
const USAGE = `usage (exit codes: 0 ok, 1 a heap error or a failed check, 2 a usage error):\n${Object.values(HELP).map((h) => '  ' + h.split('\n')[0]).join('\n')}\n  makalu --version\n  makalu help COMMAND`

function show(v: unknown, json: boolean): string {
  return json ? JSON.stringify(v, null, 2) : Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${k}: ${typeof x === 'object' && x !== null ? JSON.stringify(x, null, 2) : String(x)}`).join('\n')
}

export function main(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n')): number {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      json: { type: 'boolean' }, repair: { type: 'boolean' }, limit: { type: 'string' },
      types: { type: 'string' }, 'drop-unknown-fields': { type: 'boolean' }, size: { type: 'string' },
      help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' },
    },
  })
  const [command, file, arg] = positionals
  if (values.version) { out(VERSION); return 0 }
  if (command === 'help') { out(HELP[file] ?? USAGE); return HELP[file] || file === undefined ? 0 : 2 }
  if (values.help && command && HELP[command]) { out(HELP[command]); return 0 }
  if (values.help || !command) { out(USAGE); return command ? 0 : 2 }
  if (!file) { out(`makalu ${command}: FILE is missing\n${USAGE}`); return 2 }
  const json = values.json === true
  switch (command) {
    case 'info': {
      const o = openHeap(file)
      try { out(show(info(o, file), json)) } finally { closeHeap(o) }
      return 0
    }
    case 'check': {
      const o = openHeap(file, { write: values.repair === true })
      try {
        const r = o.raw.check()
        const rec = o.raw.recovery
        const st = o.raw.stats()
        out(`${file}: ${r.ok ? 'ok' : `${r.violations.length} violation(s)`}; ${st.liveBlocks} blocks, ${st.used} bytes, ${r.stalePointers} stale pointers; ` +
          `${rec.clean ? 'clean' : values.repair ? 'recovered (written)' : 'dirty (recovered in memory only; --repair writes it)'}`)
        for (const v of r.violations) out(`  ${v}`)
        return r.ok ? 0 : 1
      } finally { closeHeap(o) }
    }
    case 'dump': {
      const limit = values.limit === undefined ? 1000 : Number(values.limit)
      if (!(Number.isInteger(limit) && limit > 0)) { out(`makalu dump: --limit must be a positive integer, got ${values.limit}`); return 2 }
      const o = openHeap(file)
      try {
        const d = dump(o, arg, limit)
        out(json ? JSON.stringify(d, null, 2) : dumpText(d))
      } finally { closeHeap(o) }
      return 0
    }
    case 'backup': {
      if (!arg) { out(`makalu backup: COPY is missing\n${USAGE}`); return 2 }
      const o = openHeap(file, { write: true })
      try {
        const r = o.raw.backup(arg)
        out(`${arg}: ${r.bytes} bytes in ${r.ms.toFixed(1)} ms`)
      } finally { closeHeap(o) }
      return 0
    }
    case 'picture': {
      if (!arg) { out(`makalu picture: OUT.svg is missing\n${HELP.picture}`); return 2 }
      const o = openHeap(file)
      try { fs.writeFileSync(arg, picture(o, path.basename(file))) } finally { closeHeap(o) }
      out(`${arg}: written`)
      return 0
    }
    case 'gc': {
      const o = openHeap(file, { write: true })
      try {
        if (!o.pobj) { out('makalu gc: a raw allocator heap has no type table to trace with; only pobj heaps'); return 1 }
        const r = o.pobj.gc({ fromHandles: false })
        out(`${file}: ${r.markedBlocks} blocks reachable, ${r.freedBlocks} freed (${r.freedBytes} bytes) in ${r.ms.toFixed(1)} ms`)
      } finally { closeHeap(o) }
      return 0
    }
    case 'export': {
      if (!arg) { out(`makalu export: OUT is missing\n${HELP.export}`); return 2 }
      out(exportCommand(file, arg))
      return 0
    }
    case 'import': {
      if (!arg) { out(`makalu import: FILE (the heap to import into) is missing\n${HELP.import}`); return 2 }
      const size = values.size === undefined ? undefined : Number(values.size)
      if (size !== undefined && !(Number.isSafeInteger(size) && size > 0)) { out(`makalu import: --size must be a number of bytes, got ${values.size}`); return 2 }
      out(importCommand(file, arg, { typesModule: values.types, dropUnknownFields: values['drop-unknown-fields'] === true, size }))
      return 0
    }
    default:
      out(`makalu: unknown command '${command}'\n${USAGE}`)
      return 2
  }
}

if (require.main === module) {
  try {
    process.exitCode = main(process.argv.slice(2))
  } catch (e) {
    const err = e as Error
    process.stderr.write(`makalu: ${err instanceof MakaluError ? `${err.name} (${(err as MakaluError).code}): ` : ''}${err.message}\n`)
    process.exitCode = err instanceof MakaluError ? 1 : 3
  }
}
