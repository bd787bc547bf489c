"""Unit constants. GB vs GiB is decided here and nowhere else.

Inside the package every quantity is SI (bytes, seconds, FLOP, watts) and the
unit is in the name. Decimal prefixes (GB, TB/s) are used for bandwidths and
datasheet capacities; binary prefixes (GiB) for memory the way nvidia-smi and
PyTorch report it.
"""

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
KIB = 2.0**10
MIB = 2.0**20
GIB = 2.0**30
TERA = 1e12
PETA = 1e15
EXA = 1e18
US = 1e-6
MS = 1e-3
HOUR_S = 3600.0
DAY_S = 86400.0
GBIT = 1e9 / 8  # bytes per second in one Gb/s
