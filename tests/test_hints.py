"""Error hints of the command lines name options those command lines have."""

from __future__ import annotations

import re

import pytest

from lib import predict, train


def _options(parser) -> set[str]:
    return set(parser._option_string_actions)


@pytest.mark.parametrize("content", [None, b"not a photo"])
def test_predict_on_a_missing_or_damaged_photo_names_no_loader_option(tmp_path, capsys, content):
    photo = tmp_path / "photo.jpg"
    if content is not None:
        photo.write_bytes(content)
    assert predict.main([str(photo), "pbn/deep", "--out", str(tmp_path / "out.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and str(photo) in err
    assert "require_images" not in err and err.endswith("give the path of a photo (any format PIL reads)"
                                                          if content is None else
                                                          "give another photo (any format PIL reads)")


def test_the_force_refusal_names_options_of_lib_train():
    from lib.experiments import make_experiment

    with pytest.raises(ValueError) as e:
        train.refuse_overwrite([make_experiment("pbn/linear", "smoke", "synthetic", 0)], None)
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", str(e.value)))
    assert named == {"--force", "--results"} and named <= _options(train.parser())
