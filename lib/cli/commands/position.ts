import { getPosition, setPosition, type PositionInfo, type StreamOwner } from '../../admin/positions.js';
import { actionOperand, expectOperands, streamId, type Command } from '../command.js';
import { CONNECTION_OPTIONS } from '../connect.js';
import { EXIT, OperationError, UsageError } from '../exit-codes.js';

/** `rsc position get|set --service S STREAM [ID]`: a stream's position, read or repaired from outside the fleet
 * (lib/admin/positions.ts). */
export const position: Command = {
  name: 'position',
  summary: "Show a stream's position, fencing token and owner, or set its position while nobody owns it.",
  operands: 'get|set STREAM [ID]',
  details: [
    "get prints the stream's position (the id of its last processed entry), the fencing token of its last owner, and",
    'its owner now (live, or dead and awaiting takeover).',
    'set makes ID the position: the next owner goes on with the entry after it. It prints `set`. It is refused',
    '(exit code 1, naming the owner) while a consumer owns the stream, a dead one that still holds it included:',
    'the owner would overwrite it; let the owner call setPosition(), or hand the stream over first.',
  ].join('\n'),
  options: {
    json: { type: 'boolean', description: 'Print JSON instead of text.' },
    ...CONNECTION_OPTIONS,
  },
  async run({ values, positionals, io, connect }) {
    const [action, operands] = actionOperand(position, positionals, ['get', 'set'] as const);
    if (action === 'get') {
      const [stream] = expectOperands(position, operands, ['STREAM']) as [string];
      checkStream(stream);
      const { redis } = await connect();
      const info = await getPosition(redis, stream);
      io.stdout.write(values.json ? `${JSON.stringify(positionJson(redis.service, info))}\n` : formatPosition(info));
      return EXIT.ok;
    }
    const [stream, id] = expectOperands(position, operands, ['STREAM', 'ID']) as [string, string];
    checkStream(stream);
    streamId(position, 'ID', id);
    const { redis } = await connect();
    const outcome = await setPosition(redis, stream, id);
    if (values.json) {
      const owner = outcome.outcome === 'owned' ? { owner: outcome.owner ?? null } : {};
      io.stdout.write(`${JSON.stringify({ version: 1, service: redis.service, stream, outcome: outcome.outcome, position: outcome.outcome === 'set' ? id : null, ...owner })}\n`);
    } else if (outcome.outcome === 'set') io.stdout.write('set\n');
    if (outcome.outcome === 'owned') {
      const who = outcome.owner
        ? `consumer '${outcome.owner.consumerId}' owns it (${describeOwner(outcome.owner)}): let it call setPosition(), or hand the stream over first`
        : 'it was owned, and its owner has let it go since: try again';
      throw new OperationError(`refused to set the position of '${stream}': ${who}`);
    }
    return EXIT.ok;
  },
};

function checkStream(stream: string): void {
  if (stream === '') throw new UsageError('STREAM must be a non-empty name', position.name);
}

function describeOwner(owner: StreamOwner): string {
  return owner.live ? 'live' : 'dead, awaiting takeover';
}

/** `get --json`: null for what Redis does not hold. */
export function positionJson(service: string, info: PositionInfo) {
  return { version: 1 as const, service, stream: info.stream, position: info.position ?? null, token: info.token ?? null, owner: info.owner ?? null };
}

export function formatPosition(info: PositionInfo): string {
  const owner = info.owner ? `${info.owner.consumerId} (${describeOwner(info.owner)}), through LBS entry ${info.owner.lbsId}` : '- (nobody owns it)';
  return [
    `stream:   ${info.stream}`,
    `position: ${info.position ?? '- (none: not processed yet, or finished)'}`,
    `token:    ${info.token ?? '-'}`,
    `owner:    ${owner}`,
    '',
  ].join('\n');
}
