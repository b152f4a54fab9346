import { TerminalId } from '@tapgate/contracts';
import { z } from 'zod';

export const CreateTerminalRequest = z
  .object({ terminalId: TerminalId, description: z.string().max(256).optional() })
  .strict();
export type CreateTerminalRequest = z.infer<typeof CreateTerminalRequest>;
