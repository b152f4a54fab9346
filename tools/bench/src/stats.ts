/** Latency summary in milliseconds. */
export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) return { n: 0, p50: NaN, p95: NaN, p99: NaN, max: NaN };
  const s = Float64Array.from(samples).sort();
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { n: s.length, p50: r(q(0.5)), p95: r(q(0.95)), p99: r(q(0.99)), max: r(s[s.length - 1]) };
}

export const fmt = (s: Summary) =>
  `p50 ${s.p50.toFixed(3)}  p95 ${s.p95.toFixed(3)}  p99 ${s.p99.toFixed(3)}  max ${s.max.toFixed(3)} ms  (n=${s.n})`;

/** Runs `fn` at `ratePerSecond` for `durationMs`, spreading calls evenly (10 ms ticks). */
export async function atRate(
  ratePerSecond: number,
  durationMs: number,
  fn: (i: number) => void,
): Promise<number> {
  const start = performance.now();
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(
        Math.floor((elapsed / 1000) * ratePerSecond),
        Math.floor((durationMs / 1000) * ratePerSecond),
      );
      while (sent < due) fn(sent++);
      if (elapsed >= durationMs) resolve();
      else setTimeout(tick, 5);
    };
    tick();
  });
  return sent;
}

/** Runs async jobs with at most `limit` in flight. */
export async function pool<T>(
  items: T[],
  limit: number,
  job: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await job(items[i], i);
      }
    }),
  );
}
