"""Dataset and augmentation names are defined once (lib.data, lib.data.augment) and read from there."""

from __future__ import annotations

import pytest

from lib import data, engine, experiments, figures
from lib.data import __main__ as data_cli
from lib.data import augment


def test_every_module_reads_the_one_list_of_names():
    assert experiments.DATASETS is data.DATASET_JOINTS and data.DATASETS == tuple(data.DATASET_JOINTS)
    assert engine.AUGMENTS is augment.AUGMENTS and data_cli.AUGMENTS is augment.AUGMENTS
    assert set(augment.AUGMENTS) == {"pbn", "kptransfer", "none"}
    assert augment.AUGMENTS["pbn"] == augment.PBN_AUGMENT and augment.AUGMENTS["none"] == augment.NO_AUGMENT


def test_every_experiment_names_a_known_dataset_and_augmentation():
    for profile in experiments.PROFILES:
        for dataset in data.DATASETS:
            for name in experiments.experiment_names():
                exp = experiments.make_experiment(name, profile, dataset)
                assert exp.data.dataset in data.DATASETS and exp.data.augment in augment.AUGMENTS, (name, profile)


def test_an_unknown_augmentation_is_named_in_the_error():
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'; choose one of"):
        figures.augmented_samples(None, augment="rotate")
