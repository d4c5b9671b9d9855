'use strict';
// Deterministic workload data shared by every store and by the kill -9 child.
// Keys: 16 ASCII bytes (16 hex digits), unique by construction (fmix32 is a
// bijection on 32-bit integers). Values: 64 printable ASCII bytes, so the byte
// form and the latin1/utf8 string form are the same 64 bytes.

const KEY_BYTES = 16;
const VALUE_BYTES = 64;

// murmur3 fmix32: a bijection on uint32.
function fmix32(h) {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function hex8(x) {
  return x.toString(16).padStart(8, '0');
}

/** Key i (0 <= i < 2^32): 16 hex digits, scattered so inserts are in random key order. */
function keyAt(i) {
  return hex8(fmix32(i)) + hex8(fmix32((i ^ 0x9e3779b9) >>> 0));
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Small seeded PRNG (xorshift32). */
function rng(seed) {
  let s = seed >>> 0 || 0x2545f491;
  return function next() {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s;
  };
}

/**
 * Build n keys and n values. `generation` changes the value bytes (used by the
 * kill -9 child to overwrite existing keys with different values).
 * Returns { keys: string[], keyBufs: Buffer[], values: Buffer[], valueStrs: string[] }.
 * Buffers are views into one slab each (cheap to build).
 */
function makeData(n, generation = 0) {
  const keys = new Array(n);
  const keyBufs = new Array(n);
  const values = new Array(n);
  const valueStrs = new Array(n);
  const kslab = Buffer.allocUnsafe(n * KEY_BYTES);
  const vslab = Buffer.allocUnsafe(n * VALUE_BYTES);
  const next = rng(0x5eed + generation * 7919);
  for (let i = 0; i < n; i++) {
    kslab.write(keyAt(i), i * KEY_BYTES, KEY_BYTES, 'latin1');
    // A flat (sequential) string read back from the slab: keyAt() builds a cons
    // string, which every store would pay to flatten on first use.
    keys[i] = kslab.latin1Slice(i * KEY_BYTES, (i + 1) * KEY_BYTES);
    keyBufs[i] = kslab.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES);
    const off = i * VALUE_BYTES;
    for (let j = 0; j < VALUE_BYTES; j += 4) {
      const r = next();
      vslab[off + j] = ALPHABET.charCodeAt(r & 63);
      vslab[off + j + 1] = ALPHABET.charCodeAt((r >>> 6) & 63);
      vslab[off + j + 2] = ALPHABET.charCodeAt((r >>> 12) & 63);
      vslab[off + j + 3] = ALPHABET.charCodeAt((r >>> 18) & 63);
    }
    values[i] = vslab.subarray(off, off + VALUE_BYTES);
    valueStrs[i] = vslab.latin1Slice(off, off + VALUE_BYTES);
  }
  return { keys, keyBufs, values, valueStrs };
}

/** A seeded random permutation of 0..n-1 (Fisher-Yates), as a Uint32Array. */
function permutation(n, seed = 12345) {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const next = rng(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = next() % (i + 1);
    const t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

/** True if a store's answer (Buffer, Uint8Array or string) equals the 64-byte value. */
function sameValue(got, expected) {
  if (got === undefined || got === null) return false;
  if (typeof got === 'string') return got === expected.latin1Slice(0, expected.length);
  if (got instanceof Uint8Array) return Buffer.compare(Buffer.from(got.buffer, got.byteOffset, got.byteLength), expected) === 0;
  return false;
}

module.exports = { KEY_BYTES, VALUE_BYTES, keyAt, makeData, permutation, sameValue, rng };
