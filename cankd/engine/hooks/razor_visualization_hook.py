"""mmrazor's ``RazorVisualizationHook``: draw recorded feature maps to PNGs."""
import functools
import os.path as osp
import tempfile
import warnings
from typing import Dict, List, Optional, Union

import torch
from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import DefaultScope
from mmengine.runner import EpochBasedTrainLoop

from cankd.registry import HOOKS

__all__ = ['RazorVisualizationHook']

_ANNOTATION_LOADS = ('LoadAnnotations', 'LoadPanopticAnnotations')
_MAPPING_KEYS = ('recorder', 'record_idx', 'data_idx')


@HOOKS.register_module()
class RazorVisualizationHook(Hook):
    """Draw the feature maps that ``recorders`` record while the model
    predicts dataset images, one PNG per ``mappings`` entry (mmrazor's
    arguments, so its ``*_visualization.py`` configs port by the scope).

    The images are items ``data_idx`` of the val dataset (the test dataset
    in a test run), loaded with the config's test pipeline (annotations
    dropped) and run through ``model.test_step`` with the recorders on; the
    recorder sources are relative to the runner's model (a distillation
    algorithm: ``architecture.neck`` is the student's neck).

    When: before training (stage ``before_run``) and after every
    ``interval``-th training epoch (``epoch_<n>``), as mmrazor; after every
    ``interval``-th validation outside epoch-based training (``val_iter_<n>``
    in an iteration-based run, ``val`` in ``runner.val()``), and after
    testing (``test``). Files: ``<stage>_data_idx_<i>_<mapping>_<k>.png`` in
    ``<work_dir>/<timestamp>/<out_dir>``; without ``out_dir``, the images go
    to the runner's visualizer backends (``add_image``).

    Args:
        recorders: recorder configs, e.g. ``dict(neck=dict(type='ModuleOutputs',
            source='architecture.neck'))``.
        mappings: ``dict(p3=dict(recorder='neck', data_idx=0), ...)``:
            ``recorder``, optional ``record_idx`` (call) and ``data_idx``
            (item of a tuple output).
        enabled: draw at all (mmrazor's default False).
        data_idx: dataset item(s) to draw.
        interval: every how many epochs / validations.
        show: mmrazor's; drawing is headless (PNG files), so ignored with a
            warning.
        wait_time: mmrazor's, unused.
        out_dir: folder under ``<work_dir>/<timestamp>``.
        file_client_args: mmrazor's, unused (images are read by path).
        is_overlaid: draw over the input image.
        visualization_cfg: ``channel_reduction`` (``'pixel_wise_max'``,
            ``'squeeze_mean'``, ``'select_max'``, ``'mean'``, ``'l2'``, or
            None for the ``topk`` channels in an ``arrangement`` grid),
            ``resize_shape``, ``alpha``.
        use_norm: standardise each channel first (mmrazor's ``norm``).
    """

    priority = 'LOW'

    def __init__(self,
                 recorders: dict,
                 mappings: dict,
                 enabled: bool = False,
                 data_idx: Union[int, List[int]] = 0,
                 interval: int = 1,
                 show: bool = False,
                 wait_time: float = 0.1,
                 out_dir: Optional[str] = None,
                 file_client_args: dict = dict(backend='disk'),
                 is_overlaid: bool = True,
                 visualization_cfg: dict = dict(
                     channel_reduction='pixel_wise_max',
                     topk=20,
                     arrangement=(4, 5),
                     resize_shape=None,
                     alpha=0.5),
                 use_norm: bool = False) -> None:
        from cankd.models.recorders import RecorderManager
        from cankd.utils.feature_maps import REDUCTIONS
        self.enabled = enabled
        self.data_idx = [data_idx] if isinstance(data_idx, int) else list(data_idx)
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'RazorVisualizationHook: interval must be a positive int, '
                             f'got {interval!r}')
        self.interval = interval
        if show:
            warnings.warn('RazorVisualizationHook: show=True is not supported (drawing is '
                          'headless); give out_dir to write PNG files', stacklevel=2)
        self.show = False
        self.wait_time = wait_time
        self.out_dir = out_dir
        self.file_client_args = file_client_args
        self.is_overlaid = is_overlaid
        allowed = {'channel_reduction', 'topk', 'arrangement', 'resize_shape', 'alpha'}
        unknown = sorted(set(visualization_cfg) - allowed)
        if unknown:
            raise ValueError(f'RazorVisualizationHook: visualization_cfg keys {unknown} are '
                             f'not supported; valid: {sorted(allowed)}')
        reduction = visualization_cfg.get('channel_reduction', 'pixel_wise_max')
        if reduction is not None and reduction not in REDUCTIONS:
            raise ValueError(f'RazorVisualizationHook: channel_reduction {reduction!r} is not '
                             f'one of {REDUCTIONS} or None')
        self.visualization_cfg = dict(visualization_cfg)
        self.use_norm = use_norm
        self.recorder_manager = RecorderManager(recorders)
        self.mappings = self._check_mappings(mappings)
        self._out_dir: Optional[str] = None
        self._val_count = 0
        self._step = 0
        self.written: List[str] = []  # PNG files written so far

    def _check_mappings(self, mappings: dict) -> Dict[str, dict]:
        names = sorted(self.recorder_manager.recorders)
        checked = {}
        for name, mapping in mappings.items():
            if not isinstance(mapping, dict):
                raise TypeError(f'RazorVisualizationHook: mappings.{name} must be a dict with '
                                f'keys {_MAPPING_KEYS}, got {mapping!r}')
            unknown = sorted(set(mapping) - set(_MAPPING_KEYS))
            if unknown:
                raise ValueError(f'RazorVisualizationHook: mappings.{name}: unknown key(s) '
                                 f'{unknown}; valid: {_MAPPING_KEYS}')
            if mapping.get('recorder') not in self.recorder_manager.recorders:
                raise ValueError(f'RazorVisualizationHook: mappings.{name}.recorder '
                                 f'{mapping.get("recorder")!r} is not in recorders; valid: '
                                 f'{names}')
            checked[name] = dict(mapping)
        return checked

    # --- schedule -------------------------------------------------------------
    @master_only
    def before_run(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        try:
            self.recorder_manager.initialize(model)
        except (AttributeError, ValueError, KeyError) as exc:
            raise type(exc)(f'RazorVisualizationHook: recorders: {exc} (sources are '
                            f'relative to the runner\'s model, a {type(model).__name__}: '
                            'e.g. "architecture.neck" for a distillation student)') from None

    @master_only
    def before_train(self, runner) -> None:
        if self.enabled and runner.epoch % self.interval == 0:
            self._visualize(runner, 'before_run', 'val')

    @master_only
    def after_train_epoch(self, runner) -> None:
        if self.enabled and runner.epoch % self.interval == 0:
            self._visualize(runner, f'epoch_{runner.epoch}', 'val')

    @master_only
    def after_val_epoch(self, runner, metrics=None) -> None:
        train_loop = getattr(runner, '_train_loop', None)
        if not self.enabled or isinstance(train_loop, EpochBasedTrainLoop):
            return  # epoch-based training draws after each training epoch
        self._val_count += 1
        if (self._val_count - 1) % self.interval:
            return
        training = train_loop is not None and not isinstance(train_loop, dict)
        self._visualize(runner, f'val_iter_{runner.iter}' if training else 'val', 'val')

    @master_only
    def after_test_epoch(self, runner, metrics=None) -> None:
        if self.enabled:
            self._visualize(runner, 'test', 'test')

    # --- drawing --------------------------------------------------------------
    def _dataset_and_pipeline(self, runner, split: str):
        from mmengine.dataset import Compose

        from cankd.utils.model_inspect import get_test_pipeline
        loop = runner.test_loop if split == 'test' else runner.val_loop
        dataset = loop.dataloader.dataset
        pipeline = [t for t in (get_test_pipeline(runner.cfg) or [])
                    if str(t.get('type', '')).split('.')[-1] not in _ANNOTATION_LOADS]
        if not pipeline:
            raise ValueError('RazorVisualizationHook: the config has no test pipeline '
                             '(test_dataloader.dataset.pipeline) to load the images with')
        scope = runner.cfg.get('default_scope')
        with DefaultScope.overwrite_default_scope(scope):
            return dataset, Compose(pipeline)

    def _visualize(self, runner, stage: str, split: str) -> None:
        import mmcv

        from cankd.utils.feature_maps import draw_featmap, norm_featmap
        if self.out_dir is not None and self._out_dir is None:
            self._out_dir = osp.join(runner.work_dir, runner.timestamp, self.out_dir)
        dataset, pipeline = self._dataset_and_pipeline(runner, split)
        model = runner.model
        was_training = model.training
        for idx in self.data_idx:
            if not 0 <= idx < len(dataset):
                raise IndexError(f'RazorVisualizationHook: data_idx {idx} is outside the '
                                 f'{split} dataset ({len(dataset)} items)')
            img_path = dataset.get_data_info(idx)['img_path']
            with DefaultScope.overwrite_default_scope(runner.cfg.get('default_scope')):
                packed = pipeline(dict(img_path=img_path, img_id=0))
            data = dict(inputs=[packed['inputs']], data_samples=[packed['data_samples']])
            try:
                with torch.no_grad(), self.recorder_manager:
                    outputs = model.test_step(data)
            finally:
                model.train(was_training)
            meta = outputs[0].metainfo if outputs else {}
            valid_hw = tuple(meta.get('img_shape', ()))[:2] or None
            padded_hw = tuple(meta.get('batch_input_shape') or meta.get('pad_shape')
                              or ())[:2] or None
            image = mmcv.imread(img_path, channel_order='rgb') if self.is_overlaid else None
            for name, mapping in self.mappings.items():
                recorder = self.recorder_manager.get_recorder(mapping['recorder'])
                try:
                    feats = recorder.get_record_data(mapping.get('record_idx', 0),
                                                     mapping.get('data_idx'))
                except (IndexError, TypeError, RuntimeError) as exc:
                    raise ValueError(f'RazorVisualizationHook: mappings.{name}: {exc}') from None
                if isinstance(feats, torch.Tensor):
                    feats = (feats, )
                for k, feat in enumerate(feats):
                    if self.use_norm:
                        feat = norm_featmap(feat)
                    tag = f'{stage}_data_idx_{idx}_{name}_{k}'
                    draw = functools.partial(
                        draw_featmap, feat, title=f'{name}: {mapping["recorder"]} '
                        f'({osp.basename(img_path)})', image_rgb=image, valid_hw=valid_hw,
                        padded_hw=padded_hw, **self.visualization_cfg)
                    if self._out_dir is None:
                        with tempfile.TemporaryDirectory() as tmp:
                            draw(osp.join(tmp, f'{tag}.png'))
                            runner.visualizer.add_image(
                                tag, mmcv.imread(osp.join(tmp, f'{tag}.png'),
                                                 channel_order='rgb'), step=self._step)
                    else:
                        out = osp.join(self._out_dir, f'{tag}.png')
                        draw(out)
                        self.written.append(out)
                    self._step += 1
            for recorder in self.recorder_manager.recorders.values():
                recorder.reset_data_buffer()
