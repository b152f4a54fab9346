import { createHash, createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  BAND_ID_PATTERN,
  type Advert,
  type BandPublicJwk,
  type TapKind,
  type TapProof,
} from '@tapgate/contracts';
import { exportBandPublicKeyJwk, exportBandPublicKeyRaw, generateBandKeyPair, isP256 } from './keys';
import { signEnrollProof, signProof } from './proof';

/**
 * unclasped: never worn (or fresh from the box); on_wrist: clasped, fingerprint not verified;
 * authenticated: clasped and verified; removed: taken off after being worn. Unclasping ends
 * authentication, as on a real band: the only way back to authenticated is clasp + authenticate.
 */
export type BandState = 'unclasped' | 'on_wrist' | 'authenticated' | 'removed';

export interface TapRequest {
  challenge: string;
  terminalId: string;
  /** Milliseconds since the epoch; defaults to now. */
  timestamp?: number;
  /**
   * The channel the band answers on. Given: a version 2 proof, which signs it (what current bands make).
   * Absent: a version 1 proof (what bands of the older protocol make).
   */
  kind?: TapKind;
}

/** What a band answers at an enrollment station: who it is, its key, and the proof it holds that key. */
export interface EnrollmentAnswer {
  bandId: string;
  publicKey: BandPublicJwk;
  proof: TapProof;
}

export class BandStateError extends Error {
  override readonly name = 'BandStateError';
}

/**
 * A band in software, for the simulator, the tests and the demo: a P-256 key pair, a stable id,
 * the wear/authentication states, BLE adverts and NFC tap answers.
 */
export class SoftwareBand {
  private current: BandState = 'unclasped';
  readonly publicKey: KeyObject;

  private constructor(
    readonly bandId: string,
    private readonly privateKey: KeyObject,
  ) {
    if (!BAND_ID_PATTERN.test(bandId)) {
      throw new Error(`software band: invalid band id ${JSON.stringify(bandId)}`);
    }
    this.publicKey = createPublicKey(privateKey);
  }

  /** A new band with a fresh key; the id defaults to one derived from the public key. */
  static generate(bandId?: string): SoftwareBand {
    const { privateKey, publicKey } = generateBandKeyPair();
    return new SoftwareBand(bandId ?? deriveBandId(publicKey), privateKey);
  }

  /** A band from a private JWK (`kid` is taken as the band id when `bandId` is not given). */
  static fromJwk(jwk: JsonWebKey, bandId?: string): SoftwareBand {
    if (jwk?.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
      throw new Error('software band: key must be a private EC P-256 JWK (kty EC, crv P-256, d)');
    }
    const privateKey = createPrivateKey({ key: jwk, format: 'jwk' });
    if (!isP256(privateKey)) throw new Error('software band: key must be EC P-256');
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    return new SoftwareBand(bandId ?? kid ?? deriveBandId(createPublicKey(privateKey)), privateKey);
  }

  /**
   * Loads the band kept in `file` (a private JWK whose `kid` is the band id), or creates it there
   * (mode 0600) so a demo's bands stay the same across runs.
   */
  static loadOrCreate(file: string, bandId?: string): SoftwareBand {
    let text: string | undefined;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text !== undefined) {
      let jwk: JsonWebKey;
      try {
        jwk = JSON.parse(text) as JsonWebKey;
      } catch {
        throw new Error(`software band: ${file} is not JSON`);
      }
      const band = SoftwareBand.fromJwk(jwk);
      if (bandId !== undefined && band.bandId !== bandId) {
        throw new Error(`software band: ${file} holds band ${band.bandId}, not ${bandId}`);
      }
      return band;
    }
    const band = SoftwareBand.generate(bandId);
    mkdirSync(dirname(file), { recursive: true });
    // 'wx': never overwrite a key another process just wrote.
    writeFileSync(file, JSON.stringify(band.privateJwk(), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    return band;
  }

  /** The private JWK with `kid` = band id (what loadOrCreate stores). Secret: never log it. */
  privateJwk(): JsonWebKey {
    return { ...this.privateKey.export({ format: 'jwk' }), kid: this.bandId };
  }

  get state(): BandState {
    return this.current;
  }

  get authenticated(): boolean {
    return this.current === 'authenticated';
  }

  clasp(): void {
    if (this.current === 'unclasped' || this.current === 'removed') this.current = 'on_wrist';
  }

  /** The fingerprint stand-in. Only a band on a wrist can be authenticated. */
  authenticate(): void {
    if (this.current === 'unclasped' || this.current === 'removed') {
      throw new BandStateError(`band ${this.bandId} is ${this.current}: clasp it before authenticating`);
    }
    this.current = 'authenticated';
  }

  /** Takes the band off; any authentication is lost. */
  remove(): void {
    if (this.current !== 'unclasped') this.current = 'removed';
  }

  unclasp(): void {
    this.remove();
  }

  /** The BLE advertisement this band sends now, as an endpoint relays it. */
  advert(rssi: number, at: Date | number = Date.now()): Advert {
    if (!Number.isFinite(rssi)) throw new RangeError('software band: rssi must be a finite number');
    return {
      bandId: this.bandId,
      rssi: Math.round(Math.min(20, Math.max(-127, rssi))),
      state:
        this.current === 'authenticated'
          ? 'authenticated'
          : this.current === 'on_wrist'
            ? 'on_wrist'
            : 'unclasped',
      seenAt: new Date(at).toISOString(),
    };
  }

  /**
   * Answers an NFC tap. A real band signs only while authenticated; otherwise it stays silent,
   * which here is `undefined`. (Tests build refused proofs with signProof directly.)
   */
  answerTap(request: TapRequest): TapProof | undefined {
    if (this.current !== 'authenticated') return undefined;
    return signProof(
      this.privateKey,
      {
        challenge: request.challenge,
        terminalId: request.terminalId,
        bandId: this.bandId,
        timestamp: request.timestamp ?? Date.now(),
      },
      { kind: request.kind },
    );
  }

  /**
   * Answers an enrollment tap: presents the band id and public key and signs the enrollment proof over
   * the gateway's challenge and the session id. A new band is enrolled before anyone wears it, so this
   * does not need the band authenticated: it proves possession of the key, not who wears it.
   */
  answerEnrollment(request: TapRequest & { sessionId: string }): EnrollmentAnswer {
    return {
      bandId: this.bandId,
      publicKey: exportBandPublicKeyJwk(this.publicKey),
      proof: signEnrollProof(this.privateKey, {
        challenge: request.challenge,
        terminalId: request.terminalId,
        sessionId: request.sessionId,
        bandId: this.bandId,
        timestamp: request.timestamp ?? Date.now(),
      }),
    };
  }
}

/** `band-` + 16 base64url characters of SHA-256(public point): stable for a key, fits BAND_ID_PATTERN. */
export function deriveBandId(publicKey: KeyObject): string {
  const digest = createHash('sha256')
    .update(Buffer.from(exportBandPublicKeyRaw(publicKey), 'base64url'))
    .digest();
  return `band-${digest.toString('base64url').slice(0, 16)}`;
}
