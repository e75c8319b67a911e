"""Writes the tiny freshly initialized BERT encoders of pipeline-o2-fresh.test.

BertModel.from_config leaves every bias 0 and every LayerNorm scale 1 (the
exporters share those constants behind Identity nodes), and transformers'
default attention is SDPA. Run with torch and transformers (not in .venv):

    python make_fresh_bert.py OUT_DIR
"""
import sys

import onnx
import torch
from transformers import BertConfig, BertModel


class Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def main(out):
    torch.manual_seed(0)
    config = BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=16, attn_implementation="sdpa")
    module = Encoder(BertModel(config, add_pooling_layer=False)).eval()
    args = (torch.randint(0, 32, (2, 8)), torch.ones(2, 8, dtype=torch.int64))
    names = dict(input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    for opset in (14, 17):
        torch.onnx.export(module, args, f"{out}/fresh_bert_sdpa_opset{opset}.onnx", dynamo=False,
                          opset_version=opset, dynamic_axes={**axes, "last_hidden_state": {0: "batch", 1: "seq"}},
                          **names)
    program = torch.onnx.export(module, args, dynamo=True, dynamic_shapes=axes, **names)
    program.save(f"{out}/fresh_bert_sdpa_dynamo.onnx", external_data=False)
    # Source locations and stack traces are most of the bytes; lit needs none.
    for name in ("opset14", "opset17", "dynamo"):
        path = f"{out}/fresh_bert_sdpa_{name}.onnx"
        model = onnx.load(path)
        for node in model.graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
        onnx.save(model, path)


if __name__ == "__main__":
    main(sys.argv[1])
