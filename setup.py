from setuptools import find_packages, setup

# The example recipe files of recipes/ ship inside the package, as
# gan_cookbook.examples, so that `gan-cookbook copy-recipe` finds them in any install.
setup(packages=[*find_packages(include=["gan_cookbook*"]), "gan_cookbook.examples"])
