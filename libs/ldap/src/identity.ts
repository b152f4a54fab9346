// An Active Directory object's immutable identity: objectGUID (16 bytes, never reused, kept across
// renames and moves) and objectSid (kept across renames, changed by a move to another domain).

const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * objectGUID bytes → the text form AD tools show ({xxxxxxxx-xxxx-...} without braces, lower case). The
 * first three groups are little-endian in the bytes, so this is not a plain hex dump.
 */
export function guidFromBytes(bytes: Buffer): string {
  if (bytes.length !== 16) throw new Error(`objectGUID must be 16 bytes (got ${bytes.length})`);
  const hex = (from: number, to: number, reverse: boolean) => {
    const part = [...bytes.subarray(from, to)];
    return (reverse ? part.reverse() : part).map((b) => b.toString(16).padStart(2, '0')).join('');
  };
  return [hex(0, 4, true), hex(4, 6, true), hex(6, 8, true), hex(8, 10, false), hex(10, 16, false)].join('-');
}

/** The inverse of guidFromBytes; throws on anything but the canonical text form. */
export function guidToBytes(text: string): Buffer {
  const t = text.toLowerCase();
  if (!GUID_TEXT.test(t)) throw new Error('objectGUID: expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx');
  const h = t.replace(/-/g, '');
  const at = (i: number) => h.slice(i * 2, i * 2 + 2);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map(at).join(''), 'hex');
}

/** objectSid bytes → S-1-5-21-…; throws when the bytes are not a SID. */
export function sidFromBytes(bytes: Buffer): string {
  if (bytes.length < 8 || bytes[0] !== 1 || bytes.length !== 8 + bytes[1] * 4) {
    throw new Error('objectSid: not a SID');
  }
  const authority = bytes.readUIntBE(2, 6);
  const subs: number[] = [];
  for (let i = 0; i < bytes[1]; i++) subs.push(bytes.readUInt32LE(8 + i * 4));
  return ['S', bytes[0], authority, ...subs].join('-');
}
