/** The error body every REST API failure carries. */
export interface ApiErrorBody {
  code: string;
  message: string;
  field?: string;
}

export class PolicyApiError extends Error {
  override readonly name = 'PolicyApiError';
  constructor(
    readonly status: number,
    readonly error: ApiErrorBody,
  ) {
    super(`${status} ${error.code}: ${error.message}`);
  }
}

/** A thin client of the policy REST API (used by the CLI and the demo). */
export class PolicyClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const err = (parsed as { error?: ApiErrorBody } | undefined)?.error;
      throw new PolicyApiError(
        res.status,
        err ?? { code: 'http_error', message: res.statusText || text.slice(0, 200) },
      );
    }
    return parsed as T;
  }
}
