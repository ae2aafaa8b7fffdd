import cliProgress from 'cli-progress';

/**
 * Live progress during training: a cli-progress bar on a terminal, plain log lines otherwise (the
 * notebook and CI logs), at most ~10 per epoch so output stays readable.
 */
export class TrainingProgress {
  private bar: cliProgress.SingleBar | undefined;
  private lastLogged = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly useBar = Boolean(process.stdout.isTTY) && log === console.log,
  ) {}

  startEpoch(epoch: number, epochs: number, batches: number): void {
    this.lastLogged = 0;
    if (this.useBar) {
      this.bar = new cliProgress.SingleBar(
        { format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} batches | loss {loss} | acc {acc} | {rate} img/s`, hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(batches, 0, { loss: '-', acc: '-', rate: '-' });
    }
  }

  batch(epoch: number, batch: number, batches: number, loss: number, accuracy: number, imagesPerSecond: number): void {
    const payload = { loss: loss.toFixed(4), acc: accuracy.toFixed(3), rate: imagesPerSecond.toFixed(0) };
    if (this.bar) {
      this.bar.update(batch, payload);
      return;
    }
    const every = Math.max(1, Math.ceil(batches / 10));
    if (batch === batches || batch - this.lastLogged >= every) {
      this.lastLogged = batch;
      this.log(`  epoch ${epoch} batch ${batch}/${batches}  loss ${payload.loss}  acc ${payload.acc}  ${payload.rate} img/s`);
    }
  }

  endEpoch(line: string): void {
    this.bar?.stop();
    this.bar = undefined;
    this.log(line);
  }
}
