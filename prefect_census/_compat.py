"""Everything that differs between Prefect 2 and Prefect 3, in one place.

No other module checks a version. This module decides:

- which pydantic API the Block base class uses (Prefect 3 blocks are pydantic 2
  models; Prefect 2 blocks use the `pydantic.v1` API, or pydantic 1 itself);
- which task options keep status requests out of Prefect 3's task cache;
- whether progress artifacts exist;
- how sync and async callers reach the package's async core, which always runs
  on one private event loop per process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import os
import threading
import typing
import warnings
from collections.abc import Coroutine, Iterator
from typing import Any, Callable, Optional, TypeVar

import prefect
import pydantic
from prefect import Flow

T = TypeVar("T")

PREFECT_MAJOR = int(prefect.__version__.split(".")[0])
PYDANTIC_V2_INSTALLED = int(pydantic.VERSION.split(".")[0]) >= 2

if PREFECT_MAJOR >= 3:
    from pydantic import ConfigDict, Field, SecretStr, field_validator

    def trigger_url_validator(field: str) -> Callable[[Callable], Any]:
        """Return a decorator that runs a function on `field` before pydantic does."""

        def decorate(function: Callable) -> Any:
            return field_validator(field, mode="before")(function)

        return decorate

    # Pydantic 2 prints the rejected input in a ValidationError; the input is a
    # URL that contains the token.
    BLOCK_MODEL_CONFIG: Any = ConfigDict(
        hide_input_in_errors=True, validate_assignment=True
    )
else:  # pragma: no cover - exercised in the Prefect 2 environments
    try:
        from pydantic.v1 import Field, SecretStr, validator
    except ImportError:
        from pydantic import Field, SecretStr, validator

    def trigger_url_validator(field: str) -> Callable[[Callable], Any]:
        """Return a decorator that runs a function on `field` before pydantic does."""

        def decorate(function: Callable) -> Any:
            return validator(field, pre=True, allow_reuse=True)(function)

        return decorate

    # Pydantic 1 does not print the input in its errors.
    BLOCK_MODEL_CONFIG = None

__all__ = ["BLOCK_MODEL_CONFIG", "Field", "SecretStr", "trigger_url_validator"]


def uncached_task_options() -> dict[str, Any]:
    """Return `@task` options that make every call send its own request."""
    if PREFECT_MAJOR >= 3:
        from prefect import cache_policies

        # Prefect 3.1.12 renamed the policy `NONE` to `NO_CACHE`.
        no_cache = getattr(cache_policies, "NO_CACHE", None) or cache_policies.NONE

        return {"cache_policy": no_cache}

    return {}


def has_progress_artifacts() -> bool:
    """Return whether this Prefect version can show progress artifacts."""
    try:
        from prefect.artifacts import create_progress_artifact  # noqa: F401
    except ImportError:
        return False

    return True


def in_async_context() -> bool:
    """Return whether the caller expects an awaitable.

    Inside a flow or task run, that follows the run's own function; outside one,
    it follows whether an event loop is running in this thread.
    """
    from prefect.context import FlowRunContext, TaskRunContext

    run = TaskRunContext.get()
    if run is not None:
        return bool(getattr(run.task, "isasync", False))

    flow_run = FlowRunContext.get()
    if flow_run is not None and flow_run.flow is not None:
        return bool(getattr(flow_run.flow, "isasync", False))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False

    return True


class _CoreLoop:
    """A private event loop on a daemon thread, shared by every wait in a process.

    Sharing one loop lets many concurrent waits share connection pools, and
    running it apart from Prefect's own loops keeps a long wait from blocking
    them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid: int | None = None

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child inherits the object but not the thread.
            if self._loop is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._pid = os.getpid()
                thread = threading.Thread(
                    target=self._loop.run_forever,
                    name="prefect-census-loop",
                    daemon=True,
                )
                thread.start()

            return self._loop


_core_loop = _CoreLoop()

# How often a thread blocked in `run_coroutine` wakes to take an exception that
# another thread raised in it.
WAKE_SECONDS = 0.2

# Set when the async caller of a flow running on a worker thread is cancelled.
# A thread cannot be cancelled, so `run_coroutine` checks this as it waits.
_abandoned: contextvars.ContextVar[Optional[threading.Event]] = contextvars.ContextVar(
    "prefect_census_abandoned", default=None
)


def core_loop() -> asyncio.AbstractEventLoop:
    """Return the event loop that runs the package's async core."""
    return _core_loop.get()


def _submit(coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future:
    """Start `coroutine` on the core loop with the caller's context variables."""
    loop = core_loop()
    context = contextvars.copy_context()
    result: concurrent.futures.Future = concurrent.futures.Future()
    result.finished = threading.Event()  # type: ignore[attr-defined]

    def start() -> None:
        # A task copies the context it is created in.
        task = context.run(loop.create_task, coroutine)
        task.add_done_callback(functools.partial(_copy_outcome, result))
        result.task = task  # type: ignore[attr-defined]

    loop.call_soon_threadsafe(start)

    return result


def _stop(result: concurrent.futures.Future) -> None:
    """Cancel a submitted coroutine and give it a few seconds to clean up."""
    core_loop().call_soon_threadsafe(_cancel_task, result)
    result.finished.wait(timeout=15)  # type: ignore[attr-defined]


def run_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the core loop and block until it returns.

    The coroutine runs with the caller's context variables, so Prefect's run logger
    and artifacts work inside it. If the caller is interrupted (a Prefect
    cancellation or timeout, Ctrl-C), the coroutine is cancelled and given a few
    seconds to clean up before the interruption goes on.
    """
    result = _submit(coroutine)
    try:
        # Prefect stops a sync flow or task that runs outside the main thread at
        # its timeout by raising an exception in that thread. Python delivers
        # such an exception only between bytecodes, not during one long wait.
        abandoned = _abandoned.get()
        while not result.done():
            concurrent.futures.wait([result], timeout=WAKE_SECONDS)
            if abandoned is not None and abandoned.is_set() and not result.done():
                raise asyncio.CancelledError("the awaiting caller was cancelled")

        return result.result()
    except BaseException:
        _stop(result)
        raise


async def await_coroutine(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` on the core loop and await it from the caller's loop."""
    result = _submit(coroutine)
    try:
        return await asyncio.wrap_future(result)
    except BaseException:
        await asyncio.to_thread(_stop, result)
        raise


def call_sync_or_async(coroutine: Coroutine[Any, Any, T]) -> Any:
    """Return an awaitable for async callers, or run `coroutine` for sync ones."""
    if in_async_context():
        return await_coroutine(coroutine)

    return run_coroutine(coroutine)


def _copy_outcome(result: concurrent.futures.Future, task: asyncio.Task) -> None:
    result.finished.set()  # type: ignore[attr-defined]
    if result.done():
        return
    if task.cancelled():
        result.cancel()
    elif task.exception() is not None:
        result.set_exception(task.exception())
    else:
        result.set_result(task.result())


def _cancel_task(result: concurrent.futures.Future) -> None:
    task = getattr(result, "task", None)
    if task is not None:
        task.cancel()


@contextlib.contextmanager
def _ignore_mixed_pydantic_warning() -> Iterator[None]:
    """Hide pydantic's warning about the block in a flow's parameter model.

    Prefect 2 with pydantic 2 builds a pydantic 2 model of a flow's parameters
    when the flow is declared, and pydantic warns that the block, a
    `pydantic.v1` model, does not belong in it. Runs validate their parameters
    with the v1 API, so the warning, printed wherever Prefect 2 imports this
    package, is noise.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Mixing V1 models and V2 models", category=UserWarning
        )
        yield


def _validate_with_pydantic_v1(
    function: Callable[..., Any], parameters: dict[str, Any]
) -> dict[str, Any]:
    """Validate flow parameters with the `pydantic.v1` API, as Prefect 2 does.

    Prefect 2 with pydantic 2 picks the v1 API only when an annotation is a v1
    model class itself. For `list[CensusCredentials]` it picks pydantic 2,
    which cannot validate the blocks. This follows `Flow.validate_parameters`
    of Prefect 2.20 with the v1 API always.
    """
    from prefect.exceptions import ParameterTypeError
    from prefect.utilities.callables import parameters_to_args_kwargs
    from pydantic.v1 import ValidationError
    from pydantic.v1.decorator import ValidatedFunction

    args, kwargs = parameters_to_args_kwargs(function, parameters)
    validated = ValidatedFunction(function, config={"arbitrary_types_allowed": True})
    try:
        model = validated.init_model_instance(*args, **kwargs)
    except ValidationError as exc:
        raise ParameterTypeError.from_validation_error(exc) from None

    return {
        name: value
        for name, value in model._iter()
        if name in model.__fields_set__ or model.__fields__[name].default_factory
    }


async def _call_in_thread(call: Callable[[], T]) -> T:
    """Run `call` on a worker thread, stopping its Census waits if cancelled."""
    abandoned = threading.Event()
    token = _abandoned.set(abandoned)
    try:
        return await asyncio.to_thread(call)
    except asyncio.CancelledError:
        abandoned.set()
        raise
    finally:
        _abandoned.reset(token)


class DualCallFlow(Flow):
    """A flow with a sync body that async callers can also await.

    Called where an awaitable is expected (an async flow, or code with a running
    event loop), it returns a coroutine that runs the flow on a worker thread.
    Anywhere else it runs the flow and returns its result, like any sync flow.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with _ignore_mixed_pydantic_warning():
            super().__init__(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        call = functools.partial(super().__call__, *args, **kwargs)
        if not in_async_context():
            return call()

        return _call_in_thread(call)

    def validate_parameters(self, parameters: dict[str, Any]) -> dict[str, Any]:
        if PREFECT_MAJOR >= 3 or not PYDANTIC_V2_INSTALLED:
            return super().validate_parameters(parameters)

        return _validate_with_pydantic_v1(self.fn, parameters)

    def with_options(self, *args: Any, **kwargs: Any) -> Flow:
        # `Flow.with_options` builds a plain `Flow`, which gets this class back.
        with _ignore_mixed_pydantic_warning():
            copy = super().with_options(*args, **kwargs)
        copy.__class__ = type(self)

        return copy


def dual_call_flow(**options: Any) -> Callable[[Callable[..., T]], Flow]:
    """Return a decorator like `@flow(**options)` that builds a `DualCallFlow`."""

    def decorate(function: Callable[..., T]) -> Flow:
        # Prefect 2 reads parameter annotations as they are, so the strings that
        # `from __future__ import annotations` leaves become classes here.
        function.__annotations__ = typing.get_type_hints(function)

        return DualCallFlow(fn=function, **options)

    return decorate


def harness_database_path() -> str:
    """Return the file path of the SQLite database the Prefect API uses now."""
    import prefect.settings

    # Later Prefect 3 releases renamed the setting, and Prefect 2 and Prefect
    # 3.0.0 have only the old name.
    setting = getattr(prefect.settings, "PREFECT_SERVER_DATABASE_CONNECTION_URL", None)
    if setting is None:
        setting = prefect.settings.PREFECT_API_DATABASE_CONNECTION_URL
    url = setting.value()

    return str(url).split(":///", 1)[1]


def model_to_json(model: Any) -> str:
    """Serialize a pydantic model of either API, such as a Prefect client object.

    Prefect 3 objects are pydantic 2 models; Prefect 2 objects are pydantic 1
    models, or `pydantic.v1` models under pydantic 2.
    """
    if hasattr(model, "model_dump_json"):
        return model.model_dump_json()

    return model.json()
