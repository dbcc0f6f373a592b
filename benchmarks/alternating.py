"""Timing several variants of one workload round by round, for the ratios between them."""


def interleaved(benchmark, runs: dict, rounds: int) -> dict:
    """Time each of ``runs`` (a callable per thread count, returning its seconds) once a
    round, the order turned by one each round, and return every count's times. Counts
    timed seconds apart on a shared VM compare the machine's moods as much as the
    counts (a run of the counts one after the other put ``threads=None`` at 0.82x one
    thread's pace, where alternating put it at 1.10x): a ratio is taken within rounds."""
    counts = list(runs)
    times: dict = {count: [] for count in counts}

    def one_round():
        turn = len(times[counts[0]]) % len(counts)
        for count in counts[turn:] + counts[:turn]:
            times[count].append(runs[count]())

    benchmark.pedantic(one_round, rounds=rounds, iterations=1)
    return times
