/** The exit codes of `rsc`, which scripts can rely on (docs/cli.md). */
export const EXIT = {
  /** The command did what it was asked. */
  ok: 0,
  /** The operation failed: Redis refused or failed it, could not be reached, or what was asked for does not exist. */
  failed: 1,
  /** The command line is wrong: an unknown command or option, a missing or bad value. Nothing was sent to Redis. */
  usage: 2,
} as const;

/** A bad command line: the message names the argument; `command` is the one whose help to point to. */
export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation that failed for a reason the message says in full (exit code 1, no stack trace). */
export class OperationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OperationError';
  }
}
