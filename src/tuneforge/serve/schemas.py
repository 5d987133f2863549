"""Request bodies of the OpenAI API subset tuneforge serves.

Unknown fields are refused with a 400 that names them (OpenAI does the same: "Unrecognized request argument
supplied"), so a client never believes a parameter took effect when it did not. Parameters OpenAI defines but
we do not implement (penalties, `logit_bias`, tools on a template without them, ...) are declared so the refusal
can say why; their neutral values (what clients send by default) are accepted. The list of honoured fields is in
docs/deploy.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

MAX_STOPS = 4
MAX_TOP_LOGPROBS = 20
MAX_COMPLETION_LOGPROBS = 5  # OpenAI's limit for /v1/completions
INT64 = 2**63


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _find_surrogate(value: Any, path: str) -> str | None:
    """Path of the first string holding a lone UTF-16 surrogate (valid JSON, but not encodable text)."""
    if isinstance(value, str):
        return path if any("\ud800" <= ch <= "\udfff" for ch in value) else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _find_surrogate(key, path) or _find_surrogate(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class ChatMessage(_Strict):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Union[str, list[TextPart], None] = None
    # `name` is refused with a reason (prompting.refuse_unsupported); the tool fields are rendered where the
    # chat template supports tools and refused elsewhere (serve/tool_calls.py).
    name: Optional[str] = None
    tool_calls: Optional[list[Any]] = None
    tool_call_id: Optional[str] = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class JsonSchemaSpec(_Strict):
    name: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: Optional[str] = None
    schema_: Optional[dict[str, Any]] = Field(None, alias="schema")
    strict: Optional[bool] = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: Optional[JsonSchemaSpec] = None

    @model_validator(mode="after")
    def _schema_given(self):
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("json_schema is required when type is 'json_schema'")
        if self.type != "json_schema" and self.json_schema is not None:
            raise ValueError("json_schema is only allowed when type is 'json_schema'")
        return self


class StreamOptions(_Strict):
    include_usage: bool = False


class _Sampling(_Strict):
    model: str = Field(..., min_length=1)
    temperature: float = Field(1.0, ge=0, le=2, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0, le=1, allow_inf_nan=False)
    n: int = Field(1, ge=1, le=16)
    stop: Union[str, list[str], None] = None
    seed: Optional[int] = Field(None, ge=-INT64, lt=INT64)
    stream: bool = False
    stream_options: Optional[StreamOptions] = None
    # Accepted and stored in the traffic log with the request; they do not change the answer.
    user: Optional[str] = None
    metadata: Optional[dict[str, str]] = None
    # OpenAI parameters we do not implement: only their neutral value is accepted.
    presence_penalty: Optional[float] = None
    frequency_penalty: Optional[float] = None
    logit_bias: Optional[dict[str, float]] = None

    @model_validator(mode="before")
    @classmethod
    def _no_surrogates(cls, data):
        where = _find_surrogate(data, "")
        if where is not None:
            raise PydanticCustomError("lone_surrogate", "{param} holds a lone UTF-16 surrogate, which is not valid "
                                      "Unicode text", {"param": where})
        return data

    @field_validator("stop")
    @classmethod
    def _stops(cls, v):
        stops = [v] if isinstance(v, str) else list(v or [])
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences")
        if any(s == "" for s in stops):
            raise ValueError("a stop sequence cannot be empty")
        return stops

    @property
    def stops(self) -> list[str]:
        return list(self.stop or [])

    def unsupported(self) -> dict[str, str]:
        """Declared-but-unimplemented parameters set to a non-neutral value: {param: reason}."""
        out = {}
        for param in ("presence_penalty", "frequency_penalty"):
            if getattr(self, param) not in (None, 0):
                out[param] = f"{param} is not supported by this server; send 0 or leave it out"
        if self.logit_bias:
            out["logit_bias"] = "logit_bias is not supported by this server"
        if self.stream_options is not None and not self.stream:
            out["stream_options"] = "stream_options is only allowed when stream is true"
        return out


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(..., min_length=1)
    max_tokens: Optional[int] = Field(None, ge=1, lt=INT64)
    max_completion_tokens: Optional[int] = Field(None, ge=1, lt=INT64)
    response_format: Optional[ResponseFormat] = None
    logprobs: Optional[bool] = None
    top_logprobs: Optional[int] = Field(None, ge=0, le=MAX_TOP_LOGPROBS)
    # Tool calling: honoured where the model's chat template supports tools, else a 400 (serve/tool_calls.py).
    tools: Optional[list[Any]] = None
    tool_choice: Optional[Any] = None
    parallel_tool_calls: Optional[bool] = None
    functions: Optional[list[Any]] = None
    function_call: Optional[Any] = None

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs_needs_logprobs(cls, v, info):
        if v and not info.data.get("logprobs"):
            raise ValueError("top_logprobs requires logprobs to be true")
        return v

    @property
    def token_limit(self) -> Optional[int]:
        return self.max_completion_tokens or self.max_tokens

    @property
    def structured(self) -> bool:
        return self.response_format is not None and self.response_format.type != "text"

    @property
    def json_schema(self) -> Optional[dict]:
        """The schema the answer must follow; None means any JSON object (json_object mode)."""
        rf = self.response_format
        if rf is None or rf.type != "json_schema":
            return None
        return rf.json_schema.schema_ if rf.json_schema.schema_ is not None else {}

    @property
    def n_top_logprobs(self) -> Optional[int]:
        """None: no logprobs; else how many alternatives to report per token."""
        return (self.top_logprobs or 0) if self.logprobs else None


class CompletionRequest(_Sampling):
    prompt: Union[str, Annotated[list[str], Field(min_length=1, max_length=16)]]
    max_tokens: Optional[int] = Field(None, ge=1, lt=INT64)  # None: 16, OpenAI's default for /v1/completions
    echo: bool = False
    logprobs: Optional[int] = Field(None, ge=0, le=MAX_COMPLETION_LOGPROBS)
    best_of: Optional[int] = Field(None, ge=1, le=16)
    suffix: Optional[str] = None

    @property
    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    @property
    def n_top_logprobs(self) -> Optional[int]:
        return self.logprobs

    def unsupported(self) -> dict[str, str]:
        out = super().unsupported()
        if self.echo:
            out["echo"] = "echo is not supported by this server"
        if self.best_of not in (None, 1, self.n):
            out["best_of"] = "best_of is not supported by this server; leave it out or make it equal to n"
        if self.suffix:
            out["suffix"] = "suffix (insertion) is not supported by this server"
        return out
