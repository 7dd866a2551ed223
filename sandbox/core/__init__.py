"""The exact ground every other layer stands on: class-conditional Gaussian mixtures and their noised scores
(``mixtures``), the named examples (``zoo``), noise schedules (``schedules``), guidance-scale conventions
(``conventions``), the frames and their exact maps (``frames``), the two field signatures (``fields``), quadrature
rules (``quadrature``), input validation (``validation``), atomic files (``files``), the experiment cache
(``cache``) and text tables (``tables``).

Nothing here imports from the layers above (methods, learn, experiments, viz).
"""
