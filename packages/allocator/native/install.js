#!/usr/bin/env node
// Install step of @makalu/allocator: builds native/mmap.cc into build/Release/makalu_mmap.node.
// Never fails the install: without the addon, openRegion falls back to FileRegion.
//
// Headers: node-gyp would download them, and there may be no network. When the
// running node has its headers installed beside it (<prefix>/include/node), or
// npm passes nodedir (npm_config_nodedir), the build uses those.
'use strict'
const { spawnSync } = require('child_process')
const fs = require('fs')
const path = require('path')

const pkg = path.resolve(__dirname, '..')

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp, // npm's bundled node-gyp, set by npm for scripts
    (() => { try { return require.resolve('node-gyp/bin/node-gyp.js', { paths: [pkg] }) } catch { return undefined } })(),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ]
  return candidates.find((c) => c && fs.existsSync(c))
}

function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir
  const prefix = path.resolve(path.dirname(process.execPath), '..')
  return fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined
}

function main() {
  const gyp = findNodeGyp()
  if (!gyp) return fail('node-gyp not found')
  const args = [gyp, 'rebuild']
  const nodedir = findNodeDir()
  if (nodedir) args.push(`--nodedir=${nodedir}`)
  const res = spawnSync(process.execPath, args, { cwd: pkg, stdio: 'inherit' })
  if (res.error) return fail(res.error.message)
  if (res.status !== 0) return fail(`node-gyp exited with ${res.status ?? res.signal}`)
  const built = path.join(pkg, 'build', 'Release', 'makalu_mmap.node')
  try {
    require(built)
  } catch (e) {
    return fail(`the built addon does not load: ${e.message}`)
  }
  console.log(`@makalu/allocator: native mmap addon built (${path.relative(process.cwd(), built) || built})`)
}

function fail(why) {
  console.warn(`@makalu/allocator: native mmap addon did not build (${why}); the FileRegion fallback will be used`)
}

main()
