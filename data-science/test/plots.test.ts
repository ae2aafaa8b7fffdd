import { expect } from 'chai';
import sharp from 'sharp';
import { confusionMatrixPng, confusionMatrixSvg, lineChartSvg, trainingCurvesPng } from '../src/index.js';

describe('plots', () => {
  it('renders training curves to a PNG (two charts side by side)', async () => {
    const png = await trainingCurvesPng({ trainLoss: [2, 1, 0.5], valLoss: [2.1, 1.2, 0.7], trainAccuracy: [0.2, 0.6, 0.9], valAccuracy: [0.2, 0.5, 0.8] }, 'v1');
    const meta = await sharp(png).metadata();
    expect(meta.format).to.equal('png');
    expect(meta.width).to.equal(960);
    expect(meta.height).to.equal(300);
    // Not blank: the rendered chart has dark (axis, text) and coloured (series) pixels.
    const stats = await sharp(png).stats();
    expect(stats.channels[0]?.min).to.be.lessThan(100);
  });

  it('draws one point per epoch, skipping non-finite values', () => {
    const svg = lineChartSvg([{ name: 'loss', values: [1, NaN, 0.5], color: '#000' }], { title: 't', yLabel: 'y' });
    expect(svg.match(/<circle /g)).to.have.length(2);
  });

  it('renders a confusion matrix with counts and labels, escaping the title', async () => {
    const confusion = { labels: [0, 1, 2], matrix: [[3, 0, 0], [1, 4, 0], [0, 0, 2]] };
    const svg = confusionMatrixSvg(confusion, 'a < b');
    expect(svg).to.contain('a &lt; b');
    expect(svg.match(/>4</g)).to.have.length(1);
    const meta = await sharp(await confusionMatrixPng(confusion)).metadata();
    expect(meta.format).to.equal('png');
    expect(meta.width).to.be.greaterThan(100);
  });
});
