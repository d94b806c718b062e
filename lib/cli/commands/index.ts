import type { Command } from '../command.js';
import { add } from './add.js';
import { deadLetter } from './dead-letter.js';
import { inspect } from './inspect.js';
import { position } from './position.js';

/** Every command of `rsc`, in the order `rsc help` lists them. */
export const COMMANDS: readonly Command[] = [inspect, add, deadLetter, position];
