import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { canonicalJson, chainRecord, checkLink, GENESIS_HASH, recordHash } from './chain';
import { csvField, csvHeader, csvRow, formatExport } from './export';
import { decision } from './test-helpers';

describe('hash chain (pure)', () => {
  it('canonical JSON sorts keys at every level, leaves out undefined and keeps array order', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 'x' }], c: undefined }, e: null }),
      '{"a":{"d":[3,{"y":"x","z":1}]},"b":1,"e":null}',
    );
    assert.equal(canonicalJson('é"\n'), JSON.stringify('é"\n'));
  });

  it('the hash is SHA-256(prevHash + canonical body) and does not depend on key order', () => {
    const rec = chainRecord(decision({ tapId: 't-1' }), GENESIS_HASH);
    const reordered = Object.fromEntries(Object.entries(rec).reverse()) as typeof rec;
    assert.equal(recordHash(reordered), rec.hash);
    assert.match(rec.hash, /^[0-9a-f]{64}$/);
    assert.equal(rec.prevHash, GENESIS_HASH);
    const { hash: _h, ...body } = rec;
    assert.equal(
      rec.hash,
      createHash('sha256')
        .update(GENESIS_HASH + canonicalJson(body))
        .digest('hex'),
    );
  });

  it('checkLink names what is wrong with a record', () => {
    const first = chainRecord(decision(), GENESIS_HASH);
    const second = chainRecord(decision(), first.hash);
    assert.equal(checkLink(first, GENESIS_HASH).ok, true);
    assert.equal(checkLink(second, first.hash).ok, true);
    const edited = { ...second, user: { sAMAccountName: 'mallory' } };
    assert.deepEqual(pick(checkLink(edited, first.hash)), 'hash_mismatch');
    assert.deepEqual(pick(checkLink(second, GENESIS_HASH)), 'prev_hash_mismatch');
    // A field added after hashing is an edit like any other.
    assert.deepEqual(pick(checkLink({ ...second, extra: 1 }, first.hash)), 'hash_mismatch');
    assert.deepEqual(pick(checkLink({ ...second, hash: undefined }, first.hash)), 'invalid_record');
    assert.deepEqual(pick(checkLink('nope', first.hash)), 'invalid_record');
  });

  it('a record from a newer gateway, with a field this reader does not know, verifies; editing that field breaks it', () => {
    const first = chainRecord(decision(), GENESIS_HASH);
    const newer = { ...decision({ tapId: 't-new' }), addedLater: { hint: 'x' } };
    const linked = { ...newer, prevHash: first.hash };
    const stored = { ...linked, hash: recordHash(linked) };
    const read = checkLink(stored, first.hash);
    assert.equal(read.ok, true);
    assert.equal(read.ok && 'addedLater' in read.record, false);
    assert.deepEqual(pick(checkLink({ ...stored, addedLater: { hint: 'y' } }, first.hash)), 'hash_mismatch');
    assert.deepEqual(pick(checkLink({ ...stored, outcome: 'maybe' }, first.hash)), 'invalid_record');
  });
});

function pick(r: ReturnType<typeof checkLink>): string {
  return r.ok ? 'ok' : r.why;
}

describe('export formats (pure)', () => {
  it('CSV quotes commas, quotes and line breaks, and defuses spreadsheet formulas', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField('=HYPERLINK("x")'), `"'=HYPERLINK(""x"")"`);
    assert.equal(csvField('-1'), "'-1");
    assert.equal(csvField(2), '2');
    assert.equal(csvField(undefined), '');
  });

  it('a CSV row has one field per header column, even with awkward values', () => {
    const rec = chainRecord(
      decision({
        kind: 'esign',
        outcome: 'refused',
        reason: 'same_signer',
        esignReason: 'Edit, "equipment"\nline 2',
        signer: 2,
      }),
      GENESIS_HASH,
    );
    const header = csvHeader();
    assert.ok(header.startsWith('seq,at,kind,outcome,reason,'));
    const row = csvRow(7, rec);
    assert.ok(row.endsWith(`${rec.hash}\r\n`));
    assert.ok(row.includes('"Edit, ""equipment""\nline 2"'));
    assert.equal(parseCsv(header + row)[1].length, header.trim().split(',').length);
    assert.equal(parseCsv(header + row)[1][0], '7');
  });

  it('JSON export is an array of {seq, record} with the records exactly as hashed', () => {
    const rec = chainRecord(decision(), GENESIS_HASH);
    const parsed = JSON.parse(formatExport([{ seq: 1, record: rec }], 'json')) as Array<{
      seq: number;
      record: typeof rec;
    }>;
    assert.equal(parsed[0].seq, 1);
    assert.equal(recordHash(parsed[0].record), rec.hash);
    assert.deepEqual(JSON.parse(formatExport([], 'json')), []);
  });
});

/** A small RFC 4180 reader, to check that what we write parses back. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += c;
  }
  return rows;
}
