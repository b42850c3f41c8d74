"""Example recipe files to copy and edit; installed as ``gan_cookbook.examples``
(``gan-cookbook copy-recipe NAME`` writes one where you want it)."""
