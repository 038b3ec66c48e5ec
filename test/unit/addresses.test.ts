import { addressKey, seenAddress, typedAddressKey } from '../../src/domain/addresses.js';

describe('addressKey: the unit every per-address limit counts', () => {
  test('every spelling of one IPv4 client is that IPv4 address', () => {
    const spellings = [
      '203.0.113.5', ' 203.0.113.5 ', '::ffff:203.0.113.5', '::FFFF:cb00:7105', '203.0.113.5:40001', '[::ffff:203.0.113.5]:40003',
      '0:0:0:0:0:ffff:203.0.113.5', '0000:0000:0000:0000:0000:ffff:cb00:7105', '[::ffff:cb00:7105]', '64:ff9b::203.0.113.5',
    ];
    for (const s of spellings) expect([s, addressKey(s)]).toEqual([s, '203.0.113.5']);
  });

  test('an IPv6 address counts as its /64, whatever its spelling or port', () => {
    for (const s of ['2001:db8:1:2::1', '2001:DB8:1:2:ffff:1:2:3', '[2001:db8:1:2::c]:443', '2001:0db8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::1%eth0']) {
      expect([s, addressKey(s)]).toEqual([s, '2001:db8:1:2::/64']);
    }
    expect(addressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8::/64');
    expect(addressKey('::1')).toBe('::/64');
    expect(addressKey('1:0:2:0:3::')).toBe('1:0:2::/64');
  });

  test('anything else counts as itself, bounded in length', () => {
    expect(addressKey('unknown')).toBe('unknown');
    const long = addressKey('x'.repeat(5000));
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).not.toBe(addressKey('y'.repeat(5000)));
    expect(addressKey('x'.repeat(5000))).toBe(long);
    expect(addressKey('a\u0000b')).toMatch(/^unparsed-[0-9a-f]{32}$/);
  });
});

describe('seenAddress: what the audit trail records', () => {
  test('one spelling: IPv4-mapped back to IPv4, no port, IPv6 in RFC 5952 form', () => {
    expect(seenAddress('[::ffff:203.0.113.5]:40003')).toBe('203.0.113.5');
    expect(seenAddress('203.0.113.5:40001')).toBe('203.0.113.5');
    expect(seenAddress('2001:0DB8:0000:0000:0001:0000:0000:0001')).toBe('2001:db8::1:0:0:1');
    expect(seenAddress('[2001:db8:1:2::c]:443')).toBe('2001:db8:1:2::c');
    expect(seenAddress('1:2:3:4:5:6:7:8')).toBe('1:2:3:4:5:6:7:8');
  });
});

describe('typedAddressKey: an address an operator types', () => {
  test('takes an address in any spelling, or a /64 as pharmid shows it; refuses anything else', () => {
    expect(typedAddressKey('2001:db8:1:2::/64')).toBe('2001:db8:1:2::/64');
    expect(typedAddressKey('2001:db8:1:2::77')).toBe('2001:db8:1:2::/64');
    expect(typedAddressKey('::ffff:203.0.113.5')).toBe('203.0.113.5');
    expect(typedAddressKey('pharmacy')).toBeUndefined();
    expect(typedAddressKey('')).toBeUndefined();
  });
});
