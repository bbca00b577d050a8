package testdeps

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ORTJob is one model run of RunORTBatch. String inputs carry a JSON
// array of strings as Data.
type ORTJob struct {
	Model  string
	Inputs []ORTTensor
	// With Runs > 0, ONNX Runtime also times Runs runs after Warmup more
	// untimed ones (one intra-op thread), reported in ORTResult.Ms.
	Warmup, Runs int
}

// ORTResult is one job's outputs, in the model's output order, or the
// error ONNX Runtime gave for it. String outputs carry a JSON array as
// Data.
type ORTResult struct {
	Outputs []ORTTensor
	Ms      []float64 // milliseconds per timed run
	Err     error
}

// RunORTBatch runs every job through ONNX Runtime (one thread, all graph
// optimizations, as RunORT) in as few node processes as it can: a job that
// fails gives its own error and the rest go on; if the runner process
// itself dies, the job it was on fails with its output and a new process
// takes the remaining ones. It skips or fails like RunORT when ONNX
// Runtime is not installed.
func RunORTBatch(t testing.TB, jobs []ORTJob) []ORTResult {
	t.Helper()
	node, script := ORTRunner(t)
	dir := t.TempDir()
	type reqInput struct {
		Name string  `json:"name"`
		Type string  `json:"type"`
		Dims []int64 `json:"dims"`
		File string  `json:"file"`
	}
	type reqJob struct {
		Model  string     `json:"model"`
		Dir    string     `json:"dir"`
		Warmup int        `json:"warmup"`
		Runs   int        `json:"runs"`
		Inputs []reqInput `json:"inputs"`
	}
	results := make([]ORTResult, len(jobs))
	reqs := make([]reqJob, len(jobs))
	for i, j := range jobs {
		jd := filepath.Join(dir, fmt.Sprintf("job%d", i))
		if err := os.Mkdir(jd, 0o755); err != nil {
			t.Fatal(err)
		}
		reqs[i] = reqJob{Model: j.Model, Dir: jd, Warmup: j.Warmup, Runs: j.Runs, Inputs: []reqInput{}}
		for k, in := range j.Inputs {
			// An input with a File and no Data is already on disk (large
			// inputs shared by many jobs).
			f := in.File
			if in.Data != nil || f == "" {
				f = filepath.Join(jd, fmt.Sprintf("in_%d.bin", k))
				if err := os.WriteFile(f, in.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			reqs[i].Inputs = append(reqs[i].Inputs, reqInput{in.Name, in.Type, in.Dims, f})
		}
	}
	for start := 0; start < len(jobs); {
		req, err := json.Marshal(map[string]any{"threads": 1, "jobs": reqs[start:]})
		if err != nil {
			t.Fatal(err)
		}
		reqFile := filepath.Join(dir, fmt.Sprintf("request%d.json", start))
		if err := os.WriteFile(reqFile, req, 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(node, script, reqFile)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		runErr := cmd.Run()
		sc := bufio.NewScanner(&stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		done := start
		for sc.Scan() && done < len(jobs) {
			var line struct {
				Outputs []ORTTensor `json:"outputs"`
				Ms      []float64   `json:"ms"`
				Error   *string     `json:"error"`
			}
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				results[done].Err = fmt.Errorf("onnx runtime on %s: bad runner output: %v", jobs[done].Model, err)
			} else if line.Error != nil {
				results[done].Err = fmt.Errorf("onnx runtime on %s: %s", jobs[done].Model, *line.Error)
			} else {
				for k := range line.Outputs {
					if line.Outputs[k].Data, err = os.ReadFile(line.Outputs[k].File); err != nil {
						t.Fatal(err)
					}
				}
				results[done].Outputs, results[done].Ms = line.Outputs, line.Ms
			}
			done++
		}
		if done < len(jobs) {
			msg := stderr.String()
			if runErr != nil {
				msg = runErr.Error() + ": " + msg
			}
			results[done].Err = fmt.Errorf("onnx runtime on %s: runner stopped: %w", jobs[done].Model, errors.New(msg))
			done++
		}
		start = done
	}
	return results
}
