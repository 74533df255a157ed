"""A FastAPI chat app that records each turn, its model calls and what they cost.

Run it from the repository root (events go to the embedded DuckDB file):

    IL_AUDIT_TRANSPORT=local IL_AUDIT_STORE_QUERY_TEXT=false \
        uvicorn --app-dir examples/chat_app app:app --port 8000
    curl -s http://127.0.0.1:8000/query -H 'X-User-Id: u-1' -H 'Content-Type: application/json' \
        -d '{"question": "How many days off do I get?", "conversation_session_id": "c-1",
             "turn_index": 0}'

then ``il-audit query "SELECT event_type, session_id, cost_usd FROM events"``.

``FakeGenAI`` and ``FakeRanker`` stand in for the real clients and answer in
their shapes: swap them for ``google.genai.Client(vertexai=True, ...)`` and
your ranking client, and nothing else changes. The answer comes from a LangChain
chat model (``FakeChatModel``, ``ChatGoogleGenerativeAI`` in a real app) whose
calls il-audit's ``AuditCallbackHandler`` records (extra ``[langchain]``). The user comes from an
``X-User-Id`` header to keep the example short: ``require_user`` is where your
own session or token check goes. docs/chat-integration.md walks through it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from page import page_router  # GET /: the chat page, which sends feedback as a beacon
from pydantic import BaseModel, Field

from il_audit import AuditContext, chat_turn_usage, emit_chat_session, emit_chat_turn, shutdown
from il_audit.beacon_router import create_beacon_router
from il_audit.chat import ChatTurnUsage, active_turn_usage
from il_audit.integrations.langchain import AuditCallbackHandler
from il_audit.publisher import current_context
from il_audit.publisher.middleware import AuditContextMiddleware

APP_NAME = "chat"
MODEL = "gemini-2.5-flash-lite"
EMBEDDING_MODEL = "gemini-embedding-001"
RANKER_MODEL = "semantic-ranker-default"
USER_HEADER = "X-User-Id"
RETRIEVAL_TIMEOUT_SECONDS = 20


# ------------------------------------------------- stand-ins for the real clients


class FakeModels:
    """Answers like ``google.genai.Client(vertexai=True).models``."""

    MAX_INPUT_TOKENS = 2000
    THINKING_TOKENS = 16

    def generate_content(self, *, model: str, contents: str) -> Any:
        """``.text`` and ``.usage_metadata``, as a google-genai response has them."""
        prompt_tokens = len(contents.split())  # a real model counts better
        if prompt_tokens > self.MAX_INPUT_TOKENS:
            raise ValueError(f"{model}: the input token count exceeds the maximum")
        text = "You get 30 days off a year, see the handbook."
        usage = SimpleNamespace(
            prompt_token_count=prompt_tokens,
            candidates_token_count=len(text.split()),
            thoughts_token_count=self.THINKING_TOKENS,
        )
        return SimpleNamespace(text=text, usage_metadata=usage)

    def embed_content(self, *, model: str, contents: str) -> Any:
        """``.embeddings[i].values`` and ``.statistics.token_count``, as on Vertex AI."""
        del model
        statistics = SimpleNamespace(token_count=len(contents.split()), truncated=False)
        embedding = SimpleNamespace(values=[0.1] * 8, statistics=statistics)
        return SimpleNamespace(embeddings=[embedding])


class FakeGenAI:
    """``genai.Client(vertexai=True, project=..., location=...)`` in a real app."""

    models = FakeModels()


class FakeRanker:
    """A ranking client (Vertex AI Search's ``rank``): the records, best first."""

    def rank(self, *, model: str, query: str, records: list[str], top_n: int) -> list[str]:
        del model, query
        return records[:top_n]


class FakeChatModel(BaseChatModel):
    """A LangChain chat model over ``FakeGenAI``: replies carry ``usage_metadata`` as
    LangChain's Gemini models report it (thinking tokens inside ``output_tokens``)."""

    @property
    def _llm_type(self) -> str:
        return "fake-genai"

    def _generate(self, messages: list[BaseMessage], *_: Any, **__: Any) -> ChatResult:
        prompt = "\n".join(str(message.content) for message in messages)
        response = client.models.generate_content(model=MODEL, contents=prompt)
        usage = response.usage_metadata
        thoughts = usage.thoughts_token_count
        output = usage.candidates_token_count + thoughts
        reply = AIMessage(
            response.text,
            usage_metadata={
                "input_tokens": usage.prompt_token_count,
                "output_tokens": output,
                "total_tokens": usage.prompt_token_count + output,
                "output_token_details": {"reasoning": thoughts},
            },
            response_metadata={"model_name": MODEL, "finish_reason": "STOP"},
        )
        return ChatResult(generations=[ChatGeneration(message=reply)])


client = FakeGenAI()
chat_model = FakeChatModel()
audit_callbacks = AuditCallbackHandler()
"""Records every call made with it while a turn's tracker is bound; one is enough."""
ranker = FakeRanker()
DOCUMENTS = [f"Handbook section {number}" for number in range(1, 13)]
retrieval_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="retrieval")


# ------------------------------- model calls, each recorded on the turn's tracker


def elapsed_ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def generate(prompt: str) -> str:
    """One model call, recorded by the LangChain handler on the tracker bound to this thread
    (tokens from the reply's usage_metadata, model, latency; a failed call too)."""
    reply = chat_model.invoke(prompt, config={"callbacks": [audit_callbacks]})
    return str(reply.content)


def retrieve(question: str) -> list[str]:
    """Embed the question, search, rerank: recorded on the tracker bound to this thread."""
    usage = active_turn_usage()
    started = time.perf_counter()
    embedded = client.models.embed_content(model=EMBEDDING_MODEL, contents=question)
    if usage:
        usage.record_embedding(
            model_id=EMBEDDING_MODEL,
            input_tokens=embedded.embeddings[0].statistics.token_count,
            latency_ms=elapsed_ms(started),
        )
    candidates = DOCUMENTS  # your vector search, with embedded.embeddings[0].values
    started = time.perf_counter()
    sources = ranker.rank(model=RANKER_MODEL, query=question, records=candidates, top_n=3)
    if usage:
        usage.record_rerank(
            model_id=RANKER_MODEL, record_count=len(candidates), latency_ms=elapsed_ms(started)
        )
        usage.record_retrieval(retrieval_hit_count=len(sources), retrieval_query=question)
    return sources


def retrieve_in_pool(usage: ChatTurnUsage, question: str) -> list[str]:
    """Retrieval on a pool thread, which does not inherit the turn: ``attach`` joins it."""
    with usage.attach():
        return retrieve(question)


# ----------------------------------------------------------- who is asking


def require_user(request: Request) -> str:
    """Your auth goes here: the verified user's id, or 401. (Here: a header, trusted as is.)"""
    user = request.headers.get(USER_HEADER, "").strip()
    if not user:
        raise HTTPException(status_code=401, detail="Log in first")
    return user


def context_from_request(request: Request) -> AuditContext:
    """The request's context (ids from the middleware) with the user as the actor."""
    bound = current_context() or AuditContext(app=APP_NAME)
    return bound.replace(actor_uid=require_user(request))


# -------------------------------------------------------------------- the app


class Query(BaseModel):
    question: str = Field(min_length=1)
    conversation_session_id: str = Field(min_length=1, max_length=256)
    turn_index: int | None = Field(default=None, ge=0)


class Answer(BaseModel):
    answer: str
    turn_id: str


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    shutdown(10)  # send what is still queued before the process exits


app = FastAPI(title="il-audit chat example", lifespan=lifespan)
app.add_middleware(AuditContextMiddleware, app_name=APP_NAME)
# POST /api/audit/beacon (the page's ui.* events) and GET /api/audit/audit_beacon.js.
app.include_router(
    create_beacon_router(
        app_name=APP_NAME, get_context=context_from_request, require_auth=require_user
    )
)


app.include_router(page_router)


@app.post("/query")
def query(body: Query, context: Annotated[AuditContext, Depends(context_from_request)]) -> Answer:
    """Answer one question: one chat turn, with every call it made and what it cost."""
    started = time.perf_counter()
    conversation = body.conversation_session_id
    if body.turn_index == 0:
        emit_chat_session(context=context, conversation_session_id=conversation)
    with chat_turn_usage(context=context, conversation_session_id=conversation) as usage:
        try:
            sources = retrieval_pool.submit(retrieve_in_pool, usage, body.question).result(
                timeout=RETRIEVAL_TIMEOUT_SECONDS
            )
            answer = generate(f"Sources: {sources}\n\nQuestion: {body.question}")
        except Exception as exc:
            emit_chat_turn(
                question=body.question,
                conversation_session_id=conversation,
                turn_index=body.turn_index,
                error_class=type(exc).__name__,  # a failed turn, with the calls it made
                latency_ms=elapsed_ms(started),
            )
            raise HTTPException(status_code=502, detail="The model could not answer") from exc
        emit_chat_turn(
            question=body.question,
            conversation_session_id=conversation,
            turn_index=body.turn_index,
            response_type="answer",
            sources_returned_count=len(sources),
            latency_ms=elapsed_ms(started),
        )
    # The page keys its feedback (thumbs, correct...) on this turn_id: the feedback hook of
    # issue 22 §3 (emit_chat_feedback / the ui.chat.feedback beacon) goes here and in the page.
    return Answer(answer=answer, turn_id=usage.turn_id)
