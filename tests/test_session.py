"""The notebook setup call, quick mode and save_fig()."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from lrp_helpers import session  # noqa: E402
from lrp_helpers import settings as run_settings  # noqa: E402


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("0", False), ("", False), ("no", False)])
def test_quick_mode_switch(monkeypatch, value, expected):
    monkeypatch.setenv("LRP_QUICK", value)
    assert run_settings.quick_mode() is expected


def test_setup_notebook_sets_graph_mode_seeds_and_quick_flag(monkeypatch, capsys):
    monkeypatch.setenv("LRP_QUICK", "1")
    settings = session.setup_notebook(seed=7)
    assert settings.quick and settings.seed == 7
    assert "Quick mode" in capsys.readouterr().out
    assert not tf.executing_eagerly()
    first = np.random.rand(3)
    session.setup_notebook(seed=7)
    np.testing.assert_array_equal(first, np.random.rand(3))
    assert settings.pick(full=40, quick=1) == 1
    monkeypatch.setenv("LRP_QUICK", "0")
    full = session.setup_notebook()
    assert not full.quick and full.pick(full=40, quick=1) == 40


def test_save_fig_writes_a_png(tmp_path, monkeypatch):
    monkeypatch.setenv("LRP_IMAGES_DIR", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = session.save_fig("example", fig)
    plt.close(fig)
    assert path == tmp_path / "example.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_mode_figures_never_overwrite_the_committed_ones(monkeypatch):
    monkeypatch.delenv("LRP_IMAGES_DIR", raising=False)
    quick, full = session.Settings(quick=True, seed=0), session.Settings(quick=False, seed=0)
    assert session.images_dir(quick) == session.project_root() / "images" / "quick"
    assert session.images_dir(full) == session.project_root() / "images"


def test_quick_mode_is_decided_once_by_setup_notebook(monkeypatch):
    monkeypatch.delenv("LRP_IMAGES_DIR", raising=False)
    monkeypatch.setattr(run_settings, "_decided", None)
    with pytest.raises(RuntimeError, match="call lrp_helpers.setup_notebook"):
        session.images_dir()
    monkeypatch.setenv("LRP_QUICK", "1")
    session.setup_notebook()
    monkeypatch.setenv("LRP_QUICK", "0")  # too late: setup_notebook() decided
    assert run_settings.current_settings().quick
    assert session.images_dir() == session.project_root() / "images" / "quick"


@pytest.mark.parametrize(
    "value, expected", [(None, "fast"), ("", "fast"), ("original", "original"), (" Fast ", "fast")]
)
def test_recipe_choice_from_the_environment(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv(run_settings.RECIPE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(run_settings.RECIPE_VARIABLE, value)
    assert run_settings.recipe_choice() == expected
    monkeypatch.setenv("LRP_QUICK", "0")
    assert session.setup_notebook().recipe == expected


def test_unknown_recipe_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(run_settings.RECIPE_VARIABLE, "fastest")
    with pytest.raises(ValueError, match="LRP_RECIPE='fastest' is not a recipe; use one of original, fast"):
        run_settings.recipe_choice()


@pytest.mark.parametrize(
    "value, notebook_default, trains",
    [(None, True, True), (None, False, False), ("1", False, True), ("yes", False, True), ("0", True, False)],
)
def test_retrain_switch_overrides_each_notebooks_default(monkeypatch, value, notebook_default, trains):
    if value is None:
        monkeypatch.delenv(run_settings.RETRAIN_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(run_settings.RETRAIN_VARIABLE, value)
    monkeypatch.setenv("LRP_QUICK", "0")
    assert session.setup_notebook().train(default=notebook_default) is trains


def test_unknown_retrain_value_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(run_settings.RETRAIN_VARIABLE, "maybe")
    with pytest.raises(ValueError, match="LRP_RETRAIN='maybe': use 1 to train every model, 0 to load"):
        run_settings.retrain_choice()


def test_lecture_mode_picks_lecture_sizes_loads_models_and_yields_to_quick_mode(monkeypatch, capsys):
    monkeypatch.delenv(run_settings.RETRAIN_VARIABLE, raising=False)
    monkeypatch.setenv(session.LECTURE_VARIABLE, "1")
    monkeypatch.setenv("LRP_QUICK", "0")
    lecture = session.setup_notebook()
    assert "Lecture mode (LRP_LECTURE=1)" in capsys.readouterr().out
    assert lecture.pick(full=256, quick=20, lecture=32) == 32 and lecture.pick(full=256, quick=20) == 256
    assert lecture.train(default=True) is False
    monkeypatch.setenv(run_settings.RETRAIN_VARIABLE, "1")
    assert session.setup_notebook().train(default=False) is True
    monkeypatch.setenv("LRP_QUICK", "1")
    quick = session.setup_notebook()
    assert not quick.lecture and quick.pick(full=256, quick=20, lecture=32) == 20
    monkeypatch.setenv("LRP_QUICK", "0")
    monkeypatch.setenv(session.LECTURE_VARIABLE, "0")
    assert session.setup_notebook().pick(full=256, quick=20, lecture=32) == 256


def test_the_recipe_once_called_seed_says_its_new_name(monkeypatch):
    monkeypatch.setenv(run_settings.RECIPE_VARIABLE, "seed")
    with pytest.raises(ValueError, match="'seed' is 'original' now"):
        run_settings.recipe_choice()
