"""Training stages in order, one at a time or several at once.

A *plan* is a list of stages, each a dict with ``name``, ``needs`` (names of
the stages whose results it takes, e.g. a teacher's checkpoint) and whatever
the caller's ``run_one(stage, needed_results)`` reads. :func:`run_plan` runs
them in plan order: with ``jobs > 1`` each stage trains in its own process
with ``cpu_count // jobs`` threads, a stage starting once its ``needs`` are
done. Caching is ``run_one``'s: :func:`cankd.apis.quickstart.run_stage`
reuses a finished stage's ``result.json`` (after checking its schedule), so an
interrupted plan continues where it stopped. The quickstart's ablation and
the distillation comparisons use it.
"""
import os
from typing import Callable, Dict, List

__all__ = ['run_plan']


def _job(run_one: Callable, stage: Dict, needed: Dict, threads: int) -> Dict:
    """One stage in a worker process."""
    import torch

    import cankd  # noqa: F401  (registries, safe checkpoint loading)
    torch.set_num_threads(threads)
    return run_one(stage, needed)


def run_plan(plan: List[Dict], run_one: Callable[[Dict, Dict], Dict],
             jobs: int = 1) -> Dict[str, Dict]:
    """Every stage's result, by name, in plan order.

    ``run_one`` must be a module-level function when ``jobs > 1`` (it is sent
    to a spawned process); it gets the stage and ``{name: result}`` of its
    ``needs``.
    """
    names = [stage['name'] for stage in plan]
    unknown = {n for stage in plan for n in stage.get('needs', ()) if n not in names}
    if unknown:
        raise ValueError(f'stages need {sorted(unknown)}, which are not in the plan')
    results: Dict[str, Dict] = {}
    if jobs <= 1:
        for stage in plan:
            needed = {n: results[n] for n in stage.get('needs', ())}
            results[stage['name']] = run_one(stage, needed)
        return results
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    threads = max((os.cpu_count() or 1) // jobs, 1)
    pending, running = list(plan), {}
    pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context('spawn'))
    try:
        while pending or running:
            while len(running) < jobs:
                ready = [s for s in pending if all(n in results for n in s.get('needs', ()))]
                if not ready:
                    break
                stage = ready[0]
                pending.remove(stage)
                needed = {n: results[n] for n in stage.get('needs', ())}
                running[pool.submit(_job, run_one, stage, needed, threads)] = stage['name']
            if not running:
                if pending:  # nothing runs and nothing can start
                    raise ValueError('stages that need each other: '
                                     f'{[s["name"] for s in pending]}')
                continue
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                results[running.pop(future)] = future.result()
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return {name: results[name] for name in names}
