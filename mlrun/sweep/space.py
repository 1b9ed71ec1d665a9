"""A search space from Hydra's override grammar, as the hparams_search presets and the command line write it:

    optimizer.lr=tag(log, interval(0.0001, 0.3))    → FloatDistribution(0.0001, 0.3, log=True)
    model.dropout=interval(0.0, 0.5)                → FloatDistribution(0.0, 0.5)
    model.width=tag(int, interval(16, 256))         → IntDistribution(16, 256)      (tag int: integers)
    trainer.batch_size=choice(16, 32, 64)           → CategoricalDistribution((16, 32, 64))
    model.depth=range(1, 4)                         → IntDistribution(1, 3)          (range's end excluded)
    trainer.batch_size=64                           → fixed: the same value for every trial

Later overrides replace earlier ones for the same key (the command line after the preset's params).
"""

from __future__ import annotations

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Transformer
from hydra.errors import HydraException

from mlrun.errors import UserError


def parse(arguments: list[str]) -> tuple[dict, dict]:
    """(distributions by key, fixed values by key as override text) of `arguments` (key=value strings)."""
    import optuna.distributions as d

    try:
        parsed = OverridesParser.create().parse_overrides(arguments)
    except HydraException as e:
        raise UserError(f"hydra.sweeper.params: {str(e).splitlines()[0]}") from None
    space, fixed = {}, {}
    for o in parsed:
        key = o.get_key_element()
        space.pop(key, None)
        fixed.pop(key, None)
        if not o.is_sweep_override():
            fixed[key] = o.get_value_element_as_str()
        elif o.is_choice_sweep() or (o.is_range_sweep() and o.value().shuffle):
            space[key] = d.CategoricalDistribution(tuple(o.sweep_iterator(transformer=Transformer.encode)))
        elif o.is_range_sweep():
            space[key] = _range(key, o.value())
        elif o.is_interval_sweep():
            space[key] = _interval(key, o.value())
        else:
            raise UserError(f"{o.input_line}: not a search range; use interval(lo,hi), tag(log, interval(lo,hi)), "
                            f"choice(a,b,...) or range(lo,hi,step)")
    return space, fixed


def _range(key: str, r):
    import optuna.distributions as d

    if any(isinstance(v, float) for v in (r.start, r.stop, r.step)):
        n = int(round((r.stop - r.start) / r.step))
        return d.FloatDistribution(r.start, r.start + (n - 1) * r.step, step=r.step)
    if r.step <= 0 or r.stop <= r.start:
        raise UserError(f"{key}=range({r.start},{r.stop},{r.step}): an empty range; give start < stop, step > 0")
    last = r.start + (r.stop - 1 - r.start) // r.step * r.step
    return d.IntDistribution(int(r.start), int(last), step=int(r.step))


def _interval(key: str, v):
    import optuna.distributions as d

    unknown = sorted(set(v.tags) - {"log", "int"})
    if unknown:
        raise UserError(f"{key}: unknown tag(s) {', '.join(unknown)} in tag(...); valid tags are log, int")
    log = "log" in v.tags
    if not v.start < v.end or (log and v.start <= 0):
        raise UserError(f"{key}=interval({v.start},{v.end}): need lo < hi{' and lo > 0 on a log scale' if log else ''}")
    if "int" in v.tags:                    # Hydra's interval() reads its ends as floats; the tag asks integers
        return d.IntDistribution(int(v.start), int(v.end), log=log)
    return d.FloatDistribution(float(v.start), float(v.end), log=log)


def grid(space: dict) -> dict:
    """sampler=grid: every key's values; intervals have none (one line naming the key)."""
    import optuna.distributions as d

    out = {}
    for key, dist in space.items():
        if isinstance(dist, d.CategoricalDistribution):
            out[key] = list(dist.choices)
        elif getattr(dist, "step", None) is not None and not getattr(dist, "log", False):
            n = int(round((dist.high - dist.low) / dist.step)) + 1
            out[key] = [dist.low + i * dist.step for i in range(n)]
        else:
            raise UserError(f"hydra.sweeper.sampler=grid: {key} is an interval; the grid needs choice(...) or "
                            f"range(...) for every searched key")
    return out


def overrides(params: dict, fixed: dict) -> list[str]:
    """A trial's `key=value` overrides: its sampled params, then the fixed keys."""
    return [f"{k}={_text(v)}" for k, v in params.items()] + [f"{k}={v}" for k, v in fixed.items()]


def _text(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)
