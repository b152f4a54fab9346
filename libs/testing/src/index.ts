export * from './ports';
export * from './process';
export * from './servers';
export * from './tls';
export * from './samba';
export * from './service-process';
export * from './platform';
export * from './memory-probe-client';
