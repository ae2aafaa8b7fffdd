import { expect } from 'chai';
import { JsonArraySplitter, JsonFormatError } from '../src/ingest/json-array-stream.js';

/** Feeds `bytes` in chunks of `size` and returns the parsed elements. */
function split(bytes: Buffer, size: number): unknown[] {
  const splitter = new JsonArraySplitter();
  const out: unknown[] = [];
  for (let at = 0; at < bytes.length; at += size) out.push(...splitter.push(bytes.subarray(at, at + size)));
  splitter.finish();
  return out;
}

function failure(text: string): string {
  try {
    split(Buffer.from(text), 7);
  } catch (error) {
    expect(error).to.be.instanceOf(JsonFormatError);
    return (error as Error).message;
  }
  throw new Error(`no error for ${text}`);
}

describe('JsonArraySplitter', () => {
  const tricky = [
    { id: 'a"b\\', brackets: ['[', ']', '{', '}', ','], nested: { deep: [[1], [2, { x: '\\"' }]] } },
    1, -2.5e3, 'plain "quoted" string\\', null, true, [], {}, 'ünïcødé ✓ 𝄞',
  ];

  it('finds every element whatever the chunk boundaries, with or without a BOM', () => {
    for (const bom of [false, true]) {
      const body = Buffer.from(JSON.stringify(tricky, null, 2));
      const bytes = bom ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]) : body;
      for (let size = 1; size <= bytes.length; size += size < 40 ? 1 : 13) {
        expect(split(bytes, size), `chunk size ${size}, BOM ${bom}`).to.deep.equal(tricky);
      }
    }
  });

  it('handles empty arrays and surrounding whitespace', () => {
    expect(split(Buffer.from(' \n[ ]\n '), 1)).to.deep.equal([]);
  });

  it('reports malformed arrays with the byte offset', () => {
    expect(failure('{"a": 1}')).to.match(/expected '\[' to open an array, found '\{' at byte 0/);
    expect(failure('[1, 2,]')).to.contain("trailing ','");
    expect(failure('[{"a": 1} {"b": 2}]')).to.match(/record 0 is not valid JSON/); // missing comma
    expect(failure('[1,, 2]')).to.contain("unexpected ','");
    expect(failure('[{"a": 1}, {"b": ')).to.contain("ends before the array's closing ']'");
    expect(failure('[1] x')).to.contain("unexpected data after the closing ']'");
    expect(failure('[{"a": tru}]')).to.match(/record 0 is not valid JSON/);
    expect(failure('')).to.contain('empty');
  });
});
