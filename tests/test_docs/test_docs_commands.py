"""Every command in README.md and docs/ is run by a test or by CI, or is listed
here as impossible on this project's machines, with the reason.

The fenced ```bash blocks of README.md and docs/**/*.md are split into
commands (``\\`` continuations joined, comments dropped). Each must match one
rule of ``RULES``:

* ``here``: run by this file, in this interpreter (``python tools/X.py ...``
  through runpy with ``sys.argv`` set, ``python -c`` through exec, shell
  one-liners through bash), at CPU sizes: output paths go to a temporary
  folder, checkpoints and images are made by the test, large ``--shape``
  values are shrunk;
* ``elsewhere``: run by another test or by CI; the rule names the file and a
  string that must occur in it (the call that runs the command);
* ``cannot``: needs COCO, Cityscapes, a GPU, a cluster, the network or a
  trained COCO checkpoint.

A command no rule matches fails ``test_every_doc_command_is_classified``:
a new doc command must be classified here. Other checks on the docs: the
migration table against the registries, docs/api.md against its generator,
the model zoo against the configs, relative links, and the Python snippets
of docs/user_guides/export.md.
"""
import contextlib
import glob
import io
import os
import re
import runpy
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
DOC_FILES = ['README.md'] + sorted(
    os.path.relpath(p, REPO) for p in glob.glob(str(REPO / 'docs' / '**' / '*.md'),
                                                recursive=True))
EXAMPLE_CFG = 'configs/cankd/cankd_faster-rcnn-r101_retinanet-r50_fpn_2xb2-2x_coco.py'
DET_QS = 'configs/quickstart/cankd_retinanet_r18-r18w16_toy-coco.py'


# --------------------------------------------------------------------------- #
# Extraction
# --------------------------------------------------------------------------- #
@dataclass
class DocCommand:
    file: str
    line: int
    text: str

    @property
    def id(self) -> str:
        return f'{self.file}:{self.line}'


def _blocks(path: str, langs=('bash', 'sh', 'shell')):
    """(first line number, language, body) of each fenced block."""
    text = (REPO / path).read_text()
    for match in re.finditer(r'^```(\w*)[^\n]*\n(.*?)^```', text, re.S | re.M):
        if match.group(1) in langs:
            yield text[:match.start()].count('\n') + 2, match.group(1), match.group(2)


def _strip_comment(line: str) -> str:
    """Drop a trailing shell comment (`` # ...`` outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in '\'"':
            quote = char
        elif char == '#' and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line


def doc_commands() -> List[DocCommand]:
    commands = []
    for path in DOC_FILES:
        for first_line, _, body in _blocks(path):
            pending, start = '', None
            for offset, raw in enumerate(body.splitlines()):
                line = _strip_comment(raw.strip())
                if not pending and not line:
                    continue
                start = first_line + offset if not pending else start
                if line.endswith('\\'):
                    pending += line[:-1] + ' '
                    continue
                commands.append(DocCommand(path, start, ' '.join((pending + line).split())))
                pending = ''
    return commands


def python_blocks(path: str) -> List[str]:
    return [body for _, _, body in _blocks(path, langs=('python', ))]


# --------------------------------------------------------------------------- #
# Running commands here
# --------------------------------------------------------------------------- #
class Context:
    """Inputs the ``here`` commands need, made once: a distillation checkpoint
    of the det quickstart config (random weights, teacher_ckpt=None), a toy
    image, the worked-example config of docs/user_guides/config.md."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._cache: Dict[str, object] = {}

    def once(self, key: str, make: Callable[[], object]):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def det_kd_ckpt(self) -> str:
        def make():
            from cankd.utils.model_inspect import build_offline, load_config, register_all
            register_all()
            model = build_offline(load_config(str(REPO / DET_QS))).model
            path = self.tmp / 'det_kd.pth'
            torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
            return str(path)
        return self.once('det_kd_ckpt', make)

    def det_image(self) -> str:
        def make():
            from cankd.datasets import make_toy_coco
            paths = make_toy_coco(str(self.tmp / 'toy_coco'), num_train=1, num_val=1)
            return str(Path(paths['val_img_dir']) / '000000.png')
        return self.once('det_image', make)

    def example_config(self) -> str:
        """The worked example of config.md, saved where it says (under a
        configs/ whose _base_ is the repository's)."""
        def make():
            blocks = [b for b in python_blocks('docs/user_guides/config.md')
                      if b.startswith(f'# {EXAMPLE_CFG}')]
            assert len(blocks) == 1, f'config.md must hold one block starting "# {EXAMPLE_CFG}"'
            path = self.tmp / EXAMPLE_CFG
            path.parent.mkdir(parents=True, exist_ok=True)
            base = self.tmp / 'configs' / '_base_'
            if not base.exists():
                base.symlink_to(REPO / 'configs' / '_base_')
            path.write_text(blocks[0])
            return str(path)
        return self.once('example_config', make)

    def mmrazor_config(self) -> str:
        """An mmrazor-style config (``_scope_ = 'mmrazor'`` with spaces, the
        official loss name, the mmrazor val loop), converted by migration.md's
        sed command."""
        def make():
            path = self.tmp / 'my_mmrazor_config.py'
            path.write_text(MMRAZOR_STYLE_CFG.format(base=REPO / DET_QS))
            seds = [c for c in doc_commands() if c.text.startswith('sed -i')]
            assert len(seds) == 1, 'migration.md must hold one sed command'
            run_shell(seds[0].text, self.tmp)
            return str(path)
        return self.once('mmrazor_config', make)


MMRAZOR_STYLE_CFG = """
_base_ = '{base}'
model = dict(
    _scope_ = 'mmrazor',
    type='FpnTeacherDistill',
    architecture=dict(cfg_path='configs/quickstart/retinanet_r18-w16_toy-coco.py'),
    teacher=dict(cfg_path='configs/quickstart/retinanet_r18_toy-coco.py'),
    teacher_ckpt='https://download.openmmlab.com/not/fetched.pth',
    distiller=dict(
        _delete_=True,
        type='ConfigurableDistiller',
        student_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        teacher_recorders=dict(fpn=dict(type='ModuleOutputs', source='neck')),
        connectors=dict(
            s_fpn0=dict(type='ConvModuleConnector', in_channel=32, out_channel=64,
                        norm_cfg=dict(type='BN'), act_cfg=None)),
        distill_losses=dict(
            loss_nlkd_fpn0=dict(type='NLKD_IN_Loss', in_channels=64, dimension=2,
                                loss_weight=10)),
        loss_forward_mappings=dict(
            loss_nlkd_fpn0=dict(
                s_feature=dict(from_student=True, recorder='fpn', data_idx=0,
                               connector='s_fpn0'),
                t_feature=dict(from_student=False, recorder='fpn', data_idx=0)))))
val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
"""


def run_shell(command: str, cwd: Path) -> str:
    proc = subprocess.run(['bash', '-c', command], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def run_python_tool(argv: List[str]) -> str:
    """``python tools/X.py ARGS`` in this interpreter (cwd: the repository)."""
    script = str(REPO / argv[0])
    out = io.StringIO()
    saved_argv, saved_cwd = sys.argv, os.getcwd()
    sys.argv = argv
    os.chdir(REPO)
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(script, run_name='__main__')
    except SystemExit as exc:
        assert exc.code in (None, 0), f'{argv}: exit {exc.code}\n{out.getvalue()[-3000:]}'
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
    return out.getvalue()


def _replace(argv: List[str], old: str, new: str) -> List[str]:
    assert old in argv, (old, argv)
    return [new if a == old else a for a in argv]


def _option(argv: List[str], name: str, values: List[str]) -> List[str]:
    """Set option ``name`` to ``values`` (replacing what the doc gives)."""
    if name in argv:
        i = argv.index(name)
        j = i + 1
        while j < len(argv) and not argv[j].startswith('--'):
            j += 1
        argv = argv[:i] + argv[j:]
    return argv + [name] + values


def run_convert(argv: List[str], ctx: Context, text: str) -> None:
    argv = argv[1:]
    out_path = str(ctx.tmp / 'exported' / Path(argv[argv.index('--out-path') + 1]).name)
    argv = _option(_replace(argv, argv[1], ctx.det_kd_ckpt()), '--out-path', [out_path])
    out = run_python_tool(argv)
    assert f'wrote {out_path}' in out
    exported = torch.load(out_path, weights_only=True)  # plain data
    assert exported['state_dict'] and not any(
        k.startswith(('architecture.', 'teacher.', 'distiller.')) for k in exported['state_dict'])


def run_python_c(argv: List[str], ctx: Context, text: str) -> None:
    assert argv[:2] == ['python', '-c'], argv
    exec(compile(argv[2], '<doc python -c>', 'exec'), {'__name__': '__main__'})


def run_names(argv: List[str], ctx: Context, text: str) -> None:
    argv = argv[1:]
    config = argv[1]
    if config == EXAMPLE_CFG:
        argv = _replace(argv, config, ctx.example_config())
    elif config == 'my_mmrazor_config.py':
        argv = _replace(argv, config, ctx.mmrazor_config())
    out = run_python_tool(argv)
    assert '== student' in out and '== teacher' in out and '<- recorder' in out, out
    if config == EXAMPLE_CFG:
        check_example_config(ctx.example_config(), out)


def check_example_config(path: str, names_out: str) -> None:
    """config.md's claims: teacher FPN level i + 1 matches student level i, and
    the four CanKD losses run on them (the base's data_idx=i would not)."""
    teacher_neck = [line for line in names_out.split('== teacher')[1].splitlines()
                    if line.startswith('neck ')][0]
    student_neck = [line for line in names_out.split('== teacher')[0].splitlines()
                    if line.startswith('neck ')][0]
    assert '[1x256x32x32, 1x256x16x16, 1x256x8x8, 1x256x4x4, 1x256x2x2]' in student_neck
    assert '[1x256x64x64, 1x256x32x32, 1x256x16x16, 1x256x8x8, 1x256x4x4]' in teacher_neck
    from cankd.utils.model_inspect import build_offline, dummy_batch, load_config
    info = build_offline(load_config(path))
    model, distiller = info.model, info.model.distiller
    for i in range(4):
        mapping = distiller.loss_forward_mappings[f'loss_cankd_fpn{i}']
        assert mapping['s_feature']['data_idx'] == i and mapping['t_feature']['data_idx'] == i + 1
    inputs, samples = dummy_batch(info, (128, 128))
    with torch.no_grad():
        with distiller.teacher_recorders:
            model.teacher_forward(model.teacher_inputs(inputs), samples)
        with distiller.student_recorders:
            model.student(inputs, samples, mode='tensor')
        losses = distiller.compute_distill_losses(samples)
    assert sorted(losses) == [f'loss_cankd_fpn{i}' for i in range(4)]
    assert all(torch.isfinite(v) for v in losses.values())


def run_flops(argv: List[str], ctx: Context, text: str) -> None:
    argv = argv[1:]
    if argv[1] == EXAMPLE_CFG:
        argv = _replace(argv, EXAMPLE_CFG, ctx.example_config())
    out = run_python_tool(_option(argv, '--shape', ['128', '128']))  # CPU-sized
    assert 'teacher' in out and 'student' in out and 'distiller' in out and 'GFLOPs' in out


def run_feature_vis(argv: List[str], ctx: Context, text: str) -> None:
    argv = argv[1:]
    assert argv[1] == DET_QS, argv
    argv = _replace(argv, argv[2], ctx.det_kd_ckpt())
    argv = _replace(argv, argv[3], ctx.det_image())
    out_png = str(ctx.tmp / 'feature_vis.png')
    out = run_python_tool(_option(argv, '--out', [out_png]))
    assert f'wrote {out_png}' in out and Path(out_png).read_bytes()[:4] == b'\x89PNG'


def run_make_toy_data(argv: List[str], ctx: Context, text: str) -> None:
    argv = argv[1:]
    out_dir = str(ctx.tmp / 'make_toy_data' / Path(argv[2]).name)
    argv = _replace(argv, argv[2], out_dir)
    for name, values in (('--num-train', ['2']), ('--num-val', ['1']),
                         ('--img-size', ['64', '64'])):
        argv = _option(argv, name, values)  # CPU-sized
    out = run_python_tool(argv)
    assert out_dir in out and Path(out_dir).is_dir()


def run_echo_config(argv: List[str], ctx: Context, text: str) -> None:
    folder = ctx.tmp / 'echo'
    folder.mkdir(exist_ok=True)
    run_shell(text, folder)
    from mmengine.config import Config
    written = folder / text.rsplit('>', 1)[1].strip()
    assert Config.fromfile(str(written)).model.type == 'RetinaNet'


def run_sed(argv: List[str], ctx: Context, text: str) -> None:
    text = Path(ctx.mmrazor_config()).read_text()
    assert 'mmrazor' not in text.replace('# ', ''), text
    assert "_scope_='cankd'" in text and "'cankd.SingleTeacherDistillValLoop'" in text


# --------------------------------------------------------------------------- #
# Classification
# --------------------------------------------------------------------------- #
@dataclass
class Rule:
    pattern: str
    kind: str  # 'here', 'elsewhere', 'cannot'
    why: str
    run: Optional[Callable] = None
    where: Optional[str] = None  # elsewhere: the file that runs it ...
    evidence: Optional[str] = None  # ... and the call in it


COCO_CFG = r'configs/(cankd|cwd|pkd|mgd|fgd|fitnets|acam_kd)/\S+_coco\.py'
CITY_CFG = r'configs/(cankd|cwd|pkd|mgd|fitnets|acam_kd)/\S+_cityscapes-512x1024\.py'
E2E = 'tests/test_e2e/test_distill_e2e.py'

RULES = [
    # --- run here ----------------------------------------------------------
    Rule(r'python tools/model_converters/convert_kd_ckpt_to_student\.py \S+ --out-path \S+',
         'here', 'on a distillation checkpoint of the det quickstart config made here',
         run_convert),
    Rule(r'python -c "import cankd[^"]*"', 'here', 'imports in this interpreter', run_python_c),
    Rule(r'python tools/analysis_tools/print_module_names\.py (configs/quickstart/\S+|'
         rf'{COCO_CFG}|{CITY_CFG}|{re.escape(EXAMPLE_CFG)}|my_mmrazor_config\.py)( .*)?',
         'here', 'offline; the worked example and the mmrazor config are written by the test',
         run_names),
    Rule(rf'python tools/analysis_tools/get_flops\.py (configs/quickstart/\S+|{COCO_CFG}|'
         rf'{CITY_CFG}|{re.escape(EXAMPLE_CFG)})( .*)?',
         'here', 'offline, at --shape 128 128', run_flops),
    Rule(rf'python tools/visualizations/feature_visualization\.py {re.escape(DET_QS)} .*',
         'here', 'checkpoint and toy image made here', run_feature_vis),
    Rule(r'python tools/misc/make_toy_data\.py (coco|cityscapes) \S+( .*)?', 'here',
         'into a temporary folder, 2 + 1 images of 64 x 64', run_make_toy_data),
    Rule(r'echo "_base_ = \'mmdet::\S+\.py\'" > \S+\.py', 'here',
         'writes the one-line config, which must load', run_echo_config),
    Rule(r"sed -i -E .* my_mmrazor_config\.py", 'here',
         'on an mmrazor-style config written by the test, then built', run_sed),

    # --- run by another test or CI ------------------------------------------
    Rule(r'bash tools/install\.sh', 'elsewhere',
         'CI installs into a fresh virtualenv', where='.ci/run',
         evidence='bash tools/install.sh'),
    Rule(r'python3(\.11)? -m venv \.venv && source \.venv/bin/activate', 'elsewhere',
         'CI makes a fresh virtualenv', where='.ci/run', evidence='python3 -m venv'),
    Rule(r'python -m pytest tests( .*)?', 'elsewhere', 'CI runs the test suite',
         where='.ci/run', evidence='python -m pytest tests'),
    Rule(r'python tools/test\.py configs/quickstart/retinanet_r18-w16_toy-coco\.py \S+',
         'elsewhere', 'test.py with the student config on an exported student', where=E2E,
         evidence="run_tool('test.py', student_cfg, exported)"),
    Rule(r'bash tools/dist_train\.sh configs/quickstart/\S+ 2( .*)?', 'elsewhere',
         'two CPU processes over gloo on a tiny toy config',
         where='tests/test_tools/test_dist_train.py', evidence="run_tool('dist_train.sh'"),
    Rule(r'python tools/quickstart\.py( .*)?', 'elsewhere',
         'the quickstart in its reduced mode (--quick), det and seg',
         where='tests/test_tools/test_quickstart.py', evidence="run_tool('quickstart.py'"),
    Rule(r'python tools/analysis_tools/ablation\.py( .*)?', 'elsewhere',
         'the ablation in its reduced mode (--quick, 2 variants, 1 seed), resumed, --report-only',
         where='tests/test_tools/test_ablation.py',
         evidence="run_tool('analysis_tools/ablation.py'"),
    Rule(r'python tools/analysis_tools/compare_distill\.py( .*)?', 'elsewhere',
         'the comparisons in their reduced mode (--quick, 1 seed), --report-only',
         where='tests/test_tools/test_compare_distill.py',
         evidence="run_tool('analysis_tools/compare_distill.py'"),
    Rule(r'python tools/analysis_tools/benchmark_loss\.py( .*)?', 'elsewhere',
         'the loss benchmark on tiny shapes (full sizes take minutes)',
         where='tests/test_tools/test_benchmark_loss.py', evidence='benchmark_loss.py'),
    Rule(r'python tools/analysis_tools/benchmark_train_step\.py( .*)?', 'elsewhere',
         'the train-step benchmark with tiny settings (full sizes take minutes)',
         where='tests/test_tools/test_benchmark_train_step.py',
         evidence='benchmark_train_step.py'),

    # --- cannot run on these machines -----------------------------------------
    Rule(rf'python tools/train\.py ({COCO_CFG}|{re.escape(EXAMPLE_CFG)})( --resume)?', 'cannot',
         'needs COCO and a GPU (a 2x schedule)'),
    Rule(rf'(\S+=\S+ )*bash tools/(dist_train|dist_test)\.sh ({COCO_CFG}|{CITY_CFG}|'
         rf'{re.escape(EXAMPLE_CFG)}) .*', 'cannot',
         'needs COCO/Cityscapes and several GPUs (or nodes)'),
    Rule(r'(\S+=\S+ )*bash tools/slurm_(train|test)\.sh .*', 'cannot', 'needs a Slurm cluster'),
    Rule(rf'python tools/test\.py ({COCO_CFG}|{CITY_CFG}) \S+', 'cannot',
         'needs COCO/Cityscapes and a trained checkpoint'),
    Rule(r'python tools/test\.py retinanet_r50_student\.py \S+', 'cannot',
         'needs COCO and a COCO-trained student'),
    Rule(rf'python tools/visualizations/feature_visualization\.py {re.escape(EXAMPLE_CFG)} .*',
         'cannot', 'needs a checkpoint of the example trained on COCO'),
    Rule(r'pip install torch==\S+ --index-url https://download\.pytorch\.org/whl/cu\d+.*',
         'cannot', 'a CUDA build of torch: no GPU and no such download here'),
    Rule(r'FORCE_CUDA=1 bash tools/install\.sh', 'cannot',
         'compiles the CUDA ops of mmcv: needs nvcc and a CUDA torch'),
    Rule(r'pip install cityscapesscripts', 'cannot',
         'only needed to convert Cityscapes, which is not here'),
    Rule(r'pip install -e "\.\[grounding\]"', 'cannot',
         'downloads transformers and fairscale (the optional Grounding DINO extra)'),
    Rule(r'python "\$\(python -c .*\)/\.mim/tools/dataset_converters/cityscapes\.py" '
         r'data/cityscapes .*', 'cannot', 'needs the Cityscapes dataset'),
    Rule(r'python mmdeploy/tools/deploy\.py .*', 'cannot',
         'mmdeploy is not installed; this project has not run it'),
]

def classify(command: DocCommand) -> List[Rule]:
    return [rule for rule in RULES if re.fullmatch(rule.pattern, command.text)]


COMMANDS = doc_commands()


# --------------------------------------------------------------------------- #
# Tests
# --------------------------------------------------------------------------- #
def test_docs_have_commands():
    files = {c.file for c in COMMANDS}
    assert {'README.md', 'docs/get_started.md', 'docs/user_guides/config.md',
            'docs/user_guides/train_test.md', 'docs/user_guides/export.md',
            'docs/migration.md'} <= files


def test_every_doc_command_is_classified():
    unclassified = [f'{c.id}: {c.text}' for c in COMMANDS if not classify(c)]
    assert not unclassified, ('doc commands in no class; add a rule to RULES in '
                              f'{Path(__file__).name}:\n' + '\n'.join(unclassified))


def test_each_command_has_one_class():
    ambiguous = [f'{c.id}: {c.text} -> {[r.pattern for r in classify(c)]}'
                 for c in COMMANDS if len({r.kind for r in classify(c)}) > 1]
    assert not ambiguous, '\n'.join(ambiguous)


@pytest.mark.parametrize('rule', [r for r in RULES if r.kind == 'elsewhere'],
                         ids=lambda r: r.where + ':' + r.evidence)
def test_elsewhere_rules_name_a_real_runner(rule):
    path = REPO / rule.where
    assert path.is_file(), f'{rule.where} (said to run "{rule.pattern}") does not exist'
    assert rule.evidence in path.read_text(), f'{rule.where} no longer contains {rule.evidence!r}'


def test_every_rule_is_used():
    """A rule that matches no doc command is stale: remove it."""
    unused = [r.pattern for r in RULES if not any(re.fullmatch(r.pattern, c.text)
                                                  for c in COMMANDS)]
    assert not unused, unused


@pytest.fixture(scope='module')
def ctx(tmp_path_factory) -> Context:
    return Context(tmp_path_factory.mktemp('doc_commands'))


HERE = [c for c in COMMANDS if classify(c) and classify(c)[0].kind == 'here']


@pytest.mark.parametrize('command', HERE, ids=[c.id for c in HERE])
def test_here_commands_run(command, ctx, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('MPLBACKEND', 'Agg')
    rule = classify(command)[0]
    rule.run(shlex.split(command.text), ctx, command.text)


# --------------------------------------------------------------------------- #
# Other checks on the docs
# --------------------------------------------------------------------------- #
def test_migration_table_matches_the_registries():
    from cankd import registry
    from cankd.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    text = (REPO / 'docs/migration.md').read_text()
    section = text.split('## Supported type names')[1].split('\n## ')[0]
    rows = re.findall(r'^\| (\w+) \| `(\w+)` \|', section, re.M)
    documented = {(reg, name) for reg, name in rows}
    registered = {(attr, name) for attr in ('MODELS', 'LOOPS', 'HOOKS', 'DATASETS',
                                            'TRANSFORMS', 'METRICS')
                  for name in getattr(registry, attr).module_dict}
    assert documented == registered, (
        f'missing from docs/migration.md: {sorted(registered - documented)}; '
        f'not registered: {sorted(documented - registered)}')


def test_api_md_is_generated_from_the_code():
    spec_path = REPO / 'tools/misc/gen_api_docs.py'
    module = runpy.run_path(str(spec_path))
    generated = module['generate']()
    assert (REPO / 'docs/api.md').read_text() == generated, \
        'docs/api.md is stale: run python tools/misc/gen_api_docs.py'
    from cankd import registry
    for attr in ('MODELS', 'LOOPS', 'DATASETS'):
        for name in getattr(registry, attr).module_dict:
            assert f'`{name}`' in generated, f'{attr} type {name} missing from docs/api.md'


def _teacher_ckpt(config: Path) -> Optional[str]:
    """teacher_ckpt of a config, following relative _base_ files (no build)."""
    text = config.read_text()
    found = re.search(r"^teacher_ckpt = '([^']+)'", text, re.M)
    if found:
        return found.group(1)
    base = re.search(r"^_base_ = '(\.[^']+)'", text, re.M)
    return _teacher_ckpt((config.parent / base.group(1)).resolve()) if base else None


def test_model_zoo_lists_every_config_with_its_teacher_checkpoint():
    text = (REPO / 'docs/model_zoo.md').read_text()
    rows = {}
    for line in text.splitlines():
        name = re.match(r'\| `([^`]+\.py)` \|', line)
        if name:
            rows[Path(name.group(1)).name] = line
    configs = [Path(p) for p in glob.glob(str(REPO / 'configs' / '**' / '*.py'), recursive=True)
               if '_base_' not in p]
    missing = sorted(p.name for p in configs if p.name not in rows)
    assert not missing, f'configs missing from docs/model_zoo.md: {missing}'
    for config in configs:
        ckpt = _teacher_ckpt(config)
        if ckpt:
            assert ckpt in rows[config.name], f'{config.name}: teacher_ckpt {ckpt} not in its row'
        if 'configs/quickstart' not in str(config):
            assert rows[config.name].rstrip().endswith('| no |'), config.name


def test_relative_links_resolve():
    broken = []
    for path in DOC_FILES:
        text = (REPO / path).read_text()
        for target in re.findall(r'\]\(([^)#\s]+)(?:#[^)]*)?\)', text):
            if '://' in target:
                continue
            if not (REPO / path).parent.joinpath(target).resolve().exists():
                broken.append(f'{path}: {target}')
    assert not broken, broken


@pytest.mark.slow
def test_export_python_snippets_run_with_plain_mmdet_mmseg(ctx, tmp_path):
    """The init_detector / init_model snippets of export.md on students exported
    here, in a fresh interpreter where nothing imports cankd."""
    from cankd.datasets import make_toy_cityscapes
    from cankd.utils.model_inspect import build_offline, load_config, register_all
    from cankd.utils.student_export import convert_kd_ckpt_to_student
    register_all()
    seg_cfg = 'configs/quickstart/cankd_fcn_r18w32-r18w8_toy-cityscapes.py'
    seg_kd = tmp_path / 'seg_kd.pth'
    torch.save({'state_dict': build_offline(load_config(str(REPO / seg_cfg))).model.state_dict(),
                'meta': {}}, seg_kd)
    det_student, seg_student = tmp_path / 'det_student.pth', tmp_path / 'seg_student.pth'
    convert_kd_ckpt_to_student(ctx.det_kd_ckpt(), str(det_student))
    convert_kd_ckpt_to_student(str(seg_kd), str(seg_student))
    city = make_toy_cityscapes(str(tmp_path / 'toy_city'), num_train=1, num_val=1,
                               img_size=(128, 64))
    seg_image = next(Path(city['val_img_dir']).rglob('*.png'))

    snippets = [b for b in python_blocks('docs/user_guides/export.md')
                if 'init_detector' in b or 'init_model' in b]
    assert len(snippets) == 2
    code = '\n'.join(snippets)
    for old, new in (('work_dirs/quickstart/det/student_cankd.pth', det_student),
                     ('work_dirs/quickstart/seg/student_cankd.pth', seg_student),
                     ('data/toy_coco/val/000000.png', ctx.det_image()),
                     ('data/toy_cityscapes/leftImg8bit/val/synthville/'
                      'synthville_000000_000019_leftImg8bit.png', seg_image)):
        assert old in code, old
        code = code.replace(old, str(new))
    code += "\nimport sys\nassert 'cankd' not in sys.modules, 'cankd was imported'\n"
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'torch.Size([1, 64, 128])' in proc.stdout  # the seg prediction, 1 x H x W
