/**
 * 居民身份证号码 (GB 11643-1999) as typed at the door: the check character (ISO 7064 MOD 11-2),
 * the birth date and the sex read from the number. A port of `geodata/src/idcard.rs`; the server
 * checks again and answers 422 for a number it refuses.
 */

/** The weights of ISO 7064 MOD 11-2 for the 17 body digits. */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
/** The check character for each remainder 0..=10 of the weighted sum mod 11. */
const CHECK = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'] as const;

/** The GB 11643 check character of a 17-digit body (the caller gives ASCII digits). */
export function checkChar(body: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (body.charCodeAt(i) - 48) * WEIGHTS[i]!;
  return CHECK[sum % 11]!;
}

/** What a typed number says, or why it is not one yet. */
export type IdReading =
  | { ok: true; number: string; sex: 'male' | 'female'; birthDate: string }
  | { ok: false; problem: 'length' | 'digit' | 'birth' | 'check'; length?: number; position?: number; expected?: string; birthDate?: string };

function validBirth(yyyymmdd: string): boolean {
  const y = Number(yyyymmdd.slice(0, 4));
  const m = Number(yyyymmdd.slice(4, 6));
  const d = Number(yyyymmdd.slice(6, 8));
  if (y < 1900 || y > 2100 || m < 1 || m > 12 || d < 1) return false;
  return d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

/** Reads `typed` (spaces around ignored, lowercase x accepted) as `IdNumber::parse` does. */
export function readIdNumber(typed: string): IdReading {
  const s = typed.trim().toUpperCase();
  if (s.length !== 18) return { ok: false, problem: 'length', length: s.length };
  for (let i = 0; i < 18; i++) {
    const c = s[i]!;
    if (!((c >= '0' && c <= '9') || (i === 17 && c === 'X'))) return { ok: false, problem: 'digit', position: i + 1 };
  }
  const birth = s.slice(6, 14);
  if (!validBirth(birth)) return { ok: false, problem: 'birth', birthDate: birth };
  const birthDate = `${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}`;
  const expected = checkChar(s.slice(0, 17));
  if (s[17] !== expected) return { ok: false, problem: 'check', expected, birthDate };
  return { ok: true, number: s, sex: Number(s[16]) % 2 === 1 ? 'male' : 'female', birthDate };
}
