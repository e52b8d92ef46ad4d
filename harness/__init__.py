"""supernet-bench harness: protocol, budget, data, evaluation, metrics, results store and CLI."""
