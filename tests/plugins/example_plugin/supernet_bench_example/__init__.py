"""Example supernet-bench plugin: a method (`spos-balanced`) and a space (`chain`), registered by entry points."""
