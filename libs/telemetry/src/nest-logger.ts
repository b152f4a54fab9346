import type { LoggerService } from '@nestjs/common';
import { createLogger, type Logger } from './logger';

/** Routes NestJS's own log lines through pino, so they carry trace ids like everything else. */
export class NestPinoLogger implements LoggerService {
  private readonly pino: Logger = createLogger('nest');

  log_(level: 'info' | 'warn' | 'error' | 'debug' | 'trace', message: unknown, params: unknown[]): void {
    const context =
      typeof params[params.length - 1] === 'string' ? (params[params.length - 1] as string) : undefined;
    this.pino[level]({ context }, typeof message === 'string' ? message : JSON.stringify(message));
  }
  log(message: unknown, ...params: unknown[]): void {
    this.log_('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.log_('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.log_('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.log_('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.log_('trace', message, params);
  }
}
