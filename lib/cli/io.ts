/** Where a command writes: the process's stdout and stderr in the binary, buffers in a test. */
export interface Writer {
  write(text: string): unknown;
}

export interface CliIo {
  readonly stdout: Writer;
  readonly stderr: Writer;
  /** stdout is a terminal: `--watch` then redraws in place (ANSI clear screen) rather than printing one reading
   * after another. */
  readonly stdoutIsTTY?: boolean;
  /** The environment the connection settings are read from (REDIS_URL, REDIS_USERNAME, REDIS_PASSWORD). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Aborted when the user interrupts (SIGINT): a command that runs until then (`--watch`) ends with exit code 0. */
  readonly interrupted?: AbortSignal;
}
