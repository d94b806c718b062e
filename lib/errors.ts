/** Base class of every error this library throws or emits. `cause` carries the underlying error, if any. */
export class RedisStreamClientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Why a claim was refused. */
export type ClaimRefusal =
  /** Another consumer claimed the stream first, or it was finished. */
  | 'taken'
  /** The previous owner's session is alive: it still owns the stream. */
  | 'owner-alive'
  /** The payload does not match the LBS entry (stale or forged). */
  | 'mismatch'
  /** The stream is held through another LBS entry (a duplicate add); this entry was dropped. */
  | 'duplicate'
  /** Its owners died maxDeliveries times: the entry went to the dead-letter stream. */
  | 'poison'
  /** The LBS entry is malformed: it went to the dead-letter stream. */
  | 'malformed';

/** `claim()` lost: the stream is someone else's. Expected in normal operation; not a fault. */
export class AlreadyClaimedError extends RedisStreamClientError {
  constructor(
    readonly stream: string,
    readonly reason: ClaimRefusal,
  ) {
    super(`Stream "${stream}" was not claimed: ${refusalText[reason]}`);
  }
}

const refusalText: Record<ClaimRefusal, string> = {
  taken: 'another consumer claimed it first, or it was finished',
  'owner-alive': 'its owner is alive',
  mismatch: 'the payload does not match its LBS entry',
  duplicate: 'the stream is already held through another LBS entry',
  poison: 'its owners died maxDeliveries times, so it was moved to the dead-letter stream',
  malformed: 'its LBS entry is malformed, so it was moved to the dead-letter stream',
};

/** The stream is not owned by this consumer (never was, finished, or lost). */
export class NotOwnerError extends RedisStreamClientError {
  constructor(readonly stream: string) {
    super(`Stream "${stream}" is not owned by this consumer`);
  }
}

/** An option or a Redis setting is wrong; the message names what to change. */
export class ConfigError extends RedisStreamClientError {
  constructor(
    message: string,
    readonly setting?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An LBS entry was malformed and moved to the dead-letter stream. Reported through the `error` event. */
export class DeadLetterError extends RedisStreamClientError {
  constructor(
    readonly lbsId: string,
    readonly reason: string,
  ) {
    super(`LBS entry ${lbsId} was moved to the dead-letter stream: ${reason}`);
  }
}

/** An entry of a data stream whose handler failed `maxAttempts` times, moved to the service's entry dead-letter
 * stream (`keysFor(serviceName).entryDeadLetter`); processing of its stream goes on. Reported through `error`;
 * `cause` is what the handler threw the last time. */
export class EntryDeadLetterError extends RedisStreamClientError {
  constructor(
    readonly stream: string,
    readonly id: string,
    readonly attempts: number,
    cause: unknown,
  ) {
    super(`Entry ${id} of stream "${stream}" failed ${attempts} time(s) and was moved to the entry dead-letter stream: ${String(cause)}`, {
      cause,
    });
  }
}

/** A data stream cannot be processed as asked (its key holds another type, or its stored position lies beyond its
 * last entry). Reported through `error`; the message says what the library did about it. */
export class StreamProcessingError extends RedisStreamClientError {
  constructor(
    readonly stream: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The client is not running (not initialised yet, or closed). */
export class NotRunningError extends RedisStreamClientError {}

/** This consumer's session is lost (stalled past its validity window, or Redis unreachable). */
export class SessionLostError extends RedisStreamClientError {}

/** A listener of the client's `event` threw or its promise rejected; `cause` is what it threw. The client and the
 * other listeners carry on. Reported through the `error` event. */
export class ListenerError extends RedisStreamClientError {
  constructor(
    readonly event: string,
    cause: unknown,
  ) {
    super(`A ${event} listener failed: ${String(cause)}`, { cause });
  }
}

/**
 * Errors of one kind that were not emitted one by one: after the first error of a kind, the `error` event gets at
 * most one of these per kind every 10 s (see README, Events). `cause` is the last of them.
 */
export class RepeatedErrors extends RedisStreamClientError {
  declare readonly cause: RedisStreamClientError;

  constructor(
    /** What the errors have in common: error class, then the class (and code) of the underlying error. */
    readonly kind: string,
    /** How many errors of this kind were held back since the last report of this kind. */
    readonly count: number,
    /** The time they were counted over (ms): from the last report of this kind to this summary. */
    readonly periodMs: number,
    last: RedisStreamClientError,
  ) {
    super(
      `${count} more error${count === 1 ? '' : 's'} of kind ${kind} in the last ${(periodMs / 1000).toFixed(1)} s; the last: ${last.message}`,
      { cause: last },
    );
  }
}
