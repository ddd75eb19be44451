"""Export the student of a distillation checkpoint as a plain mmdet/mmseg one.

    python tools/model_converters/convert_kd_ckpt_to_student.py \
        work_dirs/cankd_retina/iter_2000.pth --out-path retina_r50_student.pth

Works on cankd and mmrazor checkpoints (student weights under ``architecture.``).
The output loads in plain mmdet/mmseg (``load_from``/``tools/test.py``) with
no missing or unexpected keys. The input is never overwritten, nor an existing
output without ``--force``.
"""
import argparse
import os.path as osp

from cankd.utils.student_export import convert_kd_ckpt_to_student


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='distillation checkpoint (.pth)')
    parser.add_argument('--out-path', required=True, help='where to write the student')
    parser.add_argument('--force', action='store_true',
                        help='overwrite an existing --out-path (never the input)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint not found: {args.checkpoint}')
    try:
        student = convert_kd_ckpt_to_student(args.checkpoint, args.out_path, force=args.force)
    except (OSError, ValueError) as exc:
        raise SystemExit(f'error: {exc}') from None
    n_params = sum(v.numel() for v in student['state_dict'].values())
    print(f'wrote {args.out_path}: {len(student["state_dict"])} tensors, '
          f'{n_params / 1e6:.2f}M values')


if __name__ == '__main__':
    main()
