"""Benchmark suite: the Chat API against bare reference servers, run by ``benchmarks.run``."""
