import { spawn } from 'child_process'

/**
 * The allocator tests' SIGKILL kit: runs `node script ...args`, hands every `ack ...` line of
 * its stdout to `onAck` (split on spaces, without the `ack`), SIGKILLs the child after the
 * `acks`-th one, and resolves once the child is gone ('close': every line read), so the last
 * ack seen is the last the child wrote. A child that ends any other way rejects, with its stderr.
 */
export function killAfterAcks(script: string, args: string[], acks: number, onAck: (fields: string[]) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let seen = 0
    let buf = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString()
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const fields = buf.slice(0, nl).split(' ')
        buf = buf.slice(nl + 1)
        if (fields[0] !== 'ack') continue
        onAck(fields.slice(1))
        if (++seen === acks) child.kill('SIGKILL')
      }
    })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve()
      else reject(new Error(`child ${script} exited with ${code}: ${err}`))
    })
  })
}
