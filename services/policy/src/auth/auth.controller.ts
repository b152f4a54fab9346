import { Body, Controller, Get, HttpCode, Inject, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { z } from 'zod';
import { AdminAuditLog } from '../audit/admin-audit';
import { ApiError } from '../common/api-error';
import { ZodBody } from '../common/zod-openapi';
import { parseInput } from '../common/validation';
import { POLICY_SETTINGS, type PolicySettings } from '../policy-settings';
import { Actor, AdminGuard, RequireRole } from './admin.guard';
import { bearerToken, tokenMatches } from './admin-token.authenticator';
import { BOOTSTRAP_ADMIN, BOOTSTRAP_ADMIN_NAME, type BootstrapAdmin } from './bootstrap-code';
import { LdapLogin } from './ldap-login';
import { parseLoginName } from './login-name';
import { LoginRateLimiter, loginBackoffPolicy } from './login-rate-limiter';
import type { Principal, Role } from './principal';
import { SESSION_COOKIE, cookie } from './session.authenticator';
import { SessionStore } from './session-store';

// The name is checked by parseLoginName (control characters first, then the sAMAccountName rules).
const LoginRequest = z
  .object({
    username: z.string().min(1, 'required').max(256),
    password: z.string().min(1, 'required').max(256),
  })
  .strict();

/** POST /v1/auth/bootstrap: the one-time code from [policy].bootstrap_admin_file. */
const BootstrapRequest = z.object({ code: z.string().min(1, 'required').max(256) }).strict();

/** POST /v1/auth/token-login: the break-glass token ([policy].admin_token_file), typed on the login page. */
const TokenLoginRequest = z.object({ token: z.string().min(1, 'required').max(1024) }).strict();

export interface LoginResponse {
  user: string;
  displayName?: string;
  role: Role;
  /** Send as `Authorization: Bearer <token>` from scripts; the console uses the cookie instead. */
  token: string;
  /** Echo in `X-CSRF-Token` on every change made with the cookie. */
  csrfToken: string;
  expiresAt: string;
}

/** Secure cookies when the request came over TLS (directly, or per the TLS-terminating proxy). */
function overTls(req: IncomingMessage): boolean {
  return (req.socket as TLSSocket).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
}

@Controller('v1/auth')
export class AuthController {
  private readonly limiter: LoginRateLimiter;
  private readonly ldap: LdapLogin | undefined;

  constructor(
    @Inject(POLICY_SETTINGS) private readonly settings: PolicySettings,
    private readonly sessions: SessionStore,
    private readonly audit: AdminAuditLog,
    @Inject(BOOTSTRAP_ADMIN) private readonly bootstrapAdmin: BootstrapAdmin,
  ) {
    this.limiter = new LoginRateLimiter(loginBackoffPolicy(settings.loginMaxFailures));
    this.ldap = settings.directory
      ? new LdapLogin(settings.directory, settings.adminGroup, settings.viewerGroup)
      : undefined;
  }

  /** LDAP bind against AD plus membership of [policy].admin_group (or viewer_group). */
  @ZodBody(LoginRequest)
  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: unknown,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<LoginResponse> {
    const input = parseInput(LoginRequest, body);
    const { name: username, key } = parseLoginName(input.username);
    // The peer address: the policy service trusts no X-Forwarded-For (see docs/api.md, Administrator login).
    const from = req.socket.remoteAddress ?? 'unknown';
    if (!this.ldap) throw new ApiError('unavailable', 'administrator login is not configured ([ldap])');
    const attempt = this.limiter.begin(key, from);
    if ('retryAfterSeconds' in attempt) {
      const wait = attempt.retryAfterSeconds;
      res.setHeader('Retry-After', String(wait));
      throw new ApiError('too_many_requests', `too many failed logins; try again in ${wait} s`);
    }
    const outcome = await this.ldap.login(username, input.password).catch((e: unknown) => {
      attempt.voided();
      throw e;
    });
    if (!outcome.ok) {
      if (outcome.why === 'directory_unavailable') {
        attempt.voided();
        throw new ApiError('unavailable', 'the directory cannot be reached; try again');
      }
      attempt.failed();
      await this.audit.record({ name: username, via: 'session' }, 'admin.login_failed', {
        from,
        after: { why: outcome.why },
      });
      // One message for both: do not tell a guesser which names are administrators.
      throw outcome.why === 'not_in_group'
        ? new ApiError('forbidden', 'this account may not administer Tapgate')
        : new ApiError('unauthorized', 'wrong user name or password', 'password');
    }
    attempt.succeeded();
    return this.startSession(req, res, 'admin.login', outcome.user, outcome.role, outcome.displayName);
  }

  /**
   * The bootstrap administrator's first sign-in: the one-time code ([policy].bootstrap_admin_file) for an
   * admin session. Throttled like logins (one key for every guess at the code); each failure is audited.
   */
  @ZodBody(BootstrapRequest)
  @Post('bootstrap')
  @HttpCode(200)
  async bootstrap(
    @Body() body: unknown,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<LoginResponse> {
    const input = parseInput(BootstrapRequest, body);
    const code = this.bootstrapAdmin.code;
    if (!code) {
      throw new ApiError(
        'unavailable',
        'no bootstrap administrator is configured ([policy].bootstrap_admin_file)',
      );
    }
    return this.exchange(req, res, 'bootstrap', BOOTSTRAP_ADMIN_NAME, () => code.consume(input.code), {
      refused: 'wrong, used or expired sign-in code',
      field: 'code',
    });
  }

  /** The break-glass token typed on the login page, for a console session (throttled and audited). */
  @ZodBody(TokenLoginRequest)
  @Post('token-login')
  @HttpCode(200)
  async tokenLogin(
    @Body() body: unknown,
    @Req() req: IncomingMessage,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<LoginResponse> {
    const input = parseInput(TokenLoginRequest, body);
    const expected = this.settings.adminToken;
    if (expected === undefined) {
      throw new ApiError('unavailable', 'no break-glass token is configured ([policy].admin_token_file)');
    }
    return this.exchange(
      req,
      res,
      'break-glass',
      this.settings.adminName,
      () => tokenMatches(input.token, expected),
      {
        refused: 'wrong break-glass token',
        field: 'token',
      },
    );
  }

  /** A secret for an admin session: throttled under `kind`, audited either way. */
  private async exchange(
    req: IncomingMessage,
    res: ServerResponse,
    kind: 'bootstrap' | 'break-glass',
    user: string,
    check: () => boolean,
    words: { refused: string; field: string },
  ): Promise<LoginResponse> {
    const from = req.socket.remoteAddress ?? 'unknown';
    // ':' cannot occur in a sAMAccountName, so these keys never share a count with a real login name.
    const attempt = this.limiter.begin(`${kind}:`, from);
    if ('retryAfterSeconds' in attempt) {
      const wait = attempt.retryAfterSeconds;
      res.setHeader('Retry-After', String(wait));
      throw new ApiError('too_many_requests', `too many failed sign-ins; try again in ${wait} s`);
    }
    if (!check()) {
      attempt.failed();
      await this.audit.record({ name: user, via: 'session' }, 'admin.login_failed', {
        from,
        after: { why: `${kind}_refused` },
      });
      throw new ApiError('unauthorized', words.refused, words.field);
    }
    attempt.succeeded();
    return this.startSession(
      req,
      res,
      `admin.${kind === 'bootstrap' ? 'bootstrap_login' : 'token_login'}`,
      user,
      'admin',
    );
  }

  /** A new session for `user`, set as the HttpOnly cookie and returned (token and CSRF token). */
  private async startSession(
    req: IncomingMessage,
    res: ServerResponse,
    action: string,
    user: string,
    role: Role,
    displayName?: string,
  ): Promise<LoginResponse> {
    const from = req.socket.remoteAddress ?? 'unknown';
    const { token, session } = await this.sessions.create(user, role, displayName);
    await this.audit.record({ name: user, via: 'session' }, action, { from, after: { role } });
    const maxAge = Math.floor(this.settings.sessionTtlMs / 1000);
    res.setHeader(
      'Set-Cookie',
      `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${overTls(req) ? '; Secure' : ''}`,
    );
    res.setHeader('Cache-Control', 'no-store');
    return {
      user,
      ...(displayName ? { displayName } : {}),
      role,
      token,
      csrfToken: session.csrf,
      expiresAt: new Date(session.expiresAt).toISOString(),
    };
  }

  /** Which sign-in methods this service offers, so the login page shows only those (no secrets). */
  @Get('methods')
  methods(): { ldap: boolean; breakGlassToken: boolean; bootstrap: boolean } {
    return {
      ldap: this.ldap !== undefined,
      breakGlassToken: this.settings.adminToken !== undefined,
      bootstrap: this.bootstrapAdmin.code?.live === true,
    };
  }

  @Post('logout')
  @HttpCode(204)
  @UseGuards(AdminGuard)
  @RequireRole('viewer')
  async logout(
    @Req() req: IncomingMessage,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<void> {
    const token = actor.via === 'bearer' ? bearerToken(req) : cookie(req, SESSION_COOKIE);
    if (token && actor.via !== 'break-glass') await this.sessions.remove(token);
    res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    await this.audit.record(actor, 'admin.logout');
  }

  /** Who is logged in, and the CSRF token the console needs after a reload. */
  @Get('me')
  @UseGuards(AdminGuard)
  @RequireRole('viewer')
  me(@Actor() actor: Principal): { user: string; role: Role; via: string; csrfToken?: string } {
    return {
      user: actor.name,
      role: actor.role,
      via: actor.via,
      ...(actor.csrf ? { csrfToken: actor.csrf } : {}),
    };
  }
}
