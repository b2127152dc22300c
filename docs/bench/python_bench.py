#!/usr/bin/env python3
"""The Python counterpart of every `clmtune bench` row, on the same data and settings.

    python3 docs/bench/python_bench.py ROW [ROW ...] [--runs 5]
    python3 docs/bench/python_bench.py --list
    python3 docs/bench/python_bench.py ROW --emit-json   (what `clmtune bench --python PY` runs)

Each row is timed with time.perf_counter: one warm-up, then --runs timed runs (5), and the
median, min and max are printed with the load average; only the row's work is timed, inside
this process (interpreter start-up, imports and the row's setup are not). With --emit-json
each row's result, or its failure ("no module named sklearn"), is one JSON line after the
marker CLMTUNE_BENCH_RESULT: `clmtune bench --python PY` runs this script (embedded in the
binary, written beside the bench data) right after each clmtune row and reads that line.

Run `clmtune bench` first: it makes the files the I/O rows read (under $CLMTUNE_BENCH_CACHE, else ~/.cache/clmtune/bench) and
writes python_inputs.json there, the emulator rows' training data (src/bench.rs
`emulator_data`, drawn with Rust's ChaCha8 generator) and the two trained networks and
targets of the calibration rows (`network_cost`), so that both sides work on the same
numbers. Only the 10^7 random inputs of nn_predict_10m and array_arith are numpy's own
(same sizes and distribution).

What a CLM scientist would use: netCDF4 for reading, numpy / scipy for the arithmetic, the
regridding (RegularGridInterpolator) and the SVD, matplotlib for the map, Keras for the
networks (nn_fit, nn_predict_10m, nn_protocol need a Python with TensorFlow, e.g.
`/tmp/keras-bench/venv/bin/python`), scikit-learn for ridge and GP regression,
scipy.optimize.differential_evolution and emcee for the calibration. The demo model rows
(demo_member, demo_ensemble) have no counterpart: the demo model is clmtune's own.
"""
import argparse
import glob
import json
import os
import platform
import sys
import time

import warnings

import numpy as np

# means over all-missing cells (oceans) are NaN on purpose, as in clmtune
warnings.filterwarnings("ignore", "Mean of empty slice")
# scikit-learn's notes on length scales at their bounds (inputs without effect on a mode)
warnings.filterwarnings("ignore", module="sklearn")
CACHE = os.environ.get("CLMTUNE_BENCH_CACHE") or os.path.expanduser("~/.cache/clmtune/bench")


# ---------------------------------------------------------------- shared inputs

def inputs():
    """python_inputs.json, written by `clmtune bench` (src/bench.rs write_python_inputs)."""
    path = os.path.join(CACHE, "python_inputs.json")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run `clmtune bench` (any row) first")
    with open(path) as f:
        d = json.load(f)
    return np.array(d["x"]), np.array(d["y"]), d["terms"]


class Net:
    """A trained clmtune network in numpy: standardise, dense layers, unscale."""

    def __init__(self, t):
        self.w = [np.array(w) for w in t["weights"]]
        self.b = [np.array(b) for b in t["biases"]]
        self.act = t["activations"]
        self.xm, self.xs = np.array(t["x_mean"]), np.array(t["x_scale"])
        self.ym, self.ys = np.array(t["y_mean"]), np.array(t["y_scale"])
        self.var = np.array(t["residual_variance"])
        self.obs, self.sigma = np.array(t["observed"]), np.array(t["sigma"])
        self.lam = np.array(t["lambda"])

    def __call__(self, x):
        h = (x - self.xm) / self.xs
        for w, b, a in zip(self.w, self.b, self.act):
            h = h @ w + b
            if a == "relu":
                np.maximum(h, 0.0, out=h)
            elif a == "tanh":
                np.tanh(h, out=h)
        return h * self.ys + self.ym


def networks():
    _, _, terms = inputs()
    return [Net(t) for t in terms]


def eq6(nets, x):
    """Eq. 6: sum over variables and modes of lambda ((U - U_obs) / sigma)^2."""
    j = np.zeros(len(x))
    for n in nets:
        z = (n(x) - n.obs) / n.sigma
        j += (n.lam * z * z).sum(axis=1)
    return j


def log_likelihood(nets, x):
    """clmtune's Gaussian log-likelihood of Eq. 6 (Cost::log_likelihood), -inf outside [0,1]^d."""
    out = np.zeros(len(x))
    for n in nets:
        s2 = n.sigma ** 2 + np.maximum(n.var, 0.0)
        d = n(x) - n.obs
        out -= 0.5 * (n.lam * (d * d / s2 + np.log(s2))).sum(axis=1)
    out[~((x >= 0) & (x <= 1)).all(axis=1)] = -np.inf
    return out


# ---------------------------------------------------------------- reading CLM history files

def member_files(root, case, years=(16, 20)):
    """The case's monthly h0 files of the years (CLM's short-term archive layout)."""
    files = sorted(glob.glob(f"{root}/{case}/lnd/hist/{case}.clm2.h0.*.nc"))
    return [f for f in files if years[0] <= int(f[-10:-6]) <= years[1]]


def read_means(root, cases, variables, years=(16, 20)):
    """Time means of each variable for each case: {var: (case, lat, lon)}, NaN off land,
    reading each monthly file with netCDF4 (one Dataset per file)."""
    import netCDF4
    out = {v: [] for v in variables}
    for case in cases:
        files = member_files(root, case, years)
        assert len(files) == 12 * (years[1] - years[0] + 1), (case, len(files))
        acc = {v: [] for v in variables}
        for f in files:
            with netCDF4.Dataset(f) as ds:
                for v in variables:
                    acc[v].append(np.ma.filled(ds[v][0].astype(np.float64), np.nan))
        for v in variables:
            out[v].append(np.mean(np.stack(acc[v]), axis=0))
    return {v: np.stack(a) for v, a in out.items()}


def grid_of(path):
    import netCDF4
    with netCDF4.Dataset(path) as ds:
        return (ds["lat"][:].astype(float), ds["lon"][:].astype(float),
                np.ma.filled(ds["area"][:].astype(float), np.nan),
                np.ma.filled(ds["landfrac"][:].astype(float), 0.0))


ENSEMBLE = os.path.join(CACHE, "ensemble_f45_100x60")
MEMBERS = [f"bench_LHC_{m}" for m in range(1, 101)]
OBS = os.path.join(CACHE, "mte_0.5deg_324.nc")


def read_regrid_obs(path, lat_t, lon_t):
    """GPP (time, lat, lon) from the 0.5 degree file, its fill value as NaN, bilinear onto the target
    cell centres with scipy's RegularGridInterpolator (latitudes flipped to ascending,
    longitudes made periodic, NaN outside the source latitudes)."""
    import netCDF4
    from scipy.interpolate import RegularGridInterpolator
    with netCDF4.Dataset(path) as ds:
        ds.set_auto_mask(False)  # masked arrays of 84 million values are slow: NaN by hand
        lat = ds["lat"][:].astype(float)
        lon = ds["lon"][:].astype(float)
        v = ds["GPP"]
        gpp = v[:].astype(np.float64)  # (324, 360, 720)
        gpp[gpp == v._FillValue] = np.nan
    if lat[0] > lat[-1]:
        lat, gpp = lat[::-1], gpp[:, ::-1, :]
    # periodic in longitude: one column either side
    lon_e = np.concatenate([[lon[-1] - 360.0], lon, [lon[0] + 360.0]])
    gpp_e = np.concatenate([gpp[:, :, -1:], gpp, gpp[:, :, :1]], axis=2)
    values = np.moveaxis(gpp_e, 0, -1)  # (lat, lon, time): all months in one call
    f = RegularGridInterpolator((lat, lon_e), values, bounds_error=False, fill_value=np.nan)
    lt, ln = np.meshgrid(lat_t, np.where(lon_t > 180.0, lon_t - 360.0, lon_t), indexing="ij")
    out = f(np.stack([lt.ravel(), ln.ravel()], axis=1))  # (cells, time)
    return np.moveaxis(out.reshape(len(lat_t), len(lon_t), -1), -1, 0)


# ---------------------------------------------------------------- the rows

def array_arith():
    rng = np.random.default_rng(1)
    a, b, c = (rng.uniform(size=10_000_000) for _ in range(3))
    return lambda: a * b + c


def ensemble_load():
    def body():
        m = read_means(ENSEMBLE, MEMBERS, ["GPP", "EFLX_LH_TOT"])
        assert m["GPP"].shape == (100, 46, 72)
    return body


def read_yearly_means(root, cases, variables, years=(16, 20)):
    """As read_means, from one 12-month file per year (CASE.clm2.h0.YYYY-01.nc): each file's
    12 samples read at once; cells are whatever the file's grid is ((lat, lon) or lndgrid)."""
    import netCDF4
    out = {v: [] for v in variables}
    for case in cases:
        d = os.path.join(root, case, "lnd", "hist")
        acc = {v: [] for v in variables}
        for y in range(years[0], years[1] + 1):
            with netCDF4.Dataset(os.path.join(d, f"{case}.clm2.h0.{y:04d}-01.nc")) as ds:
                for v in variables:
                    acc[v].append(np.ma.filled(ds[v][:].astype(np.float64), np.nan))
        for v in variables:
            out[v].append(np.mean(np.concatenate(acc[v]), axis=0))
    return {v: np.stack(a) for v, a in out.items()}


def ensemble_load_yearly():
    def body():
        m = read_yearly_means(ENSEMBLE + "_yearly", MEMBERS, ["GPP", "EFLX_LH_TOT"])
        assert m["GPP"].shape == (100, 46, 72)
    return body


def ensemble_load_lndgrid():
    def body():
        m = read_yearly_means(ENSEMBLE + "_lndgrid", MEMBERS, ["GPP", "EFLX_LH_TOT"])
        assert m["GPP"].ndim == 2 and m["GPP"].shape[0] == 100
    return body


# issue 30's scale rows: 1,500 members, one 60-month h0 file each (as NCAR's CLM5 PPE,
# hist_mfilt = 120), on f45 and on a 400-cell sparse grid (src/bench.rs scale_archive)
SCALE = os.path.join(CACHE, "ensemble_f45_1500x60")
SCALE_SPARSE = os.path.join(CACHE, "ensemble_sparse400_1500x60")
SCALE_MEMBERS = [f"bench_LHC_{m}" for m in range(1, 1501)]


def one_file(root, case, first_year=16):
    return os.path.join(root, case, "lnd", "hist", f"{case}.clm2.h0.{first_year:04d}-01.nc")


def read_one_file_means(root, cases, variables):
    """Time means of each variable for each case from its one multi-month h0 file, each
    variable read whole: {var: (case, cells...)}, NaN off land."""
    import netCDF4
    out = {v: [] for v in variables}
    for case in cases:
        with netCDF4.Dataset(one_file(root, case)) as ds:
            for v in variables:
                out[v].append(np.ma.filled(ds[v][:].astype(np.float64), np.nan).mean(axis=0))
    return {v: np.stack(a) for v, a in out.items()}


def ensemble_load_1500():
    def body():
        m = read_one_file_means(SCALE, SCALE_MEMBERS, ["GPP", "EFLX_LH_TOT"])
        assert m["EFLX_LH_TOT"].shape == (1500, 46, 72)
    return body


def ensemble_load_sparse_1500():
    def body():
        m = read_one_file_means(SCALE_SPARSE, SCALE_MEMBERS, ["GPP", "EFLX_LH_TOT"])
        assert m["EFLX_LH_TOT"].shape == (1500, 400)
    return body


def obs_regrid():
    # the bench's target: Grid::regular(46, 72), latitudes -90..90 by 4, longitudes 0..355 by 5
    lat_t, lon_t = np.linspace(-90, 90, 46), np.arange(72) * 5.0

    def body():
        o = read_regrid_obs(OBS, lat_t, lon_t)
        assert o.shape == (324, 46, 72)
    return body


class Eof:
    """The eofs package's computation: weighted anomalies over the masked cells, one SVD."""

    def __init__(self, data, weights, mask):
        n = data.shape[0]
        self.shape = data.shape[1:]
        self.cells = (mask > 0) & np.isfinite(data).all(axis=0)
        self.w = weights[self.cells]
        x = data.reshape(n, -1)[:, self.cells.ravel()]
        self.mean = x.mean(axis=0)
        u, s, vt = np.linalg.svd((x - self.mean) * self.w, full_matrices=False)
        big = np.abs(vt).argmax(axis=1)
        sign = np.sign(vt[np.arange(len(vt)), big])
        self.u, self.s, self.vt = u * sign, s, vt * sign[:, None]
        self.variance_fraction = s ** 2 / (s ** 2).sum()

    def project(self, fields, k):
        x = fields.reshape(len(fields), -1)[:, self.cells.ravel()]
        return np.nan_to_num((x - self.mean) * self.w) @ self.vt[:k].T

    def reconstruct(self, k):
        x = (self.u[:, :k] * self.s[:k]) @ self.vt[:k] / self.w + self.mean
        out = np.full((len(x),) + self.shape, np.nan)
        out.reshape(len(x), -1)[:, self.cells.ravel()] = x
        return out


def eof_stage():
    lat, lon, area, landfrac = grid_of(member_files(ENSEMBLE, MEMBERS[0])[0])
    months = [(1982 + k // 12, k % 12 + 1) for k in range(324)]

    def body():
        ens = read_means(ENSEMBLE, MEMBERS, ["GPP", "EFLX_LH_TOT"])
        o = read_regrid_obs(OBS, lat, lon) / 86400.0  # gC m-2 d-1 -> gC/m^2/s
        sel = [k for k, (y, _) in enumerate(months) if 2000 <= y <= 2004]
        obs_sel = o[sel]
        mask = (np.isfinite(obs_sel).mean(axis=0) >= 0.8).astype(float)
        obs_mean = np.nanmean(obs_sel, axis=0)
        per_year = np.stack([np.nanmean(o[[k for k, (yy, _) in enumerate(months) if yy == y]],
                                        axis=0) for y in range(1982, 2009)])
        w = np.sqrt(area / np.nanmean(area))
        for v in ("GPP", "EFLX_LH_TOT"):
            e = Eof(ens[v], w, mask)
            e.project(obs_mean[None], 3)
            e.project(per_year, 3).std(axis=0)
            rec = e.reconstruct(3)
            np.sqrt(np.nanmean((rec - obs_mean) ** 2, axis=(1, 2)))
    return body


def eof_stage_1500():
    """The EOF stage's numbers per variable (clmtune's VariableResult::compute): area-weighted
    (m^2) EOFs over the cells observed in 80 % of the 2000-2004 months, U_obs of the observed
    mean, sigma of the 27 yearly projections, the default run's (member 1) PCs, the RMSE of
    each member and of the 3-mode reconstructions against the observed mean. Setup (not
    timed, as clmtune's) reads the ensemble and the regridded observations clmtune wrote."""
    ens = read_one_file_means(SCALE, SCALE_MEMBERS, ["GPP", "EFLX_LH_TOT"])
    _, _, area, _ = grid_of(one_file(SCALE, SCALE_MEMBERS[0]))
    area = area * 1e6  # km^2 in the file, m^2 in clmtune's weights
    path = os.path.join(CACHE, "eof_stage_1500_obs.npy")
    if not os.path.exists(path):
        sys.exit(f"{path} is missing: run `clmtune bench =eof_stage_1500` first")
    gpp = np.load(path)  # (324, 46, 72), gC/m^2/s, 1982-2008
    obs = {"GPP": gpp, "EFLX_LH_TOT": gpp * 4e6}
    years = np.array([1982 + k // 12 for k in range(len(gpp))])

    def rmse(maps, target):
        return np.sqrt(np.nanmean((maps - target) ** 2, axis=(1, 2)))

    def body():
        for v in ("GPP", "EFLX_LH_TOT"):
            o = obs[v]
            sel = o[(years >= 2000) & (years <= 2004)]
            mask = (np.isfinite(sel).mean(axis=0) >= 0.8).astype(float)
            obs_mean = np.nanmean(sel, axis=0)
            per_year = np.stack([np.nanmean(o[years == y], axis=0) for y in range(1982, 2009)])
            e = Eof(ens[v], area, mask)
            e.project(obs_mean[None], 3)
            e.project(per_year, 3).std(axis=0)
            e.project(ens[v][:1], 3)
            e.variance_fraction[:3]
            rmse(ens[v], obs_mean)
            rmse(e.reconstruct(3), obs_mean)
            assert e.u.shape[0] == 1500
    return body


def map_png():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import tempfile
    lat, lon, _, landfrac = grid_of(member_files(ENSEMBLE, MEMBERS[0])[0])
    values = np.where(landfrac > 0, np.cos(np.radians(lat))[:, None] * 5.0, np.nan)
    tmp = tempfile.TemporaryDirectory()  # removed at exit
    out = os.path.join(tmp.name, "map.png")

    def body():
        # the same picture: 1000 x 560 pixels, filled cells, coastlines (the land-fraction
        # edge), colour bar with units, title
        fig, ax = plt.subplots(figsize=(10, 5.6), dpi=100)
        m = ax.pcolormesh(lon, lat, values, shading="nearest", cmap="viridis")
        ax.contour(lon, lat, (landfrac > 0).astype(float), levels=[0.5], colors="k",
                   linewidths=0.8)
        fig.colorbar(m, ax=ax, label="gC m-2 d-1")
        ax.set_title("GPP")
        fig.savefig(out)
        plt.close(fig)
    body.tmp = tmp
    return body


SENS_ROOT = os.path.join(CACHE, "sensitivity_demo_25x60", "archive")
# the demo config's [sensitivity.outputs]
OUTPUTS = {
    "GPP": lambda d: d["GPP"],
    "ET": lambda d: d["QFLX_EVAP_TOT"],
    "TF": lambda d: d["QVEGT"] / d["QFLX_EVAP_TOT"],
    "FSH": lambda d: d["FSH"],
    "SOILWATER_10CM": lambda d: d["SOILWATER_10CM"],
    "SOILWATER_TOTAL": lambda d: d["TOTSOILLIQ"] + d["TOTSOILICE"],
    "ZWT": lambda d: d["ZWT"],
}
SENS_VARS = ["GPP", "QFLX_EVAP_TOT", "QVEGT", "FSH", "SOILWATER_10CM", "TOTSOILLIQ",
             "TOTSOILICE", "ZWT"]


def sensitivity_stage():
    import netCDF4
    from scipy.stats import rankdata
    cases = [f"bench_oaat_{k}" for k in range(25)]
    if not os.path.isdir(SENS_ROOT):
        sys.exit(f"{SENS_ROOT} is missing: run `clmtune bench sensitivity_stage` first")
    _, _, area, landfrac = grid_of(member_files(SENS_ROOT, cases[0])[0])
    wgt = np.nan_to_num(area * landfrac)
    pairs = [(1 + 2 * k, 2 + 2 * k) for k in range(12)]

    def wcorr(a, b, w):
        ok = np.isfinite(a) & np.isfinite(b) & (w > 0)
        a, b, w = a[ok], b[ok], w[ok]
        am, bm = np.average(a, weights=w), np.average(b, weights=w)
        cov = np.average((a - am) * (b - bm), weights=w)
        va, vb = np.average((a - am) ** 2, weights=w), np.average((b - bm) ** 2, weights=w)
        return cov / np.sqrt(va * vb) if va > 0 and vb > 0 else np.nan

    def body():
        means = {o: [] for o in OUTPUTS}
        for case in cases:
            acc = {o: [] for o in OUTPUTS}
            for f in member_files(SENS_ROOT, case):
                with netCDF4.Dataset(f) as ds:
                    d = {v: np.ma.filled(ds[v][0].astype(np.float64), np.nan) for v in SENS_VARS}
                for o, fn in OUTPUTS.items():
                    acc[o].append(fn(d))
            for o in OUTPUTS:
                means[o].append(np.mean(np.stack(acc[o]), axis=0))
        gm = np.zeros((12, len(OUTPUTS)))
        summed = np.zeros((12, 12))
        for j, o in enumerate(OUTPUTS):
            m = np.stack(means[o])
            pe = np.stack([np.abs(m[hi] - m[lo]) for lo, hi in pairs])  # Eq. 1
            for k in range(12):
                ok = np.isfinite(pe[k]) & (wgt > 0)
                gm[k, j] = np.average(pe[k][ok], weights=wgt[ok])
            for p in range(12):
                for q in range(p, 12):
                    c = wcorr(pe[p].ravel(), pe[q].ravel(), wgt.ravel())
                    c = 0.0 if np.isnan(c) else c
                    summed[p, q] += c
                    if p != q:
                        summed[q, p] += c
        pc_mean = (summed.sum(axis=1) - np.diag(summed)) / 11
        per = np.stack([rankdata(-gm[:, j], method="min") for j in range(len(OUTPUTS))], axis=1)
        pe_rank = rankdata(per.mean(axis=1), method="min")
        pc_rank = rankdata(pc_mean, method="min")
        combined = rankdata((pe_rank + pc_rank) / 2, method="min")
        assert len(combined) == 12
    return body


def keras_model(hidden, l2=1e-3):
    import keras
    from keras import layers, regularizers
    reg = regularizers.l2(l2) if l2 else None
    m = keras.Sequential([keras.Input(shape=(6,)),
                          layers.Dense(hidden[0], activation="relu", kernel_regularizer=reg),
                          layers.Dense(hidden[1], activation="tanh", kernel_regularizer=reg),
                          layers.Dense(3, activation="linear", kernel_regularizer=reg)])
    m.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.005, rho=0.9), loss="mse")
    return m


def standardise(a):
    return (a - a.mean(axis=0)) / a.std(axis=0)


def nn_fit():
    x, y, _ = inputs()
    xs, ys = standardise(x[:60]), standardise(y[:60])

    def body():
        keras_model((10, 10)).fit(xs, ys, epochs=500, batch_size=30, verbose=0, shuffle=True)
    return body


def nn_predict_10m():
    x, y, _ = inputs()
    m = keras_model((15, 15))
    m.fit(standardise(x[:60]), standardise(y[:60]), epochs=5, batch_size=30, verbose=0)
    big = np.random.default_rng(8).uniform(size=(10_000_000, 6))

    def body():
        out = m.predict(big, batch_size=65536, verbose=0)
        assert out.shape == (10_000_000, 3)
    return body


def ridge_fit():
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures
    x, y, _ = inputs()

    def body():
        p = make_pipeline(PolynomialFeatures(2, include_bias=False), Ridge(alpha=1e-3))
        p.fit(x, y).predict(x)
    return body


def gp_fit():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Matern, WhiteKernel
    x, y, _ = inputs()
    xs = standardise(x)
    kernels = [lambda: RBF(np.ones(6), (1e-1, 1e2)),
               lambda: Matern(np.ones(6), (1e-1, 1e2), nu=1.5),
               lambda: Matern(np.ones(6), (1e-1, 1e2), nu=2.5)]

    def body():
        # per output (mode): 3 anisotropic kernels x (default start + 4 restarts), the noise
        # (nugget) fitted with the length scales; the kernel of highest likelihood is kept
        for k in range(3):
            best = None
            for make in kernels:
                kern = ConstantKernel(1.0) * make() + WhiteKernel(1e-2, (1e-8, 1.0))
                g = GaussianProcessRegressor(kern, normalize_y=True, n_restarts_optimizer=4,
                                             random_state=42).fit(xs, y[:, k])
                if best is None or g.log_marginal_likelihood_value_ > best:
                    best = g.log_marginal_likelihood_value_
    return body


def nn_protocol(sample=6):
    """The paper's protocol is 2 variables x (121 configurations + 10 x 100 resamplings) =
    2242 early-stopped trainings (60 training, 20 validation members, patience 20, best
    weights restored, at most 500 epochs). Timing them all in Keras takes hours: time
    `sample` of them (configurations spread over the grid) and scale by 2242."""
    import keras
    x, y, _ = inputs()
    rng = np.random.default_rng(0)
    perm = rng.permutation(100)
    tr, va = perm[:60], perm[60:80]
    xs, ys = standardise(x), standardise(y)
    configs = [(5, 5), (15, 15), (10, 10), (5, 15), (15, 5), (8, 12)][:sample]

    def one(hidden):
        m = keras_model(hidden)
        stop = keras.callbacks.EarlyStopping(patience=20, restore_best_weights=True)
        h = m.fit(xs[tr], ys[tr], validation_data=(xs[va], ys[va]), epochs=500,
                  batch_size=30, verbose=0, callbacks=[stop])
        return len(h.history["loss"])

    def body():
        t = []
        for c in configs:
            t0 = time.perf_counter()
            epochs = one(c)
            t.append(time.perf_counter() - t0)
            print(f"  configuration {c}: {t[-1]:.2f} s, {epochs} epochs", flush=True)
        print(f"  median training {np.median(t):.2f} s x 2242 trainings = "
              f"{np.median(t) * 2242:.0f} s (estimate)", flush=True)
        return np.median(t) * 2242
    return body


def lhs(rng, n, d):
    """A Latin hypercube of n points in [0,1]^d (as scipy.stats.qmc.LatinHypercube)."""
    perms = rng.permuted(np.tile(np.arange(n), (d, 1)), axis=1).T
    return (perms + rng.uniform(size=(n, d))) / n


def history_match(cost, n=10_000_000, keep=1000, chunk=1 << 20):
    rng = np.random.default_rng(0)
    best_x, best_j = np.empty((0, 6)), np.empty(0)
    for start in range(0, n, chunk):
        x = lhs(rng, min(chunk, n - start), 6)
        j = cost(x)
        xx, jj = np.concatenate([best_x, x]), np.concatenate([best_j, j])
        k = np.argpartition(jj, keep)[:keep]
        best_x, best_j = xx[k], jj[k]
    order = np.argsort(best_j)
    return best_x[order], best_j[order]


def history_match_10m():
    nets = networks()

    def body():
        _, j = history_match(lambda x: eq6(nets, x))
        assert len(j) == 1000
    return body


def history_match_100m(n=100_000_000, limit=100_000, cutoff=3.0, chunk=1 << 20):
    """An implausibility wave (clmtune's implausibility_match, one wave): per output
    |U_obs - mean| / sqrt(sigma^2 + the network's residual variance), the largest over the
    6 outputs, cut at 3; the NROY count and box, the `limit` least implausible kept with
    their Eq. 6 cost."""
    nets = networks()

    def body():
        rng = np.random.default_rng(0)
        best_x, best_i, best_j = np.empty((0, 6)), np.empty(0), np.empty(0)
        accepted, lo, hi = 0, np.full(6, np.inf), np.full(6, -np.inf)
        for start in range(0, n, chunk):
            x = lhs(rng, min(chunk, n - start), 6)
            imp, j = np.zeros(len(x)), np.zeros(len(x))
            for t in nets:
                u = t(x)
                d = np.abs(t.obs - u) / np.sqrt(t.sigma ** 2 + np.maximum(t.var, 0.0))
                np.maximum(imp, d.max(axis=1), out=imp)
                z = (u - t.obs) / t.sigma
                j += (t.lam * z * z).sum(axis=1)  # Eq. 6, kept beside each candidate
            ok = imp < cutoff
            accepted += int(ok.sum())
            if ok.any():
                lo = np.minimum(lo, x[ok].min(axis=0))
                hi = np.maximum(hi, x[ok].max(axis=0))
            xx = np.concatenate([best_x, x[ok]])
            ii = np.concatenate([best_i, imp[ok]])
            jj = np.concatenate([best_j, j[ok]])
            if len(ii) > limit:
                k = np.argpartition(ii, limit)[:limit]
                xx, ii, jj = xx[k], ii[k], jj[k]
            best_x, best_i, best_j = xx, ii, jj
        assert accepted > 0 and len(best_i) == min(accepted, limit)
    return body


def history_match_10m_script():
    nets = networks()
    t = {v: n for v, n in zip(["GPP", "LHF"], nets)}

    # Eq. 6 written by the user as a function of the emulated PCs, as the script closure
    def f(pcs, x):
        s = 0.0
        for v in ["GPP", "LHF"]:
            z = (pcs[v] - t[v].obs) / t[v].sigma
            s = s + (t[v].lam * z * z).sum(axis=1)
        return s

    def body():
        _, j = history_match(lambda x: f({v: n(x) for v, n in t.items()}, x))
        assert len(j) == 1000
    return body


def de_rosenbrock6():
    from scipy.optimize import differential_evolution

    def rosen(u):  # u: (6, S), vectorised; the cost of [-2, 3]^6 on the unit box
        a = -2.0 + 5.0 * u
        return (100.0 * (a[1:] - a[:-1] ** 2) ** 2 + (1.0 - a[:-1]) ** 2).sum(axis=0)

    def body():
        r = differential_evolution(rosen, [(0, 1)] * 6, seed=1, updating="deferred",
                                   vectorized=True, polish=True)
        assert r.fun < 1e-8, r
    return body


def de_eq6_networks():
    from scipy.optimize import differential_evolution
    nets = networks()

    def body():
        def cost(u):  # u: (6, S) from DE, (6,) from the polish
            return eq6(nets, u.T) if u.ndim == 2 else float(eq6(nets, u[None])[0])
        r = differential_evolution(cost, [(0, 1)] * 6, seed=1, updating="deferred",
                                   vectorized=True, polish=True)
        assert r.fun < 1e-8, r
    return body


def mcmc(log_prob):
    import emcee

    def body():
        p0 = np.random.default_rng(1).uniform(size=(200, 6))
        s = emcee.EnsembleSampler(200, 6, log_prob, vectorize=True, a=2.0)
        s.run_mcmc(p0, 10_000)
        flat = s.get_chain(discard=1000, flat=True)
        summary = (flat.mean(axis=0), np.quantile(flat, [0.05, 0.5, 0.95], axis=0),
                   s.acceptance_fraction.mean(), s.get_autocorr_time(discard=1000, quiet=True))
        return summary
    return body


def mcmc_gaussian6():
    sd = np.array([0.05, 0.06, 0.04, 0.07, 0.05, 0.06])
    cov = np.where(np.eye(6) > 0, 1.0, 0.3) * np.outer(sd, sd)
    mean = np.array([0.35, 0.5, 0.65, 0.45, 0.55, 0.6])
    # z = L^-1 (x - m) as one matrix product: scipy's solve_triangular on 100 walkers costs
    # 40 us on one OpenBLAS thread but 2 ms with two threads on a loaded machine
    chol_inv = np.linalg.inv(np.linalg.cholesky(cov))

    def log_prob(x):
        z = (x - mean) @ chol_inv.T
        lp = -0.5 * (z * z).sum(axis=1)
        lp[~((x >= 0) & (x <= 1)).all(axis=1)] = -np.inf
        return lp
    run = mcmc(log_prob)

    def body():
        m, *_ = run()
        assert abs(m[0] - 0.35) < 0.01
    return body


def mcmc_networks():
    nets = networks()
    return mcmc(lambda x: log_likelihood(nets, x))


def kalman_case(members, p, n=60):
    """clmtune's kalman rows' problem (src/bench.rs kalman_case): y_i = sin(0.3 i), sd 0.1,
    g = tanh(u[o % p] (1 + 0.01 o)) + 0.1 u[(o + 1) % p]^2; u drawn by numpy (the timing does
    not depend on the values)."""
    rng = np.random.default_rng(1)
    u = rng.standard_normal((members, p))
    o = np.arange(n)
    g = np.tanh(u[:, o % p] * (1.0 + 0.01 * o)) + 0.1 * u[:, (o + 1) % p] ** 2
    y = np.sin(0.3 * o)
    gamma = np.diag(np.full(n, 0.01))
    return u, g, y, gamma, rng


def kalman_eki_update():
    u, g, y, gamma, rng = kalman_case(100, 20)

    def body():
        # data-misfit controller step, then the perturbed-observation update (EKP's EKI)
        ch = np.linalg.cholesky(gamma)
        r = np.linalg.solve(ch, (g - y).T)
        phi = 0.5 * (r * r).sum(axis=0)
        m = len(y)
        dt = min(max(m / (2 * phi.mean()), np.sqrt(m / (2 * phi.var(ddof=1)))), 1.0)
        du, dg = u - u.mean(axis=0), g - g.mean(axis=0)
        cug = du.T @ dg / (len(u) - 1)
        cgg = dg.T @ dg / (len(u) - 1)
        noise = gamma / dt
        xi = rng.standard_normal(g.shape) @ np.linalg.cholesky(noise).T
        new = u + np.linalg.solve(cgg + noise, (y + xi - g).T).T @ cug.T
        return new
    return body


def kalman_uki_update():
    p = 50
    m, c = np.zeros(p), np.eye(p)
    # UKI's sigma points of N(m, 2C) (alpha 1, Sigma_omega = C), as clmtune's row
    a = min(np.sqrt(4 / p), 1.0)
    scale = np.sqrt(a * a * p)
    w = 1 / (2 * a * a * p)
    chat = 2 * c
    lc = np.linalg.cholesky(chat)
    u = np.vstack([m, m + scale * lc.T, m - scale * lc.T])
    _, _, y, gamma, _ = kalman_case(2 * p + 1, p)
    o = np.arange(60)
    g = np.tanh(u[:, o % p] * (1.0 + 0.01 * o)) + 0.1 * u[:, (o + 1) % p] ** 2

    def body():
        # the prior joined to the observations: outputs [g, u], noise blockdiag(Gamma, I)
        ga = np.hstack([g, u])
        ya = np.concatenate([y, np.zeros(p)])
        gam = np.zeros((60 + p, 60 + p))
        gam[:60, :60] = gamma
        gam[60:, 60:] = np.eye(p)
        du, dg = u[1:] - m, ga[1:] - ga[0]
        cug = w * du.T @ dg
        cgg = w * dg.T @ dg + 2 * gam
        k = np.linalg.solve(cgg, cug.T).T
        mean = m + k @ (ya - ga[0])
        cov = chat - k @ cug.T
        return mean, cov
    return body


ROWS = {f.__name__: f for f in [
    array_arith, history_match_10m_script, ensemble_load, ensemble_load_yearly,
    ensemble_load_lndgrid, ensemble_load_1500, ensemble_load_sparse_1500, obs_regrid,
    eof_stage, eof_stage_1500, map_png,
    sensitivity_stage, nn_fit, nn_predict_10m, ridge_fit, gp_fit, nn_protocol,
    history_match_10m, history_match_100m, de_rosenbrock6, mcmc_gaussian6, de_eq6_networks, mcmc_networks,
    kalman_eki_update, kalman_uki_update]}
NO_COUNTERPART = ["demo_member", "demo_ensemble"]
# rows of a minute or more: timed once, without a warm-up (as clmtune bench's `once` rows)
ONCE = {"nn_protocol"}


def versions():
    v = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for mod in ["scipy", "netCDF4", "xarray", "sklearn", "emcee", "matplotlib", "keras",
                "tensorflow"]:
        if mod in sys.modules:
            v.append(f"{mod} {sys.modules[mod].__version__}")
    return ", ".join(v)


def versions_used():
    """{module: version} of the libraries the rows run so far imported."""
    v = {"python": platform.python_version()}
    for mod in ["numpy", "scipy", "netCDF4", "xarray", "sklearn", "emcee", "matplotlib",
                "keras", "tensorflow"]:
        if mod in sys.modules:
            v[mod] = str(getattr(sys.modules[mod], "__version__", "?"))
    return v


# `--emit-json`: each row's result (or failure) on one stdout line after this marker, read by
# `clmtune bench --python PY` (src/bench.rs parse_python_output)
MARKER = "CLMTUNE_BENCH_RESULT "


def peak_rss_mib():
    try:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux
    except Exception:  # not on every platform
        return None


def time_row(name, runs, warmup):
    """Times one row inside this process (interpreter start-up, imports and the row's untimed
    setup are not counted): (times, warm-up done, whole-protocol estimate or None)."""
    body = ROWS[name]()
    if name in ONCE:
        t0 = time.perf_counter()
        est = body()
        took = time.perf_counter() - t0
        print(f"{name}: the sample took {took:.1f} s; the estimate for the whole protocol "
              f"is {est:.0f} s")
        return [est], False, took
    if warmup:
        body()  # warm-up
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        body()
        ts.append(time.perf_counter() - t0)
    return ts, warmup, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("rows", nargs="*")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-warmup", action="store_true", help="time the first run too")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--json", help="append each row's result to this JSON-lines file")
    ap.add_argument("--emit-json", action="store_true",
                    help=f"print each row's result as one JSON line after {MARKER.strip()!r} "
                         "(what clmtune bench --python reads); a failing row prints its error "
                         "there and the exit status is 1")
    a = ap.parse_args()
    if a.list or not a.rows:
        print("rows:", ", ".join(ROWS), "\nno Python counterpart:", ", ".join(NO_COUNTERPART))
        return
    failed = False
    for name in a.rows:
        if name in NO_COUNTERPART:
            print(f"{name}: no Python counterpart: the demo model is clmtune's own")
            continue
        if name not in ROWS:
            if a.emit_json:
                print(MARKER + json.dumps({"row": name, "error": f"no Python row {name!r}"}),
                      flush=True)
                failed = True
                continue
            sys.exit(f"unknown row {name!r}; rows: {', '.join(ROWS)}")
        try:
            ts, warm, sample_s = time_row(name, a.runs, not a.no_warmup)
        except ModuleNotFoundError as e:
            if not a.emit_json:
                raise
            print(MARKER + json.dumps({"row": name, "error": f"no module named {e.name}"}),
                  flush=True)
            failed = True
            continue
        except Exception as e:  # the rest of the rows go on
            if not a.emit_json:
                raise
            print(MARKER + json.dumps({"row": name, "error": f"{type(e).__name__}: {e}"}),
                  flush=True)
            failed = True
            continue
        ts = np.array(ts)
        load = os.getloadavg()
        print(f"{name}: median {np.median(ts):.4g} s, min {ts.min():.4g} s, max {ts.max():.4g} s "
              f"({len(ts)} runs{'' if warm else ', no warm-up'}); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
              flush=True)
        result = {"row": name, "median_s": float(np.median(ts)), "min_s": float(ts.min()),
                  "max_s": float(ts.max()), "times_s": [float(t) for t in ts],
                  "runs": len(ts), "warmup": warm, "estimate": sample_s is not None,
                  "sample_s": sample_s, "load": list(load), "peak_rss_mib": peak_rss_mib(),
                  "versions": versions_used()}
        if a.emit_json:
            print(MARKER + json.dumps(result), flush=True)
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps(dict(result, versions=versions())) + "\n")
    print(versions())
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
