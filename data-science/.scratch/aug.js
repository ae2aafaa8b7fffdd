const ds = require('/work/main/data-science/dist/src/index.js');
const size = 32; const corners = new Float32Array(size * size);
for (const [x0, y0] of [[1, 1], [size - 4, 1], [1, size - 4], [size - 4, size - 4]]) for (let y = y0; y < y0 + 3; y++) for (let x = x0; x < x0 + 3; x++) corners[y * size + x] = 1;
const cfg = { ...ds.depictionAugmentation(), thicken: 0, intensity: [1, 1] };
const rng = ds.createRng(2);
for (let i = 0; i < 50; i++) { const out = ds.augmentImage(corners, size, cfg, rng); const q=[0,0,0,0]; out.forEach((v,k)=>{const j=(Math.floor(k/size)<size/2?0:2)+(k%size<size/2?0:1); q[j]=Math.max(q[j],v)}); if (Math.min(...q) <= 0.3) console.log(i, q.map(x=>x.toFixed(2))); }
const r2 = ds.createRng(2);
for (let i = 0; i < 46; i++) { const vals = []; const rr = () => { const v = r2(); vals.push(v); return v; }; ds.augmentImage(corners, size, cfg, rr); if (i === 45) console.log(vals); }
