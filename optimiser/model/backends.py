"""Two emitters for the one formulation: OR-Tools (HiGHS, SCIP or CP-SAT through
``model_builder``, built from the sparse matrix in one call) and PuLP (CBC, bundled).

Both return a :class:`RawResult` with an explicit :class:`Status`; values are read only from
a solve that produced a solution.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import os
import re
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from optimiser.errors import SolveError
from optimiser.model.lp import FrozenProgram


class Status(enum.Enum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"            # stopped (time limit) with a solution, not proven optimal
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    NO_SOLUTION = "no_solution"      # stopped before finding any solution
    ERROR = "error"

    @property
    def has_solution(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)

    def describe(self) -> str:
        return {
            Status.OPTIMAL: "optimal: no better configuration exists within the stated gap",
            Status.FEASIBLE: "a good configuration, but the time limit stopped the search before "
                             "it was proven best",
            Status.INFEASIBLE: "no configuration meets every limit",
            Status.UNBOUNDED: "the model is unbounded (a cost or limit is missing)",
            Status.NO_SOLUTION: "the time limit ran out before any configuration was found",
            Status.ERROR: "the solver failed",
        }[self]


@dataclass(frozen=True)
class RawResult:
    status: Status
    values: np.ndarray | None
    objective: float | None
    bound: float | None
    seconds: float
    solver: str
    message: str = ""
    gap_tolerance: float = 0.0
    reduced_costs: np.ndarray | None = None   # a linear programme's, per column (GLOP and CBC give them)

    @property
    def gap(self) -> float | None:
        """A proven upper bound on the relative distance from the optimum. Solvers that stop
        at the gap tolerance report their answer as 'optimal' with the bound equal to the
        objective; then the honest figure is the tolerance itself."""
        if self.objective is None or self.bound is None:
            return None
        if self.status == Status.OPTIMAL and abs(self.objective - self.bound) <= 1e-9 * max(1, abs(self.objective)):
            return float(self.gap_tolerance)
        return abs(self.objective - self.bound) / max(1e-9, abs(self.objective))


BACKENDS = ("ortools", "pulp")


def solve_program(program: FrozenProgram, backend: str = "ortools", *, ortools_solver: str = "highs",
                  time_limit: float = 60.0, mip_gap: float = 1e-4, threads: int | None = None,
                  hint: np.ndarray | None = None) -> RawResult:
    integer = bool(program.var_integer.any())
    if integer and np.array_equal(program.var_lower[program.var_integer], program.var_upper[program.var_integer]):
        # Every integer column is fixed by its bounds (a configuration fixed by hand or by the
        # quick answer): what is left is a linear programme, solved as one (3-4x faster).
        program = dataclasses.replace(program, var_integer=np.zeros_like(program.var_integer))
        integer = False
    if backend == "ortools":
        result = _solve_ortools(program, ortools_solver, time_limit, mip_gap, threads, hint)
        if hint is not None and result.status == Status.ERROR:
            # a start is only ever a speed-up: never let it cost the answer
            result = _solve_ortools(program, ortools_solver, time_limit, mip_gap, threads, None)
    elif backend == "pulp":
        result = _solve_pulp(program, time_limit, mip_gap, threads)
    else:
        raise SolveError(f"unknown solver backend '{backend}' (choose one of {', '.join(BACKENDS)})")
    return dataclasses.replace(result, gap_tolerance=float(mip_gap) if integer else 0.0)


# ---------------------------------------------------------------------------------------
# OR-Tools
# ---------------------------------------------------------------------------------------

_MATHOPT_SOLVERS = {"highs": "SOLVER_TYPE_HIGHS", "scip": "SOLVER_TYPE_GSCIP", "sat": "SOLVER_TYPE_CP_SAT"}


_silence_lock = threading.Lock()
_silence_depth = 0
_saved_stdout_fd: int | None = None


@contextlib.contextmanager
def _native_stdout_silenced():
    """HiGHS 1.12 (inside OR-Tools) prints debug lines straight to file descriptor 1 during
    MIP heuristics, whatever its output settings say; keep them off the user's terminal.
    Solves may run on several threads at once (the quick answer's bound), so the real
    descriptor is saved by the first to enter and restored by the last to leave."""
    global _silence_depth, _saved_stdout_fd
    with _silence_lock:
        if _silence_depth == 0:
            try:
                sys.stdout.flush()
                saved = os.dup(1)
            except (OSError, ValueError):
                saved = None
            if saved is not None:
                with open(os.devnull, "w") as devnull:
                    os.dup2(devnull.fileno(), 1)
            _saved_stdout_fd = saved
        _silence_depth += 1
    try:
        yield
    finally:
        with _silence_lock:
            _silence_depth -= 1
            if _silence_depth == 0 and _saved_stdout_fd is not None:
                os.dup2(_saved_stdout_fd, 1)
                os.close(_saved_stdout_fd)
                _saved_stdout_fd = None


def model_proto(program: FrozenProgram):
    """The programme as a MathOpt model proto, from the sparse arrays in one pass."""
    from ortools.math_opt import model_pb2

    n_rows, n_cols = program.shape
    m = model_pb2.ModelProto()
    m.variables.ids.extend(range(n_cols))
    m.variables.lower_bounds.extend(program.var_lower.astype(float).tolist())
    m.variables.upper_bounds.extend(program.var_upper.astype(float).tolist())
    m.variables.integers.extend(program.var_integer.astype(bool).tolist())
    nz = np.flatnonzero(program.objective)
    m.objective.offset = float(program.objective_offset)
    m.objective.linear_coefficients.ids.extend(nz.tolist())
    m.objective.linear_coefficients.values.extend(program.objective[nz].astype(float).tolist())
    m.linear_constraints.ids.extend(range(n_rows))
    m.linear_constraints.lower_bounds.extend(program.row_lower.astype(float).tolist())
    m.linear_constraints.upper_bounds.extend(program.row_upper.astype(float).tolist())
    a = program.matrix.tocsr().astype(float)
    a.sum_duplicates()
    a.sort_indices()
    m.linear_constraint_matrix.row_ids.extend(np.repeat(np.arange(n_rows), np.diff(a.indptr)).tolist())
    m.linear_constraint_matrix.column_ids.extend(a.indices.tolist())
    m.linear_constraint_matrix.coefficients.extend(a.data.tolist())
    return m


def _solve_ortools(program: FrozenProgram, solver_name: str, time_limit: float, mip_gap: float,
                   threads: int | None, hint: np.ndarray | None = None, small_lp: bool = False) -> RawResult:
    """OR-Tools MathOpt (HiGHS by default; SCIP or CP-SAT on request), fed the sparse
    arrays as a model proto. MathOpt, unlike OR-Tools' model_builder, hands back the best
    solution found when the time limit stops the search (model_builder reports HiGHS's
    time limit as an unknown status with no solution)."""
    from ortools.math_opt import (
        callback_pb2,
        model_parameters_pb2,
        parameters_pb2,
        result_pb2,
    )
    from ortools.math_opt.core.python import solver as mathopt_core

    if solver_name not in _MATHOPT_SOLVERS:
        raise SolveError(f"unknown OR-Tools solver '{solver_name}' (choose one of {', '.join(_MATHOPT_SOLVERS)})")
    started = time.perf_counter()
    n_rows, n_cols = program.shape
    m = model_proto(program)
    params = parameters_pb2.SolveParametersProto()
    params.time_limit.seconds = int(time_limit)
    params.time_limit.nanos = int(round((time_limit - int(time_limit)) * 1e9))
    if program.var_integer.any():
        params.relative_gap_tolerance = float(mip_gap)
    if threads:
        params.threads = int(threads)
    if small_lp:
        # a small linear programme solved many times: presolve costs more than it saves
        params.presolve = parameters_pb2.EMPHASIS_OFF
        params.lp_algorithm = parameters_pb2.LP_ALGORITHM_DUAL_SIMPLEX
    solver_type = parameters_pb2.SolverTypeProto.Value(_MATHOPT_SOLVERS[solver_name])
    label = f"ortools-{solver_name}"
    try:
        with _native_stdout_silenced():
            model_params = model_parameters_pb2.ModelSolveParametersProto()
            if hint is not None:
                # HiGHS rejects a start outside the bounds with an error (a setting changed
                # since the start was found), so the start is clipped to them.
                known = np.flatnonzero(~np.isnan(hint))
                start = np.clip(hint[known], program.var_lower[known], program.var_upper[known])
                h = model_params.solution_hints.add()
                h.variable_values.ids.extend(known.tolist())
                h.variable_values.values.extend(start.astype(float).tolist())
            res = mathopt_core.solve(m, solver_type, parameters_pb2.SolverInitializerProto(), params,
                                     model_params, None,
                                     callback_pb2.CallbackRegistrationProto(), None, None)
    except Exception as exc:  # noqa: BLE001 - the solver's own error, reported plainly
        return RawResult(Status.ERROR, None, None, None, time.perf_counter() - started, label, str(exc))
    seconds = time.perf_counter() - started
    T = result_pb2.TerminationReasonProto
    reason = res.termination.reason
    status = {T.Value("TERMINATION_REASON_OPTIMAL"): Status.OPTIMAL,
              T.Value("TERMINATION_REASON_FEASIBLE"): Status.FEASIBLE,
              T.Value("TERMINATION_REASON_INFEASIBLE"): Status.INFEASIBLE,
              T.Value("TERMINATION_REASON_INFEASIBLE_OR_UNBOUNDED"): Status.INFEASIBLE,
              T.Value("TERMINATION_REASON_UNBOUNDED"): Status.UNBOUNDED,
              T.Value("TERMINATION_REASON_NO_SOLUTION_FOUND"): Status.NO_SOLUTION}.get(reason, Status.ERROR)
    message = f"{T.Name(reason)} {res.termination.detail}".strip()
    if status.has_solution and not res.solutions:
        status = Status.NO_SOLUTION
    if not status.has_solution:
        return RawResult(status, None, None, None, seconds, label, message)
    primal = res.solutions[0].primal_solution
    values = np.zeros(n_cols)
    values[np.asarray(primal.variable_values.ids, int)] = np.asarray(primal.variable_values.values, float)
    objective = float(program.objective @ values + program.objective_offset)
    bound = float(res.termination.objective_bounds.dual_bound)
    if not np.isfinite(bound):
        bound = None
    return RawResult(status, values, objective, bound, seconds, label, message)


# ---------------------------------------------------------------------------------------
# PuLP / CBC
# ---------------------------------------------------------------------------------------

def _solve_pulp(program: FrozenProgram, time_limit: float, mip_gap: float, threads: int | None) -> RawResult:
    started = time.perf_counter()
    with warnings.catch_warnings():
        # PuLP 3.x announces API changes for 4.0 (pyproject pins pulp<4, whose bundled CBC
        # this backend uses); the notices are not actionable for users of this tool.
        warnings.simplefilter("ignore", DeprecationWarning)
        return _solve_pulp_quietly(program, time_limit, mip_gap, threads, started)


def _solve_pulp_quietly(program: FrozenProgram, time_limit: float, mip_gap: float, threads: int | None,
                        started: float) -> RawResult:
    import pulp

    prob = pulp.LpProblem("model", pulp.LpMinimize)
    names = program.var_names
    variables = []
    for i in range(len(names)):
        lo, hi = program.var_lower[i], program.var_upper[i]
        variables.append(pulp.LpVariable(
            str(names[i]), lowBound=None if np.isneginf(lo) else float(lo),
            upBound=None if np.isposinf(hi) else float(hi),
            cat=pulp.LpInteger if program.var_integer[i] else pulp.LpContinuous))
    obj_idx = np.flatnonzero(program.objective)
    prob += pulp.LpAffineExpression([(variables[i], float(program.objective[i])) for i in obj_idx]) + float(program.objective_offset)
    csr = program.matrix.tocsr()
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    for r in range(csr.shape[0]):
        lo, hi = program.row_lower[r], program.row_upper[r]
        expr = pulp.LpAffineExpression(
            [(variables[c], float(v)) for c, v in zip(indices[indptr[r]:indptr[r + 1]], data[indptr[r]:indptr[r + 1]], strict=True)])
        name = str(program.row_names[r])
        if np.isfinite(lo) and np.isfinite(hi) and lo == hi:
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, name, float(lo)))
            continue
        if np.isfinite(lo):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, name if not np.isfinite(hi) else name + "_lower", float(lo)))
        if np.isfinite(hi):
            prob.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, name if not np.isfinite(lo) else name + "_upper", float(hi)))
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "cbc.log")
        cmd = pulp.PULP_CBC_CMD(msg=False, timeLimit=float(time_limit), gapRel=float(mip_gap),
                                threads=threads, logPath=log, keepFiles=False)
        try:
            prob.solve(cmd)
        except pulp.PulpSolverError as exc:
            return RawResult(Status.ERROR, None, None, None, time.perf_counter() - started, "pulp-cbc", str(exc))
        log_text = open(log, encoding="utf-8", errors="replace").read() if os.path.exists(log) else ""
    seconds = time.perf_counter() - started
    sol = prob.sol_status
    if sol == pulp.LpSolutionOptimal:
        status = Status.OPTIMAL
    elif sol == pulp.LpSolutionIntegerFeasible:
        status = Status.FEASIBLE
    elif sol == pulp.LpSolutionInfeasible or prob.status == pulp.LpStatusInfeasible:
        status = Status.INFEASIBLE
    elif sol == pulp.LpSolutionUnbounded or prob.status == pulp.LpStatusUnbounded:
        status = Status.UNBOUNDED
    else:
        status = Status.NO_SOLUTION
    if not status.has_solution:
        return RawResult(status, None, None, None, seconds, "pulp-cbc", pulp.LpStatus[prob.status])
    values = np.array([v.varValue if v.varValue is not None else 0.0 for v in variables], float)
    objective = float(program.objective @ values + program.objective_offset)
    bound = _cbc_bound(log_text, objective, status)
    reduced = None
    if not program.var_integer.any() and all(v.dj is not None for v in variables):
        reduced = np.array([v.dj for v in variables], float)   # CBC reports them for a linear programme
    return RawResult(status, values, objective, bound, seconds, "pulp-cbc", pulp.LpStatus[prob.status],
                     reduced_costs=reduced)


def _cbc_bound(log_text: str, objective: float, status: Status) -> float | None:
    """CBC prints 'Lower bound:' when it stops early; a proven optimum is its own bound."""
    match = re.findall(r"Lower bound:\s*([-+0-9.eE]+)", log_text)
    if match:
        try:
            return float(match[-1])
        except ValueError:
            pass
    return objective if status == Status.OPTIMAL else None


# ---------------------------------------------------------------------------------------
# Repeated linear programmes (branch-and-bound nodes)
# ---------------------------------------------------------------------------------------

class LpSession:
    """One linear programme solved many times with different column bounds (the nodes of a
    branch-and-bound). OR-Tools keeps GLOP in memory and re-solves from its last basis, which
    after a few bound changes takes a handful of pivots (``engine="highs"``: HiGHS from
    scratch each time, without presolve); PuLP/CBC solves each from scratch. Integer flags
    are ignored: every solve is the linear relaxation."""

    def __init__(self, program: FrozenProgram, backend: str = "ortools", engine: str = "glop") -> None:
        if backend not in BACKENDS:
            raise SolveError(f"unknown solver backend '{backend}' (choose one of {', '.join(BACKENDS)})")
        self.program = dataclasses.replace(program, var_integer=np.zeros_like(program.var_integer))
        self.backend = backend
        self.engine = engine
        self.solves = 0
        self._solver = None
        self._lower = self.program.var_lower.astype(float).copy()
        self._upper = self.program.var_upper.astype(float).copy()

    def solve(self, lower: np.ndarray, upper: np.ndarray, time_limit: float = 60.0) -> RawResult:
        self.solves += 1
        if self.backend == "pulp":
            return _solve_pulp(dataclasses.replace(self.program, var_lower=lower, var_upper=upper),
                               time_limit, 0.0, None)
        if self.engine == "highs":
            return _solve_ortools(dataclasses.replace(self.program, var_lower=lower, var_upper=upper), "highs",
                                  time_limit, 0.0, None, small_lp=True)
        return self._solve_glop(np.asarray(lower, float), np.asarray(upper, float), time_limit)

    def _solve_glop(self, lower: np.ndarray, upper: np.ndarray, time_limit: float) -> RawResult:
        from ortools.math_opt import (
            callback_pb2,
            model_parameters_pb2,
            model_update_pb2,
            parameters_pb2,
            result_pb2,
        )
        from ortools.math_opt.core.python import solver as mathopt_core

        started = time.perf_counter()
        glop = parameters_pb2.SolverTypeProto.Value("SOLVER_TYPE_GLOP")
        try:
            if self._solver is None:
                self._lower, self._upper = lower.copy(), upper.copy()
                model = model_proto(dataclasses.replace(self.program, var_lower=lower, var_upper=upper))
                self._solver = mathopt_core.new(glop, model, parameters_pb2.SolverInitializerProto())
            else:
                update = model_update_pb2.ModelUpdateProto()
                for values, last, field in ((lower, self._lower, update.variable_updates.lower_bounds),
                                            (upper, self._upper, update.variable_updates.upper_bounds)):
                    changed = np.flatnonzero(values != last)
                    field.ids.extend(changed.tolist())
                    field.values.extend(values[changed].tolist())
                if not self._solver.update(update):
                    raise SolveError("GLOP refused a bound change")
                self._lower, self._upper = lower.copy(), upper.copy()
            params = parameters_pb2.SolveParametersProto()
            params.time_limit.seconds = int(time_limit)
            params.time_limit.nanos = int(round((time_limit - int(time_limit)) * 1e9))
            # GLOP's presolve rewrites the programme each solve and loses the last basis: off,
            # with the dual simplex (bound changes keep the basis dual feasible), a node
            # re-solve takes a fifth of the pivots (measured on LLR: 2.5 ms against 7.8 ms).
            params.presolve = parameters_pb2.EMPHASIS_OFF
            params.lp_algorithm = parameters_pb2.LP_ALGORITHM_DUAL_SIMPLEX
            res = self._solver.solve(params, model_parameters_pb2.ModelSolveParametersProto(), None,
                                     callback_pb2.CallbackRegistrationProto(), None, None)
        except Exception as exc:  # noqa: BLE001 - reported as a failed solve
            self._solver = None
            return RawResult(Status.ERROR, None, None, None, time.perf_counter() - started, "ortools-glop", str(exc))
        T = result_pb2.TerminationReasonProto
        status = {T.Value("TERMINATION_REASON_OPTIMAL"): Status.OPTIMAL,
                  T.Value("TERMINATION_REASON_INFEASIBLE"): Status.INFEASIBLE,
                  T.Value("TERMINATION_REASON_INFEASIBLE_OR_UNBOUNDED"): Status.INFEASIBLE,
                  T.Value("TERMINATION_REASON_UNBOUNDED"): Status.UNBOUNDED}.get(res.termination.reason, Status.ERROR)
        seconds = time.perf_counter() - started
        if status != Status.OPTIMAL or not res.solutions:
            return RawResult(status if status != Status.OPTIMAL else Status.ERROR, None, None, None, seconds,
                             "ortools-glop", T.Name(res.termination.reason))
        primal = res.solutions[0].primal_solution
        values = np.zeros(self.program.shape[1])
        values[np.asarray(primal.variable_values.ids, int)] = np.asarray(primal.variable_values.values, float)
        objective = float(self.program.objective @ values + self.program.objective_offset)
        reduced = None
        if res.solutions[0].HasField("dual_solution"):
            rc = res.solutions[0].dual_solution.reduced_costs
            reduced = np.zeros(self.program.shape[1])
            reduced[np.asarray(rc.ids, int)] = np.asarray(rc.values, float)
        return RawResult(Status.OPTIMAL, values, objective, objective, seconds, "ortools-glop", reduced_costs=reduced)
