"""Reproducible study of part-based branching networks (Tang & Wu, CVPR 2019) and KPTransfer (Vats et al., 2019).

One concept a module; the notebooks only call them. ``book/design.md`` maps every module to its
one job and every element of the papers to the file and function that implements it. In short:

* the method: ``joints`` (joint orders, groups, KPTransfer splits), ``groups`` (mutual-information
  grouping, PBN Eq. 1), ``models`` (stacked hourglass with linear, deep and PBN heads),
  ``heatmaps`` (targets, decoding, flip and six-scale test), ``metrics`` (PCKh, PCK);
* data: ``data`` (MPII, LSP Extended, the synthetic benchmark, packs, augmentation, file formats);
* running: ``experiments`` (every experiment as a config, profiles), ``engine`` (the training loop),
  ``train`` (its command line), ``runner`` (run or load a record), ``evaluate`` (the evaluation),
  ``results`` (records with provenance), ``inference``, ``export``, ``predict``;
* reading the records: ``paper`` (the claims and the papers' tables), ``claims`` (verdicts),
  ``stats`` (intervals), the chapters' tables and figures (``pbn_tables``, ``kpt_tables``,
  ``study_tables``, ``present``, ``figures``), the pose analyses (``pose_sources``,
  ``data_overview``, ``mi_analysis``).
"""

__version__ = "0.1.0"
