// stdout carries the JSON answer only: keep info logs (e.g. "connected to NATS") out of it. This runs
// before the imports below are required, so the loggers they create start at this level.
process.env.TAPGATE_LOG_LEVEL ??= 'warn';

import { UserStatusGet, UserStatusInvalidate } from '@tapgate/contracts';
import { loadAgentConfig, loadOrExit } from '@tapgate/config';
import { connectMessaging, natsMessagingOptions } from '@tapgate/messaging';
import { parseUserArg } from './user-ref';

const USAGE = `usage: node services/user-status/dist/cli.js <command> <user>
  invalidate <user>   remove the user's cached status (all user-status replicas share the cache)
  status <user>       ask for the user's status, as the tap path does
<user> is a sAMAccountName, or a userPrincipalName (name@realm). NATS settings come from
nymi_agent.toml (TAPGATE_CONFIG) and TAPGATE_NATS_* variables.`;

async function main(argv: string[]): Promise<number> {
  const [command, arg] = argv;
  if ((command !== 'invalidate' && command !== 'status') || !arg || argv.length !== 2) {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  let user;
  try {
    user = parseUserArg(arg);
  } catch (e) {
    process.stderr.write(`${arg}: ${(e as Error).message}\n`);
    return 64;
  }
  const config = loadOrExit(() => loadAgentConfig({ sections: ['nats'] }));
  const messaging = connectMessaging({
    ...natsMessagingOptions(config.nats, 'user-status-cli'),
    name: 'user-status-cli',
  });
  try {
    await Promise.race([
      messaging.connection(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('cannot reach NATS')), 5_000).unref()),
    ]);
    const reply =
      command === 'invalidate'
        ? await messaging.request(UserStatusInvalidate, { v: 1, user })
        : await messaging.request(UserStatusGet, { v: 1, user });
    process.stdout.write(`${JSON.stringify(reply, null, 2)}\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`${command} failed: ${(e as Error).message}\n`);
    return 1;
  } finally {
    await messaging.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
