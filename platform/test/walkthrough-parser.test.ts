import { expect } from 'chai';
import { parseWalkthrough } from '../src/walkthrough.js';

describe('README walkthrough parser', function () {
  it('takes only `bash walkthrough` blocks, with the expectations right above them and their heading', function () {
    const md = ['# Top', '## Serve', 'text', '<!-- expect: v\\d -->', '```bash walkthrough', 'curl -s x', 'echo y', '```', '```bash', 'not run', '```', '```bash walkthrough', 'echo z', '```'].join('\n');
    const blocks = parseWalkthrough(md);
    expect(blocks.map((b) => b.code)).to.deep.equal(['curl -s x\necho y', 'echo z']);
    expect(blocks[0]?.heading).to.equal('Serve');
    expect(blocks[0]?.expect.map(String)).to.deep.equal(['/v\\d/']);
    expect(blocks[1]?.expect).to.deep.equal([]);
    expect(blocks[0]?.line).to.equal(5);
  });

  it('names the line of a block that is never closed', function () {
    expect(() => parseWalkthrough('## A\n```bash walkthrough\necho 1\n')).to.throw(/line 2/);
  });
});
