"""Writes small ONNX models for the importer's lit tests.

    make_model.py CASE OUT.onnx

Each case is a function below; the models are built with onnx.helper so that
the tests need no binary fixtures. Data is random (seeded), never all zeros.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

rng = np.random.default_rng(7)


def model(nodes, inputs, outputs, initializers=(), opset=17, value_info=()):
    graph = h.make_graph(nodes, "main_graph", inputs, outputs, list(initializers),
                         value_info=list(value_info))
    return h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])


def tensor(name, dims, elem=TP.FLOAT):
    return h.make_tensor_value_info(name, elem, dims)


def names_and_symbols():
    """Symbolic dims, ONNX value and node names, a Constant node."""
    w = nh.from_array(rng.standard_normal((4, 3)).astype(np.float32), "onnx::MatMul_12")
    nodes = [
        h.make_node("Constant", [], ["scale"], value_float=0.125),
        h.make_node("MatMul", ["input_ids", "onnx::MatMul_12"], ["/l0/MatMul_output_0"],
                    name="/l0/MatMul"),
        h.make_node("Mul", ["/l0/MatMul_output_0", "scale"], ["out"]),
    ]
    return model(nodes, [tensor("input_ids", ["batch", None, 4])],
                 [tensor("out", ["batch", "seq", 3])], [w])


def shape_chain():
    """The Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain exporters
    emit infers symbolic shapes while importing; LayerNormalization too."""
    scale = nh.from_array(rng.uniform(0.5, 1.5, 8).astype(np.float32), "ln.weight")
    bias = nh.from_array(rng.uniform(-0.5, 0.5, 8).astype(np.float32), "ln.bias")
    nodes = [
        h.make_node("Shape", ["x"], ["shape"], name="shape"),
        h.make_node("Constant", [], ["zero"], value=nh.from_array(np.array(0, np.int64))),
        h.make_node("Gather", ["shape", "zero"], ["batch"], name="gather", axis=0),
        h.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="unsqueeze"),
        h.make_node("Constant", [], ["axes0"], value_ints=[0]),
        h.make_node("Constant", [], ["rest"], value_ints=[-1, 8]),
        h.make_node("Concat", ["batch1", "rest"], ["target"], name="concat", axis=0),
        h.make_node("Reshape", ["x", "target"], ["r"], name="reshape"),
        h.make_node("LayerNormalization", ["r", "ln.weight", "ln.bias"], ["y"],
                    name="ln", axis=-1, epsilon=1e-12),
    ]
    return model(nodes, [tensor("x", ["batch", "seq", 2, 4])], [tensor("y", None)],
                 [scale, bias])


def storage_forms():
    """One initializer per storage form of TensorProto."""
    raw = nh.from_array(np.array([1.5, -2.25, 3.0], np.float32), "raw")
    floats = h.make_tensor("floats", TP.FLOAT, [3], [0.5, -1.0, 8.0])
    # make_tensor stores 16-bit floats as their bit patterns in int32_data.
    halves = h.make_tensor("halves", TP.FLOAT16, [3], [0.5, -1.0, 8.0])
    bf16 = h.make_tensor("bf16", TP.BFLOAT16, [2], [1.5, -2.0])
    doubles = h.make_tensor("doubles", TP.DOUBLE, [2], [0.1, -7.5])
    int64s = h.make_tensor("int64s", TP.INT64, [2], [1 << 40, -3])
    int32s = h.make_tensor("int32s", TP.INT32, [2], [-70000, 5])
    int8s = h.make_tensor("int8s", TP.INT8, [2], [-128, 127])
    uint8s = h.make_tensor("uint8s", TP.UINT8, [2], [0, 255])
    bools = h.make_tensor("bools", TP.BOOL, [3], [True, False, True])
    inits = [raw, floats, halves, bf16, doubles, int64s, int32s, int8s, uint8s, bools]
    x = tensor("x", [3])
    nodes = [h.make_node("Add", ["x", "raw"], ["y"], name="add")]
    outs = [tensor("y", [3])] + [tensor(t.name, None, t.data_type) for t in inits[1:]]
    return model(nodes, [x], outs, inits)


def external_data():
    """Weights in a file beside the model."""
    w = nh.from_array(np.arange(1, 25, dtype=np.float32).reshape(4, 6) / 8, "w")
    nodes = [h.make_node("MatMul", ["x", "w"], ["y"], name="mm")]
    return model(nodes, [tensor("x", [2, 4])], [tensor("y", [2, 6])], [w])


def reduce_opset13():
    """ReduceMean with its pre-18 axes attribute; ReduceSum with an axes input."""
    axes = nh.from_array(np.array([0], np.int64), "sum_axes")
    nodes = [
        h.make_node("ReduceMean", ["x"], ["mean"], name="mean", axes=[-1], keepdims=0),
        h.make_node("ReduceMax", ["x"], ["max"], name="max"),
        h.make_node("ReduceSum", ["x", "sum_axes"], ["sum"], name="sum"),
    ]
    return model(nodes, [tensor("x", ["batch", 8])],
                 [tensor("mean", None), tensor("max", None), tensor("sum", None)],
                 [axes], opset=13)


def split_cast_opset13():
    """Split without sizes gets num_outputs; Cast's dtype becomes a name."""
    nodes = [
        h.make_node("Split", ["x"], ["a", "b"], name="split", axis=1),
        h.make_node("Cast", ["a"], ["a16"], name="cast", to=TP.FLOAT16),
    ]
    return model(nodes, [tensor("x", [2, 6])],
                 [tensor("a16", None, TP.FLOAT16), tensor("b", None)], opset=13)


def unsorted_nodes():
    """Nodes listed after their users."""
    nodes = [
        h.make_node("Neg", ["t"], ["y"], name="second"),
        h.make_node("Abs", ["x"], ["t"], name="first"),
    ]
    return model(nodes, [tensor("x", [3])], [tensor("y", [3])])


def unsupported_ops():
    nodes = [
        h.make_node("Foo", ["x"], ["a"], name="n1"),
        h.make_node("Relu", ["a"], ["b"], name="relu"),
        h.make_node("Bar", ["b"], ["c"], name="n2"),
        h.make_node("Foo", ["c"], ["y"], name="n3"),
    ]
    return model(nodes, [tensor("x", [3])], [tensor("y", [3])])


def old_opset():
    return model([h.make_node("Relu", ["x"], ["y"])], [tensor("x", [3])],
                 [tensor("y", [3])], opset=11)


def string_initializer():
    s = h.make_tensor("names", TP.STRING, [1], [b"kiln"])
    return model([h.make_node("Identity", ["x"], ["y"])], [tensor("x", [3])],
                 [tensor("y", [3])], [s])


def cycle():
    nodes = [
        h.make_node("Neg", ["b"], ["a"], name="n1"),
        h.make_node("Neg", ["a"], ["b"], name="n2"),
    ]
    return model(nodes, [tensor("x", [3])], [tensor("b", [3])])


def missing_input():
    return model([h.make_node("Add", ["x", "nowhere"], ["y"], name="add")],
                 [tensor("x", [3])], [tensor("y", [3])])


def type_mismatch():
    return model([h.make_node("Relu", ["x"], ["y"], name="relu")],
                 [tensor("x", [3])], [tensor("y", [4])])


def main():
    case, out = sys.argv[1], sys.argv[2]
    m = globals()[case]()
    if case == "external_data":
        onnx.save(m, out, save_as_external_data=True, location="weights.bin",
                  size_threshold=0)
    else:
        onnx.save(m, out)


if __name__ == "__main__":
    main()
