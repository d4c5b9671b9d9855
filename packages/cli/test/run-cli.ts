/** The CLI tests' kit: runs the real `makalu` binary (the compiled main.js) as a child process. */
import { spawnSync } from 'node:child_process'
import * as crypto from 'node:crypto'
import * as fs from 'node:fs'
import * as path from 'node:path'

export const MAIN = path.join(__dirname, '..', 'src', 'main.js')

export function makalu(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

/** A file's SHA-1, to show that a command left it unchanged. */
export const sha = (p: string): string => crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')
