import { InvalidInput } from './errors.js';

/** ODS codes: 3 to 6 letters and digits, stored upper-case (FA123, A81001). */
export function normaliseOds(input: string): string {
  const ods = input.trim().toUpperCase();
  if (!/^[A-Z0-9]{3,6}$/.test(ods)) throw new InvalidInput('An ODS code is 3 to 6 letters and digits, like FA123 or A81001', 'ods');
  return ods;
}
