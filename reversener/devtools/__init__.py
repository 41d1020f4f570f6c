"""Stand-ins for an LLM, used by the tests and the benchmarks: never by the engine itself."""
