import type { AgentSectionName, CrossCheck } from './registry';

type Listener = 'agent' | 'webapi' | 'http';

/** Two listeners of one gateway on the same port would fail at bind time; say so at start-up instead. */
const distinctPorts: CrossCheck<Listener> = {
  sections: ['agent', 'webapi', 'http'],
  run(cfg, at) {
    const listeners: Array<[Listener, number]> = [['agent', cfg.agent.port]];
    if (cfg.webapi.enabled) listeners.push(['webapi', cfg.webapi.port]);
    listeners.push(['http', cfg.http.port]);
    for (let j = 1; j < listeners.length; j++) {
      for (let i = 0; i < j; i++) {
        const [a, portA] = listeners[i];
        const [b, portB] = listeners[j];
        if (portA !== portB) continue;
        // Blame the one that was set explicitly; a default is not what the operator typed.
        const [blamed, other] = at[b].origin('port') === 'default' ? [a, b] : [b, a];
        throw at[blamed].error('port', `must differ from [${other}].port (both are ${portA})`);
      }
    }
  },
};

export const CROSS_CHECKS: ReadonlyArray<CrossCheck<AgentSectionName>> = [distinctPorts];
