import {
  MAX_LIST_COUNT,
  dropDeadLetters,
  listDeadLetters,
  requeueDeadLetters,
  showDeadLetters,
  type DeadLetter,
  type DeadLetterKind,
  type DeadLetterPage,
  type DropOutcome,
  type EntryDeadLetter,
  type LbsDeadLetter,
  type MalformedDeadLetter,
  type RequeueOutcome,
  type ShowOutcome,
} from '../../admin/dead-letters.js';
import type { ServiceRedis } from '../../admin/service-redis.js';
import { idTime } from '../../processing/stream-id.js';
import { actionOperand, positiveInteger, stringOption, streamId, type Command, type OptionValues } from '../command.js';
import { CONNECTION_OPTIONS } from '../connect.js';
import { EXIT, OperationError, UsageError } from '../exit-codes.js';
import { formatTable, formatTime } from '../table.js';

export const DEFAULT_COUNT = 20;
const ACTIONS = ['list', 'show', 'requeue', 'drop'] as const;
const KINDS: readonly DeadLetterKind[] = ['lbs', 'entries'];

type Action = (typeof ACTIONS)[number];

/** `rsc dead-letter list|show|requeue|drop --service S [--kind lbs|entries] [ID...]`: the operator's work on the
 * two dead-letter streams (lib/admin/dead-letters.ts). */
export const deadLetter: Command = {
  name: 'dead-letter',
  summary: "List, show, requeue or drop the service's dead letters.",
  operands: 'list|show|requeue|drop [ID...]',
  details: [
    '--kind lbs (the default): LBS entries no consumer could hand out (rsc:{S}:dead-letter); --kind entries: data',
    'entries whose handler failed maxAttempts times (rsc:{S}:entry-dead-letter).',
    'list prints a page of records, newest first, and the --from of the next page. show prints whole records.',
    'requeue puts records back where they came from (an LBS entry onto the LBS, a data entry onto its stream, each',
    'with a new id) and deletes them; drop deletes them. One line per ID, with its outcome.',
    'Exit code 1 when any ID was not found (show, requeue, drop) or refused (requeue): the others are done anyway.',
    'Every ID is checked before anything is done: one that is not a stream id is exit code 2, and nothing is done.',
  ].join('\n'),
  options: {
    kind: { type: 'string', value: 'lbs|entries', description: 'Which dead-letter stream (default lbs).' },
    count: { type: 'string', value: 'N', description: `list: at most N records, 1 to ${MAX_LIST_COUNT} (default ${DEFAULT_COUNT}).` },
    from: { type: 'string', value: 'ID', description: 'list: start at record ID and go back to older ones (the next page).' },
    json: { type: 'boolean', description: 'Print JSON instead of text.' },
    ...CONNECTION_OPTIONS,
  },
  async run({ values, positionals, io, connect }) {
    const [action, ids] = actionOperand(deadLetter, positionals, ACTIONS);
    const kind = kindOption(values);
    if (action === 'list') {
      if (ids.length > 0) throw new UsageError(`unexpected argument '${ids[0]}': list takes no ID (--from ID starts a page)`, deadLetter.name);
      const options = listOptions(values);
      const { redis } = await connect();
      const page = await listDeadLetters(redis, kind, options);
      io.stdout.write(values.json ? `${JSON.stringify(listJson(redis, kind, page))}\n` : formatList(kind, page));
      return EXIT.ok;
    }
    for (const name of ['count', 'from']) {
      if (values[name] !== undefined) throw new UsageError(`--${name} is for list, not ${action}`, deadLetter.name);
    }
    if (ids.length === 0) throw new UsageError(`missing ID: ${action} takes the id of one record or more`, deadLetter.name);
    for (const id of ids) streamId(deadLetter, 'ID', id);
    const { redis } = await connect();
    const outcomes = await perform(redis, action, kind, ids);
    io.stdout.write(values.json ? `${JSON.stringify(outcomesJson(redis, kind, outcomes))}\n` : formatOutcomes(outcomes));
    const failed = outcomes.filter((outcome) => outcome.outcome === 'not-found' || outcome.outcome === 'refused');
    if (failed.length > 0) {
      throw new OperationError(`${failed.length} of ${outcomes.length} not ${PAST[action]}: ${failed.map((outcome) => `${outcome.id} (${outcome.outcome})`).join(', ')}`);
    }
    return EXIT.ok;
  },
};

const PAST: Record<Exclude<Action, 'list'>, string> = { show: 'shown', requeue: 'requeued', drop: 'dropped' };

type Outcome = ShowOutcome | RequeueOutcome | DropOutcome;

function perform(redis: ServiceRedis, action: Exclude<Action, 'list'>, kind: DeadLetterKind, ids: string[]): Promise<Outcome[]> {
  if (action === 'show') return showDeadLetters(redis, kind, ids);
  if (action === 'requeue') return requeueDeadLetters(redis, kind, ids);
  return dropDeadLetters(redis, kind, ids);
}

function kindOption(values: OptionValues): DeadLetterKind {
  const kind = stringOption(values, 'kind') ?? 'lbs';
  if (!(KINDS as readonly string[]).includes(kind)) throw new UsageError(`--kind must be lbs or entries, got '${kind}'`, deadLetter.name);
  return kind as DeadLetterKind;
}

/** --count and --from, checked as listDeadLetters checks them, before connecting. */
function listOptions(values: OptionValues): { count: number; from?: string } {
  const countText = stringOption(values, 'count');
  const count = countText === undefined ? DEFAULT_COUNT : positiveInteger(deadLetter, '--count', countText);
  if (count > MAX_LIST_COUNT) throw new UsageError(`--count must be at most ${MAX_LIST_COUNT}, got '${countText}'`, deadLetter.name);
  const from = stringOption(values, 'from');
  return from === undefined ? { count } : { count, from: streamId(deadLetter, '--from', from) };
}

/** A record for `--json`: as decoded, with the time of its id (ms), and null for an LBS record's stream that does
 * not decode (JSON has no undefined). */
export type DeadLetterJson =
  | (Omit<LbsDeadLetter, 'stream'> & { readonly stream: string | null; readonly time: number })
  | ((EntryDeadLetter | MalformedDeadLetter) & { readonly time: number });

export function recordJson(record: DeadLetter): DeadLetterJson {
  const time = idTime(record.id);
  return record.kind === 'lbs' ? { ...record, stream: record.stream ?? null, time } : { ...record, time };
}

function header(redis: ServiceRedis, kind: DeadLetterKind) {
  return { version: 1 as const, service: redis.service, kind, key: kind === 'lbs' ? redis.keys.deadLetter : redis.keys.entryDeadLetter };
}

/** `list --json`. */
export function listJson(redis: ServiceRedis, kind: DeadLetterKind, page: DeadLetterPage) {
  return { ...header(redis, kind), deadLetters: page.deadLetters.map(recordJson), next: page.next ?? null };
}

/** `show|requeue|drop --json`: one outcome per ID, in their order; show's found records as list gives them. */
export function outcomesJson(redis: ServiceRedis, kind: DeadLetterKind, outcomes: readonly Outcome[]) {
  return {
    ...header(redis, kind),
    outcomes: outcomes.map((outcome) => ('deadLetter' in outcome ? { ...outcome, deadLetter: recordJson(outcome.deadLetter) } : outcome)),
  };
}

const NONE = '-';

/** A page as a table, newest first, then where the next page starts. */
export function formatList(kind: DeadLetterKind, page: DeadLetterPage): string {
  const next = page.next === undefined ? 'No older records.\n' : `Next page: --from ${page.next}\n`;
  if (page.deadLetters.length === 0) return page.next === undefined ? 'No records.\n' : next;
  const malformed = (record: DeadLetter & { kind: 'malformed' }): string => `malformed record: ${record.problem}`;
  if (kind === 'lbs') {
    const rows = page.deadLetters.map((record) => {
      const start = [record.id, formatTime(idTime(record.id))];
      if (record.kind !== 'lbs') return [...start, NONE, NONE, record.kind === 'malformed' ? malformed(record) : NONE];
      return [...start, record.stream ?? NONE, record.lbsId, oneLine(record.reason)];
    });
    return formatTable([{ heading: 'ID' }, { heading: 'TIME' }, { heading: 'STREAM' }, { heading: 'LBS ID' }, { heading: 'REASON' }], rows) + next;
  }
  const rows = page.deadLetters.map((record) => {
    const start = [record.id, formatTime(idTime(record.id))];
    if (record.kind !== 'entries') return [...start, NONE, NONE, NONE, record.kind === 'malformed' ? malformed(record) : NONE];
    return [...start, record.stream, record.entryId, String(record.attempts), oneLine(record.error)];
  });
  return (
    formatTable([{ heading: 'ID' }, { heading: 'TIME' }, { heading: 'STREAM' }, { heading: 'ENTRY ID' }, { heading: 'ATTEMPTS', align: 'right' }, { heading: 'ERROR' }], rows) +
    next
  );
}

/** One line per ID: show's found records in full, indented under their id; otherwise the outcome. */
export function formatOutcomes(outcomes: readonly Outcome[]): string {
  return outcomes
    .map((outcome) => {
      switch (outcome.outcome) {
        case 'found':
          return formatRecord(outcome.deadLetter);
        case 'not-found':
          return `${outcome.id} not found\n`;
        case 'requeued':
          return `${outcome.id} requeued as ${outcome.newId} in ${outcome.stream}\n`;
        case 'refused':
          return `${outcome.id} refused: ${oneLine(outcome.reason)}\n`;
        case 'dropped':
          return `${outcome.id} dropped\n`;
      }
    })
    .join('');
}

/** A whole record: its decoded parts, then its fields, one per line. */
export function formatRecord(record: DeadLetter): string {
  const lines = (pairs: ReadonlyArray<readonly [string, string | number]>): string[] => pairs.map(([name, value]) => `  ${name}: ${printable(String(value))}`);
  const fields = (pairs: ReadonlyArray<readonly [string, string]>): string[] => ['  fields:', ...pairs.map(([name, value]) => `    ${printable(name)}: ${printable(value)}`)];
  const time = formatTime(idTime(record.id));
  let body: string[];
  if (record.kind === 'lbs') {
    const truncated = Object.entries(record.truncated).map(([name, size]) => `${name} (${size} bytes)`).join(', ');
    body = [
      `${record.id}  LBS dead letter, ${time}`,
      ...lines([['reason', record.reason], ['lbs id', record.lbsId], ['stream', record.stream ?? NONE], ...(truncated ? [['truncated', truncated] as const] : [])]),
      ...fields(record.fields),
    ];
  } else if (record.kind === 'entries') {
    body = [
      `${record.id}  entry dead letter, ${time}`,
      ...lines([['stream', record.stream], ['entry id', record.entryId], ['attempts', record.attempts], ['error', record.error]]),
      ...fields(Object.entries(record.fields)),
    ];
  } else {
    body = [`${record.id}  malformed record, ${time}`, ...lines([['problem', record.problem]]), ...fields(record.raw)];
  }
  return `${body.join('\n')}\n`;
}

/** Text for one table cell or line: control characters (a multi-line error, say) become spaces. */
function oneLine(text: string): string {
  return text.replace(/\p{Cc}+/gu, ' ');
}

/** A value as it is, or as a JSON string when it holds control characters (newlines): one line, unambiguous. */
function printable(text: string): string {
  return /\p{Cc}/u.test(text) ? JSON.stringify(text) : text;
}
