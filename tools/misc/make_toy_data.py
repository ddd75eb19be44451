"""Generate the toy datasets used by the quickstart configs and CPU tests.

Examples::

    python tools/misc/make_toy_data.py coco data/toy_coco
    python tools/misc/make_toy_data.py cityscapes data/toy_cityscapes --num-train 50

A complete dataset made with the same arguments is reused, not rewritten.
"""
import argparse
import json
import os.path as osp
import time

from cankd.datasets import make_toy_cityscapes, make_toy_coco

DEFAULTS = dict(coco=dict(num_train=400, num_val=100, img_size=(160, 160)),
                cityscapes=dict(num_train=300, num_val=60, img_size=(256, 128)))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Generate a toy COCO or Cityscapes dataset.')
    parser.add_argument('kind', choices=sorted(DEFAULTS), help='dataset layout')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, help='train images (default: per kind)')
    parser.add_argument('--num-val', type=int, help='val images (default: per kind)')
    parser.add_argument('--img-size', type=int, nargs=2, metavar=('W', 'H'),
                        help='image width and height (default: per kind)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    kwargs = dict(DEFAULTS[args.kind])
    for key in ('num_train', 'num_val', 'img_size'):
        if getattr(args, key) is not None:
            kwargs[key] = getattr(args, key)
    kwargs['img_size'] = tuple(kwargs['img_size'])
    make = make_toy_coco if args.kind == 'coco' else make_toy_cityscapes
    manifest = osp.join(osp.abspath(args.out_dir), f'toy_{args.kind}_manifest.json')
    before = osp.getmtime(manifest) if osp.exists(manifest) else None

    start = time.perf_counter()
    try:
        paths = make(args.out_dir, seed=args.seed, progress=True, **kwargs)
    except ValueError as err:
        raise SystemExit(f'error: {err}')
    seconds = time.perf_counter() - start

    with open(paths['manifest']) as f:
        info = json.load(f)
    reused = before is not None and osp.getmtime(paths['manifest']) == before
    w, h = kwargs['img_size']
    extra = ''
    if 'num_instances' in info:
        extra = ' ({train}/{val} boxes)'.format(**info['num_instances'])
    print(f'toy {args.kind}: {kwargs["num_train"]} train / {kwargs["num_val"]} val images'
          f'{extra}, {w}x{h}, seed {args.seed}, {len(info["classes"])} classes -> '
          f'{paths["data_root"]} ({"reused" if reused else f"generated in {seconds:.1f} s"})')


if __name__ == '__main__':
    main()
