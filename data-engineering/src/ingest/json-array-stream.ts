/**
 * Splits a JSON array into its elements as bytes arrive, so a large compounds.json is never held in
 * memory whole: only the element being read is buffered, then handed to JSON.parse.
 *
 * Why not a streaming parser from npm: the elements are parsed by V8's JSON.parse (native, fast);
 * this only has to find where each top-level element starts and ends, which is a byte scan that
 * tracks strings, escapes and nesting depth. That keeps ingest at several hundred thousand records/s.
 */
export class JsonFormatError extends Error {
  constructor(message: string, readonly byteOffset: number) {
    super(message);
  }
}

const OPEN_BRACKET = 0x5b; // [
const CLOSE_BRACKET = 0x5d; // ]
const OPEN_BRACE = 0x7b; // {
const CLOSE_BRACE = 0x7d; // }
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const UTF8_BOM = [0xef, 0xbb, 0xbf];

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export class JsonArraySplitter {
  private offset = 0; // bytes consumed before the current chunk
  private started = false;
  private ended = false;
  private expectValue = false;
  private elementCount = 0;
  private carry: Buffer[] = [];
  private batch: { start: number; end: number; row: number }[] = [];
  private inElement = false;
  private depth = 0;
  private inString = false;
  private escaped = false;

  /** True once the closing bracket has been seen. */
  get complete(): boolean {
    return this.ended;
  }

  /** Feeds the next chunk; returns the elements completed in it, parsed. */
  push(chunk: Buffer): unknown[] {
    const out: unknown[] = [];
    this.batch = [];
    let elementStart = this.inElement ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (this.inElement) {
        if (this.inString) {
          i = this.skipString(chunk, i) - 1; // lands on the closing quote (or the chunk's end)
          continue;
        }
        if (c === QUOTE) this.inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
        else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          if (this.depth === 0) {
            if (c === CLOSE_BRACE) throw this.error(`unexpected '}'`, i);
            this.finishElement(chunk, elementStart, i, out);
            this.ended = true;
          } else this.depth--;
        } else if (c === COMMA && this.depth === 0) {
          this.finishElement(chunk, elementStart, i, out);
          this.expectValue = true;
        }
        continue;
      }
      if (isWhitespace(c)) continue;
      if (this.ended) throw this.error(`unexpected data after the closing ']'`, i);
      if (!this.started) {
        const position = this.offset + i;
        if (position < UTF8_BOM.length && c === UTF8_BOM[position]) continue; // the BOM, possibly split over chunks
        if (c !== OPEN_BRACKET) throw this.error(`expected '[' to open an array, found '${String.fromCharCode(c)}'`, i);
        this.started = true;
        this.expectValue = true;
        continue;
      }
      if (c === COMMA) {
        if (this.expectValue) throw this.error(`unexpected ','`, i);
        this.expectValue = true;
      } else if (c === CLOSE_BRACKET) {
        if (this.expectValue && this.elementCount > 0) throw this.error(`trailing ',' before ']'`, i);
        this.ended = true;
      } else {
        // Elements end only at a top-level ',' or ']', so a value always follows '[' or ','.
        this.inElement = true;
        this.expectValue = false;
        this.depth = 0;
        elementStart = i;
        i--; // re-read this byte as the element's first
      }
    }
    if (this.inElement) this.carry.push(chunk.subarray(Math.max(elementStart, 0)));
    this.parseBatch(chunk, out);
    this.offset += chunk.length;
    return out;
  }

  /**
   * Jumps to the quote that closes the current string (via indexOf, far faster than a byte loop) and
   * returns the index after it, or chunk.length if the string continues into the next chunk.
   * `escaped` carries "the previous chunk ended in an odd run of backslashes" across chunks.
   */
  private skipString(chunk: Buffer, from: number): number {
    let start = from;
    for (;;) {
      const quote = chunk.indexOf(QUOTE, start);
      const end = quote === -1 ? chunk.length : quote;
      let run = 0;
      while (end - run - 1 >= start && chunk[end - run - 1] === BACKSLASH) run++;
      const reachesStart = end - run === start;
      const odd = (run + (reachesStart && this.escaped ? 1 : 0)) % 2 === 1;
      if (quote === -1) {
        this.escaped = odd;
        return chunk.length;
      }
      this.escaped = false;
      if (!odd) {
        this.inString = false;
        return quote + 1;
      }
      start = quote + 1; // an escaped quote: keep looking
    }
  }

  /** Call after the last chunk: fails if the array was never opened or closed. */
  finish(): void {
    if (!this.started) throw this.error('the file is empty', 0);
    if (!this.ended) throw this.error(`the file ends before the array's closing ']' (truncated?)`, 0);
  }

  /**
   * An element that began in an earlier chunk is parsed on its own; elements wholly inside this
   * chunk are queued and parsed together by parseBatch.
   */
  private finishElement(chunk: Buffer, start: number, end: number, out: unknown[]): void {
    this.inElement = false;
    const row = this.elementCount++;
    if (this.carry.length === 0) {
      this.batch.push({ start, end, row });
      return;
    }
    const bytes = Buffer.concat([...this.carry, chunk.subarray(0, end)]);
    this.carry = [];
    out.push(this.parseOne(bytes, row, 0));
  }

  /**
   * Elements inside one chunk are separated only by commas and whitespace, so the bytes from the
   * first one's start to the last one's end, wrapped in [ ], are a JSON array: one JSON.parse call
   * for the whole chunk instead of one per record (about twice as fast). If that fails, each element
   * is parsed alone to name the bad record.
   */
  private parseBatch(chunk: Buffer, out: unknown[]): void {
    const first = this.batch[0];
    const last = this.batch[this.batch.length - 1];
    if (first === undefined || last === undefined) return;
    let parsed: unknown[] | undefined;
    try {
      parsed = JSON.parse(`[${chunk.toString('utf8', first.start, last.end)}]`) as unknown[];
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined && parsed.length === this.batch.length) {
      for (const value of parsed) out.push(value);
    } else {
      for (const { start, end, row } of this.batch) out.push(this.parseOne(chunk.subarray(start, end), row, start));
    }
    this.batch = [];
  }

  private parseOne(bytes: Buffer, row: number, at: number): unknown {
    try {
      return JSON.parse(bytes.toString('utf8'));
    } catch (error) {
      throw this.error(`record ${row} is not valid JSON (${(error as Error).message})`, at);
    }
  }

  private error(message: string, indexInChunk: number): JsonFormatError {
    const at = this.offset + indexInChunk;
    return new JsonFormatError(`${message} at byte ${at}`, at);
  }
}
