// fnv1a64 against the published FNV-1a-64 test vectors (isthe.com/chongo/tech/comp/fnv) and
// against a BigInt reference on random bytes.
import assert from 'node:assert/strict';
import test from 'node:test';
import { fnv1a64, Sfc32Rng } from '../src/index.js';

const ascii = (s: string) => new TextEncoder().encode(s);

test('fnv1a64 gives the published FNV-1a-64 values', () => {
  assert.equal(fnv1a64(ascii('')), 'cbf29ce484222325');
  assert.equal(fnv1a64(ascii('a')), 'af63dc4c8601ec8c');
  assert.equal(fnv1a64(ascii('foobar')), '85944171f73967e8');
});

function referenceFnv1a64(bytes: Uint8Array): string {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

test('fnv1a64 equals a BigInt FNV-1a-64 on random bytes of every length up to 300', () => {
  const rng = new Sfc32Rng(7);
  for (let length = 0; length <= 300; length++) {
    const bytes = Uint8Array.from({ length }, () => Math.floor(rng.random() * 256));
    assert.equal(fnv1a64(bytes), referenceFnv1a64(bytes), `length ${length}`);
  }
});
