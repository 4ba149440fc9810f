"""A trained peft LoRA written as a GGUF LoRA adapter that llama.cpp loads (`Llama(lora_path=...)`).

Hand-written on the `gguf` package's GGUFWriter and its tensor-name map, because llama.cpp's own converter
(`convert_lora_to_gguf.py`) is a script in the llama.cpp repository, not in any installable package (the
`gguf` wheel holds only the writer and the name tables it uses). This file does what that script does for
a llama-architecture base: the same metadata keys, tensor names (`blk.N.attn_q.weight.lora_a`/`lora_b`),
shapes, and the same row permutation of q/k.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playground.lora.errors import AdapterError

# peft wraps the model twice ("base_model.model." then the causal LM's own "model."): the HF names that
# the gguf name map knows start at "model.".
_PEFT_PREFIX = "base_model.model."


@dataclass(frozen=True)
class AdapterShape:
    """What the adapter must agree on with its base: architecture, layers, heads (for q/k), rank, alpha."""

    architecture: str  # general.architecture of the base GGUF, e.g. "llama"
    n_layers: int
    n_heads: int
    n_kv_heads: int
    rank: int
    alpha: float


def _unpermute_rows(weights: Any, n_head: int) -> Any:
    """llama.cpp's layout of q/k rows (convert_hf_to_gguf.LlamaModel.permute).

    llama.cpp stores q_proj and k_proj with the rows of each head interleaved for its rope kernel;
    transformers' GGUF loader undoes that when it reads the base. lora_b's rows are output rows, so they
    go back through the same permutation: delta(gguf) = P·B·A = (P·B)·A.
    """
    shape = weights.shape
    return weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:]).swapaxes(1, 2).reshape(shape)


def lora_tensors(peft_model: Any, shape: AdapterShape) -> list[tuple[str, Any]]:
    """(GGUF tensor name, float32 numpy array) for every LoRA pair of the peft model."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, shape.n_layers)
    tensors = []
    for module_name, module in peft_model.named_modules():
        if not hasattr(module, "lora_A") or "default" not in getattr(module, "lora_A", {}):
            continue
        hf_name = module_name.removeprefix(_PEFT_PREFIX)
        gguf_name = names.get_name(hf_name)
        if gguf_name is None:
            raise AdapterError(f"no GGUF name for the adapted layer {hf_name!r}")
        lora_a = module.lora_A["default"].weight.detach().float().cpu().numpy()  # (rank, in)
        lora_b = module.lora_B["default"].weight.detach().float().cpu().numpy()  # (out, rank)
        if hf_name.endswith("q_proj"):
            lora_b = _unpermute_rows(lora_b, shape.n_heads)
        elif hf_name.endswith("k_proj"):
            lora_b = _unpermute_rows(lora_b, shape.n_kv_heads)
        tensors += [(f"{gguf_name}.weight.lora_a", lora_a), (f"{gguf_name}.weight.lora_b", lora_b)]
    if not tensors:
        raise AdapterError("the model holds no LoRA layers to write")
    return tensors


def write_adapter(peft_model: Any, shape: AdapterShape, path: Path, name: str) -> Path:
    """Write the adapter file (to a temporary name first, so a reader never sees half a file)."""
    import gguf

    tensors = lora_tensors(peft_model, shape)
    partial = path.with_name(path.name + ".partial")
    writer = gguf.GGUFWriter(partial, shape.architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_name(name)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(shape.alpha))
    for tensor_name, array in tensors:
        writer.add_tensor(tensor_name, array.copy(order="C"))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    partial.replace(path)
    return path


def read_adapter_facts(path: Path) -> dict[str, Any]:
    """The metadata that makes a file a LoRA adapter (type, adapter type, alpha, architecture)."""
    import gguf

    try:
        reader = gguf.GGUFReader(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same answer
        raise AdapterError(f"{path.name} is not a readable GGUF file: {exc}") from exc

    def value(key: str) -> Any:
        field = reader.get_field(key)
        return None if field is None else field.contents()

    return {
        "general.type": value("general.type"),
        "general.architecture": value("general.architecture"),
        "adapter.type": value("adapter.type"),
        "adapter.lora.alpha": value("adapter.lora.alpha"),
        "tensors": len(reader.tensors),
    }
