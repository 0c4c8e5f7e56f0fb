"""Computes the reference values pasted into the Ecg.Analysis tests (run once; the project never needs Python).

Debian 12: python3-sklearn 1.2.1, python3-scipy 1.10.1, python3-numpy 1.24.2, umap-learn 0.5.3.
Inputs come from the same 64-bit LCG as TestData.fs, so F# and Python see identical numbers.
Also writes umap_spectral_reference.csv (umap-learn's spectral initialisations, read by ProjectionTests.fs).
"""
import math
import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE, trustworthiness
from sklearn.metrics import accuracy_score, jaccard_score, hamming_loss


class Lcg:
    def __init__(self, seed):
        self.state = seed & 0xFFFFFFFFFFFFFFFF

    def uniform(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        return (self.state >> 11) / 9007199254740992.0

    def gaussian(self):
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def blobs(n, d, centres, centre_scale, spread, seed):
    rng = Lcg(seed)
    means = [[centre_scale * rng.gaussian() for _ in range(d)] for _ in range(centres)]
    return np.array([[means[i % centres][j] + spread * rng.gaussian() for j in range(d)] for i in range(n)])


def show(name, v):
    print(name, "=", np.array2string(np.asarray(v), separator="; ", precision=17, threshold=100000, max_line_width=200))


np.set_printoptions(floatmode="unique")

# k-means
sep = blobs(200, 4, 4, 10.0, 1.0, 11)
km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(sep)
print("kmeans separated inertia", repr(km.inertia_))
show("kmeans separated labels", km.labels_)
ovl = blobs(500, 8, 5, 2.0, 1.5, 12)
km = KMeans(n_clusters=5, n_init=10, random_state=0).fit(ovl)
print("kmeans overlapping inertia", repr(km.inertia_))

# PCA
pca_x = blobs(300, 6, 3, 3.0, 1.0, 13)
pca = PCA(n_components=2, svd_solver="full")
proj = pca.fit_transform(pca_x)
show("pca proj[0:3]", proj[:3])
show("pca proj[297:300]", proj[297:])
show("pca components", pca.components_)
show("pca evr", pca.explained_variance_ratio_)
show("pca ev", pca.explained_variance_)

# trustworthiness
tw_x = blobs(120, 10, 3, 2.0, 1.0, 14)
rng = Lcg(15)
tw_e = np.array([[tw_x[i][0] + 0.5 * rng.gaussian(), tw_x[i][1] + 0.5 * rng.gaussian()] for i in range(120)])
print("trust 5", repr(trustworthiness(tw_x, tw_e, n_neighbors=5)))
print("trust 10", repr(trustworthiness(tw_x, tw_e, n_neighbors=10)))

# t-SNE and UMAP on 400 x 20, 5 overlapping blobs
proj_x = blobs(400, 20, 5, 1.5, 1.0, 16)
emb = TSNE(n_components=2, random_state=0).fit_transform(proj_x)  # 1.2 defaults: init="pca", learning_rate="auto"
print("tsne trust 10", repr(trustworthiness(proj_x, emb, n_neighbors=10)))
try:
    import umap
    from umap.umap_ import find_ab_params
    print("ab", find_ab_params(1.0, 0.1))
    u = umap.UMAP(random_state=42).fit_transform(proj_x)
    print("umap trust 10", repr(trustworthiness(proj_x, u, n_neighbors=10)))
except ImportError as e:
    print("umap unavailable", e)

# UMAP's spectral initialisation as umap-learn computes it inside UMAP.fit (spectral_layout is wrapped to
# capture its output: the layout before UMAP's expansion and noise), on a connected fixture, the 400 x 20
# fixture above (two components: +-unit-vector placement) and six separated blobs (component_layout).
try:
    import scipy.sparse.csgraph
    import umap.umap_ as umap_module
    from umap.spectral import component_layout
    captured = []
    original_layout = umap_module.spectral_layout
    def capture(data, graph, dim, random_state, **kw):
        layout = original_layout(data, graph, dim, random_state, **kw)
        count, labels = scipy.sparse.csgraph.connected_components(graph)
        meta = component_layout(data, count, labels, dim, np.random.RandomState(0)) if count > 2 * dim else None
        captured.append((np.asarray(layout, dtype=np.float64), labels, count, meta))
        return layout
    umap_module.spectral_layout = capture
    fixtures = [("connected", blobs(300, 5, 1, 1.0, 1.0, 21), {"n_epochs": 100}),
                ("two", proj_x, {}),
                ("six", blobs(240, 8, 6, 1.2, 0.2, 22), {})]
    with open("umap_spectral_reference.csv", "w") as f:
        f.write("fixture,row,component,x,y,meta_x,meta_y\n")
        for name, x, kw in fixtures:
            umap.UMAP(random_state=42, **kw).fit(x)
            layout, labels, count, meta = captured[-1]
            print("spectral", name, "components", count, np.bincount(labels))
            for i in range(len(x)):
                mx, my = (meta[labels[i]] if meta is not None else (float("nan"), float("nan")))
                f.write("%s,%d,%d,%r,%r,%r,%r\n" % (name, i, labels[i], layout[i, 0], layout[i, 1], float(mx), float(my)))
    umap_module.spectral_layout = original_layout
except ImportError as e:
    print("umap unavailable", e)

# Hungarian
rng = Lcg(17)
def mat(r, c, levels=None):
    if levels:
        return np.array([[float(int(rng.uniform() * levels)) for _ in range(c)] for _ in range(r)])
    return np.array([[rng.uniform() * 10.0 for _ in range(c)] for _ in range(r)])
for name, m in [("square", mat(5, 5)), ("wide", mat(4, 6)), ("tall", mat(6, 4)), ("ties", mat(6, 6, 3)), ("tallties", mat(7, 4, 2))]:
    for maximize in (False, True):
        r, c = linear_sum_assignment(m, maximize=maximize)
        print("lsa", name, maximize, list(r), list(c), repr(m[r, c].sum()))
m = np.ones((4, 4))
print("lsa constant", linear_sum_assignment(m))

# cluster evaluation
rng = Lcg(18)
clusters = np.array([int(rng.uniform() * 4) for _ in range(60)])
labels = np.array([[1 if rng.uniform() < (0.15 + 0.2 * ((c + clusters[i]) % 3)) else 0 for c in range(5)] for i in range(60)])
proto = np.array([(labels[clusters == k].mean(axis=0) >= 0.5).astype(int) for k in range(4)])
pred = proto[clusters]
show("ce proto", proto)
print("ce exact", repr(accuracy_score(labels, pred)))
print("ce jaccard", repr(jaccard_score(labels, pred, average="macro", zero_division=0)))
print("ce hamming", repr(hamming_loss(labels, pred)))

# metadata buckets
rng = Lcg(19)
clusters = np.array([int(rng.uniform() * 5) for _ in range(80)])
ages = []
for i in range(80):
    u = rng.uniform()
    ages.append(float("nan") if u < 0.1 else (1.0 if u < 0.15 else 2.0 + 95.0 * rng.uniform()))
ages = np.array(ages)
edges = [2, 25, 50, 75, np.inf]
ok = ~np.isnan(ages) & (ages >= 2)
b = np.digitize(ages[ok], edges) - 1
conf = np.zeros((5, 4))
for k, bb in zip(clusters[ok], b):
    conf[k, bb] += 1
r, c = linear_sum_assignment(conf, maximize=True)
print("mb included", ok.sum(), "missing", np.isnan(ages).sum())
show("mb confusion", conf.astype(int))
print("mb accuracy", repr(conf[r, c].sum() / ok.sum()), list(c))
