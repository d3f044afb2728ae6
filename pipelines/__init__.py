"""The batch pipeline: its stages, one module each, in the order data flows, and their assembly.

listing -> decode -> windows (VAD, packing) -> prepare (+ models.features) -> inference -> assemble -> write
`transcribe` assembles them on Ray Data. Every other concern has a subpackage: store/, online/,
training/, quality/, export/.
"""
