"""A run's `best/`: the generator that scored best in the run's own evaluations (`train --eval-every`),
with the run's config.json (so every command reads `RUN/best` as a run folder) and `best.json`
(epoch, column, value), kept across resumes.

Example:
    >>> read_best("outputs/run") is None          # a run trained without --eval-every keeps none
    True
"""

import json
import math
from pathlib import Path

from gan_keras.files import atomic_copy, atomic_write_text, read_json
from gan_keras.runs.checkpoints import save_generator


def keep_if_best(sampler, best_dir, epoch, column, value, lower_is_better):
    """Save `sampler` to `best_dir` (with the run's config.json, so that every command reads it as a
    run folder) when `value` of `column` beats the best so far, which `best/best.json` remembers
    across resumes."""
    best = read_best(best_dir.parent)
    if not math.isfinite(value) or (best is not None and not (
            value < best["value"] if lower_is_better else value > best["value"])):
        return
    best_dir.mkdir(exist_ok=True)
    save_generator(sampler, best_dir / "generator.keras")
    config = best_dir.parent / "config.json"
    if config.is_file():
        atomic_copy(config, best_dir / "config.json")
    atomic_write_text(best_dir / "best.json", json.dumps(
        {"epoch": epoch, "column": column, "value": value, "lower_is_better": lower_is_better}))


def read_best(run_dir):
    """The record of a run's `best/` ({"epoch", "column", "value", "lower_is_better"}), or None."""
    path = Path(run_dir) / "best" / "best.json"
    return read_json(path, "the record of the best generator") if path.is_file() else None


def best_summary(run_dir, history):
    """One sentence on the best evaluation of a run and whether its last ones still improved, from
    `best/best.json` and the `history` (`files.read_history`); "" when the run kept no best."""
    best = read_best(run_dir)
    if best is None:
        return ""
    column = best["column"]
    evaluated = [int(epoch) for epoch, value in zip(history.get("epoch", []), history.get(column, []))
                 if not math.isnan(value)]
    after = [epoch for epoch in evaluated if epoch > best["epoch"]]
    trend = (f"the {len(after)} evaluation{'s' if len(after) > 1 else ''} after it did not beat it" if after
             else "it was the last evaluation: the run was still improving")
    return (f"best {column.removeprefix('eval_')} {best['value']:.4g} at epoch {best['epoch']} of "
            f"{max(evaluated, default=best['epoch'])} (kept in best/); {trend}")
