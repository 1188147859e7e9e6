// The counter-based hash of src/util/rng.ts, bit for bit (u32 arithmetic wraps modulo 2^32, like Math.imul and >>> 0
// in JS), pasted where a shader says `#include hash32`: dropout's mask and randn's samples.

// lowbias32 (Chris Wellons), as mix32 in src/util/rng.ts.
fn mix32(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

fn hash32(a: u32, b: u32, c: u32) -> u32 {
  var h = mix32(a ^ 0x9e3779b9u);
  h = mix32(h ^ b);
  return mix32(h ^ c);
}
