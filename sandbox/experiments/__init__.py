"""Experiments as data: a frozen config, a run function, plain cached results. Measures with intervals
(``metrics``), trained nets against exact answers (``evaluation``), the theorem's checks (``verification``),
inter-class separation sweeps and the exact atlas (``separation``), DSM vs MCLR nets (``comparison``), the atlas of
trained objectives (``trained_atlas``) and published claims with computed verdicts (``claims``)."""
