# Reference timings of Keras/TensorFlow CPU and scikit-learn for the emulator rows of
# `clmtune bench` (README, Benchmarks). Run: pip install tensorflow-cpu scikit-learn;
# python keras_bench.py [train] [predict] [sklearn]
import os
os.environ["CUDA_VISIBLE_DEVICES"] = ""
import sys, time, platform
import numpy as np
import tensorflow as tf
import keras
from keras import layers, regularizers
import sklearn
from sklearn.linear_model import Ridge
from sklearn.preprocessing import PolynomialFeatures
from sklearn.pipeline import make_pipeline

which = sys.argv[1:] or ["train", "predict", "sklearn"]


def stats(name, ts, cpu=None):
    ts = np.asarray(ts)
    print(f"{name}: WALL median={np.median(ts):.4f}s min={ts.min():.4f}s max={ts.max():.4f}s "
          f"n={len(ts)} all={[round(float(t), 4) for t in ts]}", flush=True)
    if cpu is not None:
        c = np.asarray(cpu)
        print(f"    process CPU time median={np.median(c):.4f}s min={c.min():.4f}s max={c.max():.4f}s; "
              f"loadavg now={os.getloadavg()}", flush=True)


def targets(x):
    return np.stack([
        0.1 * (np.sin(2 * x[:, 0]) + x[:, 1] * x[:, 2]),
        0.1 * (np.exp(-x[:, 3]) - x[:, 5] * x[:, 4]),
        0.1 * (x[:, 0] - 0.5 * x[:, 2] ** 2),
    ], axis=1)


print("python", platform.python_version(), "tf", tf.__version__, "keras", keras.__version__,
      "numpy", np.__version__, "sklearn", sklearn.__version__, "backend", keras.backend.backend())
print("devices", tf.config.list_physical_devices())
print("intra_op", tf.config.threading.get_intra_op_parallelism_threads(),
      "inter_op", tf.config.threading.get_inter_op_parallelism_threads(), "(0 = TF default)")

# ---------------- (a)+(b) training ----------------
if "train" in which:
    rng = np.random.default_rng(7)
    x = rng.uniform(0, 1, (60, 6))
    y = targets(x)

    def build_train_model():
        m = keras.Sequential([
            keras.Input(shape=(6,)),
            layers.Dense(10, activation="relu", kernel_regularizer=regularizers.l2(1e-3)),
            layers.Dense(10, activation="tanh", kernel_regularizer=regularizers.l2(1e-3)),
            layers.Dense(3, activation="linear"),
        ])
        m.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.005, rho=0.9), loss="mse")
        return m

    def one_fit():
        m = build_train_model()
        c0 = time.process_time(); t0 = time.perf_counter()
        h = m.fit(x, y, epochs=500, batch_size=30, verbose=0, shuffle=True)
        t = time.perf_counter() - t0; c = time.process_time() - c0
        return t, c, h.history["loss"][-1]

    t, c, l = one_fit()
    print(f"train warm-up fit: {t:.4f}s (cpu {c:.4f}s) final loss {l:.5g}", flush=True)
    ts, cs = [], []
    for i in range(5):
        t, c, l = one_fit()
        print(f"  run {i}: {t:.4f}s (cpu {c:.4f}s) final loss {l:.5g}", flush=True)
        ts.append(t); cs.append(c)
    stats("TRAIN fit 500 epochs bs=30 (60x6)", ts, cs)

# ---------------- (c) prediction ----------------
if "predict" in which:
    rng = np.random.default_rng(7)
    X64 = rng.uniform(0, 1, (10_000_000, 6)).astype("float64")
    X32 = X64.astype("float32")
    pm = keras.Sequential([
        keras.Input(shape=(6,)),
        layers.Dense(15, activation="relu"),
        layers.Dense(15, activation="tanh"),
        layers.Dense(3),
    ])
    print("predict model weights dtype", pm.weights[0].dtype, flush=True)

    for name, X in [("float64", X64), ("float32", X32)]:
        pm.predict(X, batch_size=65536, verbose=0)  # warm-up
        ts, cs = [], []
        for _ in range(3):
            c0 = time.process_time(); t0 = time.perf_counter()
            out = pm.predict(X, batch_size=65536, verbose=0)
            ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
        stats(f"PREDICT model.predict 1e7x6 input {name} bs=65536 (out {out.dtype} {out.shape})", ts, cs)

    for name, X in [("float64", X64), ("float32", X32)]:
        def direct():
            return np.concatenate([pm(X[i:i + 1_000_000], training=False).numpy()
                                   for i in range(0, len(X), 1_000_000)])
        direct()  # warm-up
        ts, cs = [], []
        for _ in range(3):
            c0 = time.process_time(); t0 = time.perf_counter()
            out2 = direct()
            ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
        stats(f"PREDICT model(X) direct, chunks 1e6, input {name} (out {out2.dtype})", ts, cs)
    print("max |predict - direct| (float32 input):",
          float(np.abs(pm.predict(X32[:100000], verbose=0, batch_size=65536) - pm(X32[:100000], training=False).numpy()).max()))

# ---------------- (d) scikit-learn ----------------
if "sklearn" in which:
    rng = np.random.default_rng(7)
    xs = rng.uniform(0, 1, (100, 6))
    ys = targets(xs)
    ts_pipe, ts_ridge, cs_pipe, cs_ridge = [], [], [], []
    make_pipeline(PolynomialFeatures(2, include_bias=False), Ridge(alpha=1e-3)).fit(xs, ys).predict(xs)  # warm-up
    for _ in range(20):
        c0 = time.process_time(); t0 = time.perf_counter()
        p = make_pipeline(PolynomialFeatures(2, include_bias=False), Ridge(alpha=1e-3))
        p.fit(xs, ys)
        yp = p.predict(xs)
        ts_pipe.append(time.perf_counter() - t0); cs_pipe.append(time.process_time() - c0)
    Phi = PolynomialFeatures(2, include_bias=False).fit_transform(xs)
    for _ in range(20):
        c0 = time.process_time(); t0 = time.perf_counter()
        r = Ridge(alpha=1e-3).fit(Phi, ys)
        yr = r.predict(Phi)
        ts_ridge.append(time.perf_counter() - t0); cs_ridge.append(time.process_time() - c0)
    print("poly features shape", Phi.shape, "train R^2", p.score(xs, ys))
    stats("SKLEARN pipeline(PolynomialFeatures(2)+Ridge) fit+predict 100x6->3", ts_pipe, cs_pipe)
    stats("SKLEARN Ridge-only fit+predict on precomputed 100x27 features", ts_ridge, cs_ridge)
