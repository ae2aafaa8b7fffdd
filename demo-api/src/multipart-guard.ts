/**
 * formidable 2 (what koa-body 6 parses multipart with) has a parser bug: on an invalid byte in a part's
 * header its MultipartParser returns from `_transform` without calling `done`, so the parse never ends
 * and the request hangs forever (found by this workspace's fuzz test). This wraps `_transform` so that
 * early exit becomes a 400 parse error, which formidable already routes to the request's error handler.
 */
type Done = (err?: Error) => void;
interface ParserPrototype {
  _transform(this: unknown, buffer: Buffer, encoding: string, done: Done): number | undefined;
  ringcountGuarded?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const MultipartParser = require('formidable/src/parsers/Multipart.js') as { prototype: ParserPrototype };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { FormidableError, malformedMultipart } = require('formidable/src/FormidableError.js') as {
  FormidableError: new (message: string, code: number, httpCode: number) => Error;
  malformedMultipart: number;
};

export function guardMultipartParser(): void {
  const proto = MultipartParser.prototype;
  if (proto.ringcountGuarded) return;
  const original = proto._transform;
  proto._transform = function (buffer, encoding, done) {
    // The original is synchronous: either it called `done` before returning, or it gave up.
    let finished = false;
    const stoppedAt = original.call(this, buffer, encoding, (err) => {
      finished = true;
      done(err);
    });
    if (!finished) done(new FormidableError(`invalid byte at offset ${String(stoppedAt)} of a part's headers`, malformedMultipart, 400));
    return stoppedAt;
  };
  proto.ringcountGuarded = true;
}
