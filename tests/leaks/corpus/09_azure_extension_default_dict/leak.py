"""A function-app extension whose per-invocation scratch dict is a default argument.

Rebuilt from Azure/azure-functions-python-worker#1500: the app-level hooks of
``AppExtensionBase`` were declared with ``func_args: typing.Dict[str, object] = {}``.
That dict is created once, when the class is defined; an extension that stores
per-invocation state in ``func_args`` when the worker does not pass one keeps it
in the shared default, and each hook has its own default, so what
``pre_invocation_app_level`` stores, ``post_invocation_app_level`` never sees.
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
    def pre_invocation_app_level(cls, logger, context, func_args: typing.Dict[str, object] = {}, *args, **kwargs):
        pass

    @classmethod
    def post_invocation_app_level(cls, logger, context, func_args: typing.Dict[str, object] = {}, func_ret=None, *args, **kwargs):
        pass


class InvocationTimer(AppExtensionBase):
    """Times every invocation; keeps its start record in func_args meanwhile."""

    @classmethod
    def pre_invocation_app_level(cls, logger, context, func_args: typing.Dict[str, object] = {}, *args, **kwargs):
        func_args[context.invocation_id] = (time.perf_counter(), context)

    @classmethod
    def post_invocation_app_level(cls, logger, context, func_args: typing.Dict[str, object] = {}, func_ret=None, *args, **kwargs):
        started = func_args.pop(context.invocation_id, None)
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
    pending = InvocationTimer.pre_invocation_app_level.__defaults__[0]
    print(f"served invocations; start records left in the default dict: {len(pending)}")
