"""`voxray bench`: voxray against its anchors, on the same files and machine, in one run."""
