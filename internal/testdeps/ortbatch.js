// Runs many ONNX models through ONNX Runtime (onnxruntime-node) in one
// process, for tests that would otherwise pay node's start-up per model.
// Usage: node ortbatch.js REQUEST.json
// The request: {"threads": 1, "optimization": "all", "jobs": [{"model": "...",
//   "dir": "...", "warmup": W, "runs": R, "inputs": [{"name", "type", "dims", "file"}]}]}
// With runs > 0 the job also reports "ms": the time of each of R runs
// after W more warm-up runs.
// Inputs are raw little-endian files (row-major); a "string" input's
// file holds a JSON array of strings. Each job's outputs are written to
// DIR/out_<index>.bin (string outputs as JSON arrays), and stdout gets one
// JSON line per job, in order: {"outputs": [{"name", "type", "dims",
// "file"}]} or {"error": "..."}. A job that fails does not stop the others.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '..', '..', '.cache', 'npm', 'node_modules', 'onnxruntime-node'));

const arrays = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
};

function feed(inp) {
  const buf = fs.readFileSync(inp.file);
  if (inp.type === 'string') {
    return new ort.Tensor('string', JSON.parse(buf.toString('utf8')), inp.dims);
  }
  const A = arrays[inp.type];
  if (!A) throw new Error(`input ${inp.name}: unsupported type ${inp.type}`);
  const data = new A(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  return new ort.Tensor(inp.type, inp.type === 'bool' ? Uint8Array.from(data) : data, inp.dims);
}

async function runJob(job, opts) {
  const session = await ort.InferenceSession.create(job.model, opts);
  try {
    const feeds = {};
    for (const inp of job.inputs) feeds[inp.name] = feed(inp);
    const results = await session.run(feeds);
    const out = [];
    session.outputNames.forEach((name, i) => {
      const t = results[name];
      const file = path.join(job.dir, `out_${i}.bin`);
      if (t.type === 'string') {
        fs.writeFileSync(file, JSON.stringify(Array.from(t.data)));
      } else {
        const d = t.data;
        fs.writeFileSync(file, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
      }
      out.push({ name, type: t.type, dims: t.dims.map(Number), file });
    });
    // Optional timing: more warm-up runs, then timed runs (ms each).
    const ms = [];
    for (let i = 0; i < (job.warmup || 0); i++) await session.run(feeds);
    for (let i = 0; i < (job.runs || 0); i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    return { outputs: out, ms };
  } finally {
    await session.release();
  }
}

async function main() {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: req.threads || 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: req.optimization || 'all',
  };
  for (const job of req.jobs) {
    let res;
    try {
      res = await runJob(job, opts);
    } catch (e) {
      res = { error: String(e && e.message || e) };
    }
    process.stdout.write(JSON.stringify(res) + '\n');
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
