// Package bench measures models: accuracy on labelled data, compute cost
// (MACs, bit-operations, bytes moved) and latency, and writes the reports
// and charts that compare them.
//
// bench may import every library package; only cmd imports bench.
package bench
