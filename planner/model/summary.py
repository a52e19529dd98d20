"""Model summary: the facts `planner models show` reports, as a typed result."""

from __future__ import annotations

from dataclasses import dataclass

from planner.inputs.model import Model
from planner.model import facts as M


@dataclass(frozen=True)
class ModelSummary:
    model: Model
    context: int
    train_sequence: int
    params: M.ParamCounts
    weights: M.WeightBytes
    kv_bytes_per_token: float
    kv_window_state_bytes: float
    kv_bytes_per_sequence: float
    decode_flops_per_token: float
    train_flops_per_token: float
    ep_flops_per_comm_byte: float | None

    def to_dict(self) -> dict:
        m, p, w = self.model, self.params, self.weights
        return {
            "model": m.name,
            "description": m.description,
            "attention": m.attention.kind,
            "layers": M.facts(m).layer_kinds,
            "precision": m.precision.model_dump(mode="json"),
            "params": {
                "total": p.total, "active": p.active, "active_with_embeddings": p.active_with_embeddings,
                "embeddings": p.embeddings, "lm_head": p.lm_head, "attention": p.attention,
                "dense_mlp": p.dense_mlp, "routed_experts": p.routed_experts,
                "shared_experts": p.shared_experts, "router": p.router, "norms": p.norms,
                "mtp": p.mtp, "total_with_mtp": p.total_with_mtp,
            },
            "weights": {
                "total_bytes": w.total, "embeddings_bytes": w.embeddings, "lm_head_bytes": w.lm_head,
                "attention_bytes": w.attention, "dense_mlp_bytes": w.dense_mlp,
                "routed_experts_bytes": w.routed_experts, "shared_experts_bytes": w.shared_experts,
                "small_tensors_bytes": w.small_tensors, "mtp_bytes": w.mtp,
                "total_with_mtp_bytes": w.total_with_mtp,
            },
            "kv": {
                "dtype": m.precision.kv.value,
                "bytes_per_token": self.kv_bytes_per_token,
                "window_state_bytes": self.kv_window_state_bytes,
                "bytes_per_sequence": self.kv_bytes_per_sequence,
                "context": self.context,
                "replicated_under_tp": M.facts(m).kv_latent_replicated,
            },
            "flops": {
                "decode_per_token": self.decode_flops_per_token,
                "train_per_token": self.train_flops_per_token,
                "train_sequence": self.train_sequence,
            },
            "ep": {"flops_per_comm_byte": self.ep_flops_per_comm_byte,
                   "dispatch": m.precision.dispatch.value, "combine": m.precision.combine.value},
            "sources": list(m.sources),
        }


def summarize(model: Model, context: int | None = None, train_sequence: int = 4096) -> ModelSummary:
    """Facts of one model at a context (default: its maximum). Bytes, FLOPs, tokens."""
    context = model.max_context if context is None else context
    f = M.facts(model)
    return ModelSummary(
        model=model, context=context, train_sequence=train_sequence, params=f.params, weights=f.weights,
        kv_bytes_per_token=M.kv_bytes_per_token(model),
        kv_window_state_bytes=M.kv_window_state_bytes(model),
        kv_bytes_per_sequence=M.kv_bytes_per_sequence(model, context),
        decode_flops_per_token=M.decode_flops_per_token(model, context),
        train_flops_per_token=M.train_flops_per_token(model, train_sequence),
        ep_flops_per_comm_byte=M.ep_flops_per_comm_byte(model))
