"""What `kiln compile --gelu-gemm tanh` costs in accuracy: onnxruntime fp32
on an encoder as exported (erf GELU) and on the same model with every Erf(z)
replaced by tanh(sqrt(2/pi) (x + 0.044715 x^3)), x = z sqrt(2) (the GELU
cuBLASLt's epilogue computes), on the sentences of a text file (one a line,
at most 256, padded to 128 tokens); prints the embeddings' min and median
cosine and max abs difference. CPU only.

  gelu_tanh_error.py MODEL.onnx TOKENIZER.json SENTENCES.txt
"""
import sys, numpy as np, onnx, onnxruntime as ort
from onnx import helper, numpy_helper
from tokenizers import Tokenizer
model_path, tok_path = sys.argv[1], sys.argv[2]
m = onnx.load(model_path)
g = m.graph
consts = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
          [("k_sqrt2", 2 ** 0.5), ("k_c", 0.044715), ("k_s", (2 / np.pi) ** 0.5)]]
g.initializer.extend(consts)
new_nodes = []
n_erf = 0
for node in g.node:
    if node.op_type != "Erf":
        new_nodes.append(node); continue
    n_erf += 1
    z, out, p = node.input[0], node.output[0], f"tanhgelu{n_erf}_"
    new_nodes += [
        helper.make_node("Mul", [z, "k_sqrt2"], [p + "x"]),
        helper.make_node("Mul", [p + "x", p + "x"], [p + "x2"]),
        helper.make_node("Mul", [p + "x2", p + "x"], [p + "x3"]),
        helper.make_node("Mul", [p + "x3", "k_c"], [p + "cx3"]),
        helper.make_node("Add", [p + "x", p + "cx3"], [p + "in"]),
        helper.make_node("Mul", [p + "in", "k_s"], [p + "arg"]),
        helper.make_node("Tanh", [p + "arg"], [out]),
    ]
del g.node[:]
g.node.extend(new_nodes)
sentences = [l.strip() for l in open(sys.argv[3]) if l.strip()][:256]
tok = Tokenizer.from_file(tok_path)
tok.enable_truncation(128); tok.enable_padding(length=128)
enc = tok.encode_batch(sentences)
feeds = {"input_ids": np.array([e.ids for e in enc], np.int64),
         "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
         "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}
def run(model):
    s = ort.InferenceSession(model.SerializeToString() if isinstance(model, onnx.ModelProto) else model,
                             providers=["CPUExecutionProvider"])
    names = [i.name for i in s.get_inputs()]
    return s.run(None, {k: v for k, v in feeds.items() if k in names})[0]
ref = run(model_path)
approx = run(m)
def norm(a): return a / np.linalg.norm(a, axis=1, keepdims=True)
cos = (norm(ref) * norm(approx)).sum(1)
print(f"{n_erf} Erf replaced; {len(sentences)} sentences; min cosine {cos.min():.7f}, "
      f"median {np.median(cos):.8f}; max abs {np.abs(ref - approx).max():.2e}")
