"""Reproducible study of part-based branching networks (Tang & Wu, CVPR 2019) and KPTransfer (Vats et al., 2019).

Modules, one concept each: ``joints`` (joint orders, groups, splits), ``groups`` (mutual-information
grouping), ``models`` (stacked hourglass, PBN heads), ``heatmaps`` (targets and decoding), ``metrics``
(PCKh, PCK), ``data`` (datasets, synthetic renderer, augmentation), ``train`` (engine), ``experiments``
(the studies as configurations), ``results`` (records with provenance), ``stats`` (confidence intervals).
"""

__version__ = "0.1.0"
