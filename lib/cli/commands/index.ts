import type { Command } from '../command.js';
import { add } from './add.js';
import { inspect } from './inspect.js';

/** Every command of `rsc`, in the order `rsc help` lists them. */
export const COMMANDS: readonly Command[] = [inspect, add];
