/**
 * The kill kit of the cross-package tests: runs a child script, hands every line it prints to
 * `onLine` (with a `kill` that sends SIGKILL once), and resolves at 'close' with every line.
 * A child that ends by itself (not killed) rejects, unless `mayExit`.
 */
import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

export interface KillRun { lines: string[]; killed: boolean }

export function runUntilKilled(script: string, args: string[], onLine: (line: string, kill: () => void) => void,
  opts: { killAfterMs?: number; mayExit?: boolean } = {}): Promise<KillRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const lines: string[] = []
    let buf = ''
    let err = ''
    let killed = false
    const kill = (): void => { if (!killed) { killed = true; child.kill('SIGKILL') } }
    if (opts.killAfterMs !== undefined) setTimeout(kill, opts.killAfterMs)
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (d: string) => {
      buf += d
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        lines.push(line)
        onLine(line, kill)
      }
    })
    child.stderr.on('data', (d) => { err += d })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL' && !opts.mayExit) return reject(new Error(`child ended ${code}/${signal} before the kill: ${err}`))
      resolve({ lines, killed })
    })
  })
}

/** A fresh temporary directory for the enclosing describe (made before its tests, removed after): call the result for its path. */
export function tempDir(prefix: string): () => string {
  let dir = ''
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix)) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return () => dir
}
