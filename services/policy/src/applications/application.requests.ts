import { ApplicationId, TerminalPattern } from '@tapgate/contracts';
import { z } from 'zod';

const Scope = z.array(TerminalPattern).min(1).max(256);
const DisplayName = z.string().min(1).max(128);

export const CreateApplicationRequest = z
  .object({ applicationId: ApplicationId, displayName: DisplayName, terminals: Scope })
  .strict();
export type CreateApplicationRequest = z.infer<typeof CreateApplicationRequest>;

/** Replaces the display name and the terminal scope (PUT); narrowing the scope closes sockets left out. */
export const UpdateApplicationRequest = z.object({ displayName: DisplayName, terminals: Scope }).strict();
export type UpdateApplicationRequest = z.infer<typeof UpdateApplicationRequest>;
