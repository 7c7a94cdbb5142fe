"""Pipelines: the stages an opportunity goes through, each with a default probability and
an outcome (open, won or lost), and the per-application registry of pipelines and vetoes.

The registry is the plugin's own: :func:`configure` gives an application its pipelines
(besides the shipped ``default``) and its stage-move vetoes. It is kept per database
engine, so two applications in one process do not share it.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

import attrs
from sqlalchemy import Connection, Engine

from xrm import ConfigurationError, Session, ValidationError
from xrm.hookspecs import hookspec

if TYPE_CHECKING:
    import datetime as dt

    from xrm import XRM

__all__ = [
    "DEFAULT_PIPELINE",
    "OUTCOMES",
    "VALIDATE_STAGE_MOVE",
    "Pipeline",
    "SalesHooks",
    "Stage",
    "StageMove",
    "StageVeto",
    "configure",
    "pipeline_of",
    "pipelines",
    "vetoes_of",
]

Outcome = Literal["open", "won", "lost"]
OUTCOMES: tuple[Outcome, ...] = ("open", "won", "lost")
_NAME = re.compile(r"[a-z][a-z0-9_]{0,59}")


@attrs.frozen
class Stage:
    """One stage of a pipeline."""

    name: str
    #: the chance of winning an opportunity in this stage, in percent (0 to 100)
    probability: int
    #: ``open`` (still in play), ``won`` or ``lost`` (closed)
    outcome: Outcome = "open"
    label: str | None = None

    def __attrs_post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"stage name {self.name!r}: lower_snake_case, 1 to 60 characters"
            )
        if isinstance(self.probability, bool) or not isinstance(self.probability, int):
            raise ConfigurationError(f"stage {self.name!r}: probability must be a whole number")
        if not 0 <= self.probability <= 100:
            raise ConfigurationError(f"stage {self.name!r}: probability must be 0 to 100")
        if self.outcome not in OUTCOMES:
            raise ConfigurationError(f"stage {self.name!r}: outcome must be open, won or lost")


def _stages(value: Iterable[Stage]) -> tuple[Stage, ...]:
    return tuple(value)


@attrs.frozen
class Pipeline:
    """A named sequence of stages: at least one open stage (the first stage is where an
    opportunity opens by default), one won and one lost stage."""

    name: str
    stages: tuple[Stage, ...] = attrs.field(converter=_stages)
    label: str | None = None

    def __attrs_post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigurationError(
                f"pipeline name {self.name!r}: lower_snake_case, 1 to 60 characters"
            )
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"pipeline {self.name!r}: a stage name is given twice")
        outcomes = {s.outcome for s in self.stages}
        if not self.stages or self.stages[0].outcome != "open" or outcomes != set(OUTCOMES):
            raise ConfigurationError(
                f"pipeline {self.name!r}: needs an open first stage, a won and a lost stage"
            )

    def stage(self, name: str, field: str = "stage") -> Stage:
        """The stage ``name``, or a :class:`~xrm.ValidationError` on ``field`` listing
        the pipeline's stages."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        known = ", ".join(s.name for s in self.stages)
        raise ValidationError.single(
            field, f"pipeline {self.name!r} has no stage {name!r} (it has {known})"
        )

    @property
    def first(self) -> Stage:
        return self.stages[0]


#: the pipeline shipped with the plugin
DEFAULT_PIPELINE = Pipeline(
    "default",
    (
        Stage("qualification", 10, label="Qualification"),
        Stage("needs_analysis", 25, label="Needs analysis"),
        Stage("proposal", 50, label="Proposal"),
        Stage("negotiation", 75, label="Negotiation"),
        Stage("won", 100, "won", label="Won"),
        Stage("lost", 0, "lost", label="Lost"),
    ),
    label="Sales pipeline",
)


@attrs.frozen
class StageMove:
    """A stage move about to be committed, as the vetoes see it: the opportunity has
    already moved (flushed, so queries through the session see it)."""

    opportunity_id: int
    account_id: int
    pipeline: str
    from_stage: str
    to_stage: str
    outcome: Outcome
    at: dt.datetime
    lost_reason: str | None


#: a veto: raise (a :class:`~xrm.ValidationError`, say) to refuse the move
StageVeto = Callable[[Session, StageMove], None]

#: the hook this plugin declares for the others (:class:`SalesHooks`)
VALIDATE_STAGE_MOVE = "xrm_sales_validate_stage_move"


class SalesHooks:
    """The hooks the sales plugin declares (``xrm_hookspecs``) for other plugins."""

    @staticmethod
    @hookspec
    def xrm_sales_validate_stage_move(session: Session, change: StageMove) -> None:
        """Accept or veto a stage move, after it is written and before it is journaled:
        raising refuses it (the move is undone; the caller gets ``PluginError(plugin,
        "xrm_sales_validate_stage_move")``)."""


@attrs.define
class _Config:
    pipelines: dict[str, Pipeline]
    vetoes: list[StageVeto]


_CONFIGS: weakref.WeakKeyDictionary[Engine, _Config] = weakref.WeakKeyDictionary()
_SHIPPED = _Config({DEFAULT_PIPELINE.name: DEFAULT_PIPELINE}, [])


def configure(
    app: XRM, *, pipelines: Iterable[Pipeline] = (), vetoes: Sequence[StageVeto] = ()
) -> None:
    """Give ``app`` more pipelines (besides ``default``, which may not be replaced) and
    stage-move vetoes, added to what it has. A pipeline name given twice is a
    :class:`~xrm.ConfigurationError`."""
    config = _CONFIGS.get(app.engine)
    if config is None:
        config = _CONFIGS[app.engine] = _Config(dict(_SHIPPED.pipelines), [])
    for pipeline in pipelines:
        if not isinstance(pipeline, Pipeline):
            raise ConfigurationError(f"{pipeline!r} is not an xrm_sales.Pipeline")
        if pipeline.name in config.pipelines:
            raise ConfigurationError(f"pipeline {pipeline.name!r} is already registered")
        config.pipelines[pipeline.name] = pipeline
    for veto in vetoes:
        if not callable(veto):
            raise ConfigurationError(f"veto {veto!r} is not callable")
        config.vetoes.append(veto)


def _config(session: Session) -> _Config:
    bind = session.db.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    return _CONFIGS.get(engine, _SHIPPED)


def pipelines(session: Session) -> dict[str, Pipeline]:
    """The pipelines of the session's application, by name."""
    return dict(_config(session).pipelines)


def pipeline_of(session: Session, name: str, field: str = "pipeline") -> Pipeline:
    found = _config(session).pipelines.get(name)
    if found is None:
        known = ", ".join(sorted(_config(session).pipelines))
        raise ValidationError.single(field, f"unknown pipeline {name!r} (known: {known})")
    return found


def vetoes_of(session: Session) -> list[StageVeto]:
    return list(_config(session).vetoes)
