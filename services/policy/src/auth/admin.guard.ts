import {
  Inject,
  Injectable,
  createParamDecorator,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { ApiError } from '../common/api-error';
import {
  ADMIN_AUTHENTICATORS,
  type AdminAuthenticator,
  type AuthenticatedRequest,
  type Principal,
} from './principal';

/** Every /v1 route requires an administrator; 401 otherwise. */
@Injectable()
export class AdminGuard implements CanActivate {
  constructor(@Inject(ADMIN_AUTHENTICATORS) private readonly authenticators: AdminAuthenticator[]) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<AuthenticatedRequest>();
    for (const a of this.authenticators) {
      const principal = a.authenticate(req);
      if (principal) {
        req.principal = principal;
        return true;
      }
    }
    throw new ApiError('unauthorized', 'an administrator token is required (Authorization: Bearer <token>)');
  }
}

/** The authenticated administrator (set by AdminGuard). */
export const Actor = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => {
  const principal = ctx.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  // Unreachable behind AdminGuard; refuse rather than write a record without an author.
  if (!principal) throw new ApiError('unauthorized', 'not authenticated');
  return principal;
});
