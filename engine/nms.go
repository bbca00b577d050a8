package engine

import (
	"fmt"
	"sort"

	"github.com/qtool/qtool/onnxio"
)

func init() {
	register(func(c *nodeCtx) (kernel, error) {
		return &nmsK{center: c.attrInt("center_point_box", 0) != 0}, nil
	}, "NonMaxSuppression")
}

// nmsK is NonMaxSuppression: per batch and class, boxes by descending
// score, each kept unless it overlaps a kept one by more than the IoU
// threshold. Its output size depends on the data.
type nmsK struct{ center bool }

func (k *nmsK) selectBoxes(in []*Tensor) ([]int64, error) {
	boxes, scores := in[0], in[1]
	if boxes.Type != onnxio.Float || scores.Type != onnxio.Float || len(boxes.Shape) != 3 || boxes.Shape[2] != 4 ||
		len(scores.Shape) != 3 || scores.Shape[0] != boxes.Shape[0] || scores.Shape[2] != boxes.Shape[1] {
		return nil, fmt.Errorf("NonMaxSuppression needs boxes [B,N,4] and scores [B,C,N], got %v and %v", boxes.Shape, scores.Shape)
	}
	maxOut := int64(0)
	iouTh, scoreTh, hasScoreTh := float32(0), float32(0), false
	if len(in) > 2 && in[2] != nil && in[2].Len() > 0 {
		maxOut = in[2].ints()[0]
	}
	if len(in) > 3 && in[3] != nil && in[3].Len() > 0 {
		iouTh = in[3].floats()[0]
	}
	if len(in) > 4 && in[4] != nil && in[4].Len() > 0 {
		scoreTh, hasScoreTh = in[4].floats()[0], true
	}
	nb, nc, n := scores.Shape[0], scores.Shape[1], scores.Shape[2]
	corners := func(b, i int) (y1, x1, y2, x2 float32) {
		v := boxes.F32[(b*n+i)*4 : (b*n+i)*4+4]
		if k.center {
			x, y, w, h := v[0], v[1], v[2], v[3]
			return y - h/2, x - w/2, y + h/2, x + w/2
		}
		return min(v[0], v[2]), min(v[1], v[3]), max(v[0], v[2]), max(v[1], v[3])
	}
	iou := func(b, i, j int) float32 {
		ay1, ax1, ay2, ax2 := corners(b, i)
		by1, bx1, by2, bx2 := corners(b, j)
		ih, iw := min(ay2, by2)-max(ay1, by1), min(ax2, bx2)-max(ax1, bx1)
		if ih <= 0 || iw <= 0 {
			return 0
		}
		inter := ih * iw
		union := (ay2-ay1)*(ax2-ax1) + (by2-by1)*(bx2-bx1) - inter
		if union <= 0 {
			return 0
		}
		return inter / union
	}
	var sel []int64
	for b := 0; b < nb; b++ {
		for c := 0; c < nc; c++ {
			sc := scores.F32[(b*nc+c)*n : (b*nc+c+1)*n]
			var cand []int
			for i, s := range sc {
				if !hasScoreTh || s > scoreTh {
					cand = append(cand, i)
				}
			}
			sort.SliceStable(cand, func(a, z int) bool { return sc[cand[a]] > sc[cand[z]] })
			var kept []int
			for _, i := range cand {
				if int64(len(kept)) >= maxOut {
					break
				}
				ok := true
				for _, j := range kept {
					if iou(b, i, j) > iouTh {
						ok = false
						break
					}
				}
				if ok {
					kept = append(kept, i)
					sel = append(sel, int64(b), int64(c), int64(i))
				}
			}
		}
	}
	return sel, nil
}

func (k *nmsK) infer(in []*Tensor) ([]spec, error) {
	for _, t := range in {
		if t != nil && !t.hasData() {
			return nil, errNoData
		}
	}
	sel, err := k.selectBoxes(in)
	if err != nil {
		return nil, err
	}
	return []spec{{onnxio.Int64, []int{len(sel) / 3, 3}}}, nil
}

func (k *nmsK) run(rc *runCtx, in, out []*Tensor) error {
	sel, err := k.selectBoxes(in)
	if err != nil {
		return err
	}
	copy(out[0].I64, sel)
	return nil
}
