"""1.0.35's ``il_audit.vertex_usage`` (seed path): a Vertex AI call's prompt tokens per modality."""

from il_audit.chat.tokens import prompt_tokens_by_modality, vertex_api_usage_metadata

__all__ = ["prompt_tokens_by_modality", "vertex_api_usage_metadata"]
