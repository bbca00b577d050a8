package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/qtool/qtool/kernels"
)

// The binary family: 3x3 binary convolutions (batch 1, zero padding 1,
// float output through a per-channel multiplier and bias) against our
// fp32 convolution of the same shape, and the binary GEMM microkernel,
// each path against its register-only XOR+POPCNT+ADD loop measured in
// the same rounds. GOPS count a bit multiply-accumulate as two
// operations, as fp32 counts an FMA.

func init() {
	familyBenches = append(familyBenches, familyBench{family: "binary", run: benchBinary})
}

// binaryConvShapes are the convolutions of the report: channels and
// spatial size of a 3x3, stride 1, pad 1 layer.
var binaryConvShapes = []struct{ c, hw int }{{64, 56}, {128, 28}}

// binaryMicroK is the microkernel row's depth in 64-bit words.
const binaryMicroK = 64

func binaryConvShape(c, hw int) string {
	return fmt.Sprintf("conv3x3 %d->%d %dx%d", c, c, hw, hw)
}

func benchBinary(opt KernelOptions, rng *rand.Rand) ([]KernelRow, error) {
	fam := kernels.Binary
	active := fam.Active()
	defer fam.Set(active)
	paths := fam.SupportedPaths()

	type conv struct {
		shape string
		ops   float64
		bc    *kernels.BinaryConv
		src   []uint64
		dst   []float32
		fp32  *fp32Conv
	}
	var convs []conv
	for _, s := range binaryConvShapes {
		p := kernels.BinaryConvParams{InH: s.hw, InW: s.hw, InC: s.c, OutC: s.c, KH: 3, KW: 3,
			PadTop: 1, PadLeft: 1, PadBottom: 1, PadRight: 1, ZeroPad: true}
		w := signs(rng, s.c*s.c*9)
		bc, err := kernels.NewBinaryConv(p, w)
		if err != nil {
			return nil, err
		}
		mult, bias := make([]float32, s.c), make([]float32, s.c)
		for i := range mult {
			mult[i] = rng.Float32() + 0.5
			bias[i] = rng.Float32()*2 - 1
		}
		if err := bc.SetOutput(kernels.BinaryOutput{Multiplier: mult, Bias: bias}); err != nil {
			return nil, err
		}
		x := signs(rng, s.hw*s.hw*s.c)
		convs = append(convs, conv{
			shape: binaryConvShape(s.c, s.hw),
			ops:   2 * float64(s.hw*s.hw) * float64(s.c*s.c*9),
			bc:    bc,
			src:   kernels.PackSigns(nil, x, s.hw*s.hw, s.c),
			dst:   make([]float32, s.hw*s.hw*s.c),
			fp32:  newFP32Conv(s.c, s.hw, w, x),
		})
	}

	// fp32 convolutions of the same shapes, on the fp32 paths asked for
	// (on the best one, unreported, when fp32 is not: vs_fp32 needs it).
	fpPaths, fpReport := opt.Paths, true
	if len(fpPaths) == 0 {
		ps := kernels.SupportedPaths()
		fpPaths, fpReport = ps[len(ps)-1:], false
	}
	fpActive := kernels.ActivePath()
	defer kernels.SetPath(fpActive)

	type key struct {
		path string
		item int // conv index, or len(convs) for the microkernel
	}
	best := map[key]time.Duration{}
	microOps := map[string]float64{}
	ceiling := map[string]float64{}
	note := func(k key, d time.Duration) {
		if b, ok := best[k]; !ok || d < b {
			best[k] = d
		}
	}
	for round := 0; round < opt.Rounds; round++ {
		for _, fp := range fpPaths {
			if err := kernels.SetPath(fp); err != nil {
				return nil, err
			}
			for ci := range convs {
				c := convs[ci].fp32
				c.repack()
				note(key{"fp32:" + fp.String(), ci}, bestTime(opt.MinTime, c.run))
			}
		}
		for _, path := range paths {
			if err := fam.Set(path); err != nil {
				return nil, err
			}
			// The ceiling between every measurement, so each sees the
			// core as the others did.
			peak := func() { ceiling[path] = max(ceiling[path], binaryPeakGOPS(opt.MinTime/4)) }
			peak()
			for ci := range convs {
				c := convs[ci]
				note(key{path, ci}, bestTime(opt.MinTime, func() { c.bc.RunF32(c.dst, c.src, 1) }))
				peak()
			}
			const iters = 20
			loop := kernels.BinaryMicrokernelLoop(binaryMicroK)
			microOps[path] = loop(iters)
			note(key{path, len(convs)}, bestTime(opt.MinTime, func() { loop(iters) }))
			peak()
		}
	}

	var rows []KernelRow
	fpBest := map[string]float64{}
	for _, fp := range fpPaths {
		for ci, c := range convs {
			d := best[key{"fp32:" + fp.String(), ci}]
			g := c.ops / d.Seconds() / 1e9
			fpBest[c.shape] = max(fpBest[c.shape], g)
			if fpReport {
				rows = append(rows, KernelRow{Family: "fp32", Path: fp.String(), Shape: c.shape, GOPS: g, Ms: ms(d)})
			}
		}
	}
	for _, path := range paths {
		name, mr, nr := microkernelOf(path)
		for ci, c := range convs {
			d := best[key{path, ci}]
			r := KernelRow{Family: "binary", Path: path, Shape: c.shape, GOPS: c.ops / d.Seconds() / 1e9, CeilingGOPS: ceiling[path], Ms: ms(d)}
			if !fpReport && fpBest[c.shape] > 0 {
				r.VsFP32 = r.GOPS / fpBest[c.shape]
			}
			rows = append(rows, r)
		}
		d := best[key{path, len(convs)}]
		rows = append(rows, KernelRow{
			Family:      "binary",
			Path:        path,
			Shape:       fmt.Sprintf("microkernel %s %dx%d k=%d bits", name, mr, nr, binaryMicroK*64),
			GOPS:        microOps[path] / d.Seconds() / 1e9,
			CeilingGOPS: ceiling[path],
			Ms:          ms(d),
		})
	}
	for i := range rows {
		if rows[i].CeilingGOPS > 0 {
			rows[i].Efficiency = rows[i].GOPS / rows[i].CeilingGOPS
		}
	}
	return rows, nil
}

// microkernelOf names path's binary microkernel and its tile.
func microkernelOf(path string) (string, int, int) {
	active := kernels.Binary.Active()
	defer kernels.Binary.Set(active)
	kernels.Binary.Set(path)
	return kernels.BinaryMicrokernel()
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// binaryPeakGOPS runs the active binary path's ceiling loop for at least
// minTime and returns its best rate; 0 on the generic path.
func binaryPeakGOPS(minTime time.Duration) float64 {
	if kernels.BinaryPeakOps(1) == 0 {
		return 0
	}
	return bestRate(minTime, func() float64 { return kernels.BinaryPeakOps(1 << 12) })
}

// signs returns n random ±1 values.
func signs(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 1
		if rng.IntN(2) == 0 {
			x[i] = -1
		}
	}
	return x
}

// fp32Conv is our fp32 3x3 convolution (stride 1, pad 1, batch 1) as the
// engine runs it single-threaded: im2col of the NCHW input into a
// (C·9)×(H·W) patch matrix, then Sgemm with the weights packed once.
type fp32Conv struct {
	c, hw int
	w, x  []float32 // OIHW weights, NCHW input
	pa    *kernels.PackedA
	col   []float32
	out   []float32
}

// newFP32Conv builds the convolution from the binary bench's ±1 weights
// and NHWC input (transposed to NCHW).
func newFP32Conv(c, hw int, w, xNHWC []float32) *fp32Conv {
	x := make([]float32, len(xNHWC))
	for p := 0; p < hw*hw; p++ {
		for ch := 0; ch < c; ch++ {
			x[ch*hw*hw+p] = xNHWC[p*c+ch]
		}
	}
	return &fp32Conv{c: c, hw: hw, w: w, x: x, col: make([]float32, c*9*hw*hw), out: make([]float32, c*hw*hw)}
}

// repack packs the weights for the active fp32 path.
func (f *fp32Conv) repack() { f.pa = kernels.PackA(f.c, f.c*9, f.w, f.c*9, false) }

func (f *fp32Conv) run() {
	n := f.hw
	hw := n * n
	for ci := 0; ci < f.c; ci++ {
		src := f.x[ci*hw : (ci+1)*hw]
		for ky := 0; ky < 3; ky++ {
			for kx := 0; kx < 3; kx++ {
				dst := f.col[((ci*3+ky)*3+kx)*hw : ((ci*3+ky)*3+kx+1)*hw]
				for oy := 0; oy < n; oy++ {
					row := dst[oy*n : (oy+1)*n]
					iy := oy + ky - 1
					if iy < 0 || iy >= n {
						clear(row)
						continue
					}
					s := src[iy*n : (iy+1)*n]
					switch kx {
					case 0:
						row[0] = 0
						copy(row[1:], s[:n-1])
					case 1:
						copy(row, s)
					case 2:
						copy(row, s[1:])
						row[n-1] = 0
					}
				}
			}
		}
	}
	kernels.Sgemm(f.c, hw, f.c*9, f.pa.Operand(), kernels.Dense(f.col, hw, false), f.out, hw, nil, 1)
}
