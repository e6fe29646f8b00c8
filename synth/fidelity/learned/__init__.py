"""The learned sections of the fidelity report: can a model tell the sides apart (detection.py), does a
model trained on synthetic rows work on real ones (utility.py), and does the table keep its main 2-D
shape (structure.py). probes.py holds the small network they train, and the series discriminator too.

All three take tables already encoded by one `TableEncoder` fitted on the real data, cut each side to at
most `max_rows` seeded random rows, and return plain floats/ints/lists (None where undefined, never NaN),
so `json.dumps(result, allow_nan=False)` works. No raw row leaves these functions, only aggregates.
Models are trained on the CPU from `seed` alone (a forked torch RNG): the same seed gives the same result.
Each module's docstring lists the keys of its result.
"""
