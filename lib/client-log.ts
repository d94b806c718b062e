import type { LogFields, Logger } from './logger.js';

type Level = 'debug' | 'info' | 'warn' | 'error';

/** Error properties that say what an error is about; copied next to `err` so that they can be searched. */
const ERROR_FIELDS = ['lbsId', 'stream', 'reason', 'setting', 'event', 'kind', 'count'] as const;

/**
 * One client's log: every line goes to the configured logger as `(fields, message)` with the client's `service`
 * and `consumerId`, so that call sites only say what happened: `log.warn('…', { err, lbsId })`. An error under
 * `err` also lends its own fields (a DeadLetterError's `lbsId` and `reason`, say) to the line.
 */
export class ClientLog {
  private readonly base: { service: string; consumerId: string };

  constructor(
    private readonly logger: Logger,
    service: string,
    consumerId: string,
  ) {
    this.base = { service, consumerId };
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.write('debug', message, fields);
  }

  info(message: string, fields?: Record<string, unknown>): void {
    this.write('info', message, fields);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.write('warn', message, fields);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.write('error', message, fields);
  }

  private write(level: Level, message: string, fields: Record<string, unknown> = {}): void {
    if (!this.enabled(level)) return;
    const line: LogFields = { ...this.base, ...fieldsOf(fields.err), ...fields };
    try {
      this.logger[level](line, message);
    } catch {
      // A logger that throws must not break the client (this may run inside a timer or an event delivery).
    }
  }

  private enabled(level: Level): boolean {
    try {
      return this.logger.isLevelEnabled?.(level) ?? true;
    } catch {
      return true;
    }
  }
}

function fieldsOf(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) return {};
  const fields: Record<string, unknown> = {};
  for (const name of ERROR_FIELDS) {
    const value: unknown = (error as Record<string, unknown>)[name];
    if (value !== undefined && typeof value !== 'object' && typeof value !== 'function') fields[name] = value;
  }
  return fields;
}
