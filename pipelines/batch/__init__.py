"""The batch path: list -> prepare (CPU tasks) -> infer (actor pool) -> assemble (driver) -> sink.

`records` holds what passes between the stages (placements, windows, pieces) and their Arrow
types; `run` puts the stages together on Ray Data. Nothing here imports pipelines.store: the
command line chooses a Delta sink (pipelines/store/sink.py) and hands it in.
"""
