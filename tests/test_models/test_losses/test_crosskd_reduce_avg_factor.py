"""``reduce_avg_factor`` of CrossKD's losses: the average factor averaged over
the processes before dividing, as the official CrossKD GFL / ATSS / FCOS code
does with mmdet's ``reduce_mean`` (jbwang1997/CrossKD,
mmdet/models/detectors/crosskd_{gfl,atss,fcos}.py; RetinaNet's does not).

(a) one process: the option changes nothing, bit for bit; (b) two CPU
processes over gloo with different factors per rank: each rank's loss is its
own sum over the mean of the two factors (with the option) or over its own
factor (without); (c) the shipped configs carry the flag where the official
code reduces."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from cankd.models.losses import CenternessKDLoss, CrossKDBoxLoss, KDQualityFocalLoss

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
EPS = torch.finfo(torch.float32).eps  # mmdet's weight_reduce_loss adds it to avg_factor


def _inputs(seed: int):
    """Two FPN levels of 2 images, 3 classes: cross/teacher logits, boxes,
    centerness logits, label weights and labels (3 = background)."""
    g = torch.Generator().manual_seed(seed)
    sizes = [(4, 4), (2, 2)]
    cls_S = [torch.randn(2, 3, h, w, generator=g).requires_grad_() for h, w in sizes]
    cls_T = [torch.randn(2, 3, h, w, generator=g) for h, w in sizes]
    boxes_T, boxes_S = [], []
    for h, w in sizes:
        xy = torch.rand(2, h * w, 2, generator=g) * 20
        wh = torch.rand(2, h * w, 2, generator=g) * 10 + 1
        boxes_T.append(torch.cat([xy, xy + wh], dim=-1))
        boxes_S.append(boxes_T[-1] + torch.randn(2, h * w, 4, generator=g))
    ctr_S = [torch.randn(2, 1, h, w, generator=g) for h, w in sizes]
    ctr_T = [torch.randn(2, 1, h, w, generator=g) for h, w in sizes]
    label_weights = [(torch.rand(2, h * w, generator=g) > 0.2).float() for h, w in sizes]
    labels = [torch.randint(0, 4, (2, h * w), generator=g) for h, w in sizes]
    return dict(cls_S=cls_S, cls_T=cls_T, boxes_S=boxes_S, boxes_T=boxes_T, ctr_S=ctr_S,
                ctr_T=ctr_T, label_weights=label_weights, labels=labels)


def _losses(x, avg_factor, reduce: bool) -> dict:
    """The three losses with ``reduce_avg_factor=reduce`` on the inputs ``x``."""
    return dict(
        cls=KDQualityFocalLoss(reduce_avg_factor=reduce)(
            x['cls_S'], x['cls_T'], x['label_weights'], avg_factor=avg_factor),
        box_giou=CrossKDBoxLoss(mode='giou', reduce_avg_factor=reduce)(
            x['boxes_S'], x['boxes_T'], x['cls_T'], x['label_weights'], avg_factor=avg_factor),
        box_iou=CrossKDBoxLoss(mode='iou', reduce_avg_factor=reduce)(
            x['boxes_S'], x['boxes_T'], x['cls_T'], avg_factor=avg_factor),
        center=CenternessKDLoss(num_classes=3, reduce_avg_factor=reduce)(
            x['ctr_S'], x['ctr_T'], x['labels'], avg_factor=avg_factor))


# (a) ----------------------------------------------------------------------
@pytest.mark.parametrize('avg_factor', [7, 5.3, torch.tensor(11), torch.tensor([2.7]),
                                        torch.tensor([0.25, 0.5, 0.8]), torch.zeros(3)])
def test_one_process_changes_nothing(avg_factor):
    assert not (dist.is_available() and dist.is_initialized())
    x = _inputs(0)
    plain, reduced = _losses(x, avg_factor, False), _losses(x, avg_factor, True)
    for name in plain:
        assert torch.equal(plain[name], reduced[name]), name
        assert plain[name].item() > 0, name


def test_weight_sum_is_never_reduced():
    # The official GFL code divides its box KD by this process's sum of the
    # teacher-score weights (kd_avg_factor = sum(...), no reduce_mean).
    with pytest.raises(ValueError, match='reduce_avg_factor=True needs normalize="avg_factor"'):
        CrossKDBoxLoss(normalize='weight_sum', reduce_avg_factor=True)
    assert CrossKDBoxLoss(normalize='weight_sum').reduce_avg_factor is False
    assert KDQualityFocalLoss().reduce_avg_factor is False
    assert CenternessKDLoss(num_classes=3).reduce_avg_factor is False


# (b) ----------------------------------------------------------------------
# Per rank: an int (number of positives), a 1-element tensor, and FCOS's
# positive centerness targets (summed: rank 0 0.75, rank 1 2.25).
FACTORS = {
    'int': (3, 8),
    'tensor': (torch.tensor(4.0), torch.tensor(10.0)),
    'centerness_targets': (torch.tensor([0.25, 0.5]), torch.tensor([1.0, 0.75, 0.5])),
}
OWN = {'int': (3.0, 8.0), 'tensor': (4.0, 10.0), 'centerness_targets': (0.75, 2.25)}
MEAN = {'int': 5.5, 'tensor': 7.0, 'centerness_targets': 1.5}  # (rank 0 + rank 1) / 2

WORKER = r'''
import json, sys
import torch
import torch.distributed as dist
sys.path.insert(0, sys.argv[4])
from mmdet.utils import reduce_mean as mmdet_reduce_mean
from cankd.models.losses.crosskd import avg_factor_value
from test_crosskd_reduce_avg_factor import FACTORS, _inputs, _losses

rank, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                        world_size=2)
x = _inputs(rank)  # different predictions on each rank
result = {}
for kind, per_rank in FACTORS.items():
    af = per_rank[rank]
    reduced = _losses(x, af, True)
    reduced['cls'].backward()  # the reduced factor is detached: gradients still flow
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in x['cls_S'])
    result[kind] = dict(
        reduced={k: v.item() for k, v in reduced.items()},
        own={k: v.item() for k, v in _losses(x, af, False).items()},
        # this rank's sums (avg_factor 1; KDQualityFocalLoss's None would average)
        sums={k: v.item() for k, v in _losses(x, 1.0, False).items()},
        factor=float(avg_factor_value(af, reduce=True)),
        mmdet=float(mmdet_reduce_mean(torch.tensor(float(avg_factor_value(af))))))
dist.barrier()
dist.destroy_process_group()
with open(out, 'w') as f:
    json.dump(result, f)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def two_ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('reduce_avg_factor')
    script = tmp / 'worker.py'
    script.write_text(WORKER)
    port = str(_free_port())
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in os.environ.get('PYTHONPATH', '').split(os.pathsep) if p]))
    procs = [subprocess.Popen([sys.executable, str(script), str(rank), port,
                               str(tmp / f'rank{rank}.json'), osp.dirname(__file__)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
             for rank in range(2)]
    outputs = []
    try:
        for proc in procs:
            outputs.append(proc.communicate(timeout=60)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for rank, (proc, output) in enumerate(zip(procs, outputs)):
        assert proc.returncode == 0, f'rank {rank} failed:\n{output}'
    return [json.loads((tmp / f'rank{rank}.json').read_text()) for rank in range(2)]


@pytest.mark.parametrize('kind', sorted(FACTORS))
def test_two_processes_divide_by_the_mean_factor(two_ranks, kind):
    mean = MEAN[kind]
    for rank in range(2):
        r = two_ranks[rank][kind]
        own = OWN[kind][rank]
        assert r['factor'] == mean  # the same on both ranks, by hand
        assert r['mmdet'] == mean  # mmdet.utils.reduce_mean agrees
        for name in ('cls', 'box_giou', 'box_iou', 'center'):
            total = r['sums'][name] * (1 + EPS)  # this rank's own sum
            assert total > 0, (kind, rank, name)
            assert r['reduced'][name] == pytest.approx(total / (mean + EPS), rel=1e-6), \
                (kind, rank, name)
            assert r['own'][name] == pytest.approx(total / (own + EPS), rel=1e-6), \
                (kind, rank, name)
            assert r['reduced'][name] != pytest.approx(r['own'][name], rel=1e-3)


# (c) ----------------------------------------------------------------------
CROSSKD = 'configs/crosskd/'
REDUCED = {  # config -> the losses whose factor the official code reduces
    'crosskd_gfl_r101-r50_fpn_1x_coco.py': {'loss_cls_kd'},
    'crosskd-pkd_gfl_r101-r50_fpn_1x_coco.py': {'loss_cls_kd'},
    'cankd-crosskd_gfl_r101-r50_fpn_1x_coco.py': {'loss_cls_kd'},
    'crosskd_atss_r101-r50_fpn_1x_coco.py': {'loss_cls_kd', 'loss_reg_kd', 'loss_center_kd'},
    'crosskd_fcos_r101-r50_caffe_fpn_gn-head_ms-640-800-2x_coco.py': {'loss_cls_kd',
                                                                      'loss_reg_kd'},
    'crosskd_retinanet_r101-r50_fpn_2x_coco.py': set(),
    'cankd-crosskd_retinanet_r101-r50_fpn_2x_coco.py': set(),
}


@pytest.mark.parametrize('name', sorted(REDUCED))
def test_shipped_configs_carry_the_flag(name):
    cfg = Config.fromfile(osp.join(ROOT, CROSSKD, name))
    losses = cfg.model.distiller.distill_losses
    flagged = {k for k, v in losses.items() if v.get('reduce_avg_factor', False)}
    assert flagged == REDUCED[name]
    for k in flagged:  # only where there is an avg_factor to reduce
        assert 'avg_factor' in cfg.model.distiller.loss_forward_mappings[k]


def test_ld_config_has_nothing_to_reduce():
    # mmdet's LDHead adds loss_ld per level with avg_factor=4.0 only (no
    # reduce_mean'd normaliser), hence normalize='none' and no flag.
    cfg = Config.fromfile(osp.join(ROOT, 'configs/ld/ld_gfl_r101-r50_fpn_1x_coco.py'))
    loss = cfg.model.distiller.distill_losses.loss_ld
    assert loss.normalize == 'none' and 'reduce_avg_factor' not in loss
