import { timingSafeEqual } from 'node:crypto';
import {
  BadRequestException,
  Body,
  Controller,
  ForbiddenException,
  Headers,
  HttpCode,
  Inject,
  Post,
  ServiceUnavailableException,
  UnauthorizedException,
} from '@nestjs/common';
import { UserRef } from '@tapgate/contracts';
import { createLogger } from '@tapgate/telemetry';
import { APP_DEPS, type AppDeps } from '../app.tokens';
import { parseUserArg } from '../user-ref';

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * POST /v1/cache/invalidate {"user": "alice" | {"sAMAccountName": ...} | {"userPrincipalName": ...}}
 * with `Authorization: Bearer <[user_status].admin_token_file>`, a token of its own, separate from the
 * policy service's administrators; without admin_token_file the endpoint is off.
 */
@Controller('v1/cache')
export class CacheController {
  private readonly log = createLogger('CacheController');

  constructor(@Inject(APP_DEPS) private readonly deps: AppDeps) {}

  @Post('invalidate')
  @HttpCode(200)
  async invalidate(
    @Headers('authorization') auth: string | undefined,
    @Body() body: unknown,
  ): Promise<{ removed: boolean }> {
    const expected = this.deps.adminToken;
    if (!expected) throw new ForbiddenException('admin API disabled: set [user_status].admin_token_file');
    const m = /^Bearer (\S+)$/.exec(auth ?? '');
    if (!m || !sameSecret(m[1], expected)) {
      throw new UnauthorizedException('a valid admin bearer token is required');
    }
    const user = this.userFrom(body);
    try {
      const removed = await this.deps.service.invalidate(user);
      this.log.info({ user, removed }, 'status cache entry invalidated (admin API)');
      return { removed };
    } catch (e) {
      throw new ServiceUnavailableException(`status cache unavailable: ${(e as Error).message}`);
    }
  }

  private userFrom(body: unknown): UserRef {
    const user = (body as { user?: unknown } | undefined)?.user;
    try {
      if (typeof user === 'string') return parseUserArg(user);
      const parsed = UserRef.safeParse(user);
      if (parsed.success) return parsed.data;
    } catch (e) {
      throw new BadRequestException(`user: ${(e as Error).message}`);
    }
    throw new BadRequestException('body must be {"user": "<sAMAccountName or userPrincipalName>"}');
  }
}
