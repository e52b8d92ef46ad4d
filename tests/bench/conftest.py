"""Print the harness/reference ratios and the fraction of peak FLOP/s after a benchmark session."""

from tests.bench.summary import summary_lines


def pytest_terminal_summary(terminalreporter):
    lines = summary_lines()
    if lines:
        terminalreporter.section("harness vs reference, and vs peak")
        for line in lines:
            terminalreporter.write_line(line)
