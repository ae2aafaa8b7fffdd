/** Generated run names in MLflow's style ("<adjective>-<noun>-<number>") for runs created without one. */
import { randomInt } from 'node:crypto';

const ADJECTIVES = ['amazing', 'bold', 'brave', 'bright', 'calm', 'clever', 'crisp', 'daring', 'eager', 'fast', 'gentle', 'glad', 'honest', 'keen', 'lucky', 'merry', 'nimble', 'polite', 'quick', 'quiet', 'rare', 'sharp', 'shy', 'silent', 'smooth', 'steady', 'swift', 'tidy', 'vivid', 'wise'];
const NOUNS = ['ant', 'bass', 'bat', 'bear', 'bee', 'cat', 'crab', 'deer', 'dove', 'duck', 'eel', 'finch', 'fox', 'frog', 'goat', 'hare', 'hawk', 'lark', 'lynx', 'mole', 'moth', 'newt', 'owl', 'panda', 'seal', 'shrew', 'sloth', 'snail', 'toad', 'wolf'];

export function generateRunName(): string {
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}-${NOUNS[randomInt(NOUNS.length)]}-${randomInt(1000)}`;
}
