package qtool

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/qtool/qtool"

// allowed lists, for each package, the project packages its non-test code
// may import: imports point one way, cmd -> bench/quant/binarize/calib ->
// engine -> kernels, with onnxio below engine and kernels importing
// nothing of the project.
var allowed = map[string][]string{
	"":              {},
	"kernels":       {},
	"onnxio":        {"onnxio/onnxpb"},
	"onnxio/onnxpb": {},
	"engine":        {"onnxio", "onnxio/onnxpb", "kernels"},
	"calib":         {"engine", "onnxio", "onnxio/onnxpb", "kernels"},
	"quant":         {"calib", "engine", "onnxio", "onnxio/onnxpb", "kernels"},
	"binarize":      {"quant", "calib", "engine", "onnxio", "onnxio/onnxpb", "kernels"},
	"bench":         {"binarize", "quant", "calib", "engine", "onnxio", "onnxio/onnxpb", "kernels", "internal/ort"},
	"cmd/qtool":     {"", "bench", "binarize", "quant", "calib", "engine", "onnxio", "onnxio/onnxpb", "kernels"},
}

func TestLayering(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "internal") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			pkg = ""
		}
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %q has no layering rule; add it to allowed", pkg)
			return nil
		}
		seen[pkg] = true
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if p != module && !strings.HasPrefix(p, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			ok := false
			for _, a := range rules {
				ok = ok || a == dep
			}
			if !ok {
				t.Errorf("%s imports %s, against the layering (allowed: %v)", path, p, rules)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range allowed {
		if !seen[pkg] {
			t.Errorf("package %q has a rule but no Go files", pkg)
		}
	}
}
