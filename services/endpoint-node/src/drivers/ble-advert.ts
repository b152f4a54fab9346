import type { BleSample } from './driver';

/**
 * The Tapgate band's BLE advertisement (docs/protocol.md, "BLE advertisement of a band"): manufacturer
 * specific data, as noble hands it over (company identifier first, little-endian):
 *
 *   offset 0  2 bytes  company identifier (BLE_COMPANY_ID, little-endian)
 *   offset 2  2 bytes  "TG"
 *   offset 4  1 byte   advert format version (BLE_ADVERT_VERSION)
 *   offset 5  1 byte   wear state: 0 unclasped, 1 on_wrist, 2 authenticated
 *   offset 6 12 bytes  the band id's 16 base64url characters after "band-", decoded
 *
 * The band id is the one derived from the band's key (deriveBandId), so an advert names a band without
 * its rotating Bluetooth address. An advert proves nothing by itself: taps are signed separately.
 */
export const BLE_COMPANY_ID = 0xffff; // Bluetooth SIG "reserved for internal/test use"; a vendor uses its own.
export const BLE_ADVERT_VERSION = 1;
const MAGIC = Buffer.from('TG', 'latin1');
const BAND_ID_BYTES = 12;
export const BLE_ADVERT_BYTES = 6 + BAND_ID_BYTES;
const BAND_ID_PREFIX = 'band-';
const STATES: ReadonlyArray<BleSample['state']> = ['unclasped', 'on_wrist', 'authenticated'];

export interface DecodedAdvert {
  bandId: string;
  state: BleSample['state'];
}

/** Decodes manufacturer data; undefined for anything that is not a Tapgate band advert of a known version. */
export function decodeBandAdvert(
  data: Buffer | undefined,
  companyId: number = BLE_COMPANY_ID,
): DecodedAdvert | undefined {
  if (!data || data.length < BLE_ADVERT_BYTES) return undefined;
  if (data.readUInt16LE(0) !== companyId || !data.subarray(2, 4).equals(MAGIC)) return undefined;
  if (data[4] !== BLE_ADVERT_VERSION) return undefined;
  const state = STATES[data[5]];
  if (state === undefined) return undefined;
  return {
    bandId: BAND_ID_PREFIX + data.subarray(6, 6 + BAND_ID_BYTES).toString('base64url'),
    state,
  };
}

/** Encodes a band's advert (what a band or a test fixture sends); the band id must be a derived one. */
export function encodeBandAdvert(advert: DecodedAdvert, companyId: number = BLE_COMPANY_ID): Buffer {
  const raw = advert.bandId.startsWith(BAND_ID_PREFIX)
    ? Buffer.from(advert.bandId.slice(BAND_ID_PREFIX.length), 'base64url')
    : Buffer.alloc(0);
  if (
    raw.length !== BAND_ID_BYTES ||
    raw.toString('base64url') !== advert.bandId.slice(BAND_ID_PREFIX.length)
  ) {
    throw new RangeError(`band id ${advert.bandId} is not band- + 16 base64url characters`);
  }
  const out = Buffer.alloc(BLE_ADVERT_BYTES);
  out.writeUInt16LE(companyId, 0);
  MAGIC.copy(out, 2);
  out[4] = BLE_ADVERT_VERSION;
  out[5] = STATES.indexOf(advert.state);
  raw.copy(out, 6);
  return out;
}
