/** Exponential backoff with full jitter: delays grow from `baseMs` up to `maxMs`, each drawn at random below
 * the current ceiling so that a fleet reconnecting at once spreads out. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly baseMs = 50,
    private readonly maxMs = 5000,
    private readonly random: () => number = Math.random,
  ) {}

  next(): number {
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    return Math.max(1, Math.round(ceiling * this.random()));
  }

  reset(): void {
    this.attempt = 0;
  }
}
