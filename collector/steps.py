"""Work done in steps, so that the event loop can apply batches between them.

A national-scale job (the standard windows' availability, a scrape's metric families)
takes a few hundred milliseconds of CPU: done in one go on the event loop, every batch
behind it waits that long. Written as a generator that yields between steps and returns
its result, it is run to the end at once where nothing waits (:func:`run_to_end`), or a
step at a time with the loop going on between them (:func:`run_on_loop`, or one
:meth:`Steps.step` a tick).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class Steps(Generic[T]):
    """A job's generator of steps, and its result once the last step is done."""

    __slots__ = ("_job", "done", "result")

    def __init__(self, job: Generator[None, None, T]) -> None:
        self._job = job
        self.done = False
        self.result: T | None = None

    def step(self) -> bool:
        """Do the next step; whether the job is done."""
        try:
            next(self._job)
        except StopIteration as end:
            self.done, self.result = True, end.value
        return self.done


def run_to_end(job: Generator[None, None, T]) -> T:
    """Every step at once; the result."""
    steps = Steps(job)
    while not steps.step():
        pass
    return cast(T, steps.result)


async def run_on_loop(job: Generator[None, None, T]) -> T:
    """A step at a time, the event loop running what is ready between two; the result."""
    steps = Steps(job)
    while True:
        if steps.step():
            return cast(T, steps.result)
        await asyncio.sleep(0)  # a turn of the loop: nothing to wait for, only to let others run
