import { expect } from 'chai'
import { SimRegion } from '../src'

describe('SimRegion (smoke)', () => {
  it('keeps drained data and drops unflushed data in strict mode', () => {
    const r = new SimRegion(4096)
    r.bytes[8] = 1
    r.flush(8, 1)
    r.drain()
    r.bytes[16] = 2
    const img = r.crash({ mode: 'strict' })
    expect(img[8]).to.equal(1)
    expect(img[16]).to.equal(0)
  })
})
