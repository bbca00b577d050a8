package calib

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/qtool/qtool/engine"
)

// ReadBatch reads items start to end-1 of src on up to threads
// goroutines (GOMAXPROCS when 0 or less) and stacks each input along a
// new first axis, as one Run takes them; it returns the items' labels
// too. The items must be of one shape.
func ReadBatch(src Source, start, end, threads int) (map[string]*engine.Tensor, []int, error) {
	if start < 0 || end > src.Len() || start >= end {
		return nil, nil, fmt.Errorf("calib: items %d to %d of %d", start, end-1, src.Len())
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	items := make([]Item, end-start)
	errs := make([]error, end-start)
	load(src, start, items, errs, threads)
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	labels := make([]int, len(items))
	for i, it := range items {
		if !sameShapes(items[0], it) {
			return nil, nil, fmt.Errorf("calib: %s differs in shape from %s; items of one batch need one shape (resize images to one size)", src.Name(start+i), src.Name(start))
		}
		labels[i] = it.Label
	}
	in := make(map[string]*engine.Tensor, len(items[0].Inputs))
	for name := range items[0].Inputs {
		t, err := stackItems(items, name, true)
		if err != nil {
			return nil, nil, err
		}
		in[name] = t
	}
	return in, labels, nil
}
