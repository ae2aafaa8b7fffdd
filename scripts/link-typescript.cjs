// tslab depends on its own TypeScript 5.0 fork, which also installs `tsc`/`tsserver` bins and can win
// the hoisted node_modules/.bin links. The project builds with its own TypeScript (package.json),
// so point the links back at it after every install.
const fs = require('node:fs');
const path = require('node:path');

const bin = path.join(__dirname, '..', 'node_modules', '.bin');
for (const name of ['tsc', 'tsserver']) {
  const target = path.join('..', 'typescript', 'bin', name);
  if (!fs.existsSync(path.join(bin, target))) continue;
  const link = path.join(bin, name);
  fs.rmSync(link, { force: true });
  fs.symlinkSync(target, link);
}
