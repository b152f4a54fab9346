import { oneOf } from '../fields';
import { defineSection } from '../section';
import { LOG_LEVELS, buildListener, listenerFields, type ListenerSettings, type LogLevel } from './listener';

export interface AgentSettings extends ListenerSettings {
  logLevel: LogLevel;
}

export const agentSection = defineSection({
  name: 'agent',
  summary: 'the standard interface for endpoints and NEA clients (ws-gateway)',
  fields: { log_level: oneOf(LOG_LEVELS, 'warn'), ...listenerFields(9120) },
  build: (v, at): AgentSettings => ({ logLevel: v.log_level, ...buildListener(v, at) }),
});
