"""Pipeline definitions as data: parse, validate and infer dependencies (`definition`), the DAG,
template refs, action specs, and the `PipelineBuilder` DSL.

Pure code: may import `errors` and `models` only; the server validates with the same functions.
"""
