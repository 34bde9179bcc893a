"""The same extension with ``func_args=None`` defaults and state kept on purpose.

The fix for Azure/azure-functions-python-worker#1500 replaced the mutable
default with ``None`` (a fresh dict per call); the timer keeps its start records
in an explicit per-extension dict that post-invocation empties.
"""

import itertools
import logging
import time
import typing

logger = logging.getLogger("azure.functions.extension")
logger.addHandler(logging.NullHandler())


class Context:
    def __init__(self, invocation_id, function_name, body):
        self.invocation_id = invocation_id
        self.function_name = function_name
        self.body = body


class AppExtensionBase:
    @classmethod
    def pre_invocation_app_level(cls, logger, context, func_args: typing.Optional[typing.Dict[str, object]] = None, *args, **kwargs):
        pass

    @classmethod
    def post_invocation_app_level(cls, logger, context, func_args: typing.Optional[typing.Dict[str, object]] = None, func_ret=None, *args, **kwargs):
        pass


class InvocationTimer(AppExtensionBase):
    """Times every invocation; keeps its start record until the invocation ends."""

    _started: typing.Dict[str, float] = {}

    @classmethod
    def pre_invocation_app_level(cls, logger, context, func_args: typing.Optional[typing.Dict[str, object]] = None, *args, **kwargs):
        cls._started[context.invocation_id] = (time.perf_counter(), context)

    @classmethod
    def post_invocation_app_level(cls, logger, context, func_args: typing.Optional[typing.Dict[str, object]] = None, func_ret=None, *args, **kwargs):
        started = cls._started.pop(context.invocation_id, None)
        if started is not None:
            logger.info("%s took %.3f ms", context.function_name, (time.perf_counter() - started[0]) * 1e3)


EXTENSIONS = [InvocationTimer]
_invocations = itertools.count()


def invoke(function_name, body):
    context = Context("inv-%08d" % next(_invocations), function_name, body)
    for ext in EXTENSIONS:
        ext.pre_invocation_app_level(logger, context)  # the worker passes no func_args here
    result = len(context.body)
    for ext in EXTENSIONS:
        ext.post_invocation_app_level(logger, context, func_ret=result)
    return result


def request(i):
    """One HTTP-triggered invocation with a small JSON body."""
    return invoke("HttpTrigger", b'{"order": %d, "items": [1, 2, 3]}' % i + b" " * 400)


def main(requests=4000):
    return sum(request(i) for i in range(requests))


if __name__ == "__main__":
    main()
    print(f"served invocations; start records left: {len(InvocationTimer._started)}")
