"""The small common base every layer imports: Whisper's audio constants, base config, storage, schema, ids."""
