#!/usr/bin/python3
"""Train and export the qtool test-fixture models on Fashion-MNIST.

Produces, under --out (default testdata/models):
    cnn.onnx        plain Conv-BN-ReLU / MaxPool / Gemm network
    resnet.onnx     small ResNet (residual Add, strided 1x1 projection shortcuts, GAP)
    mobilenet.onnx  MobileNetV2-style network (depthwise convs, inverted residuals,
                    ReLU6 -> Clip, HardSwish -> HardSigmoid + Mul)

and, under --subset-out (default testdata/fashion-mnist), the first 1000 items of
the t10k split as gzipped IDX files with byte-identical output on every run.

ONNX contract shared by all three models (qtool relies on it):
    input  "input"  float32 [N,1,28,28], value = pixel / 255 (no mean/std)
    output "logits" float32 [N,10]       (pre-softmax)
    opset 13, batch dimension N dynamic, BatchNormalization kept as separate
    nodes (not folded into Conv) because qtool does the folding itself.

Run with Debian's python (/usr/bin/python3); see testdata/README.md for the
exact command including the OpenBLAS speed-up.
"""

import argparse
import gzip
import os
import struct
import sys
import time
from collections import Counter

import numpy as np
import onnx
from onnx import helper, numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
SEED = 20240601
SUBSET_N = 1000
OPSET = 13
ARCHS = ("cnn", "resnet", "mobilenet")


# --------------------------------------------------------------------------
# Data: Fashion-MNIST as big-endian IDX, read straight from the .gz files so
# there is no torchvision download step (the machine has no PyPI/internet).
# --------------------------------------------------------------------------

def read_idx_gz(path):
    """Return the uint8 array stored in a gzipped IDX file (images or labels)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, = struct.unpack(">I", raw[:4])
    # 0x08 = unsigned byte data; low byte = number of dimensions.
    if magic >> 8 != 0x08:
        raise ValueError(f"{path}: not a uint8 IDX file (magic {magic:#010x})")
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: payload size {data.size} != dims {dims}")
    return data.reshape(dims)


def load_split(split):
    """split is 'train' or 't10k'; returns (uint8 images [N,28,28], uint8 labels [N])."""
    x = read_idx_gz(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx_gz(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"))
    assert x.shape[0] == y.shape[0] and x.shape[1:] == (28, 28)
    return x, y


def to_input(x_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1]: exactly the ONNX input contract."""
    return torch.from_numpy(x_u8.astype(np.float32) / 255.0).unsqueeze(1)


def write_idx_gz(path, arr):
    """Write a uint8 array as gzipped IDX with reproducible bytes.

    mtime=0 and an empty filename keep the gzip header free of run-dependent
    fields, so re-running produces the same file (for a given zlib version).
    """
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack(">I", 0x0800 | arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    with open(path, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(header + arr.tobytes())


def write_subset(out_dir, x_test, y_test):
    """The first SUBSET_N test items (no shuffling) so the subset is deterministic."""
    os.makedirs(out_dir, exist_ok=True)
    img = os.path.join(out_dir, f"t10k-{SUBSET_N}-images-idx3-ubyte.gz")
    lab = os.path.join(out_dir, f"t10k-{SUBSET_N}-labels-idx1-ubyte.gz")
    write_idx_gz(img, x_test[:SUBSET_N])
    write_idx_gz(lab, y_test[:SUBSET_N])
    # Round-trip so a broken writer cannot silently ship a bad fixture.
    assert np.array_equal(read_idx_gz(img), x_test[:SUBSET_N])
    assert np.array_equal(read_idx_gz(lab), y_test[:SUBSET_N])
    print(f"subset: wrote {img} ({os.path.getsize(img)} B), {lab} ({os.path.getsize(lab)} B); "
          f"label histogram {np.bincount(y_test[:SUBSET_N], minlength=10).tolist()}")


# --------------------------------------------------------------------------
# Models. Channel counts are kept small so each .onnx stays well under 2 MB and
# the Go engine tests run fast; all 3x3 convs use padding=1 so spatial sizes are
# 28 -> 14 -> 7 and MACs are easy to count by hand.
# --------------------------------------------------------------------------

def conv_bn(cin, cout, k=3, stride=1, groups=1):
    # bias=False: BN supplies the shift, and it is the usual pattern a BN folder must handle.
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout)]


class CNN(nn.Module):
    """Conv-BN-ReLU x2, MaxPool, Conv-BN-ReLU x2, MaxPool, Flatten, Gemm-ReLU-Gemm."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            *conv_bn(1, 16), nn.ReLU(inplace=True),
            *conv_bn(16, 16), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),                                   # 28 -> 14
            *conv_bn(16, 32), nn.ReLU(inplace=True),
            *conv_bn(32, 32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),                                   # 14 -> 7
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),                                      # 32*7*7 = 1568
            nn.Linear(32 * 7 * 7, 128), nn.ReLU(inplace=True),
            nn.Linear(128, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class BasicBlock(nn.Module):
    """ResNet basic block; a stride-2 block gets a 1x1 stride-2 conv + BN projection shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, 3, stride)
        self.conv2, self.bn2 = conv_bn(cout, cout, 3, 1)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + sc)                                # residual Add, then ReLU


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, 16), nn.ReLU(inplace=True))
        self.layers = nn.Sequential(
            BasicBlock(16, 16, 1),                             # identity shortcut, 28x28
            BasicBlock(16, 32, 2),                             # projection, 28 -> 14
            BasicBlock(32, 32, 1),                             # identity shortcut
            BasicBlock(32, 64, 2),                             # projection, 14 -> 7
        )
        self.pool = nn.AdaptiveAvgPool2d(1)                    # exports as GlobalAveragePool
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear project."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers += [*conv_bn(cin, hidden, 1), nn.ReLU6(inplace=True)]
        layers += [*conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(inplace=True),
                   *conv_bn(hidden, cout, 1)]                  # no activation: linear bottleneck
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        return x + out if self.use_res else out


class MobileNet(nn.Module):
    """MobileNetV2 body; HardSwish in stem and head (V3-style) to exercise that op too."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn(1, 16), nn.Hardswish())
        self.blocks = nn.Sequential(
            InvertedResidual(16, 16, 1, 1),                    # no expansion, residual
            InvertedResidual(16, 24, 2, 4),                    # 28 -> 14
            InvertedResidual(24, 24, 1, 4),                    # residual
            InvertedResidual(24, 32, 2, 4),                    # 14 -> 7
            InvertedResidual(32, 32, 1, 4),                    # residual
        )
        self.head = nn.Sequential(*conv_bn(32, 128, 1), nn.Hardswish())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(self.head(self.blocks(self.stem(x))))
        return self.fc(torch.flatten(x, 1))


MODELS = {"cnn": CNN, "resnet": ResNet, "mobilenet": MobileNet}


# --------------------------------------------------------------------------
# Training / evaluation
# --------------------------------------------------------------------------

def augment(x, gen):
    """Random horizontal flip + random shift of up to 2 px (zero padded).

    Cheap batch-level augmentation worth ~1% test accuracy; driven by an
    explicit generator so runs are repeatable.
    """
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()  # one shift per batch: fast
    x = F.pad(x, (2, 2, 2, 2))
    return x[:, :, 2 + dy:30 + dy, 2 + dx:30 + dx]


@torch.no_grad()
def predict(model, x, batch=1000):
    model.eval()
    outs = [model(x[i:i + batch].contiguous(memory_format=torch.channels_last))
            for i in range(0, x.shape[0], batch)]
    return torch.cat(outs)


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


def train(arch, epochs, x_train, y_train, x_test, y_test, batch=128):
    torch.manual_seed(SEED)                  # same init for every run of a given arch
    gen = torch.Generator().manual_seed(SEED)
    model = MODELS[arch]().to(memory_format=torch.channels_last)   # faster convs on CPU
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    steps = epochs * ((x_train.shape[0] + batch - 1) // batch)
    # One-cycle schedule: reaches >90% in a handful of epochs without tuning.
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(x_train.shape[0], generator=gen)
        tot_loss, seen = 0.0, 0
        for i in range(0, perm.numel(), batch):
            idx = perm[i:i + batch]
            xb = augment(x_train[idx], gen).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(xb), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * idx.numel()
            seen += idx.numel()
        acc = accuracy(predict(model, x_test), y_test)
        print(f"[{arch}] epoch {ep + 1}/{epochs} loss {tot_loss / seen:.4f} "
              f"test acc {acc:.4f} ({time.time() - t0:.0f}s)", flush=True)
    return model.eval(), time.time() - t0


# --------------------------------------------------------------------------
# Export + checks
# --------------------------------------------------------------------------

def export(model, path):
    # Back to plain NCHW-contiguous weights so the initializers are written in
    # the ordinary OIHW layout.
    model = model.to(memory_format=torch.contiguous_format).eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(
        model, dummy, path,
        opset_version=OPSET,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
        # TrainingMode.EVAL would run the exporter's eval peephole, which fuses
        # BN into the preceding Conv. PRESERVE skips that pass; the model is
        # already in eval mode so BN is exported with its running statistics.
        training=torch.onnx.TrainingMode.PRESERVE,
        # With BN kept there is nothing left to fold (the graphs were byte-identical
        # either way); False just silences torch's PRESERVE+folding warning.
        do_constant_folding=False,
    )


def op_histogram(m):
    return dict(sorted(Counter(n.op_type for n in m.graph.node).items()))


def tensor_shape(vi):
    return [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]


# A tiny numpy interpreter for exactly the ops these exports contain. onnxruntime
# is not installable here, so this is the independent check that the exported
# graph (not just the torch module) computes the same logits.

def _conv(x, w, b, strides, pads, group):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    sh, sw = strides
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    # Patches [N, C, OH, OW, KH, KW] via strided view, then per-group tensordot.
    s = x.strides
    patches = np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, kh, kw), (s[0], s[1], s[2] * sh, s[3] * sw, s[2], s[3]))
    og = o // group
    outs = []
    for g in range(group):
        p = patches[:, g * cg:(g + 1) * cg]
        outs.append(np.einsum("nchwij,ocij->nohw", p, w[g * og:(g + 1) * og], optimize=True))
    y = np.concatenate(outs, axis=1)
    return y + b[None, :, None, None] if b is not None else y


def run_onnx_numpy(m, x):
    env = {i.name: numpy_helper.to_array(i).astype(np.float32) for i in m.graph.initializer}
    env[m.graph.input[0].name] = x.astype(np.float32)
    for node in m.graph.node:
        a = {at.name: helper.get_attribute_value(at) for at in node.attribute}
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Conv":
            k = i[1].shape[2:]
            y = _conv(i[0], i[1], i[2] if len(i) > 2 else None, a.get("strides", [1, 1]),
                      a.get("pads", [0, 0, 0, 0]), a.get("group", 1))
            assert tuple(a.get("kernel_shape", k)) == tuple(k) and a.get("dilations", [1, 1]) == [1, 1]
        elif op == "BatchNormalization":
            sc = i[1] / np.sqrt(i[4] + a.get("epsilon", 1e-5))
            y = (i[0] - i[3][None, :, None, None]) * sc[None, :, None, None] + i[2][None, :, None, None]
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Clip":
            y = np.clip(i[0], i[1], i[2])
        elif op == "HardSigmoid":
            y = np.clip(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1)
        elif op == "Mul":
            y = i[0] * i[1]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "MaxPool":
            assert a["kernel_shape"] == [2, 2] and a["strides"] == [2, 2] and not any(a.get("pads", [0]))
            n, c, h, w = i[0].shape
            y = i[0].reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * A @ B
            if len(i) > 2:
                y = y + a.get("beta", 1.0) * i[2]
        elif op == "Identity":
            y = i[0]
        elif op == "Constant":
            y = numpy_helper.to_array(a["value"])
        else:
            raise NotImplementedError(op)
        env[node.output[0]] = y.astype(np.float32)
    return env[m.graph.output[0].name]


def verify(path, model, x_test, y_test):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)   # full_check also runs strict shape inference
    assert m.opset_import[0].version == OPSET
    assert [i.name for i in m.graph.input] == ["input"], "initializers leaked into graph inputs"
    assert [o.name for o in m.graph.output] == ["logits"]
    ops = op_histogram(m)
    n_params = sum(p.numel() for p in model.parameters())
    # ONNX graph vs torch on the subset, batch 1000 (batch != 1 exercises the dynamic axis).
    xs = x_test[:SUBSET_N].numpy()
    ref = predict(model.to(memory_format=torch.contiguous_format), x_test[:SUBSET_N]).numpy()
    got = run_onnx_numpy(m, xs)
    diff = float(np.abs(got - ref).max())
    onnx_acc = float((got.argmax(1) == y_test[:SUBSET_N].numpy()).mean())
    assert diff < 1e-3, f"{path}: ONNX vs torch max |diff| {diff}"
    return {
        "size": os.path.getsize(path), "ops": ops, "nodes": len(m.graph.node), "params": n_params,
        "input": (m.graph.input[0].name, tensor_shape(m.graph.input[0])),
        "output": (m.graph.output[0].name, tensor_shape(m.graph.output[0])),
        "onnx_numpy_subset_acc": onnx_acc, "onnx_vs_torch_maxdiff": diff,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="all", choices=("all",) + ARCHS)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--out", default="testdata/models", help="directory for the .onnx files")
    ap.add_argument("--subset-out", default="testdata/fashion-mnist",
                    help="directory for the 1000-item t10k subset")
    ap.add_argument("--subset-only", action="store_true", help="write the subset and exit")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    np.random.seed(SEED)
    torch.manual_seed(SEED)

    x_test_u8, y_test_u8 = load_split("t10k")
    write_subset(args.subset_out, x_test_u8, y_test_u8)   # always: it's cheap and deterministic
    if args.subset_only:
        return

    x_train_u8, y_train_u8 = load_split("train")
    x_train, y_train = to_input(x_train_u8), torch.from_numpy(y_train_u8.astype(np.int64))
    x_test, y_test = to_input(x_test_u8), torch.from_numpy(y_test_u8.astype(np.int64))
    os.makedirs(args.out, exist_ok=True)

    archs = ARCHS if args.arch == "all" else (args.arch,)
    for arch in archs:
        model, secs = train(arch, args.epochs, x_train, y_train, x_test, y_test)
        logits = predict(model, x_test)
        acc_full = accuracy(logits, y_test)
        acc_sub = accuracy(logits[:SUBSET_N], y_test[:SUBSET_N])
        path = os.path.join(args.out, f"{arch}.onnx")
        export(model, path)
        info = verify(path, model, x_test, y_test)
        print(f"RESULT {arch}: train {secs:.0f}s ({args.epochs} epochs, {args.threads} threads) "
              f"acc10000 {acc_full:.4f} acc1000 {acc_sub:.4f} params {info['params']} "
              f"size {info['size']} B nodes {info['nodes']}")
        print(f"RESULT {arch}: ops {info['ops']}")
        print(f"RESULT {arch}: io {info['input']} -> {info['output']}; numpy-ONNX subset acc "
              f"{info['onnx_numpy_subset_acc']:.4f}, max|onnx-torch| {info['onnx_vs_torch_maxdiff']:.2e}",
              flush=True)


if __name__ == "__main__":
    sys.exit(main())
