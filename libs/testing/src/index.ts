export * from './ports';
export * from './process';
export * from './servers';
