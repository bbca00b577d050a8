package engine

import (
	"math/rand"
	"testing"

	"github.com/qtool/qtool/kernels"
	"github.com/qtool/qtool/onnxio"
)

// TestTransposeBytes: transposeInto gives uint8 and int8 to the byte
// transpose, with the same result as its element loop, over sizes around
// its blocks and a row stride wider than the rows.
func TestTransposeBytes(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	sizes := []int{1, 3, 7, 8, 9, 16, 63, 64, 65, 130}
	for _, p := range sizes {
		for _, n := range sizes {
			ldd := p + rng.Intn(3)
			src := make([]uint8, p*n)
			for i := range src {
				src[i] = uint8(rng.Intn(256))
			}
			want := make([]uint16, (n-1)*ldd+p) // not bytes: the element loop
			transposeInto(want, ldd, widen(src), p, n)
			u8 := make([]uint8, len(want))
			transposeInto(u8, ldd, src, p, n)
			i8 := make([]int8, len(want))
			transposeInto(i8, ldd, asInt8(src), p, n)
			for i := range want {
				if u8[i] != uint8(want[i]) || uint8(i8[i]) != uint8(want[i]) {
					t.Fatalf("%d×%d (ldd %d): element %d = %d (uint8), %d (int8), want %d", p, n, ldd, i, u8[i], i8[i], want[i])
				}
			}
		}
	}
}

func widen(b []uint8) []uint16 {
	w := make([]uint16, len(b))
	for i, v := range b {
		w[i] = uint16(v)
	}
	return w
}

// TestQConvRowBlocksORT: convolutions whose unfolded rows exceed
// qconvColBytes are unfolded and multiplied a block of output rows at a
// time; images small enough go to the GEMM several at once. Checked
// against simulated quantization and ONNX Runtime, through NCHW and NHWC
// inputs and outputs, a fused MaxPool and a batch of 2.
func TestQConvRowBlocksORT(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	var chains []qconvChain
	for i, adt := range []onnxio.DataType{onnxio.Uint8, onnxio.Int8} {
		for _, c := range []qconvChain{
			// 64 channels 3×3 over 37 columns: 21 KiB of rows per output
			// row; then stride 2 in 2 groups, then 1×1.
			{x: []int{2, 64, 40, 37}, convs: []qconvSpec{{24, 3, 1, 1, 1}, {16, 3, 2, 1, 2}, {8, 1, 1, 0, 1}}},
			// The detector's first layer: 3 channels, 3×3 stride 2.
			{x: []int{1, 3, 161, 150}, convs: []qconvSpec{{16, 3, 2, 1, 1}, {8, 5, 1, 2, 1}}},
			// A MaxPool fused after row blocks of a convolution.
			{x: []int{2, 64, 40, 37}, pool: true, convs: []qconvSpec{{24, 3, 1, 1, 1}, {8, 3, 1, 1, 1}}},
		} {
			c.adt, c.perChannel, c.bias, c.act = adt, i == 0, true, "Relu"
			chains = append(chains, c)
		}
	}
	checkQConvChainsORT(t, rng, chains)
}

// BenchmarkQConvDet times integer convolutions of the PP-OCRv4 detector's
// shapes at 320×320 (int8 NCHW in and out, one thread): its first layer,
// a depthwise 5×5, a 1×1 and a 3×3 of the head.
func BenchmarkQConvDet(b *testing.B) {
	for _, c := range []struct {
		name          string
		x             []int
		m, k, s, p, g int
	}{
		{"first3x3s2", []int{1, 3, 320, 320}, 16, 3, 2, 1, 1},
		{"dw5x5", []int{1, 192, 20, 20}, 192, 5, 1, 2, 192},
		{"dw3x3", []int{1, 16, 160, 160}, 16, 3, 1, 1, 16},
		{"1x1", []int{1, 96, 80, 80}, 24, 1, 1, 0, 1},
		{"3x3", []int{1, 96, 80, 80}, 24, 3, 1, 1, 1},
	} {
		b.Run(c.name, func(b *testing.B) {
			rng := rand.New(rand.NewSource(1))
			x := newTensor(onnxio.Int8, c.x)
			for i := range x.I8 {
				x.I8[i] = int8(rng.Intn(256) - 128)
			}
			w := newTensor(onnxio.Int8, []int{c.m, c.x[1] / c.g, c.k, c.k})
			for i := range w.I8 {
				w.I8[i] = int8(rng.Intn(255) - 127)
			}
			k := qconv{g: convGeom{kh: c.k, kw: c.k, sh: c.s, sw: c.s, dh: 1, dw: 1, pt: c.p, pl: c.p, pb: c.p, pr: c.p}, group: c.g}
			os, _, _, _, err := k.shape(x.Shape, w.Shape)
			if err != nil {
				b.Fatal(err)
			}
			q := &qout{dt: onnxio.Int8, scale: []float32{0.001}, zp: -3}
			o := newTensor(onnxio.Int8, os)
			weights := packConvWeights(w, nil, c.g)
			rc := &runCtx{threads: 1}
			for b.Loop() {
				if err := k.run(rc, x, 5, w.Shape, weights, q, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestIm2colNHWC checks the unfolding against its definition over random
// geometries (strides, dilations, pads wider than the image, groups) and
// output row ranges.
func TestIm2colNHWC(t *testing.T) {
	rng := rand.New(rand.NewSource(17))
	for it := 0; it < 2000; it++ {
		groups := 1 + rng.Intn(3)
		cg := []int{1, 2, 3, 5, 16, 32, 64}[rng.Intn(7)]
		if rng.Intn(2) == 0 {
			groups = 1
		}
		c := cg * groups
		h, w := 1+rng.Intn(9), 1+rng.Intn(9)
		g := convGeom{kh: 1 + rng.Intn(3), kw: 1 + rng.Intn(3), sh: 1 + rng.Intn(2), sw: 1 + rng.Intn(3), dh: 1 + rng.Intn(2), dw: 1 + rng.Intn(2),
			pt: rng.Intn(4), pl: rng.Intn(4), pb: rng.Intn(4), pr: rng.Intn(4)}
		if rng.Intn(2) == 0 {
			g.dw = 1
		}
		g, oh, ow := g.forInput(h, w, false)
		if oh <= 0 || ow <= 0 {
			continue
		}
		oy0 := rng.Intn(oh)
		oy1 := oy0 + 1 + rng.Intn(oh-oy0)
		c0 := cg * rng.Intn(groups)
		x := make([]uint8, h*w*c)
		for i := range x {
			x[i] = uint8(rng.Intn(256))
		}
		const pad = 0xEE
		kk := cg * g.kh * g.kw
		got := make([]uint8, (oy1-oy0)*ow*kk)
		im2colNHWC(got, x, c, c0, cg, h, w, g, oy0, oy1, ow, pad)
		for oy := oy0; oy < oy1; oy++ {
			for ox := 0; ox < ow; ox++ {
				for ky := 0; ky < g.kh; ky++ {
					for kx := 0; kx < g.kw; kx++ {
						for ci := 0; ci < cg; ci++ {
							iy, ix := oy*g.sh-g.pt+ky*g.dh, ox*g.sw-g.pl+kx*g.dw
							want := uint8(pad)
							if iy >= 0 && iy < h && ix >= 0 && ix < w {
								want = x[(iy*w+ix)*c+c0+ci]
							}
							at := ((oy-oy0)*ow+ox)*kk + (ky*g.kw+kx)*cg + ci
							if got[at] != want {
								t.Fatalf("c %d (%d from %d), %dx%d, %+v, rows [%d, %d): pixel (%d, %d) tap (%d, %d) channel %d = %d, want %d",
									cg, c, c0, h, w, g, oy0, oy1, oy, ox, ky, kx, ci, got[at], want)
							}
						}
					}
				}
			}
		}
	}
}

// TestQConvRowsPath: first-layer convolutions (few input channels) run on
// kernels.QConvRows where it is fast, giving bit for bit what the GEMM
// form gives, over strides, paddings, kernel sizes, channel counts, int8
// and uint8 input, per-channel scales, clamps, NCHW and NHWC output and a
// batch of 2.
func TestQConvRowsPath(t *testing.T) {
	rng := rand.New(rand.NewSource(19))
	for it := 0; it < 60; it++ {
		cin, m := 1+rng.Intn(4), 1+rng.Intn(16)
		kh, kw := 1+rng.Intn(4), 1+rng.Intn(4)
		s, pad := 1+rng.Intn(2), rng.Intn(3)
		x := newTensor([]onnxio.DataType{onnxio.Int8, onnxio.Uint8}[rng.Intn(2)], []int{2, cin, 5 + rng.Intn(20), 5 + rng.Intn(60)})
		for i := range qbytes(x) {
			qbytes(x)[i] = byte(rng.Intn(256))
		}
		w := newTensor(onnxio.Int8, []int{m, cin, kh, kw})
		for i := range w.I8 {
			w.I8[i] = int8(rng.Intn(255) - 127)
		}
		k := qconv{g: convGeom{kh: kh, kw: kw, sh: s, sw: s, dh: 1, dw: 1, pt: pad, pl: pad, pb: pad, pr: pad}, group: 1, outNHWC: rng.Intn(2) == 0}
		os, _, _, _, err := k.shape(x.Shape, w.Shape)
		if err != nil {
			t.Fatal(err)
		}
		q := &qout{dt: onnxio.Int8, scale: make([]float32, m), zp: int32(rng.Intn(20) - 10), bias: make([]int32, m)}
		for j := range q.scale {
			q.scale[j] = float32(0.0005 + 0.002*rng.Float64())
			q.bias[j] = int32(rng.Intn(2000) - 1000)
		}
		if rng.Intn(2) == 0 {
			q.clamp, q.lo, q.hi = true, q.zp, 127
		}
		za := int32(rng.Intn(256))
		if x.Type == onnxio.Int8 {
			za -= 128
		}
		weights := packConvWeights(w, nil, 1)
		if weights.rows == nil {
			t.Fatalf("%v: no QConvRows weights", w.Shape)
		}
		rc := &runCtx{threads: 1 + rng.Intn(2)}
		got, want := newTensor(onnxio.Int8, os), newTensor(onnxio.Int8, os)
		g, oh, ow, _ := k.geom(x.Shape, w.Shape)
		ran := k.runRows(rc, x, za, weights.rows, g, m, oh, ow, q, got)
		if ran != kernels.QConvRowsFast() {
			t.Fatalf("runRows ran %v, QConvRowsFast %v", ran, kernels.QConvRowsFast())
		}
		if !ran { // (no SIMD form here: the convolution takes the GEMM form)
			if err := k.run(rc, x, za, w.Shape, weights, q, got); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.run(rc, x, za, w.Shape, &qconvWeights{gemm: weights.gemm}, q, want); err != nil {
			t.Fatal(err)
		}
		for i := range want.I8 {
			if got.I8[i] != want.I8[i] {
				t.Fatalf("x %v %s w %v stride %d pad %d nhwc out %v: element %d = %d, GEMM form %d", x.Shape, onnxio.DataTypeName(x.Type), w.Shape, s, pad, k.outNHWC, i, got.I8[i], want.I8[i])
			}
		}
	}
}
