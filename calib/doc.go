// Package calib reads calibration and evaluation data (image folders, NumPy
// files, IDX files, TensorProto files) and observes tensor ranges while the
// engine runs it, with bounded memory.
//
// # Data
//
// A [Source] is a data set of [Item]s, each a tensor per model input (one
// example, without the batch axis) and an optional class label, read on
// demand in a fixed order. [Open] picks the reader from the path:
//
//   - a folder of PNG/JPEG images ([OpenImageFolder]); first-level
//     sub-folders are classes, labelled in sorted order;
//   - a .npy file ([OpenNPY]) or a .npz archive ([OpenNPZ]), the first
//     axis indexing the items; .npz arrays are matched to model inputs by
//     name, and "labels" gives labels;
//   - an IDX file, gzipped or not ([OpenIDX]: MNIST and its relatives),
//     with the labels file beside it;
//   - a folder of ONNX TensorProto .pb files, or of test_data_set_*
//     folders ([OpenPBFolder]).
//
// Sources are made for a model's inputs ([Options].Inputs, from
// engine.Session.Inputs): the element type and shape of every item are
// checked against the input, and a mismatch is an error naming the input,
// the shape it wants and the shape it got. Images go through [Preprocess]
// (resize, center crop, mean and std per channel in pixel units, NCHW or
// NHWC, RGB, BGR or gray). [Sample] picks a seeded, reproducible subset.
//
// The readers never trust a header: sizes are checked against the data
// before anything is allocated for it, and corrupt files are errors that
// name the file, never panics (the IDX, .npy and .npz readers have fuzz
// targets). calib reads .npy files itself rather than with npyio, which
// panics on malformed headers.
//
// # Observers
//
// An [Observer] accumulates one tensor's values over many runs and
// reduces them to a [Range]; a [Method] makes observers: [MinMax]
// (optionally the moving average of ONNX Runtime), [Percentile], [Entropy]
// (the TensorRT KL-divergence method) and [MSE] (the clipping that
// minimises the quantization error). Observers keep fixed-size summaries
// (extremes, or a [Histogram] whose range grows by exact re-binning), so
// memory does not depend on the number of batches. [ChannelRanges] gives
// the per-channel ranges of weights.
//
// # Calibration
//
// [Calibrate] runs a source through an engine.Session in batches, feeding
// the observers of the chosen tensors through engine.Session.RunObserved,
// and counts NaN and infinite values per tensor (left out of the ranges).
// Values that the engine fuses away (a BatchNormalization output between
// a Conv and its activation) are only computed by a session compiled with
// engine.Options.NoFusion, as [NewSession] does.
//
// calib imports engine and onnxio; it must not import quant, binarize,
// bench or cmd.
package calib
