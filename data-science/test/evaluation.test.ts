import { expect } from 'chai';
import { emptyConfusion, summarizeConfusion } from '../src/index.js';

describe('evaluation', () => {
  it('computes exact, ±1 and mean absolute error from a confusion matrix', () => {
    const c = emptyConfusion([0, 1, 2, 3]);
    c.matrix = [
      [5, 1, 0, 0], // 5 right, 1 off by one
      [0, 4, 0, 0],
      [0, 0, 3, 0],
      [2, 0, 0, 5], // 2 off by three
    ];
    const s = summarizeConfusion(c);
    expect(s.count).to.equal(20);
    expect(s.accuracy).to.be.closeTo(17 / 20, 1e-12);
    expect(s.withinOne).to.be.closeTo(18 / 20, 1e-12);
    expect(s.meanAbsoluteError).to.be.closeTo((1 + 2 * 3) / 20, 1e-12);
  });

  it('scores an empty matrix as zero rather than NaN', () => {
    expect(summarizeConfusion(emptyConfusion([0, 1]))).to.deep.equal({ count: 0, accuracy: 0, withinOne: 0, meanAbsoluteError: 0 });
  });
});
