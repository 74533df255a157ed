"""A fake LangChain retriever for the handler's tests (langchain-core has a fake chat model,
not a fake retriever)."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class ShelfRetriever(BaseRetriever):
    """Returns its documents for any query."""

    documents: list[Document]

    def _get_relevant_documents(
        self,
        query: str,  # noqa: ARG002 - BaseRetriever's signature
        *,
        run_manager: CallbackManagerForRetrieverRun,  # noqa: ARG002
    ) -> list[Document]:
        return self.documents
