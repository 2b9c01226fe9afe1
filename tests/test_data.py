import pytest
import torch

from dlcore import data


@pytest.mark.parametrize("loader,n,features,classes", [(data.digits, 1797, 64, 10),
                                                       (data.breast_cancer, 569, 30, 2)])
def test_split_shapes_stratification_and_standardisation(loader, n, features, classes):
    d = loader()
    assert len(d.X_train) + len(d.X_test) == n
    assert d.num_features == features and d.num_classes == classes
    assert d.X_train.dtype == torch.float32 and d.y_train.dtype == torch.long
    # stratified: class proportions of the two parts agree to within one sample per class
    p_tr = torch.bincount(d.y_train, minlength=classes) / len(d.y_train)
    p_te = torch.bincount(d.y_test, minlength=classes) / len(d.y_test)
    assert (p_tr - p_te).abs().max() < 1.5 / len(d.y_test) * classes
    # standardisation fitted on train only: train columns have mean 0 and std 1 (or are constant)
    X = d.X_train.double()
    assert X.mean(0).abs().max() < 1e-6
    std = X.std(0)
    assert ((std - 1).abs() < 1e-5).logical_or(std == 0).all()
    assert X.std(0).ne(1).any() or d.X_test.double().mean(0).abs().max() > 1e-6  # test not refit


def test_split_is_fixed_and_seed_dependent():
    a, b, c = data.digits(), data.digits(), data.digits(seed=1)
    assert torch.equal(a.X_train, b.X_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.X_train, c.X_train)


def test_dtype_device_and_to():
    d = data.breast_cancer(dtype=torch.float64, device="cpu", test_size=0.5)
    assert d.X_test.dtype == torch.float64 and len(d.X_test) in (284, 285)
    assert d.to("cpu").X_train.device.type == "cpu"


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"test_size": 0.0}, ValueError, "`test_size` must be > 0"),
    ({"test_size": 1.5}, ValueError, "`test_size` must be < 1"),
    ({"seed": -1}, ValueError, "`seed` must be >= 0"),
    ({"dtype": torch.int64}, ValueError, "`dtype` must be a floating torch dtype"),
])
def test_bad_split_arguments(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        data.digits(**kwargs)


@pytest.mark.parametrize("make", [data.moons, data.spirals, data.blobs])
def test_synthetic_sets_are_seeded_and_shaped(make):
    X1, y1 = make(60, generator=torch.Generator().manual_seed(0))
    X2, y2 = make(60, generator=torch.Generator().manual_seed(0))
    X3, _ = make(60, generator=torch.Generator().manual_seed(1))
    assert X1.shape == (60, 2) and y1.shape == (60,) and y1.dtype == torch.long
    assert torch.equal(X1, X2) and torch.equal(y1, y2) and not torch.equal(X1, X3)
    counts = torch.bincount(y1)
    assert counts.max() - counts.min() <= 1


def test_synthetic_geometry():
    X, y = data.moons(100, noise=0.0)
    assert X[y == 0, 1].min() >= -1e-6  # the upper moon lies above y = 0
    X, y = data.blobs(300, centers=3, std=0.1, generator=torch.Generator().manual_seed(0))
    for k in range(3):
        assert (X[y == k].norm(dim=1) - 4).abs().max() < 1.0
    X, y = data.spirals(300, classes=3, noise=0.0)
    assert X.norm(dim=1).max() <= 1 + 1e-6


@pytest.mark.parametrize("call,msg", [
    (lambda: data.moons(1), "`n` must be >= 2"),
    (lambda: data.moons(10, noise=-1), "`noise` must be >= 0"),
    (lambda: data.spirals(2, classes=3), "`n` must be at least `classes`"),
    (lambda: data.blobs(10, centers=0), "`centers` must be >= 1"),
    (lambda: data.blobs(10, std=float("nan")), "`std` must be finite"),
])
def test_synthetic_bad_arguments(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_with_validation_is_stratified_seeded_and_leaves_test_alone():
    d = data.digits()
    s = data.with_validation(d, fraction=0.2, seed=0)
    assert len(s.X_train) + len(s.X_val) == len(d.X_train)
    assert torch.equal(s.X_test, d.X_test)
    # no row is in both parts, every training row is in one of them
    rows = torch.cat([s.X_train, s.X_val])
    assert torch.equal(rows.sort(dim=0).values, d.X_train.sort(dim=0).values)
    frac = torch.bincount(s.y_val, minlength=10) / torch.bincount(d.y_train, minlength=10)
    assert float(frac.min()) > 0.15 and float(frac.max()) < 0.25
    again = data.with_validation(d, fraction=0.2, seed=0)
    assert torch.equal(again.y_val, s.y_val)
    assert not torch.equal(data.with_validation(d, fraction=0.2, seed=1).y_val, s.y_val)
    assert s.to("cpu").X_val.shape == s.X_val.shape


def test_with_validation_rejects_bad_input():
    d = data.digits()
    with pytest.raises(ValueError, match="`fraction` must be < 1"):
        data.with_validation(d, fraction=1.0)
    with pytest.raises(ValueError, match="already has a validation part"):
        data.with_validation(data.with_validation(d))
    with pytest.raises(TypeError, match="`split` must be a dlcore.data.Split"):
        data.with_validation((d.X_train, d.y_train))
    with pytest.raises(ValueError, match="`seed` must be >= 0"):
        data.with_validation(d, seed=-1)


def test_mnist1d_is_the_papers_data_split_and_scaled_globally():
    import mnist1d.data
    import numpy as np

    raw = mnist1d.data.make_dataset(mnist1d.data.get_dataset_args())
    m = data.mnist1d()
    assert m.X_train.shape == (4000, 40) and m.X_test.shape == (1000, 40)
    assert m.num_classes == 10
    assert torch.bincount(m.y_train).tolist() == [400] * 10  # stratified
    # the same 5000 signals, up to one affine map x -> (x - mean) / std fitted on the train part
    X = torch.cat([m.X_train, m.X_test]).double()
    ref = torch.as_tensor(np.concatenate([raw["x"], raw["x_test"]]))
    ours, theirs = X.flatten().sort().values, ref.flatten().sort().values
    slope, intercept = np.polyfit(theirs.numpy(), ours.numpy(), 1)
    assert (ours - (slope * theirs + intercept)).abs().max() < 1e-5
    assert sorted(X.sum(1).round(decimals=3).tolist()) == pytest.approx(
        sorted((slope * ref + intercept).sum(1).tolist()), abs=1e-2)
    assert abs(m.X_train.mean().item()) < 1e-6 and abs(m.X_train.std().item() - 1) < 1e-5
    # one global scale, not one per position: position stds differ
    assert m.X_train.std(0).max() - m.X_train.std(0).min() > 0.1


def test_mnist1d_seeds_and_numpy_state(monkeypatch, clean_lru):
    import numpy as np

    monkeypatch.setenv("DLCORE_CACHE", "off")  # generate: the reseeding is what is tested
    np.random.seed(123)
    expected = np.random.rand()
    np.random.seed(123)
    a = data.mnist1d(seed=1)
    assert np.random.rand() == expected  # make_dataset's reseeding does not leak
    b = data.mnist1d(seed=1)
    assert torch.equal(a.X_train, b.X_train)
    assert not torch.equal(a.y_train, data.mnist1d(seed=2).y_train)
    small = data.mnist1d(num_samples=100, data_seed=3, dtype=torch.float64)
    assert small.X_train.dtype == torch.float64 and len(small.y_train) == 80


@pytest.mark.parametrize("kwargs, message", [
    ({"num_samples": 10}, "num_samples"),
    ({"data_seed": -1}, "data_seed"),
    ({"test_size": 1.5}, "test_size"),
])
def test_mnist1d_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.mnist1d(**kwargs)


def test_digits_global_scale_is_one_affine_map_of_the_pixels():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    raw, *_ = train_test_split(bunch.data, bunch.target, test_size=0.25, random_state=0,
                              stratify=bunch.target)
    raw = torch.as_tensor(raw)
    glob = data.digits(scale="global", dtype=torch.float64)
    assert torch.equal(glob.y_train, data.digits().y_train)
    expected = (raw - raw.mean()) / raw.std()  # one mean and one std for all pixels
    assert torch.allclose(glob.X_train, expected, atol=1e-12)
    assert float(glob.X_train.std(dim=0).max()) > 1.05  # per-pixel spreads are kept, not 1
    with pytest.raises(ValueError, match="`scale` must be 'feature' or 'global', got 'pixel'"):
        data.digits(scale="pixel")


def test_breast_cancer_positive_class_flips_only_the_labels():
    b, m = data.breast_cancer(), data.breast_cancer(positive="malignant")
    assert torch.equal(m.X_train, b.X_train) and torch.equal(m.X_test, b.X_test)
    assert torch.equal(m.y_train, 1 - b.y_train) and torch.equal(m.y_test, 1 - b.y_test)
    assert int(m.y_train.sum()) + int(m.y_test.sum()) == 212  # the 212 malignant tumours
    with pytest.raises(ValueError, match="`positive` must be 'benign' or 'malignant'"):
        data.breast_cancer(positive=1)


def _rows(X):
    return {tuple(r) for r in X.tolist()}


def test_subset_n_is_stratified_nested_and_seeded():
    d = data.with_validation(data.digits(), seed=0)
    counts = d.y_train.bincount().double()
    previous = set()
    for n in (10, 37, 100, 400, len(d.y_train)):
        s = data.subset(d, n=n, seed=3)
        assert len(s.y_train) == n
        share = n * counts / len(d.y_train)
        assert (s.y_train.bincount(minlength=10).double() - share).abs().max() < 1
        rows = _rows(s.X_train)
        assert previous <= rows  # nested: a larger n only adds rows
        previous = rows
        assert torch.equal(s.X_val, d.X_val) and torch.equal(s.X_test, d.X_test)
    assert torch.equal(data.subset(d, n=50, seed=3).X_train, data.subset(d, n=50, seed=3).X_train)
    assert not torch.equal(data.subset(d, n=50, seed=4).X_train,
                           data.subset(d, n=50, seed=3).X_train)
    # the kept rows keep their order in the training part
    index = {tuple(x): i for i, x in enumerate(d.X_train.tolist())}
    for kwargs in ({"n": 80}, {"per_class": 5}, {"classes": [9, 0], "per_class": 4}):
        kept = [index[tuple(x)] for x in data.subset(d, seed=5, **kwargs).X_train.tolist()]
        assert kept == sorted(kept), kwargs
    # every kept row is a training row with its own label
    pairs = {(tuple(x), int(c)) for x, c in zip(d.X_train.tolist(), d.y_train, strict=True)}
    s = data.subset(d, n=60, seed=1)
    assert all((tuple(x), int(c)) in pairs
               for x, c in zip(s.X_train.tolist(), s.y_train, strict=True))


def test_subset_n_is_within_one_row_of_each_share_on_a_long_tailed_split():
    counts = [60, 25, 10, 4, 1]
    y = torch.cat([torch.full((c,), i) for i, c in enumerate(counts)])
    s = data.Split(torch.arange(len(y)).double()[:, None], y, None, None, num_classes=5)
    share = torch.tensor(counts).double() / len(y)
    for seed in range(3):
        for n in range(1, len(y) + 1):
            kept = data.subset(s, n=n, seed=seed).y_train.bincount(minlength=5).double()
            assert (kept - n * share).abs().max() < 1, (seed, n, kept.tolist())


def test_subset_classes_relabel_every_part_and_per_class_counts():
    d = data.with_validation(data.digits(), seed=0)
    s = data.subset(d, classes=[7, 2], per_class=[30, 4], seed=0)
    assert s.num_classes == 2 and s.y_train.bincount().tolist() == [30, 4]
    for part in ("val", "test"):
        y_old, y_new = getattr(d, f"y_{part}"), getattr(s, f"y_{part}")
        assert y_new.bincount().tolist() == [int((y_old == 7).sum()), int((y_old == 2).sum())]
        X_old = getattr(d, f"X_{part}")
        assert torch.equal(getattr(s, f"X_{part}")[y_new == 0], X_old[y_old == 7])
    few, more = data.subset(d, per_class=3, seed=2), data.subset(d, per_class=8, seed=2)
    assert few.y_train.bincount().tolist() == [3] * 10
    assert _rows(few.X_train) <= _rows(more.X_train)
    whole = data.subset(d, classes=[0, 1])
    assert len(whole.y_train) == int((d.y_train <= 1).sum())
    no_val = data.subset(data.digits(), classes=[1])
    assert no_val.X_val is None and no_val.y_val is None and no_val.num_classes == 1


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 0}, "`n` must be >= 1"),
    ({"n": 10**6}, "`n` must be <= 1347"),
    ({"n": 5, "per_class": 1}, "at most one of `n` and `per_class`"),
    ({"per_class": 0}, "`per_class` must be >= 1"),
    ({"per_class": 1000}, "asks for 1000 rows of class 0"),
    ({"per_class": [1, 2]}, "one count per kept class \\(10\\), got 2"),
    ({"per_class": [1] * 9 + [0]}, "`per_class\\[9\\]` must be >= 1"),
    ({"classes": []}, "`classes` must be a non-empty sequence"),
    ({"classes": 3}, "`classes` must be a non-empty sequence"),
    ({"classes": [1, 1]}, "must not repeat a label"),
    ({"classes": [10]}, "`classes\\[0\\]` must be <= 9"),
    ({"seed": -1}, "`seed` must be >= 0"),
])
def test_subset_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.subset(data.digits(), **kwargs)


def test_subset_rejects_other_splits():
    d = data.digits()
    with pytest.raises(TypeError, match="`split` must be a dlcore.data.Split"):
        data.subset((d.X_train, d.y_train), n=3)
    soft = data.Split(d.X_train, d.y_train.float(), None, None, num_classes=10)
    with pytest.raises(ValueError, match="1-D integer training labels"):
        data.subset(soft, n=3)


def _fresh_arrays(monkeypatch, where, n=100, seed=5):
    monkeypatch.setenv("DLCORE_CACHE", str(where))
    data._mnist1d_arrays.cache_clear()
    return data._mnist1d_arrays(n, seed)


@pytest.fixture
def clean_lru():
    data._mnist1d_arrays.cache_clear()
    yield
    data._mnist1d_arrays.cache_clear()


def test_mnist1d_cache_keeps_the_generated_signals_bit_for_bit(monkeypatch, tmp_path,
                                                               clean_lru):
    import mnist1d.data
    import numpy as np

    keys = [(100, 5), (100, 6), (120, 5)]
    monkeypatch.setenv("DLCORE_CACHE", "off")
    generated = {}
    for n, seed in keys:                               # generated, nothing kept
        data._mnist1d_arrays.cache_clear()
        generated[n, seed] = data._mnist1d_arrays(n, seed)
    assert not any(tmp_path.iterdir())
    for n, seed in keys:                               # generated and kept, one file each
        _fresh_arrays(monkeypatch, tmp_path, n, seed)
    names = sorted(f.name for f in tmp_path.iterdir())
    assert len(names) == 3 and all(f.startswith("mnist1d-") for f in names)
    assert any("-n120-seed5." in f for f in names)
    calls = []
    monkeypatch.setattr(mnist1d.data, "make_dataset", lambda args: calls.append(args))
    for n, seed in keys:                               # read back: nothing generated
        X, y = _fresh_arrays(monkeypatch, tmp_path, n, seed)
        X0, y0 = generated[n, seed]
        assert X.dtype == X0.dtype and np.array_equal(X, X0)
        assert y.dtype == y0.dtype and np.array_equal(y, y0)
        assert not X.flags.writeable and not y.flags.writeable
    assert calls == []


def test_mnist1d_cache_file_names_the_package_version(monkeypatch, tmp_path, clean_lru):
    import importlib.metadata

    _fresh_arrays(monkeypatch, tmp_path)
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "9.9" if name == "mnist1d" else real(name))
    _fresh_arrays(monkeypatch, tmp_path)               # another version: its own file
    names = sorted(f.name for f in tmp_path.iterdir())
    assert len(names) == 2 and any(f.startswith("mnist1d-9.9-") for f in names)


@pytest.mark.parametrize("damage", ["empty", "garbage", "truncated", "npy", "wrong_shape",
                                    "missing_key", "float32", "int32", "columns"])
def test_mnist1d_cache_regenerates_a_damaged_file(monkeypatch, tmp_path, damage, clean_lru):
    import numpy as np

    X, y = _fresh_arrays(monkeypatch, tmp_path)
    [kept] = tmp_path.iterdir()
    whole = kept.read_bytes()

    def save(fn, *args, **arrays):
        with kept.open("wb") as f:
            fn(f, *args, **arrays)

    damaged = {
        "empty": lambda: kept.write_bytes(b""),
        "garbage": lambda: kept.write_bytes(b"not a zip file"),
        "truncated": lambda: kept.write_bytes(whole[: len(whole) // 2]),
        "npy": lambda: save(np.save, X),
        "wrong_shape": lambda: save(np.savez, X=X[:10], y=y[:10]),
        "missing_key": lambda: save(np.savez, X=X),
        "float32": lambda: save(np.savez, X=X.astype(np.float32), y=y),
        "int32": lambda: save(np.savez, X=X, y=y.astype(np.int32)),
        "columns": lambda: save(np.savez, X=X[:, :20], y=y),
    }
    damaged[damage]()
    assert kept.read_bytes() != whole
    X2, y2 = _fresh_arrays(monkeypatch, tmp_path)      # regenerated ...
    assert np.array_equal(X, X2) and np.array_equal(y, y2)
    assert kept.read_bytes() == whole                  # ... and the file rewritten whole
    assert [p.name for p in tmp_path.iterdir()] == [kept.name]  # no temporary left


def test_mnist1d_cache_in_a_place_that_cannot_be_written(monkeypatch, tmp_path, clean_lru):
    import numpy as np

    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    X, y = _fresh_arrays(monkeypatch, blocker / "sub")   # mkdir fails: nothing kept
    assert X.shape == (100, 40) and blocker.is_file()
    where = tmp_path / "cache"
    target = data._cache_file(where, 100, 5)
    target.mkdir(parents=True)                           # a folder at the file's name
    X2, _ = _fresh_arrays(monkeypatch, where)            # the rename fails: skipped
    assert np.array_equal(X, X2)
    assert [p.name for p in where.iterdir()] == [target.name]  # its temporary removed
    assert target.is_dir()


def test_cache_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DLCORE_CACHE", str(tmp_path))
    assert data.cache_dir() == tmp_path
    for off in ("", "off", " OFF "):
        monkeypatch.setenv("DLCORE_CACHE", off)
        assert data.cache_dir() is None
    monkeypatch.delenv("DLCORE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / "dlcore"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / ".cache" / "dlcore"
