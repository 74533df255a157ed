"""The LangChain callback handler (extra ``[langchain]``); see docs/chat-integration.md."""

from il_audit.chat.langchain_callback import AuditCallbackHandler, AuditedEmbeddings

__all__ = ["AuditCallbackHandler", "AuditedEmbeddings"]
