package kernels

import "fmt"

// TapSum computes out[i] = Σ_t w[t]·data[off[t]+i] for i < len(out), tap by
// tap in order, each product rounded to float32 and then added (no fused
// multiply-add), so every path gives the same bits (up to which payload
// a NaN result carries).
//
// It is a depthwise convolution of one channel when data is the channel's
// padded input split by stride phase and off holds where each tap's
// window starts (the layout Rows documents for GEMMs): every output row
// then reads contiguous windows, and a whole plane is one call.
func TapSum(out, data []float32, off []int, w []float32) {
	if len(off) != len(w) {
		panic(fmt.Sprintf("kernels: TapSum: %d offsets for %d weights", len(off), len(w)))
	}
	n := len(out)
	for t, o := range off {
		if o < 0 || o+n > len(data) {
			panic(fmt.Sprintf("kernels: TapSum: tap %d window [%d, %d) outside data (len %d)", t, o, o+n, len(data)))
		}
	}
	done := 0
	if len(w) > 0 {
		done = tapSumAsm(out, data, off, w)
	}
	tapSumGo(out[done:], data, off, w, done)
}

// tapSumGo is TapSum's pure-Go form for out = the outputs from index i0.
func tapSumGo(out, data []float32, off []int, w []float32, i0 int) {
	for i := range out {
		var acc float32
		for t, o := range off {
			// The conversion keeps the compiler from fusing the multiply
			// and add (the Go spec lets it otherwise, and arm64 does).
			acc += float32(w[t] * data[o+i0+i])
		}
		out[i] = acc
	}
}
