import { newClientId } from '../../src/domain/clients.js';

test('client ids are 16 base64url characters, never starting with "-" or "_" (a CLI would read "-..." as a flag)', () => {
  // Without the rule, about one id in 64 starts with "-" or "_"; in 3,000 draws that is all but certain.
  const ids = Array.from({ length: 3_000 }, () => newClientId());
  for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{15}$/);
  expect(new Set(ids).size).toBe(ids.length);
});
