import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Res, UseGuards } from '@nestjs/common';
import { RemoteClients, TerminalId, TerminalRecord } from '@tapgate/contracts';
import type { ServerResponse } from 'node:http';
import { z } from 'zod';
import { Actor, AdminGuard, RequireRole } from '../auth/admin.guard';
import type { Principal } from '../auth/principal';
import { IfMatch, parseInput } from '../common/validation';
import { ZodBody, ZodResponse, viewSchema } from '../common/zod-openapi';
import { view, viewWithEtag, type View } from '../common/versioned-response';
import { Messaging } from '@tapgate/messaging';
import { askGateways, liveOf, type TerminalLive } from './gateway-connections';
import { TerminalActivity, type TerminalActivityView } from './terminal-activity';
import { CertificatePinsRequest, CreateTerminalRequest } from './terminal.requests';
import { TerminalsService, type IssuedCredential, type TerminalView } from './terminals.service';

const terminalIdParam = (v: string): string =>
  parseInput(z.object({ terminalId: TerminalId }), { terminalId: v }).terminalId;

type CredentialResponse = { terminal: View<TerminalView>; credential: string };

/** TerminalView's schema, for the OpenAPI document: the record without the credential hash. */
const TERMINAL_VIEW = viewSchema(TerminalRecord.omit({ credentialSha256: true }));
const CREDENTIAL_RESPONSE = z.object({
  terminal: TERMINAL_VIEW,
  credential: z.string().describe('the secret, shown this once'),
});

function withCredential(res: ServerResponse, issued: IssuedCredential): CredentialResponse {
  // The credential must not linger in caches or proxies: it is shown exactly once.
  res.setHeader('Cache-Control', 'no-store');
  return { terminal: viewWithEtag(res, issued.terminal), credential: issued.credential };
}

@Controller('v1/terminals')
@UseGuards(AdminGuard)
export class TerminalsController {
  constructor(
    private readonly terminals: TerminalsService,
    private readonly activity: TerminalActivity,
    private readonly messaging: Messaging,
  ) {}

  @ZodBody(CreateTerminalRequest)
  @ZodResponse(CREDENTIAL_RESPONSE, 201, 'Created')
  @Post()
  async create(
    @Body() body: unknown,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<CredentialResponse> {
    const issued = await this.terminals.create(parseInput(CreateTerminalRequest, body), actor);
    res.setHeader('Location', `/v1/terminals/${issued.terminal.value.terminalId}`);
    return withCredential(res, issued);
  }

  /**
   * Every terminal with its live state from the gateways (online, address, endpoint version, bound
   * applications) and what this service heard since it started (last connection change, last taps).
   * `gateways` names the replicas that answered; `known: false` when they could not be asked.
   */
  @RequireRole('viewer')
  @Get()
  async list(): Promise<{
    items: Array<View<TerminalView> & { activity?: Partial<TerminalActivityView>; live: TerminalLive }>;
    gateways: { known: boolean; answered: string[]; truncated: boolean; why?: string };
  }> {
    const [terminals, snapshot] = await Promise.all([this.terminals.list(), askGateways(this.messaging)]);
    return {
      items: terminals.map((t) => {
        const activity = this.activity.of(t.value.terminalId);
        const live = liveOf(snapshot, t.value.terminalId, activity?.connection?.address);
        return { ...view(t), ...(activity ? { activity } : {}), live };
      }),
      gateways: snapshot.known
        ? { known: true, answered: snapshot.gateways, truncated: snapshot.truncated }
        : { known: false, answered: [], truncated: false, why: snapshot.why },
    };
  }

  @RequireRole('viewer')
  @Get(':terminalId')
  @ZodResponse(TERMINAL_VIEW)
  async get(
    @Param('terminalId') id: string,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<TerminalView>> {
    return viewWithEtag(res, await this.terminals.get(terminalIdParam(id)));
  }

  @ZodResponse(CREDENTIAL_RESPONSE)
  @Post(':terminalId/credential')
  @HttpCode(200)
  async rotate(
    @Param('terminalId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<CredentialResponse> {
    return withCredential(res, await this.terminals.rotate(terminalIdParam(id), ifMatch, actor));
  }

  @ZodResponse(TERMINAL_VIEW)
  @Post(':terminalId/disable')
  @HttpCode(200)
  async disable(
    @Param('terminalId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<TerminalView>> {
    return viewWithEtag(res, await this.terminals.setEnabled(terminalIdParam(id), false, ifMatch, actor));
  }

  @ZodResponse(TERMINAL_VIEW)
  @Post(':terminalId/enable')
  @HttpCode(200)
  async enable(
    @Param('terminalId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<TerminalView>> {
    return viewWithEtag(res, await this.terminals.setEnabled(terminalIdParam(id), true, ifMatch, actor));
  }

  @ZodBody(CertificatePinsRequest)
  @ZodResponse(TERMINAL_VIEW)
  @Put(':terminalId/certificates')
  @HttpCode(200)
  async pins(
    @Param('terminalId') id: string,
    @Body() body: unknown,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<TerminalView>> {
    return viewWithEtag(
      res,
      await this.terminals.setCertificatePins(
        terminalIdParam(id),
        parseInput(CertificatePinsRequest, body),
        ifMatch,
        actor,
      ),
    );
  }

  @ZodBody(RemoteClients)
  @ZodResponse(TERMINAL_VIEW)
  @Put(':terminalId/remote-clients')
  @HttpCode(200)
  async remoteClients(
    @Param('terminalId') id: string,
    @Body() body: unknown,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
    @Res({ passthrough: true }) res: ServerResponse,
  ): Promise<View<TerminalView>> {
    return viewWithEtag(
      res,
      await this.terminals.setRemoteClients(
        terminalIdParam(id),
        parseInput(RemoteClients, body),
        ifMatch,
        actor,
      ),
    );
  }

  @Delete(':terminalId')
  @HttpCode(204)
  async remove(
    @Param('terminalId') id: string,
    @IfMatch() ifMatch: number | undefined,
    @Actor() actor: Principal,
  ): Promise<void> {
    await this.terminals.remove(terminalIdParam(id), ifMatch, actor);
  }
}
