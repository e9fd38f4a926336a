"""Experiments around the pipeline: datasets, training, the model zoo, low-latency conversion, sweeps,
the demo, figure reports and throughput benchmarks. Imported by the CLI, never by the pipeline."""
