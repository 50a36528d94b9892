"""Solver defaults, in one place: the scenario schema and the instance both read them."""

DEFAULT_BACKEND = "ortools"
DEFAULT_ORTOOLS_SOLVER = "highs"
DEFAULT_TIME_LIMIT_SECONDS = 600.0   # a safety net: a solve ends when proven within the gap
DEFAULT_MIP_GAP = 0.005              # 0.5%: about one 4-bed step at one site
