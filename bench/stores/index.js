'use strict';
// Store registry. Every adapter module exports
//   { id, name, persistent, keyType, valueType, settings, create() }
// (see bench/README.md, "Store adapter interface"). A PersistentMap adapter
// dropped in as stores/pmap.js is picked up automatically and listed first.
const fs = require('node:fs');
const path = require('node:path');

const ORDER = ['pmap', 'lmdb', 'sqlite', 'level', 'jsmap'];

/** Returns [{ id, mod } | { id, error }] for every adapter file present, in ORDER. */
function loadStores() {
  const out = [];
  for (const id of ORDER) {
    const file = path.join(__dirname, `${id}.js`);
    if (!fs.existsSync(file)) continue;
    try {
      out.push({ id, mod: require(file) });
    } catch (e) {
      out.push({ id, error: e && e.message ? e.message.split('\n')[0] : String(e) });
    }
  }
  return out;
}

function loadStore(id) {
  if (!ORDER.includes(id)) throw new Error(`unknown store ${id} (known: ${ORDER.join(', ')})`);
  return require(path.join(__dirname, `${id}.js`));
}

module.exports = { ORDER, loadStores, loadStore };
