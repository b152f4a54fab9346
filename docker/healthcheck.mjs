// Container HEALTHCHECK: exit 0 when the service's liveness endpoint answers 2xx, 1 otherwise.
// Liveness, not readiness: a gateway that lost NATS is unready but must not be restarted by Docker.
const port = Number(process.env.TAPGATE_HTTP_PORT ?? 8080);
const url = `http://127.0.0.1:${port}/healthz`;
try {
  const res = await fetch(url, { signal: AbortSignal.timeout(2500) });
  process.exitCode = res.ok ? 0 : 1;
  if (!res.ok) console.error(`healthcheck: ${url} answered ${res.status}`);
} catch (err) {
  process.exitCode = 1;
  console.error(`healthcheck: ${url}: ${err instanceof Error ? err.message : String(err)}`);
}
