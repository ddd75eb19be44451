# CanKD on the toy RetinaNets' 3 FPN levels, 64 channels on both sides (no
# connector), loss_weight 10: distiller entries for a config to take by
# {{_base_.toy_cankd_fpn_...}} (next to other terms, e.g. CrossKD's).
toy_cankd_fpn_recorders = dict(fpn=dict(type='ModuleOutputs', source='neck'))
toy_cankd_fpn_losses = {
    f'loss_cankd_fpn{i}': dict(type='CanKDLoss', in_channels=64, loss_weight=10)
    for i in range(3)
}
toy_cankd_fpn_mappings = {
    f'loss_cankd_fpn{i}': dict(
        s_feature=dict(from_student=True, recorder='fpn', data_idx=i),
        t_feature=dict(from_student=False, recorder='fpn', data_idx=i))
    for i in range(3)
}
