"""Install cankd. Use ``bash tools/install.sh`` for the whole pinned stack."""
import os.path as osp

from setuptools import find_packages, setup


def read_version():
    scope = {}
    with open(osp.join(osp.dirname(__file__), 'cankd', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(path):
    with open(osp.join(osp.dirname(__file__), path)) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip() and not line.startswith('-')
        ]


setup(
    name='cankd',
    version=read_version(),
    description='CanKD: cross-attention non-local knowledge distillation '
    'for detection and segmentation, on OpenMMLab 2.x',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    python_requires='>=3.9',
    # torch and mmcv are installed by tools/install.sh (see requirements.txt):
    # declaring them here would let pip pick a CUDA torch or an ops-less mmcv.
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt'),
                    # Grounding DINO: transformers (BERT), fairscale (num_cp)
                    'grounding': read_requirements('requirements/grounding.txt')},
    license='Apache License 2.0',
)
