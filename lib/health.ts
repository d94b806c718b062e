/** Where a client is in its life: `new` until init(), `running` once init() resolved, `stopped` after close() or
 * done() (or an init() that close() ended). */
export type ClientState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * What `client.health()` tells a liveness or readiness probe (see docs/operations.md, "Health checks"). Cheap: read
 * from memory, no call to Redis.
 */
export interface ClientHealth {
  readonly state: ClientState;
  /** The session is live and within its validity window by this process's clock: the owned streams' leases may be
   * acted on. False before init(), after a stall or an outage ended the session (until it is renewed), and after
   * close(). */
  readonly sessionValid: boolean;
  /** How long the session stays valid without another heartbeat, in ms (0 when it is not valid). A heartbeat
   * extends it to about `heartbeatMs` about every `heartbeatMs / 3`. */
  readonly validityMsLeft: number;
  /** How many streams this consumer owns. */
  readonly owned: number;
  /** When a heartbeat (or the registration) last extended the session: `Date.now()` milliseconds, undefined before
   * the first. */
  readonly lastHeartbeatAt: number | undefined;
  /** drain() was called and resume() not since (also while close() hands everything over). */
  readonly draining: boolean;
}
