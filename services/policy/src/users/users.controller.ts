import { Controller, Get, Param, Query, UseGuards } from '@nestjs/common';
import { SamAccountName } from '@tapgate/contracts';
import { z } from 'zod';
import { AdminGuard, RequireRole } from '../auth/admin.guard';
import { parseInput } from '../common/validation';
import { ZodQuery, ZodResponse } from '../common/zod-openapi';
import { DirectorySearchResult } from './directory-search';
import { UserDetails, UsersService } from './users.service';

/** The most users one search returns (`limit`'s maximum) and how many when `limit` is not given. */
export const USER_SEARCH_MAX = 100;
const UserSearchQuery = z
  .object({
    q: z.string().trim().min(1).max(64).describe('a prefix of sAMAccountName, displayName or mail'),
    limit: z.coerce.number().int().min(1).max(USER_SEARCH_MAX).default(25),
  })
  .strict();

const userParam = (v: string): string => parseInput(z.object({ user: SamAccountName }), { user: v }).user;

/** The directory's users, for the console's Users page (read-only). */
@Controller('v1/users')
@UseGuards(AdminGuard)
@RequireRole('viewer')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  /** Users whose sAMAccountName, displayName or mail starts with `q`; 503 without a reachable directory. */
  @Get()
  @ZodQuery(UserSearchQuery)
  @ZodResponse(DirectorySearchResult)
  search(@Query() query: unknown): Promise<DirectorySearchResult> {
    const q = parseInput(UserSearchQuery, query);
    return this.users.find(q.q, q.limit);
  }

  /** The user's directory entry, AD status, bands, effective policy and recent taps and e-signatures. */
  @Get(':user')
  @ZodResponse(UserDetails)
  details(@Param('user') user: string): Promise<UserDetails> {
    return this.users.details(userParam(user));
  }
}
