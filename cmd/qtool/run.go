package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/qtool/qtool/calib"
	"github.com/qtool/qtool/engine"
	"github.com/qtool/qtool/onnxio"
)

func newRun(opt *options) *cobra.Command {
	var (
		inputFlags []string
		outDir     string
		writePB    bool
		threads    int
	)
	cmd := &cobra.Command{
		Use:   "run MODEL --input NAME=PATH... --out DIR",
		Short: "Run a model on inputs from .npy or TensorProto .pb files",
		Long: `run executes MODEL with qtool's engine. Each --input names a model input
and a .npy file or an ONNX TensorProto .pb file (as in ONNX test_data_set
folders). Each output is written to DIR/<name>.npy, with characters other
than letters, digits, '-' and '.' in the name replaced by '_'; --pb also
writes DIR/<name>.pb.`,
		Example: `  qtool run model.onnx --input input=x.npy --out out/
  qtool run model.onnx --input x=test_data_set_0/input_0.pb --out out/ --pb`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if outDir == "" {
				return fmt.Errorf("--out DIR is required")
			}
			m, err := onnxio.Load(args[0])
			if err != nil {
				return err
			}
			s, err := engine.Compile(m, engine.Options{Threads: threads})
			if err != nil {
				return err
			}
			ins, err := readInputs(s, inputFlags)
			if err != nil {
				return err
			}
			outs, err := s.Run(ins)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(outDir, 0o755); err != nil {
				return err
			}
			type written struct {
				Name  string `json:"name"`
				DType string `json:"dtype"`
				Shape []int  `json:"shape"`
				File  string `json:"file"`
			}
			var files []written
			for _, name := range s.OutputNames() {
				t := outs[name]
				base := filepath.Join(outDir, fileName(name))
				if err := calib.WriteNPY(base+".npy", t); err != nil {
					return err
				}
				if writePB {
					if err := calib.WritePB(base+".pb", name, t); err != nil {
						return err
					}
				}
				files = append(files, written{name, onnxio.DataTypeName(t.Type), t.Shape, base + ".npy"})
			}
			if opt.json {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"outputs": files})
			}
			for _, f := range files {
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s%v -> %s\n", f.Name, f.DType, f.Shape, f.File)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&inputFlags, "input", nil, "model input as NAME=PATH (.npy or .pb), repeatable")
	cmd.Flags().StringVar(&outDir, "out", "", "folder for the outputs")
	cmd.Flags().BoolVar(&writePB, "pb", false, "also write each output as a TensorProto .pb file")
	cmd.Flags().IntVar(&threads, "threads", 0, "engine threads (default GOMAXPROCS)")
	return cmd
}

// readInputs reads --input flags and checks them against the model's
// inputs, naming the expected type and shape on any mismatch.
func readInputs(s *engine.Session, flags []string) (map[string]*engine.Tensor, error) {
	want := map[string]engine.ValueInfo{}
	for _, vi := range s.Inputs() {
		want[vi.Name] = vi
	}
	describe := func(vi engine.ValueInfo) string {
		return fmt.Sprintf("%s%v (-1: any size)", onnxio.DataTypeName(vi.Type), vi.Shape)
	}
	ins := map[string]*engine.Tensor{}
	for _, f := range flags {
		name, path, ok := strings.Cut(f, "=")
		if !ok || name == "" || path == "" {
			return nil, fmt.Errorf("--input %q: want NAME=PATH", f)
		}
		vi, known := want[name]
		if !known {
			return nil, fmt.Errorf("--input %s: the model has no input of that name; its inputs are %s", name, strings.Join(s.InputNames(), ", "))
		}
		t, err := calib.ReadTensor(path)
		if err != nil {
			return nil, fmt.Errorf("--input %s: %w", name, err)
		}
		if t.Type != vi.Type || !shapeFits(t.Shape, vi.Shape) {
			return nil, fmt.Errorf("--input %s: %s holds %s%v, the model wants %s", name, path, onnxio.DataTypeName(t.Type), t.Shape, describe(vi))
		}
		ins[name] = t
	}
	for _, vi := range s.Inputs() {
		if _, ok := ins[vi.Name]; !ok {
			return nil, fmt.Errorf("input %s is missing: give --input %s=PATH holding %s", vi.Name, vi.Name, describe(vi))
		}
	}
	return ins, nil
}

func shapeFits(got, want []int) bool {
	if want == nil {
		return true
	}
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if want[i] >= 0 && want[i] != got[i] {
			return false
		}
	}
	return true
}

// fileName makes an output name safe as a file name.
func fileName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			b[i] = '_'
		}
	}
	if s := string(b); s != "" && s != "." && s != ".." {
		return s
	}
	return "output"
}
