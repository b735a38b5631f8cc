"""Benchmark: BG/NBD + Gamma-Gamma fits, retain vs lifetimes 0.11.3 (issue 6).

For each size (simulated customers, CDNOW-like, in weeks) the script

1. simulates a transaction log from known BG/NBD and Gamma-Gamma parameters and loads it into a
   DuckDB file (``benchmarks/.data/``);
2. in a fresh retain process: times the per-customer summary computed by ``rfm_summary`` against
   one hand-written DuckDB SQL query with the same meaning, then the compression in the engine
   and the two fits (BetaGeoModel, GammaGammaModel), and records the peak RSS;
3. in a fresh process of a separate virtual environment holding lifetimes 0.11.3
   (``benchmarks/.data/venv-lifetimes``, created on first use with ``python -m venv`` and pip,
   pinned to numpy<1.25, pandas<2, scipy<1.12, the versions of lifetimes' time), fits
   ``BetaGeoFitter`` and ``GammaGammaFitter`` on the same data from the same starting point,
   twice: one row per customer as users call it, and the compressed summary with ``weights=``;
4. prints wall times, peak RSS, the ratios and the largest relative parameter difference.

Usage::

    .venv/bin/python benchmarks/clv.py                 # 1e5 and 1e6 customers
    .venv/bin/python benchmarks/clv.py --sizes 1e5,1e6,1e7
    .venv/bin/python benchmarks/clv.py --sizes 1e7 --no-lifetimes-rows   # skip the ~4 min run
    .venv/bin/python benchmarks/clv.py --frame-vs-ibis 1e7   # BG/NBD frame path vs Ibis path

The worker modes (``--worker retain|lifetimes``) are internal: the lifetimes worker runs under
the other environment's Python and imports nothing from retain.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data"
VENV = DATA / "venv-lifetimes"
TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CAL_END_DAY = 272  # 1997-01-01 + 272 days = 1997-09-30, the CDNOW calibration end
BASE = np.datetime64("1997-01-01T00:00:00")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------- simulation
def simulate(n: int, seed: int) -> dict[str, np.ndarray]:
    """Transactions of ``n`` BG/NBD customers acquired over 12 weeks, up to the calibration end."""
    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, n)
    age = (CAL_END_DAY - first_day) / 7.0
    lam = rng.gamma(TRUE_BG["r"], 1.0 / TRUE_BG["alpha"], n)
    p = rng.beta(TRUE_BG["a"], TRUE_BG["b"], n)
    nu = rng.gamma(TRUE_GG["q"], 1.0 / TRUE_GG["gamma"], n)
    cust = [np.arange(n)]
    when = [np.zeros(n)]
    now = np.zeros(n)
    active = np.arange(n)
    while active.size:
        t = now[active] + rng.exponential(1.0, active.size) / lam[active]
        keep = t <= age[active]
        active, t = active[keep], t[keep]
        cust.append(active)
        when.append(t)
        now[active] = t
        active = active[rng.random(active.size) >= p[active]]
    c = np.concatenate(cust)
    w = np.concatenate(when)
    seconds = (
        first_day[c] * 86_400 + np.minimum(np.floor(w * 7 * 86_400), (age[c] * 7) * 86_400 - 1)
    ).astype(np.int64)
    amount = rng.gamma(TRUE_GG["p"], 1.0 / nu[c])
    return {"customer_id": c.astype(np.int64), "seconds": seconds, "amount": amount}


def write_orders(path: Path, log: dict[str, np.ndarray]) -> None:
    import duckdb
    import pyarrow as pa

    ordered_at = BASE + log["seconds"].astype("timedelta64[s]")
    table = pa.table(
        {
            "customer_id": log["customer_id"],
            "ordered_at": pa.array(ordered_at.astype("datetime64[us]")),
            "amount": log["amount"],
        }
    )
    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    con.register("log", table)
    con.execute("CREATE TABLE orders AS SELECT * FROM log")
    con.close()


# ----------------------------------------------------------------------------- retain worker
HAND_SQL = """
WITH days AS (
  SELECT customer_id, date_trunc('day', ordered_at) AS day, sum(amount) AS spend
  FROM orders WHERE ordered_at < TIMESTAMP '1997-10-01' GROUP BY ALL
), per AS (
  SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n,
         sum(spend) AS total, arg_min(spend, day) AS first_spend
  FROM days GROUP BY customer_id
)
SELECT customer_id, CAST(n - 1 AS DOUBLE) AS frequency,
       date_diff('day', first_day, last_day) / 7.0 AS recency,
       date_diff('day', first_day, TIMESTAMP '1997-09-30') / 7.0 AS "T",
       CASE WHEN n > 1 THEN (total - first_spend) / (n - 1) ELSE 0 END AS monetary_value
FROM per
"""


def best_of(fn, repeat: int = 2):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def retain_worker(db: Path, out: Path) -> dict[str, object]:
    import ibis

    from retain.models.clv import BetaGeoModel, GammaGammaModel, compress_summary, rfm_summary

    con = ibis.duckdb.connect(str(db), read_only=True)
    orders = con.table("orders")
    n_tx = int(orders.count().execute())
    summary = rfm_summary(orders, calibration_end="1997-09-30", time_unit="week")
    # The summary as a warehouse table (CREATE TABLE AS, what write_table does) ...
    t_sql, _ = best_of(lambda: con.con.execute("CREATE OR REPLACE TEMP TABLE hand AS " + HAND_SQL))
    t_summary, _ = best_of(
        lambda: con.create_table("rfm_retain", summary, temp=True, overwrite=True)
    )
    # ... and pulled into Python as Arrow (ibis's to_pyarrow vs DuckDB's own Arrow fetch).
    t_sql_arrow, _ = best_of(lambda: con.con.execute(HAND_SQL).to_arrow_table())
    t_summary_arrow, per_customer = best_of(lambda: summary.to_pyarrow())
    # What fit(ibis_table) does: compress in the engine, pull the compact table.
    t_compress_bg, packed = best_of(lambda: compress_summary(summary).to_pandas())
    repeat = summary.filter(summary.frequency > 0)
    t_compress_gg, packed_gg = best_of(
        lambda: compress_summary(repeat, columns=("frequency", "monetary_value")).to_pandas()
    )
    bg = BetaGeoModel()
    t_fit_bg, _ = best_of(lambda: bg.fit(packed))
    gg = GammaGammaModel()
    t_fit_gg, _ = best_of(lambda: gg.fit(packed_gg))
    start = bg._start(bg._read(packed, compress=True))
    cols = {
        name: per_customer[name].to_numpy()
        for name in ("frequency", "recency", "T", "monetary_value")
    }
    np.savez(
        out,
        **cols,
        bg_f=packed["frequency"].to_numpy(),
        bg_r=packed["recency"].to_numpy(),
        bg_T=packed["T"].to_numpy(),
        bg_w=packed["weight"].to_numpy(),
        gg_f=packed_gg["frequency"].to_numpy(),
        gg_m=packed_gg["monetary_value"].to_numpy(),
        gg_w=packed_gg["weight"].to_numpy(),
        start=start,
    )
    return {
        "transactions": n_tx,
        "customers": int(per_customer.num_rows),
        "bg_rows": len(packed),
        "gg_rows": len(packed_gg),
        "hand_sql_s": t_sql,
        "summary_s": t_summary,
        "hand_sql_arrow_s": t_sql_arrow,
        "summary_arrow_s": t_summary_arrow,
        "compress_bg_s": t_compress_bg,
        "compress_gg_s": t_compress_gg,
        "fit_bg_s": t_fit_bg,
        "fit_gg_s": t_fit_gg,
        "bg": bg.params_,
        "gg": gg.params_,
        "peak_rss_mb": peak_rss_mb(),
    }


# -------------------------------------------------------------------------- lifetimes worker
def lifetimes_worker(npz: Path, mode: str) -> dict[str, object]:
    import warnings

    warnings.filterwarnings("ignore")
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    d = np.load(npz)
    if mode == "rows":
        f, r, T, w = d["frequency"], d["recency"], d["T"], None
        rep = f > 0
        gf, gm, gw = f[rep], d["monetary_value"][rep], None
    else:
        f, r, T, w = d["bg_f"], d["bg_r"], d["bg_T"], d["bg_w"]
        gf, gm, gw = d["gg_f"], d["gg_m"], d["gg_w"]
    start = d["start"].astype(float).copy()
    start[1] *= 1.0 / T.max()  # lifetimes fits alpha on time scaled so that max T = 1
    out: dict[str, object] = {}
    for key, make in (
        ("bg", lambda: BetaGeoFitter().fit(f, r, T, weights=w, initial_params=np.log(start))),
        ("gg", lambda: GammaGammaFitter().fit(gf, gm, weights=gw, initial_params=np.zeros(3))),
    ):
        t0 = time.perf_counter()
        try:
            fitted = make()
        except Exception as exc:  # lifetimes raises its own ConvergenceError
            out[f"fit_{key}_s"], out[key] = None, f"failed: {type(exc).__name__}"
            continue
        out[f"fit_{key}_s"] = time.perf_counter() - t0
        params = {k: float(v) for k, v in fitted.params_.items()}
        out[key] = (
            {"p": params["p"], "q": params["q"], "gamma": params["v"]} if key == "gg" else params
        )
    out["peak_rss_mb"] = peak_rss_mb()
    return out


# ----------------------------------------------------------------------------------- driver
def ensure_lifetimes() -> Path:
    python = VENV / "bin" / "python"
    if python.exists():
        return python
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "lifetimes==0.11.3",
            "numpy<1.25",
            "pandas<2",
            "scipy<1.12",
        ],
        check=True,
    )
    return python


def call(python: Path | str, *args: str, timeout: int = 1800) -> dict[str, object]:
    res = subprocess.run(
        [str(python), __file__, *args], capture_output=True, text=True, timeout=timeout
    )
    if res.returncode != 0:
        raise RuntimeError(res.stderr[-3000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def max_rel(a: dict[str, float], b: dict[str, float]) -> float:
    return max(abs(a[k] - b[k]) / abs(b[k]) for k in a)


def run_size(n: int, *, lifetimes_rows: bool, seed: int) -> None:
    DATA.mkdir(exist_ok=True)
    db = DATA / f"clv_{n}.duckdb"
    npz = DATA / f"clv_{n}.npz"
    t0 = time.perf_counter()
    log = simulate(n, seed)
    write_orders(db, log)
    print(
        f"\n== {n:,} customers, {log['customer_id'].size:,} transactions "
        f"(simulated and loaded in {time.perf_counter() - t0:.1f} s)"
    )
    del log
    ours = call(sys.executable, "--worker", "retain", "--db", str(db), "--out", str(npz))
    print(
        f"retain   summary as a table (rfm_summary, CREATE TABLE AS) {ours['summary_s']:8.3f} s"
        f"   hand-written DuckDB SQL {ours['hand_sql_s']:.3f} s"
        f"   ratio {ours['summary_s'] / ours['hand_sql_s']:.2f}x"
    )
    print(
        f"retain   summary to Arrow (ibis to_pyarrow) {ours['summary_arrow_s']:8.3f} s"
        f"   hand-written SQL, DuckDB to_arrow_table {ours['hand_sql_arrow_s']:.3f} s"
        f"   ratio {ours['summary_arrow_s'] / ours['hand_sql_arrow_s']:.2f}x"
    )
    print(
        f"retain   compress in engine: BG/NBD {ours['compress_bg_s']:.3f} s "
        f"({ours['bg_rows']:,} rows), Gamma-Gamma {ours['compress_gg_s']:.3f} s "
        f"({ours['gg_rows']:,} rows)"
    )
    print(
        f"retain   fit BG/NBD {ours['fit_bg_s']:.3f} s   fit Gamma-Gamma {ours['fit_gg_s']:.3f} s"
        f"   peak RSS {ours['peak_rss_mb']:.0f} MB"
    )
    print(f"retain   BG/NBD {fmt(ours['bg'])}   GG {fmt(ours['gg'])}")
    python = ensure_lifetimes()
    modes = ["weights", "rows"] if lifetimes_rows else ["weights"]
    for mode in modes:
        theirs = call(python, "--worker", "lifetimes", "--npz", str(npz), "--mode", mode)
        label = "one row per customer" if mode == "rows" else "weights= (compressed)"
        with_compress = ours["fit_bg_s"] + ours["compress_bg_s"]
        failed = [k for k in ("bg", "gg") if theirs[f"fit_{k}_s"] is None]
        for k in failed:
            print(f"lifetimes [{label}] {k}: {theirs[k]}")
            theirs[f"fit_{k}_s"], theirs[k] = float("nan"), dict.fromkeys(ours[k], float("nan"))
        print(
            f"lifetimes [{label}] fit BG/NBD {theirs['fit_bg_s']:.3f} s   "
            f"fit Gamma-Gamma {theirs['fit_gg_s']:.3f} s   peak RSS "
            f"{theirs['peak_rss_mb']:.0f} MB"
        )
        print(
            f"   speed-up of retain's fit: BG/NBD "
            f"{theirs['fit_bg_s'] / ours['fit_bg_s']:.1f}x, Gamma-Gamma "
            f"{theirs['fit_gg_s'] / ours['fit_gg_s']:.1f}x; with retain's engine compression "
            f"counted: BG/NBD {theirs['fit_bg_s'] / with_compress:.1f}x"
        )
        print(
            f"   largest relative parameter difference: BG/NBD "
            f"{max_rel(ours['bg'], theirs['bg']):.1e}, Gamma-Gamma "
            f"{max_rel(ours['gg'], theirs['gg']):.1e}"
        )


def frame_vs_ibis(n: int, rounds: int, seed: int) -> None:
    """BG/NBD fit on an ``n``-row per-customer frame against the same rows as an Ibis table.

    The summary is BG/NBD customers with CDNOW's acquisition window, in whole days shown in
    weeks (what ``rfm_summary`` gives). Each round fits a new model on the DuckDB table (the
    engine compresses, issue 21's Ibis path), then on the pandas frame (retain compresses in
    Python), alternating so that both see the same machine load; ratios are frame / Ibis.
    """
    import ibis
    import pandas as pd

    from retain.models.clv import BetaGeoModel
    from retain.models.clv.bgnbd import simulate as draw

    rng = np.random.default_rng(seed)
    days = CAL_END_DAY - rng.integers(0, 84, n)
    sim = draw(TRUE_BG, n, T=days / 7.0, random_state=seed)
    rec = np.floor(sim["recency"].to_numpy() * 7) / 7.0
    frame = pd.DataFrame({"frequency": sim["frequency"].to_numpy(), "recency": rec, "T": days / 7})
    del sim, rec
    table = ibis.duckdb.connect().create_table("rfm", frame)
    BetaGeoModel().fit(frame.head(10_000))  # imports and first-use costs outside the timings
    BetaGeoModel().fit(table.limit(10_000))
    print(f"\n== BG/NBD first fit, {n:,} customers: Ibis table vs pandas frame, {rounds} rounds")
    times: dict[str, list[float]] = {"ibis": [], "frame": []}
    fits: dict[str, dict[str, float]] = {}
    for i in range(rounds):
        for path, data in (("ibis", table), ("frame", frame)):
            t0 = time.perf_counter()
            fits[path] = BetaGeoModel().fit(data).params_
            times[path].append(time.perf_counter() - t0)
        ratio = times["frame"][-1] / times["ibis"][-1]
        print(
            f"round {i + 1}: ibis {times['ibis'][-1]:.3f} s   frame {times['frame'][-1]:.3f} s"
            f"   frame/ibis {ratio:.2f}x"
        )
    med = {k: float(np.median(v)) for k, v in times.items()}
    ratios = [f / b for f, b in zip(times["frame"], times["ibis"], strict=True)]
    print(
        f"median: ibis {med['ibis']:.3f} s   frame {med['frame']:.3f} s   median ratio "
        f"{np.median(ratios):.2f}x (target <= 1.5x, frame < 1 s); params differ by "
        f"{max_rel(fits['frame'], fits['ibis']):.1e}; peak RSS {peak_rss_mb():.0f} MB"
    )


def fmt(params: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in params.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1e5,1e6", help="comma-separated customer counts")
    parser.add_argument(
        "--no-lifetimes-rows",
        action="store_true",
        help="skip lifetimes on one row per customer (about 4 min at 1e7)",
    )
    parser.add_argument("--seed", type=int, default=2005)
    parser.add_argument(
        "--frame-vs-ibis",
        type=float,
        default=0,
        metavar="N",
        help="only time BG/NBD on an N-row frame against the Ibis path (issue 21)",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--worker", choices=["retain", "lifetimes"])
    parser.add_argument("--db")
    parser.add_argument("--out")
    parser.add_argument("--npz")
    parser.add_argument("--mode", choices=["rows", "weights"])
    args = parser.parse_args()
    if args.worker == "retain":
        print(json.dumps(retain_worker(Path(args.db), Path(args.out))))
        return
    if args.worker == "lifetimes":
        print(json.dumps(lifetimes_worker(Path(args.npz), args.mode)))
        return
    print(f"machine: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if args.frame_vs_ibis:
        print(f"load average {os.getloadavg()}")
        frame_vs_ibis(int(args.frame_vs_ibis), args.rounds, args.seed)
        print(f"load average {os.getloadavg()}")
        return
    for size in args.sizes.split(","):
        run_size(int(float(size)), lifetimes_rows=not args.no_lifetimes_rows, seed=args.seed)


if __name__ == "__main__":
    main()
