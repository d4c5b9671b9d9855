/**
 * `makalu picture FILE OUT.svg`: a picture of the heap, as SVG (no browser needed): the chunk
 * map (one square per chunk: free, a run coloured by its block size and shaded by how full it
 * is, or part of a large object), and the bytes per type against the free space.
 */
import { Opened, superblockOf } from './open-heap'

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]!))
const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac']

export function picture(o: Opened, title: string): string {
  const raw = o.raw
  const sb = superblockOf(raw)
  const stats = raw.stats()
  const chunkSize = sb.chunkSize
  const chunks = stats.chunks
  const dataOff = sb.dataOff
  // Per chunk: the block size of its run and the bytes in use, or a large object's part.
  const blockSize = new Float64Array(chunks)
  const usedIn = new Float64Array(chunks)
  const large = new Uint8Array(chunks)
  raw.forEachBlock((p, size) => {
    const c = Math.floor((p - dataOff) / chunkSize)
    if (size >= chunkSize) { for (let k = 0; k < size / chunkSize; k++) large[c + k] = k === 0 ? 1 : 2 }
    else { blockSize[c] = size; usedIn[c] += size }
  })
  const sizes = [...new Set([...blockSize].filter((s) => s > 0))].sort((a, b) => a - b)
  const colourOf = new Map(sizes.map((s, i) => [s, PALETTE[i % PALETTE.length]]))

  const cols = Math.min(64, Math.max(16, Math.ceil(Math.sqrt(chunks))))
  const cell = chunks > 4096 ? 6 : 10
  const shown = Math.min(chunks, cols * 128)
  const rows = Math.ceil(shown / cols)
  const mapW = cols * cell
  const W = Math.max(mapW + 40, 640)
  const parts: string[] = []
  let y = 24
  parts.push(`<text x="20" y="${y}" font-size="16" font-weight="bold">${esc(title)}</text>`)
  y += 18
  parts.push(`<text x="20" y="${y}" font-size="11" fill="#555">${chunks} chunks of ${chunkSize / 1024} KiB · ${(stats.used / 2 ** 20).toFixed(2)} MiB used of ` +
    `${(stats.capacity / 2 ** 20).toFixed(2)} MiB · ${stats.liveBlocks} blocks · ${stats.freeChunks} free chunks${shown < chunks ? ` · first ${shown} chunks shown` : ''}</text>`)
  y += 12
  for (let c = 0; c < shown; c++) {
    const x = 20 + (c % cols) * cell
    const yy = y + Math.floor(c / cols) * cell
    let fill = '#e8e8e8'
    let opacity = 1
    if (large[c]) fill = large[c] === 1 ? '#1f3b73' : '#34568f'
    else if (blockSize[c] > 0) { fill = colourOf.get(blockSize[c])!; opacity = 0.25 + 0.75 * Math.min(1, usedIn[c] / chunkSize) }
    parts.push(`<rect x="${x}" y="${yy}" width="${cell - 1}" height="${cell - 1}" fill="${fill}" fill-opacity="${opacity.toFixed(2)}"/>`)
  }
  y += rows * cell + 16
  // Legend: block sizes, large, free.
  const legend: Array<[string, string]> = [...sizes.slice(0, 10).map((s) => [colourOf.get(s)!, `${s} B blocks`] as [string, string]),
    ['#1f3b73', 'large object'], ['#e8e8e8', 'free chunk']]
  legend.forEach(([colour, label], i) => {
    const x = 20 + (i % 4) * 150
    const yy = y + Math.floor(i / 4) * 16
    parts.push(`<rect x="${x}" y="${yy - 9}" width="10" height="10" fill="${colour}"/><text x="${x + 14}" y="${yy}" font-size="11">${esc(label)}</text>`)
  })
  y += Math.ceil(legend.length / 4) * 16 + 6
  parts.push(`<text x="20" y="${y}" font-size="10" fill="#777">a run's shade: how full it is (pale: nearly empty)</text>`)
  y += 22
  // Bytes per type against free space.
  const bars: Array<[string, number]> = []
  if (o.pobj) {
    const ps = o.pobj.stats()
    for (const [name, t] of Object.entries(ps.types)) if (t.bytes > 0) bars.push([`${name} (${t.count})`, t.bytes])
    if (ps.strings.bytes > 0) bars.push([`strings (${ps.strings.count})`, ps.strings.bytes])
    if (ps.arrays.bytes > 0) bars.push([`arrays (${ps.arrays.count})`, ps.arrays.bytes])
    if (ps.typeTable.bytes > 0) bars.push(['type table', ps.typeTable.bytes])
  } else bars.push(['blocks', stats.used])
  bars.sort((a, b) => b[1] - a[1])
  bars.push(['free', stats.free])
  parts.push(`<text x="20" y="${y}" font-size="13" font-weight="bold">bytes</text>`)
  y += 8
  const barW = W - 260
  for (const [label, bytes] of bars.slice(0, 16)) {
    const w = Math.max(1, Math.round((bytes / stats.capacity) * barW))
    parts.push(`<rect x="20" y="${y}" width="${w}" height="12" fill="${label === 'free' ? '#cfcfcf' : '#4e79a7'}"/>` +
      `<text x="${24 + w}" y="${y + 10}" font-size="11">${esc(label)}: ${bytes >= 2 ** 20 ? (bytes / 2 ** 20).toFixed(2) + ' MiB' : bytes >= 1024 ? (bytes / 1024).toFixed(1) + ' KiB' : bytes + ' B'}</text>`)
    y += 16
  }
  y += 10
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join('')}</svg>\n`
}
