import { normaliseOds } from '../../src/domain/ods.js';
import { InvalidInput } from '../../src/domain/errors.js';

test.each([
  ['FA123', 'FA123'],
  ['fa123', 'FA123'],
  [' a81001 ', 'A81001'],
  ['ABC', 'ABC'],
  ['y0000a', 'Y0000A'],
])('%j is stored as %j', (input, stored) => {
  expect(normaliseOds(input)).toBe(stored);
});

test.each(['', 'AB', 'A8100123', 'FA 123', 'FA-12', 'FÄ123', 'FA12;', '1234567'])('%j is refused', (input) => {
  expect(() => normaliseOds(input)).toThrow(InvalidInput);
  expect(() => normaliseOds(input)).toThrow(/3 to 6 letters and digits/);
});
