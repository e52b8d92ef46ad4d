"""The bottom layer: errors, the name registry, architecture types and ground-truth tables.

Nothing here imports torch or any other supernet_bench layer; spaces, methods and the harness build on it.
"""
