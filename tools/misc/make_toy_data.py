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

MAKERS = dict(coco=make_toy_coco, cityscapes=make_toy_cityscapes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description='Generate a toy COCO or Cityscapes dataset.')
    parser.add_argument('kind', choices=sorted(MAKERS), help='dataset layout')
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('--num-train', type=int, help='train images (default: per kind)')
    parser.add_argument('--num-val', type=int, help='val images (default: per kind)')
    parser.add_argument('--img-size', type=int, nargs=2, metavar=('W', 'H'),
                        help='image width and height (default: per kind)')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default: 0)')
    return parser


def main(argv=None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Only what was given: the generators' own defaults apply otherwise.
    kwargs = {key: getattr(args, key) for key in ('num_train', 'num_val', 'img_size')
              if getattr(args, key) is not None}
    if 'img_size' in kwargs:
        kwargs['img_size'] = tuple(kwargs['img_size'])
    manifest = osp.join(osp.abspath(args.out_dir), f'toy_{args.kind}_manifest.json')
    before = osp.getmtime(manifest) if osp.exists(manifest) else None

    start = time.perf_counter()
    try:
        paths = MAKERS[args.kind](args.out_dir, seed=args.seed, progress=True, **kwargs)
    except ValueError as err:  # bad sizes / counts: report like any bad argument
        parser.error(str(err))
    seconds = time.perf_counter() - start

    with open(paths['manifest']) as f:
        info = json.load(f)
    reused = before is not None and osp.getmtime(paths['manifest']) == before
    params = info['params']
    boxes = ''
    if 'num_instances' in info:
        boxes = ' ({train}/{val} boxes)'.format(**info['num_instances'])
    print(f'toy {args.kind}: {params["num_train"]} train / {params["num_val"]} val images'
          f'{boxes}, {params["img_size"][0]}x{params["img_size"][1]}, seed {params["seed"]}, '
          f'{len(info["classes"])} classes -> {paths["data_root"]} '
          f'({"reused" if reused else f"generated in {seconds:.1f} s"})')

if __name__ == '__main__':
    main()
