// Runs one ONNX model through ONNX Runtime (onnxruntime-node) for qtool's
// tests. Usage: node ortrun.js REQUEST.json
// The request names the model, its inputs as raw little-endian files, and
// a folder for the outputs: {"model": "...", "dir": "...", "threads": 1,
//   "inputs": [{"name": "x", "type": "float32", "dims": [1, 3], "file": "x.bin"}]}
// Each output is written to DIR/out_<index>.bin; stdout gets a JSON list of
// {"name", "type", "dims", "file"}.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, '..', '..', '.cache', 'npm', 'node_modules', 'onnxruntime-node'));

const arrays = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array,
  int16: Int16Array, uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint64: BigUint64Array, bool: Uint8Array, float16: Uint16Array,
};

async function main() {
  const req = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const opts = {
    executionProviders: ['cpu'],
    intraOpNumThreads: req.threads || 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: req.optimization || 'all',
  };
  const session = await ort.InferenceSession.create(req.model, opts);
  const feeds = {};
  for (const inp of req.inputs) {
    const A = arrays[inp.type];
    if (!A) throw new Error(`input ${inp.name}: unsupported type ${inp.type}`);
    const buf = fs.readFileSync(inp.file);
    const data = new A(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
    feeds[inp.name] = new ort.Tensor(inp.type, inp.type === 'bool' ? Uint8Array.from(data) : data, inp.dims);
  }
  const results = await session.run(feeds);
  const out = [];
  session.outputNames.forEach((name, i) => {
    const t = results[name];
    const file = path.join(req.dir, `out_${i}.bin`);
    const d = t.data;
    fs.writeFileSync(file, Buffer.from(d.buffer, d.byteOffset, d.byteLength));
    out.push({ name, type: t.type, dims: t.dims.map(Number), file });
  });
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack || e) + '\n');
  process.exit(1);
});
