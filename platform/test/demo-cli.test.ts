import { expect } from 'chai';
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const DEMO = path.resolve(__dirname, '../src/demo.js');

function runDemo(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('the demo command', function () {
  this.timeout(60_000);

  it('names the service whose port is taken, and stops without starting anything', async function () {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const { code, output } = await runDemo(['--profile', 'ci'], { TRACKING_PORT: String(port) });
      expect(code).to.equal(1);
      expect(output).to.contain(`port ${port} (tracking server) is already in use`);
      expect(output).to.contain('TRACKING_PORT');
      expect(output).not.to.match(/\[2\/7\]/);
    } finally {
      blocker.close();
    }
  });

  it('refuses an unknown option or profile with what to use instead', async function () {
    const option = await runDemo(['--frobnicate']);
    expect(option.code).to.equal(64);
    expect(option.output).to.contain("unknown option '--frobnicate'");
    const profile = await runDemo(['--profile', 'huge']);
    expect(profile.code).to.equal(64);
    expect(profile.output).to.contain("unknown profile 'huge'").and.to.contain('full, ci');
  });

  it('explains itself with --help', async function () {
    const { code, output } = await runDemo(['--help']);
    expect(code).to.equal(0);
    expect(output).to.contain('--retrain').and.to.contain('TRACKING_PORT');
  });
});
