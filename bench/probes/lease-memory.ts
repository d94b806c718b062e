/**
 * Where a client's memory per owned stream goes: heap per lease of the library's LeaseRegistry, of an
 * AbortController with and without its signal read, and of a lease whose signal is created on first access.
 *   node --expose-gc --import tsx bench/probes/lease-memory.ts
 * Each measure runs in a fresh child process (so one does not disturb the next).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const N = 100_000;
const MEASURES = ['registry', 'controller', 'controller+signal', 'lazy-signal', 'lazy-signal+shared-info'] as const;
type Measure = (typeof MEASURES)[number];

/** The slice of lib/leases.ts used here, loaded at run time so that a change of its API cannot break typechecking. */
interface Registry {
  add(grant: { stream: string; lbsId: string; info: Record<string, unknown>; token: number }, recovered: boolean): unknown;
}

const EMPTY_INFO = Object.freeze({});

class LazyLease {
  #controller: AbortController | undefined;
  constructor(
    readonly stream: string,
    readonly lbsId: string,
    readonly info: Record<string, unknown>,
    readonly token: number,
    readonly consumerId: string,
    readonly recovered: boolean,
  ) {}
  get signal(): AbortSignal {
    return (this.#controller ??= new AbortController()).signal;
  }
}

function heap(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function measure(which: Measure): Promise<number> {
  const keep: unknown[] = [];
  const stream = (i: number): string => `bxx-0a1b2c-s${i}`;
  const lbsId = (i: number): string => `${1_764_350_000_000 + i}-0`;
  let registry: Registry | undefined;
  if (which === 'registry') {
    const { LeaseRegistry } = (await import('../../lib/leases.js')) as unknown as { LeaseRegistry: new (id: string) => Registry };
    registry = new LeaseRegistry('consumer-1');
  }
  const before = heap();
  for (let i = 0; i < N; i++) {
    switch (which) {
      case 'registry':
        registry!.add({ stream: stream(i), lbsId: lbsId(i), info: JSON.parse('{}') as Record<string, unknown>, token: i }, false);
        break;
      case 'controller':
        keep.push(new AbortController());
        break;
      case 'controller+signal': {
        const controller = new AbortController();
        keep.push(controller, controller.signal);
        break;
      }
      case 'lazy-signal':
        keep.push(new LazyLease(stream(i), lbsId(i), JSON.parse('{}') as Record<string, unknown>, i, 'consumer-1', false));
        break;
      case 'lazy-signal+shared-info':
        keep.push(new LazyLease(stream(i), lbsId(i), EMPTY_INFO, i, 'consumer-1', false));
        break;
    }
  }
  const after = heap();
  // Used after the sample, so that neither is collected before it.
  void [keep.length, registry];
  return (after - before) / N;
}

const which = process.argv[2] as Measure | undefined;
if (which) {
  console.log(Math.round(await measure(which)));
} else {
  const file = fileURLToPath(import.meta.url);
  for (const name of MEASURES) {
    const bytes = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', file, name], { encoding: 'utf8' }).trim();
    console.log(`${name.padEnd(26)} ${bytes.padStart(6)} B per lease`);
  }
}
