/** The logger the client writes to: pino, console and most loggers fit. */
export interface Logger {
  debug(message: string, ...details: unknown[]): void;
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const ignore = (): void => {};

/** Silent, except for errors nobody listens to (the client writes only those to it). */
export const defaultLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: (message, ...details) => console.error(`[redis-stream-client] ${message}`, ...details),
};
