"""Benchmark: uplift learners on Hillstrom, retain vs scikit-uplift and causalml (issue 18).

The data are Kevin Hillstrom's MineThatData e-mail test (``../shared/datasets/hillstrom``; 64,000
customers, two e-mail arms and a control, randomized). One fixed split (70 % train, 30 % held
out, stratified by arm, seed 2008) serves every learner; each arm is evaluated on its own rows
and the control's, ranked by that arm's predicted uplift, for ``visit`` and ``conversion``.
Qini and AUUC are normalized as scikit-uplift's ``qini_auc_score`` / ``uplift_auc_score`` (0
random, 1 perfect; the script checks that retain's functions give the same numbers), with 95 %
percentile intervals from 200 bootstrap resamples of the held-out rows.

1. retain's learners (TLearner, XLearner, SLearner, ClassTransformation) run in this process.
2. scikit-uplift and causalml run in a fresh process of a separate virtual environment
   (``benchmarks/.data/venv-uplift``, created on first use from ``requirements-uplift.txt``),
   which imports nothing from retain; they get the same split, the categorical columns one-hot
   encoded (causalml needs numbers) and LightGBM base models with retain's defaults, so the
   comparison is of the methods, not of the base learner's settings. Their predictions come back
   and are scored by the same code.
3. Every fit + predict is timed (wall seconds, one LightGBM thread each).

Usage::

    .venv/bin/python benchmarks/uplift.py             # everything, about 2 minutes on 2 cores
    .venv/bin/python benchmarks/uplift.py --no-others # retain only

``--worker IN OUT`` is internal (the other environment's entry point).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV = DATA / "venv-uplift"
SOURCE = (
    HERE.parent.parent
    / "shared/datasets/hillstrom"
    / "Kevin_Hillstrom_MineThatData_E-MailAnalytics_DataMiningChallenge_2008.03.20.csv.gz"
)
FEATURES = ["recency", "history_segment", "history", "mens", "womens", "zip_code", "newbie"]
FEATURES += ["channel"]
OUTCOMES = ("visit", "conversion")
CONTROL = "No E-Mail"
SEED = 2008
BASE = {  # retain's UpliftLearner defaults, given to every library's LightGBM models
    "n_estimators": 200,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 100,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "n_jobs": 1,
    "verbose": -1,
}


# ----------------------------------------------------------------------------- the other libraries
def _others(path_in: str, path_out: str) -> None:
    """Worker: fit scikit-uplift's and causalml's learners; write predictions and timings."""
    import warnings

    import lightgbm as lgb
    from causalml.inference.meta import BaseSClassifier, BaseTClassifier, BaseXClassifier
    from causalml.inference.tree import UpliftRandomForestClassifier
    from sklift.models import ClassTransformation, SoloModel, TwoModels

    warnings.filterwarnings("ignore")
    data = np.load(path_in, allow_pickle=True)
    x_tr, x_te, arm_tr = data["x_train"], data["x_test"], data["arm_train"].astype(str)
    arms = sorted(a for a in set(arm_tr) if a != CONTROL)
    out: dict[str, Any] = {}
    times: dict[str, float] = {}

    def clf(seed: int = 0) -> Any:
        return lgb.LGBMClassifier(**BASE, random_state=seed)

    def reg(seed: int = 0) -> Any:
        return lgb.LGBMRegressor(**BASE, random_state=seed)

    for outcome in OUTCOMES:
        y_tr = data[f"y_train_{outcome}"].astype(int)
        sklift = {
            "scikit-uplift TwoModels": lambda: TwoModels(clf(0), clf(1), method="vanilla"),
            "scikit-uplift TwoModels ddr_control": lambda: TwoModels(
                clf(0), clf(1), method="ddr_control"
            ),
            "scikit-uplift ClassTransformation": lambda: ClassTransformation(clf(0)),
            "scikit-uplift SoloModel": lambda: SoloModel(clf(0)),
        }
        for name, make in sklift.items():
            start = time.perf_counter()
            columns = []
            for arm in arms:
                rows = (arm_tr == arm) | (arm_tr == CONTROL)
                model = make().fit(x_tr[rows], y_tr[rows], (arm_tr[rows] == arm).astype(int))
                columns.append(np.asarray(model.predict(x_te), dtype=float))
            times[f"{name}|{outcome}"] = time.perf_counter() - start
            out[f"{name}|{outcome}"] = np.column_stack(columns)
        causal = {
            "causalml BaseTClassifier": lambda: BaseTClassifier(
                learner=clf(0), control_name=CONTROL
            ),
            "causalml BaseXClassifier": lambda: BaseXClassifier(
                outcome_learner=clf(0), effect_learner=reg(1), control_name=CONTROL
            ),
            "causalml BaseSClassifier": lambda: BaseSClassifier(
                learner=clf(0), control_name=CONTROL
            ),
            "causalml UpliftRandomForest": lambda: UpliftRandomForestClassifier(
                n_estimators=50,
                max_depth=6,
                min_samples_leaf=200,
                control_name=CONTROL,
                random_state=0,
                n_jobs=1,
            ),
        }
        for name, make in causal.items():
            start = time.perf_counter()
            model = make()
            if "Forest" in name:
                model.fit(x_tr, treatment=arm_tr, y=y_tr)
                pred = np.asarray(model.predict(x_te), dtype=float)
                names = list(model.classes_)[1:]
            else:
                model.fit(x_tr, arm_tr, y_tr)
                pred = np.asarray(model.predict(x_te), dtype=float)
                names = sorted(model.t_groups)
            times[f"{name}|{outcome}"] = time.perf_counter() - start
            out[f"{name}|{outcome}"] = pred.reshape(len(x_te), -1)[
                :, [names.index(a) for a in arms]
            ]
    np.savez(path_out, **{k.replace("|", "@"): v for k, v in out.items()})
    Path(path_out).with_suffix(".json").write_text(json.dumps(times))


def _ensure_venv() -> Path:
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        req = HERE / "requirements-uplift.txt"
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(req)], check=True)
    return python


# ----------------------------------------------------------------------------- retain's side
def _data() -> tuple[Any, ...]:
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(SOURCE)
    train, test = train_test_split(
        np.arange(len(df)), test_size=0.3, random_state=SEED, stratify=df["segment"]
    )
    return df, train, test


def _numeric(df: Any) -> np.ndarray:
    import pandas as pd

    frame = df[FEATURES].copy()
    frame["history_segment"] = frame["history_segment"].str[0].astype(int)
    frame = pd.get_dummies(frame, columns=["zip_code", "channel"], dtype=float)
    return frame.to_numpy(dtype=float)


def _score(
    y: np.ndarray, arm: np.ndarray, uplift: np.ndarray, arms: list[str]
) -> list[dict[str, Any]]:
    from retain.models.uplift import evaluate_arms

    table = evaluate_arms(y, arm, uplift, arms, control=CONTROL, n_boot=200, random_state=0)
    return table.to_dict("records")  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("IN", "OUT"))
    parser.add_argument("--no-others", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    if args.worker:
        _others(*args.worker)
        return
    sys.path.insert(0, str(HERE.parent / "src"))
    from retain.models.uplift import ClassTransformation, SLearner, TLearner, XLearner

    df, train, test = _data()
    arm = df["segment"].to_numpy().astype(str)
    arms = sorted(a for a in set(arm) if a != CONTROL)
    x = df[FEATURES]
    predictions: dict[str, np.ndarray] = {}
    times: dict[str, float] = {}
    for outcome in OUTCOMES:
        y = df[outcome].to_numpy()
        for cls in (TLearner, XLearner, SLearner, ClassTransformation):
            start = time.perf_counter()
            model = cls(control=CONTROL, random_state=0).fit(x.iloc[train], arm[train], y[train])
            pred = model.predict_uplift(x.iloc[test])
            times[f"retain {cls.__name__}|{outcome}"] = time.perf_counter() - start
            predictions[f"retain {cls.__name__}|{outcome}"] = np.asarray(pred).reshape(
                len(test), -1
            )
    if not args.no_others:
        python = _ensure_venv()
        DATA.mkdir(parents=True, exist_ok=True)
        path_in, path_out = DATA / "uplift-in.npz", DATA / "uplift-out.npz"
        numeric = _numeric(df)
        np.savez(
            path_in,
            x_train=numeric[train],
            x_test=numeric[test],
            arm_train=arm[train].astype(object),
            **{f"y_train_{o}": df[o].to_numpy()[train] for o in OUTCOMES},
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        cmd = [str(python), __file__, "--worker", str(path_in), str(path_out)]
        subprocess.run(cmd, check=True, env=env)
        got = np.load(path_out)
        predictions.update({k.replace("@", "|"): got[k] for k in got.files})
        times.update(json.loads(path_out.with_suffix(".json").read_text()))
        _cross_check(df, test, arm, predictions)
    rows = []
    for key, pred in predictions.items():
        name, outcome = key.split("|")
        y = df[outcome].to_numpy()[test]
        for row in _score(y, arm[test], pred, arms):
            rows.append({"model": name, "outcome": outcome, "seconds": times[key], **row})
    _print(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


def _cross_check(df: Any, test: np.ndarray, arm: np.ndarray, predictions: dict[str, Any]) -> None:
    """retain's Qini/AUUC equal scikit-uplift's on one set of predictions (in the other venv)."""
    from retain.models.uplift import auuc, qini_auc

    key = "retain TLearner|visit"
    mask = (arm[test] == "Womens E-Mail") | (arm[test] == CONTROL)
    y = df["visit"].to_numpy()[test][mask]
    w = (arm[test][mask] == "Womens E-Mail").astype(int)
    score = predictions[key][mask, 1]
    path = DATA / "uplift-check.npz"
    np.savez(path, y=y, w=w, s=score)
    code = (
        "import numpy as np; from sklift.metrics import qini_auc_score, uplift_auc_score; "
        f"d = np.load({str(path)!r}); "
        "print(qini_auc_score(d['y'], d['s'], d['w']), uplift_auc_score(d['y'], d['s'], d['w']))"
    )
    res = subprocess.run([str(VENV / "bin" / "python"), "-c", code], capture_output=True, text=True)
    theirs = [float(v) for v in res.stdout.split()]
    ours = [qini_auc(y, w, score), auuc(y, w, score)]
    print(f"metric cross-check (Qini, AUUC): retain {ours}  scikit-uplift {theirs}")
    assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-12), (ours, theirs)


def _print(rows: list[dict[str, Any]]) -> None:
    load = os.getloadavg()[0]
    print(f"load average {load:.2f}")
    head = (
        f"{'outcome':10} {'arm':14} {'model':38} {'Qini [95% CI]':26} {'AUUC [95% CI]':26} {'s':>6}"
    )
    print(head)
    for r in sorted(rows, key=lambda r: (r["outcome"], r["arm"], -r["qini"])):
        q = f"{r['qini']:.4f} [{r['qini_low']:.4f}, {r['qini_high']:.4f}]"
        a = f"{r['auuc']:.4f} [{r['auuc_low']:.4f}, {r['auuc_high']:.4f}]"
        print(f"{r['outcome']:10} {r['arm']:14} {r['model']:38} {q:26} {a:26} {r['seconds']:6.1f}")


if __name__ == "__main__":
    main()
