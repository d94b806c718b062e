import type { Command, OptionSpec } from './command.js';
import { CONNECTION_OPTIONS } from './connect.js';
import { formatTable } from './table.js';

/** `rsc help`: the commands, the exit codes, where to read more. */
export function generalHelp(commands: readonly Command[]): string {
  const list = formatTable(
    [{ heading: '' }, { heading: '' }],
    commands.map((command) => [`  ${command.name}`, command.summary]),
  )
    .split('\n')
    .slice(1)
    .join('\n');
  return [
    'rsc: inspect and repair a redis-stream-client service',
    '',
    'Usage: rsc <command> [options]',
    '       rsc help [command]  |  rsc <command> --help  |  rsc --version',
    '',
    'Commands:',
    list.trimEnd(),
    '',
    EXIT_CODES,
    '',
    'Connection: --url URL (or $REDIS_URL), --cluster HOST:PORT,..., --sentinel HOST:PORT,... --master-name NAME;',
    'credentials in the URL or in $REDIS_USERNAME and $REDIS_PASSWORD. See docs/cli.md.',
    '',
  ].join('\n');
}

/** `rsc help <command>`: its usage line, its options, what it does. */
export function commandHelp(command: Command): string {
  const own = Object.entries(command.options).filter(([name]) => !(name in CONNECTION_OPTIONS));
  const connection = Object.entries(command.options).filter(([name]) => name in CONNECTION_OPTIONS);
  const sections = [
    `Usage: rsc ${command.name} ${usageLine(command)}`.trimEnd(),
    '',
    command.summary,
    ...(command.details ? ['', command.details.trimEnd()] : []),
    ...(own.length ? ['', 'Options:', optionList(own)] : []),
    ...(connection.length ? ['', 'Connection:', optionList(connection)] : []),
    '',
    EXIT_CODES,
    '',
  ];
  return sections.join('\n');
}

const EXIT_CODES = 'Exit codes: 0 success, 1 the operation failed (Redis error, unreachable, refused, not found), 2 bad usage.';

function usageLine(command: Command): string {
  const service = 'service' in command.options ? '--service NAME ' : '';
  return `${service}[options]${command.operands ? ` ${command.operands}` : ''}`;
}

function optionList(options: Array<[string, OptionSpec]>): string {
  const rows = options.map(([name, spec]) => [`  ${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`, spec.description]);
  return formatTable([{ heading: '' }, { heading: '' }], rows).split('\n').slice(1).join('\n').trimEnd();
}
