//go:build ort && cgo && unix

package ort

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The C API is a struct of function pointers (OrtApi) that only ever grows
// at its end, so a member's position is fixed forever. These are the
// positions of the members used here, from onnxruntime_c_api.h, so the
// binding needs no header. All of them exist in API version 8 (ONNX
// Runtime 1.8, 2021), which every later release still serves.
enum {
	kGetErrorMessage = 2,
	kCreateEnv = 3,
	kCreateSession = 7,
	kCreateSessionFromArray = 8,
	kRun = 9,
	kCreateSessionOptions = 10,
	kSetSessionGraphOptimizationLevel = 23,
	kSetIntraOpNumThreads = 24,
	kSetInterOpNumThreads = 25,
	kAddSessionConfigEntry = 130,
	kSessionGetInputCount = 30,
	kSessionGetOutputCount = 31,
	kSessionGetInputName = 36,
	kSessionGetOutputName = 37,
	kCreateTensorWithDataAsOrtValue = 49,
	kGetTensorMutableData = 51,
	kGetTensorElementType = 60,
	kGetDimensionsCount = 61,
	kGetDimensions = 62,
	kGetTensorShapeElementCount = 64,
	kGetTensorTypeAndShape = 65,
	kCreateCpuMemoryInfo = 69,
	kAllocatorFree = 76,
	kGetAllocatorWithDefaultOptions = 78,
	kReleaseStatus = 93,
	kReleaseSession = 95,
	kReleaseValue = 96,
	kReleaseTensorTypeAndShapeInfo = 99,
	kReleaseSessionOptions = 100,
};

typedef void* St; // OrtStatus*, NULL on success
typedef struct {
	const void* (*GetApi)(uint32_t version);
	const char* (*GetVersionString)(void);
} ApiBase;

static void* const* api;
static void* env;
static void* meminfo;
static void* alloc;

#define F(i, ret, ...) ((ret (*)(__VA_ARGS__))api[i])

static const char* msg(St s) { return F(kGetErrorMessage, const char*, St)(s); }
static void release_status(St s) { F(kReleaseStatus, void, St)(s); }

// ort_load opens the library and fetches the API, the environment, the CPU
// memory description and the default allocator. It returns NULL or a
// malloc'd message.
static char* ort_load(const char* path, const char** version) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return strdup(dlerror());
	const ApiBase* (*get)(void) = (const ApiBase* (*)(void))dlsym(h, "OrtGetApiBase");
	if (!get) return strdup("no OrtGetApiBase symbol: not an ONNX Runtime library");
	const ApiBase* base = get();
	api = (void* const*)base->GetApi(8);
	if (!api) return strdup("the library does not serve C API version 8: ONNX Runtime 1.8 or newer is needed");
	*version = base->GetVersionString();
	St s = F(kCreateEnv, St, int, const char*, void**)(3, "qtool", &env); // 3: errors only
	if (!s) s = F(kCreateCpuMemoryInfo, St, int, int, void**)(0, 0, &meminfo); // device allocator, default memory
	if (!s) s = F(kGetAllocatorWithDefaultOptions, St, void**)(&alloc);
	if (s) {
		char* m = strdup(msg(s));
		release_status(s);
		api = NULL;
		return m;
	}
	return NULL;
}

static St new_options(int threads, void** out) {
	St s = F(kCreateSessionOptions, St, void**)(out);
	if (!s) s = F(kSetSessionGraphOptimizationLevel, St, void*, int)(*out, 99); // all
	if (!s) s = F(kSetIntraOpNumThreads, St, void*, int)(*out, threads);
	if (!s) s = F(kSetInterOpNumThreads, St, void*, int)(*out, 1);
	// Idle pool threads must not spin after a run: bench alternates
	// runtimes, and spinning would steal the next contender's cores.
	if (!s) s = F(kAddSessionConfigEntry, St, void*, const char*, const char*)(*out, "session.intra_op.allow_spinning", "0");
	return s;
}
static void release_options(void* o) { F(kReleaseSessionOptions, void, void*)(o); }
static St create_session(const char* path, void* opts, void** out) {
	return F(kCreateSession, St, void*, const char*, void*, void**)(env, path, opts, out);
}
static St create_session_bytes(const void* data, size_t n, void* opts, void** out) {
	return F(kCreateSessionFromArray, St, void*, const void*, size_t, void*, void**)(env, data, n, opts, out);
}
static void release_session(void* s) { F(kReleaseSession, void, void*)(s); }

static St io_count(void* sess, int output, size_t* n) {
	return F(output ? kSessionGetOutputCount : kSessionGetInputCount, St, void*, size_t*)(sess, n);
}
// io_name gives a malloc'd copy of input or output i's name.
static St io_name(void* sess, int output, size_t i, char** out) {
	char* name;
	St s = F(output ? kSessionGetOutputName : kSessionGetInputName, St, void*, size_t, void*, char**)(sess, i, alloc, &name);
	if (s) return s;
	*out = strdup(name);
	s = F(kAllocatorFree, St, void*, void*)(alloc, name);
	if (s) {
		free(*out);
		*out = NULL;
	}
	return s;
}

static St new_tensor(void* data, size_t n, const int64_t* dims, size_t rank, int type, void** out) {
	return F(kCreateTensorWithDataAsOrtValue, St, void*, void*, size_t, const int64_t*, size_t, int, void**)(
		meminfo, data, n, dims, rank, type, out);
}
static void release_value(void* v) { F(kReleaseValue, void, void*)(v); }

static St run(void* sess, const char* const* in_names, void* const* in, size_t n,
		const char* const* out_names, size_t m, void** out) {
	return F(kRun, St, void*, void*, const char* const*, void* const*, size_t, const char* const*, size_t, void**)(
		sess, NULL, in_names, in, n, out_names, m, out);
}

// describe gives a tensor's element type, rank, dimensions (up to cap) and
// element count.
static St describe(void* v, int* type, size_t* rank, int64_t* dims, size_t cap, size_t* count) {
	void* info;
	St s = F(kGetTensorTypeAndShape, St, void*, void**)(v, &info);
	if (s) return s;
	s = F(kGetTensorElementType, St, void*, int*)(info, type);
	if (!s) s = F(kGetDimensionsCount, St, void*, size_t*)(info, rank);
	if (!s && *rank <= cap) s = F(kGetDimensions, St, void*, int64_t*, size_t)(info, dims, *rank);
	if (!s) s = F(kGetTensorShapeElementCount, St, void*, size_t*)(info, count);
	F(kReleaseTensorTypeAndShapeInfo, void, void*)(info);
	return s;
}
static St tensor_data(void* v, void** out) { return F(kGetTensorMutableData, St, void*, void**)(v, out); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Library is ONNX Runtime loaded from a shared library. A process loads
// one, once, and keeps it: ONNX Runtime wants a single environment.
type Library struct {
	path, version string
}

var (
	loadMu sync.Mutex
	loaded *Library
)

// Open loads the ONNX Runtime shared library at path (libonnxruntime.so,
// .so.1 or .dylib). Opening the same path again returns the same Library;
// another path is an error.
func Open(path string) (*Library, error) {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != nil {
		if loaded.path != path {
			return nil, fmt.Errorf("onnx runtime %s: %s is already loaded in this process", path, loaded.path)
		}
		return loaded, nil
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var v *C.char
	if m := C.ort_load(cpath, &v); m != nil {
		defer C.free(unsafe.Pointer(m))
		return nil, fmt.Errorf("onnx runtime %s: %s", path, C.GoString(m))
	}
	loaded = &Library{path: path, version: C.GoString(v)}
	return loaded, nil
}

// Version is the library's own version string, e.g. "1.30.0".
func (l *Library) Version() string { return l.version }

// status turns an OrtStatus into an error, releasing it.
func status(s C.St) error {
	if s == nil {
		return nil
	}
	err := errors.New(C.GoString(C.msg(s)))
	C.release_status(s)
	return err
}

// Session is a model compiled by ONNX Runtime with inputs bound to it.
// Its methods are not safe for concurrent use.
type Session struct {
	sess     unsafe.Pointer
	inNames  []string
	outNames []string
	// C memory, freed by Close: the names, the bound OrtValues and the
	// buffers they read, and the arrays Run takes.
	cNames  []unsafe.Pointer
	values  []unsafe.Pointer
	buffers []unsafe.Pointer
	cArrays []unsafe.Pointer
	// Run's arguments: input names and values, output names, and the
	// results (released after each run).
	inArr, valArr, outNameArr, outArr unsafe.Pointer
}

// NewSession compiles a model with every graph optimization, threads
// intra-op threads and one inter-op thread: from its file at path when
// model is nil (so external data resolves), else from the serialized
// model (path then only names it in errors).
func (l *Library) NewSession(path string, model []byte, threads int) (*Session, error) {
	var opts unsafe.Pointer
	err := status(C.new_options(C.int(threads), &opts))
	if opts != nil {
		defer C.release_options(opts)
	}
	if err != nil {
		return nil, fmt.Errorf("onnx runtime session options: %w", err)
	}
	s := &Session{}
	if model == nil {
		cpath := C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
		err = status(C.create_session(cpath, opts, &s.sess))
	} else {
		// ONNX Runtime does not keep the bytes, but they must not move
		// while it reads them: a C copy.
		data := C.CBytes(model)
		defer C.free(data)
		err = status(C.create_session_bytes(data, C.size_t(len(model)), opts, &s.sess))
	}
	if err == nil {
		err = s.names()
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("onnx runtime on %s: %w", path, err)
	}
	return s, nil
}

// names reads the input and output names and prepares Run's output
// arguments.
func (s *Session) names() error {
	var outNames []unsafe.Pointer
	for output, names := range []*[]string{&s.inNames, &s.outNames} {
		var n C.size_t
		if err := status(C.io_count(s.sess, C.int(output), &n)); err != nil {
			return err
		}
		for i := C.size_t(0); i < n; i++ {
			var name *C.char
			if err := status(C.io_name(s.sess, C.int(output), i, &name)); err != nil {
				return err
			}
			s.cNames = append(s.cNames, unsafe.Pointer(name))
			*names = append(*names, C.GoString(name))
			if output == 1 {
				outNames = append(outNames, unsafe.Pointer(name))
			}
		}
	}
	s.outNameArr = s.cArray(outNames)
	s.outArr = s.cArray(make([]unsafe.Pointer, len(s.outNames)))
	return nil
}

// cArray copies ptrs into C memory, which Close frees.
func (s *Session) cArray(ptrs []unsafe.Pointer) unsafe.Pointer {
	size := C.size_t(max(1, len(ptrs))) * C.size_t(unsafe.Sizeof(uintptr(0)))
	a := C.malloc(size)
	C.memset(a, 0, size)
	copy(unsafe.Slice((*unsafe.Pointer)(a), len(ptrs)), ptrs)
	s.cArrays = append(s.cArrays, a)
	return a
}

// SetInputs binds the inputs Run feeds: one per model input, by name. The
// data is copied once, into memory ONNX Runtime reads in place.
func (s *Session) SetInputs(in []Tensor) error {
	if s.valArr != nil {
		return errors.New("onnx runtime: inputs are already set")
	}
	byName := map[string]Tensor{}
	for _, t := range in {
		if err := checkTensor(t); err != nil {
			return err
		}
		byName[t.Name] = t
	}
	if len(byName) != len(s.inNames) {
		return fmt.Errorf("onnx runtime: %d inputs given, the model takes %d: %v", len(byName), len(s.inNames), s.inNames)
	}
	var names []unsafe.Pointer
	for _, name := range s.inNames {
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("onnx runtime: no value for input %q; the model takes %v", name, s.inNames)
		}
		buf := C.malloc(C.size_t(max(1, len(t.Data))))
		s.buffers = append(s.buffers, buf)
		copy(unsafe.Slice((*byte)(buf), len(t.Data)), t.Data)
		var dims *C.int64_t
		if len(t.Dims) > 0 {
			dims = (*C.int64_t)(unsafe.Pointer(&t.Dims[0]))
		}
		var v unsafe.Pointer
		if err := status(C.new_tensor(buf, C.size_t(len(t.Data)), dims, C.size_t(len(t.Dims)), C.int(t.Type), &v)); err != nil {
			return fmt.Errorf("onnx runtime: input %q: %w", name, err)
		}
		s.values = append(s.values, v)
		cname := unsafe.Pointer(C.CString(name))
		s.cNames = append(s.cNames, cname)
		names = append(names, cname)
	}
	s.inArr = s.cArray(names)
	s.valArr = s.cArray(s.values)
	return nil
}

// Run runs the model once on the bound inputs and drops the outputs.
func (s *Session) Run() error {
	err := s.run()
	s.releaseOutputs()
	return err
}

func (s *Session) run() error {
	if s.valArr == nil {
		return errors.New("onnx runtime: Run before SetInputs")
	}
	err := status(C.run(s.sess, (**C.char)(s.inArr), (*unsafe.Pointer)(s.valArr), C.size_t(len(s.values)),
		(**C.char)(s.outNameArr), C.size_t(len(s.outNames)), (*unsafe.Pointer)(s.outArr)))
	if err != nil {
		return fmt.Errorf("onnx runtime run: %w", err)
	}
	return nil
}

// outputs are Run's results, nil where none.
func (s *Session) outputs() []unsafe.Pointer {
	return unsafe.Slice((*unsafe.Pointer)(s.outArr), len(s.outNames))
}

func (s *Session) releaseOutputs() {
	outs := s.outputs()
	for i, v := range outs {
		if v != nil {
			C.release_value(v)
			outs[i] = nil
		}
	}
}

// RunOutputs runs the model once on the bound inputs and returns copies
// of the outputs, in the model's order.
func (s *Session) RunOutputs() ([]Tensor, error) {
	defer s.releaseOutputs()
	if err := s.run(); err != nil {
		return nil, err
	}
	var out []Tensor
	for i, v := range s.outputs() {
		var (
			typ         C.int
			rank, count C.size_t
			dims        [16]C.int64_t
		)
		if err := status(C.describe(v, &typ, &rank, &dims[0], C.size_t(len(dims)), &count)); err != nil {
			return nil, fmt.Errorf("onnx runtime: output %q: %w", s.outNames[i], err)
		}
		size := elemSize(int32(typ))
		if size == 0 || int(rank) > len(dims) {
			return nil, fmt.Errorf("onnx runtime: output %q: element type %d of rank %d is not supported by the binding", s.outNames[i], typ, rank)
		}
		var data unsafe.Pointer
		if err := status(C.tensor_data(v, &data)); err != nil {
			return nil, fmt.Errorf("onnx runtime: output %q: %w", s.outNames[i], err)
		}
		t := Tensor{Name: s.outNames[i], Type: int32(typ), Dims: make([]int64, rank)}
		for k := range t.Dims {
			t.Dims[k] = int64(dims[k])
		}
		t.Data = C.GoBytes(data, C.int(int(count)*size))
		out = append(out, t)
	}
	return out, nil
}

// Close releases the session and its inputs.
func (s *Session) Close() {
	if s.outArr != nil {
		s.releaseOutputs()
	}
	for _, v := range s.values {
		C.release_value(v)
	}
	if s.sess != nil {
		C.release_session(s.sess)
	}
	for _, group := range [][]unsafe.Pointer{s.buffers, s.cNames, s.cArrays} {
		for _, p := range group {
			C.free(p)
		}
	}
	*s = Session{}
}
