/**
 * A progress bar on stderr for long runs, drawn only when stderr is a terminal (a pipe or a
 * file gets nothing: the command's summary line on stdout says what was done). Redrawn at
 * most every 100 ms; `done()` ends the line.
 */
export interface Progress {
  update(done: number, total: number): void
  done(): void
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update() { /* not a terminal */ }, done() { /* nothing drawn */ } }
  const width = 30
  let last = 0
  let drawn = false
  const t0 = Date.now()
  const draw = (d: number, t: number): void => {
    const f = t > 0 ? Math.min(1, d / t) : 1
    const fill = Math.round(f * width)
    const secs = (Date.now() - t0) / 1000
    const rate = secs > 0 ? ` ${Math.round(d / secs).toLocaleString('en-US')}/s` : ''
    stream.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(f * 100).toFixed(0).padStart(3)}% ${d}/${t}${rate}\x1b[K`)
    drawn = true
  }
  return {
    update(d, t) {
      const now = Date.now()
      if (now - last < 100 && d < t) return
      last = now
      draw(d, t)
    },
    done() { if (drawn) stream.write('\n') },
  }
}
