const { startTrackingServer } = require('/work/main/tracking/dist/src/index.js');
(async () => { const s = await startTrackingServer({ port: +process.argv[2], dbPath: '/tmp/nbtrack/db.sqlite', artifactsRoot: '/tmp/nbtrack/art' }); console.log(s.url); })();
