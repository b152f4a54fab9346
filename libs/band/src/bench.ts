import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { generateBandKeyPair } from './keys';
import { signProof, verifyProof } from './proof';

export interface VerifyBenchResult {
  operations: number;
  /** Mean cost of one verifyProof call, microseconds. */
  usPerOp: number;
  opsPerSecond: number;
}

/**
 * Measures `verifyProof` on one core: n verifications of distinct valid proofs (each with its own
 * challenge, as at the gateway), after a warm-up. Synchronous: run it when nothing else is timed.
 */
export function benchVerify(n = 2000): VerifyBenchResult {
  if (!Number.isInteger(n) || n < 1) throw new RangeError('benchVerify: n must be a positive integer');
  const { privateKey, publicKey } = generateBandKeyPair();
  const bandId = 'bench-band';
  const proofs = Array.from({ length: Math.min(n, 256) }, (_, i) =>
    signProof(privateKey, {
      challenge: randomBytes(24).toString('base64url'),
      terminalId: 'bench-terminal',
      bandId,
      timestamp: 1_700_000_000_000 + i,
    }),
  );
  for (let i = 0; i < Math.min(200, n); i++) verifyProof(publicKey, bandId, proofs[i % proofs.length]);
  let valid = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) if (verifyProof(publicKey, bandId, proofs[i % proofs.length])) valid++;
  const elapsedMs = performance.now() - start;
  if (valid !== n) throw new Error(`benchVerify: ${n - valid} valid proofs failed to verify`);
  const usPerOp = (elapsedMs * 1000) / n;
  return { operations: n, usPerOp, opsPerSecond: 1e6 / usPerOp };
}
