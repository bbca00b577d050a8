package onnxio

import (
	"testing"
	"github.com/qtool/qtool/internal/testdeps"
)

func TestSmokeOCR(t *testing.T) {
	for _, name := range []string{"ch_PP-OCRv4_det_infer.onnx", "ch_ppocr_mobile_v2.0_cls_infer.onnx", "ch_PP-OCRv4_rec_infer.onnx"} {
		m, err := Load(testdeps.OCRModel(t, name))
		if err != nil { t.Fatal(err) }
		for _, in := range []map[string]Shape{nil, {"x": {{Param: "N"}, {Value: 3}, {Param: "H"}, {Param: "W"}}}, {"x": {{Value: 1}, {Value: 3}, {Value: 48}, {Value: 192}}}} {
			if name == "ch_PP-OCRv4_rec_infer.onnx" && in != nil && in["x"][2].Param == "H" { in["x"][2] = Dim{Value: 48} }
			ty, err := InferShapes(m, in)
			if err != nil { t.Errorf("%s: %v", name, err); continue }
			for _, o := range m.Graph().GetOutput() { t.Logf("%s %v: %s = %s", name, in, o.GetName(), ty[o.GetName()]) }
			if testing.Verbose() && in != nil && in["x"][2].Param == "H" {
				for _, n := range m.Graph().GetNode() { if n.GetOpType() != "Constant" { t.Logf("  %s %s -> %s", n.GetOpType(), n.GetName(), ty[n.GetOutput()[0]]) } }
			}
		}
	}
}
