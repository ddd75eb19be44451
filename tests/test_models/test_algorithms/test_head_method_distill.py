"""Head distillation through a MethodOutputs recorder on a real (tiny) mmdet
RetinaHead, end to end through SingleTeacherDistill.loss."""
import torch

from cankd.models.algorithms import SingleTeacherDistill
from cankd.testing import demo_det_batch, tiny_retinanet

FORWARD_SINGLE = 'mmdet.models.dense_heads.retina_head.RetinaHead.forward_single'


def test_cls_scores_recorded_by_method_recorders_feed_the_distill_loss():
    torch.manual_seed(0)
    recorder = dict(type='MethodOutputs', source=FORWARD_SINGLE)
    model = SingleTeacherDistill(
        architecture=tiny_retinanet(base_channels=8, neck_channels=16),
        teacher=tiny_retinanet(base_channels=8, neck_channels=16),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(head=recorder), teacher_recorders=dict(head=recorder),
            distill_losses=dict(loss_cls_p4=dict(type='L2Loss')),
            loss_forward_mappings=dict(loss_cls_p4=dict(
                # record_idx: FPN level (forward_single runs once per level);
                # data_idx 0: cls_score, N x A*K x H x W
                s_feature=dict(from_student=True, recorder='head', record_idx=1, data_idx=0),
                t_feature=dict(from_student=False, recorder='head', record_idx=1,
                               data_idx=0)))))
    batch = model.data_preprocessor(demo_det_batch(seed=0), training=True)
    model.train()
    losses = model(**batch, mode='loss')
    with torch.no_grad():
        t_cls = model.teacher(batch['inputs'], mode='tensor')[0][1]
        s_cls = model.student(batch['inputs'], mode='tensor')[0][1]
    expected = model.distiller.distill_losses['loss_cls_p4'](s_cls, t_cls)
    torch.testing.assert_close(losses['distill.loss_cls_p4'], expected)
    assert losses['distill.loss_cls_p4'] > 0
    # the head's method is the original again
    from mmdet.models.dense_heads.retina_head import RetinaHead
    assert not hasattr(RetinaHead.forward_single, '__wrapped__')
