"""scikit-learn's t-SNE and umap-learn's UMAP on the same .npy input as scripts/projections-side-by-side.fsx, timed.

Defaults of both libraries (TSNE(init="pca", learning_rate="auto"), UMAP() without random_state so it may use its
parallel path). Reference timings only: the project itself never needs Python.
Usage: python3 scripts/projections_side_by_side.py blobs.npy|embeddings_<split>.npz [tsne,umap]
(an npz is `ecg embed`'s file: its float32 embeddings, taken as float64 as the toolkit takes them).
"""
import sys, time
import numpy as np

data = np.load(sys.argv[1])
if sys.argv[1].endswith(".npz"):
    data = data["embeddings"].astype(np.float64)
which = (sys.argv[2] if len(sys.argv) > 2 else "tsne,umap").split(",")
for projection in which:
    if projection == "tsne":
        import sklearn
        from sklearn.manifold import TSNE
        start = time.perf_counter()
        TSNE(n_components=2, init="pca", learning_rate="auto").fit_transform(data)
        name = f"scikit-learn {sklearn.__version__} t-SNE"
    elif projection == "umap":
        import umap
        from importlib.metadata import version
        umap.UMAP().fit_transform(data[:500])  # numba compiles on the first call: keep that out of the timing
        start = time.perf_counter()
        umap.UMAP().fit_transform(data)
        name = f"umap-learn {version('umap-learn')} UMAP"
    else:
        sys.exit(f"unknown projection '{projection}' (tsne, umap)")
    print(f"{name} {data.shape[0]} x {data.shape[1]}: {time.perf_counter() - start:.1f} s", flush=True)
