from setuptools import setup, find_packages

with open("VERSION") as f:
    VERSION = f.read().strip()

setup(
    name="plugin-example-inven-collector",
    version=VERSION,
    description="Example inventory collector plugin",
    packages=find_packages(),
    install_requires=["spaceone-core", "spaceone-api"],
    zip_safe=False,
)
