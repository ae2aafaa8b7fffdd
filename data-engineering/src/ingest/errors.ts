/** A problem with the user's input or arguments: reported as one line, exit code 2, nothing replaced. */
export class InputError extends Error {}
