/**
 * The fields of one log line. `service` and `consumerId` are on every line; an error goes under `err`, where pino
 * and bunyan serialise it with its stack; what the line is about (`lbsId`, `stream`, `previousOwner`, …) has its
 * own field.
 */
export interface LogFields {
  readonly service: string;
  readonly consumerId: string;
  readonly err?: unknown;
  readonly [field: string]: unknown;
}

/**
 * The logger the client writes to, called as `logger.warn(fields, message)`: the form pino and bunyan take, and
 * console prints both arguments. `isLevelEnabled` (pino and winston have it) spares the client building lines of a
 * level the logger drops: some are written once per stream.
 */
export interface Logger {
  debug(fields: LogFields, message: string): void;
  info(fields: LogFields, message: string): void;
  warn(fields: LogFields, message: string): void;
  error(fields: LogFields, message: string): void;
  isLevelEnabled?(level: 'debug' | 'info' | 'warn' | 'error'): boolean;
}

const ignore = (): void => {};

/** Silent, except for errors nobody listens to (the client logs only those at `error`), printed readably:
 * `[redis-stream-client] orders/worker-1: <message> (lbsId=…)` and then the error with its stack. */
export const defaultLogger: Logger = {
  isLevelEnabled: (level) => level === 'error',
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ({ service, consumerId, err, ...fields }, message) => {
    const details = Object.entries(fields).map(([name, value]) => `${name}=${printable(value)}`);
    const line = `[redis-stream-client] ${service}/${consumerId}: ${message}${details.length > 0 ? ` (${details.join(' ')})` : ''}`;
    if (err === undefined) console.error(line);
    else console.error(line, err);
  },
};

function printable(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=()]+$/.test(value) ? value : JSON.stringify(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
