"""Integrations with LLM frameworks: ``il_audit.integrations.langchain`` (extra ``[langchain]``)."""
