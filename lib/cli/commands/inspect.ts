import { inspectService, type ServiceInspection } from '../../admin/inspect.js';
import { positiveInteger, positiveIntegerOption, type Command, type Invocation } from '../command.js';
import { CONNECTION_OPTIONS } from '../connect.js';
import { EXIT, OperationError, UsageError } from '../exit-codes.js';
import { formatDuration, formatTable, formatTime } from '../table.js';

export const DEFAULT_LIMIT = 50;
export const DEFAULT_WATCH_SECONDS = 2;

/** ANSI: cursor home, clear the screen. */
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

/** `rsc inspect --service S`: the service's consumers, streams, backlog and dead letters, read-only. */
export const inspect: Command = {
  name: 'inspect',
  summary: "Show the service's consumers, streams, backlog and dead letters (read-only).",
  operands: '',
  details: [
    'Streams are listed by name, the first --limit of them, with one XPENDING and (when processed) one XRANGE each.',
    '--json prints one line of JSON per reading (its shape: docs/cli.md). --watch [SECONDS] reads again every',
    `SECONDS (default ${DEFAULT_WATCH_SECONDS}) until interrupted (Ctrl-C: exit code 0), redrawing the screen on a terminal.`,
  ].join('\n'),
  options: {
    limit: { type: 'string', value: 'N', description: `List at most N streams, the first by name (default ${DEFAULT_LIMIT}).` },
    json: { type: 'boolean', description: 'Print JSON instead of tables.' },
    watch: { type: 'boolean', value: '[SECONDS]', description: `Read again every SECONDS (default ${DEFAULT_WATCH_SECONDS}) until interrupted.` },
    ...CONNECTION_OPTIONS,
  },
  async run(invocation) {
    const { values, io } = invocation;
    const limit = positiveIntegerOption(inspect, values, 'limit', DEFAULT_LIMIT);
    const watchSeconds = watchInterval(invocation);
    const { redis } = await invocation.connect();
    const render = (reading: ServiceInspection): string => (values.json ? `${JSON.stringify(toJson(reading))}\n` : formatInspection(reading));
    if (watchSeconds === undefined) {
      const reading = await inspectService(redis, { limit });
      // A mistyped name would otherwise show an empty service. (--watch shows it anyway: it may be about to start.)
      if (!reading.found && reading.consumers.length === 0) {
        throw new OperationError(`service '${reading.service}' not found: no ${redis.keys.lbs} in this Redis (check --service and the database)`);
      }
      io.stdout.write(render(reading));
      return EXIT.ok;
    }
    const interrupted = io.interrupted;
    while (!interrupted?.aborted) {
      const reading = render(await inspectService(redis, { limit }));
      if (interrupted?.aborted) break;
      io.stdout.write(io.stdoutIsTTY ? CLEAR_SCREEN + reading : values.json ? reading : `${reading}\n`);
      await pause(watchSeconds * 1000, interrupted);
    }
    return EXIT.ok;
  },
};

/** `--watch` alone, or `--watch SECONDS`: the operand right after it (parseArgs has no optional values). */
function watchInterval({ values, tokens }: Invocation): number | undefined {
  const watchToken = tokens.find((token) => token.kind === 'option' && token.name === 'watch');
  const next = watchToken && tokens.find((token) => token.index === watchToken.index + 1);
  const operand = next?.kind === 'positional' ? next : undefined;
  const extra = tokens.find((token) => token.kind === 'positional' && token !== operand);
  if (extra) throw new UsageError(`unexpected argument '${extra.value}'`, inspect.name);
  if (!values.watch) return undefined;
  return operand?.value === undefined ? DEFAULT_WATCH_SECONDS : positiveInteger(inspect, '--watch SECONDS', operand.value);
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** The `--json` document: the reading as inspectService returns it, under a version of its shape. */
export function toJson(reading: ServiceInspection): { version: 1 } & ServiceInspection {
  return { version: 1, ...reading };
}

const NONE = '-';

/** The reading as plain tables: consumers, streams, then the backlog and dead letters. */
export function formatInspection(reading: ServiceInspection): string {
  const { consumers, streams, metrics } = reading;
  const live = consumers.filter((consumer) => consumer.alive).length;
  const consumerRows = consumers.map((consumer) => [
    consumer.id,
    consumer.alive ? 'alive' : 'dead',
    consumer.sessionMsLeft === null ? NONE : formatDuration(consumer.sessionMsLeft),
    String(consumer.owned),
    consumer.weight === null ? NONE : String(consumer.weight),
    consumer.maxStreams === null ? NONE : String(consumer.maxStreams),
    consumer.mode ?? NONE,
    consumer.draining === null ? NONE : consumer.draining ? 'yes' : 'no',
    consumer.startedAt === null ? NONE : formatTime(consumer.startedAt),
    consumer.sessionEndedAt === null ? NONE : formatTime(consumer.sessionEndedAt),
  ]);
  const streamRows = streams.map((stream) => [
    stream.name,
    stream.owner ?? NONE,
    stream.owner === null ? 'unowned' : stream.ownerAlive ? 'alive' : 'awaiting takeover',
    stream.ownedMs === null ? NONE : formatDuration(stream.ownedMs),
    stream.deliveries === null ? NONE : String(stream.deliveries),
    stream.token === null ? NONE : String(stream.token),
    stream.position ?? NONE,
    stream.lagMs === null ? NONE : formatDuration(stream.lagMs),
  ]);
  const shown = streams.length < reading.streamCount ? `the first ${streams.length} of ${reading.streamCount} by name (--limit)` : `${reading.streamCount}, by name`;
  return [
    `Service ${reading.service} at ${formatTime(reading.serverTime)} (Redis clock)`,
    '',
    `Consumers: ${live} alive, ${consumers.length - live} dead`,
    consumers.length === 0
      ? '  (none)\n'
      : formatTable(
          [
            { heading: 'CONSUMER' },
            { heading: 'STATE' },
            { heading: 'SESSION LEFT', align: 'right' },
            { heading: 'OWNED', align: 'right' },
            { heading: 'WEIGHT', align: 'right' },
            { heading: 'MAX', align: 'right' },
            { heading: 'MODE' },
            { heading: 'DRAINING' },
            { heading: 'STARTED' },
            { heading: 'SESSION ENDED' },
          ],
          consumerRows,
        ),
    `Streams: ${shown}`,
    streams.length === 0
      ? '  (none)\n'
      : formatTable(
          [
            { heading: 'STREAM' },
            { heading: 'OWNER' },
            { heading: 'OWNER STATE' },
            { heading: 'OWNED FOR', align: 'right' },
            { heading: 'DELIVERIES', align: 'right' },
            { heading: 'TOKEN', align: 'right' },
            { heading: 'POSITION' },
            { heading: 'LAG', align: 'right' },
          ],
          streamRows,
        ),
    `LBS backlog: ${metrics.undeliveredEntries} undelivered ${plural(metrics.undeliveredEntries, 'entry', 'entries')}, ` +
      `${metrics.streamsAwaitingTakeover} ${plural(metrics.streamsAwaitingTakeover, 'stream', 'streams')} awaiting takeover`,
    `Dead letters: ${metrics.deadLetterEntries.lbs} in the LBS dead-letter stream, ${metrics.deadLetterEntries.entry} in the entry dead-letter stream`,
    '',
  ].join('\n');
}

function plural(count: number, one: string, many: string): string {
  return count === 1 ? one : many;
}
