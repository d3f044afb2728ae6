"""Ray Data stages of the voxray batch pipeline and their assembly.

list -> read -> decode -> (VAD, packing) -> features -> inference -> assemble -> write
"""
