import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../../..');

/** `docker compose` (plugin) when present, else Debian's standalone `docker-compose`. */
function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0) return ['docker-compose'];
  return undefined;
}

describe('docker-compose.yml', function () {
  this.timeout(60_000);

  it('passes `docker compose config` with the three upstream services and their ports', function () {
    const compose = composeCommand();
    if (!compose) this.skip(); // installed by `scripts/setup-system.sh --with-browser` (as in CI)
    const [cmd, ...pre] = compose as [string, ...string[]];
    const res = spawnSync(cmd, [...pre, 'config'], { cwd: ROOT, encoding: 'utf8' });
    expect(res.status, res.stderr).to.equal(0);
    expect(res.stdout).to.match(/^\s{2}tracking:/m);
    expect(res.stdout).to.match(/^\s{2}data-science:/m);
    expect(res.stdout).to.match(/^\s{2}demo-api:/m);
    expect(res.stdout).to.match(/published: "?80"?[\s\S]*target: 8000|80:8000/);
  });

  it('builds each service from a Dockerfile in its own folder', function () {
    const compose = composeCommand();
    if (!compose) this.skip();
    const [cmd, ...pre] = compose as [string, ...string[]];
    const res = spawnSync(cmd, [...pre, 'config'], { cwd: ROOT, encoding: 'utf8' });
    for (const ws of ['tracking', 'data-science', 'demo-api']) expect(res.stdout).to.contain(`${ws}/Dockerfile`);
  });
});
