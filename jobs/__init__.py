"""Entry points: the `voxray` command and its subcommands, thin wrappers over pipelines/ and models/."""
