import type { StreamInfo } from '../../events.js';
import { addStream, encodeEntry } from '../../producer.js';
import { expectOperands, stringOption, type Command } from '../command.js';
import { CONNECTION_OPTIONS } from '../connect.js';
import { EXIT, UsageError } from '../exit-codes.js';

/** `rsc add --service S STREAM [--info JSON]`: addStream() from the shell. */
export const add: Command = {
  name: 'add',
  summary: 'Add a stream to the service: one of its consumers will own it.',
  operands: 'STREAM',
  details: [
    "Appends STREAM to the service's load balancer stream with addStream(), as a producer does, and prints the id of",
    'the new LBS entry. --info is the JSON object the owner receives as the lease\'s `info`.',
  ].join('\n'),
  options: {
    info: { type: 'string', value: 'JSON', description: 'A JSON object handed to the owner with the stream (default {}).' },
    ...CONNECTION_OPTIONS,
  },
  async run({ values, positionals, io, connect }) {
    const [stream] = expectOperands(add, positionals, ['STREAM']) as [string];
    const info = parseInfo(stringOption(values, 'info'));
    try {
      encodeEntry(stream, info); // the library's own checks of the name, before connecting
    } catch (error) {
      throw new UsageError(`STREAM ${(error as Error).message.replace(/^Expected `stream` to be /, 'must be ').replace(/^Expected `stream` /, 'must lie ')}`, add.name);
    }
    const { redis } = await connect();
    const id = await addStream(redis.at(redis.keys.lbs), redis.service, stream, info);
    io.stdout.write(`${id}\n`);
    return EXIT.ok;
  },
};

/** --info: a JSON object, as the consumers read it (anything else would reach them as `{}`). */
function parseInfo(text: string | undefined): StreamInfo {
  if (text === undefined) return {};
  let info: unknown;
  try {
    info = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`--info is not valid JSON: ${(error as Error).message}`, add.name);
  }
  if (typeof info !== 'object' || info === null || Array.isArray(info)) {
    throw new UsageError(`--info must be a JSON object, got ${Array.isArray(info) ? 'an array' : info === null ? 'null' : `a ${typeof info}`}`, add.name);
  }
  return info as StreamInfo;
}
