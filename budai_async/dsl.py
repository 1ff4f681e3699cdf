"""Kept for compatibility: the DSL lives in `budai_async.pipeline.dsl`; this path re-exports it."""

from budai_async.pipeline.dsl import (
    ActionCall,
    Condition,
    OutputRef,
    ParamRef,
    Params,
    PipelineBuilder,
    Ref,
    Retry,
    StatusRef,
    Step,
    Value,
    actions,
    params,
)

__all__ = [
    "ActionCall",
    "Condition",
    "OutputRef",
    "ParamRef",
    "Params",
    "PipelineBuilder",
    "Ref",
    "Retry",
    "StatusRef",
    "Step",
    "Value",
    "actions",
    "params",
]
