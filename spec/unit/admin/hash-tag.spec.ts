import calculateSlot from 'cluster-key-slot';
import { describe, expect, it } from 'vitest';
import { sameSlotTag } from '../../../lib/admin/hash-tag.js';
import { requeueMarkerKey } from '../../../lib/admin/dead-letters.js';

describe('sameSlotTag', () => {
  it('lends a name without braces whole', () => {
    expect(sameSlotTag('order-42')).toBe('{order-42}');
    expect(sameSlotTag('a:b:c')).toBe('{a:b:c}');
  });

  it("lends a name's own hash tag: the text between its first { and the first } after it", () => {
    expect(sameSlotTag('orders:{eu}:42')).toBe('{eu}');
    expect(sameSlotTag('{x}y{z}')).toBe('{x}');
    expect(sameSlotTag('a{b{c}d')).toBe('{b{c}');
  });

  it('lends a name with a { and no } whole: the tag it makes ends at the closing brace added', () => {
    expect(sameSlotTag('a{b')).toBe('{a{b}');
  });

  it('has no tag for a name whose first { is followed at once by }, or with a } and no valid tag', () => {
    // Hashed whole by Redis, but wrapping them would end the tag early.
    expect(sameSlotTag('x{}y{z}')).toBeUndefined();
    expect(sameSlotTag('a}b')).toBeUndefined();
    expect(sameSlotTag('}{')).toBeUndefined();
  });

  it('gives a marker key in the slot of the stream, whatever the service and record', () => {
    for (const stream of ['order-42', 'orders:{eu}:42', 'a{b', 'é-ü-日本', `s-${'x'.repeat(300)}`]) {
      const tag = sameSlotTag(stream)!;
      const marker = requeueMarkerKey('orders', tag, '1700000000000-0');
      expect(calculateSlot(marker), `${stream} -> ${marker}`).toBe(calculateSlot(stream));
    }
  });
});
