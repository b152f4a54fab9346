import {
  Inject,
  Injectable,
  SetMetadata,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { GUARDS_METADATA } from '@nestjs/common/constants';
import { Reflector } from '@nestjs/core';
import { ApiError } from '../common/api-error';
import {
  ADMIN_AUTHENTICATORS,
  type AdminAuthenticator,
  type AuthenticatedRequest,
  type Principal,
  type Role,
} from './principal';

const ROLE_KEY = 'tapgate:role';
/** The least role a route needs; routes without it need `admin`. */
export const RequireRole = (role: Role) => SetMetadata(ROLE_KEY, role);

/**
 * What a controller method needs, read from the same metadata the guard reads: `none` when AdminGuard
 * does not guard it (login, probes), else the role. For the OpenAPI document.
 */
export function routeRole(controller: object, handler: object): Role | 'none' {
  const guards = [
    ...((Reflect.getMetadata(GUARDS_METADATA, controller) as unknown[] | undefined) ?? []),
    ...((Reflect.getMetadata(GUARDS_METADATA, handler) as unknown[] | undefined) ?? []),
  ];
  if (!guards.includes(AdminGuard)) return 'none';
  return (
    (Reflect.getMetadata(ROLE_KEY, handler) as Role | undefined) ??
    (Reflect.getMetadata(ROLE_KEY, controller) as Role | undefined) ??
    'admin'
  );
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Every /v1 route: an authenticated principal (401 otherwise) with the route's role (403 otherwise).
 * Cookie sessions must also echo their CSRF token in `X-CSRF-Token` on every state-changing request.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(
    @Inject(ADMIN_AUTHENTICATORS) private readonly authenticators: AdminAuthenticator[],
    private readonly reflector: Reflector,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    let principal: Principal | undefined;
    for (const a of this.authenticators) {
      principal = await a.authenticate(req);
      if (principal) break;
    }
    if (!principal) {
      throw new ApiError('unauthorized', 'log in, or send Authorization: Bearer <session token>');
    }
    const method = req.method ?? 'GET';
    if (principal.via === 'session' && !SAFE_METHODS.has(method)) {
      const sent = req.headers['x-csrf-token'];
      if (typeof sent !== 'string' || sent !== principal.csrf) {
        throw new ApiError('forbidden', 'missing or wrong X-CSRF-Token', 'X-CSRF-Token');
      }
    }
    const needed =
      this.reflector.getAllAndOverride<Role | undefined>(ROLE_KEY, [ctx.getHandler(), ctx.getClass()]) ??
      'admin';
    if (needed === 'admin' && principal.role !== 'admin') {
      throw new ApiError('forbidden', `this needs the admin role; ${principal.name} is a ${principal.role}`);
    }
    req.principal = principal;
    return true;
  }
}

/** The authenticated administrator (set by AdminGuard). */
export const Actor = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  // Unreachable behind AdminGuard; refuse rather than write a record without an author.
  if (!principal) throw new ApiError('unauthorized', 'not authenticated');
  return principal;
});
