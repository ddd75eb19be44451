"""A tiny BERT written to disk, for Grounding DINO configs without downloads.

mmdet's ``BertModel`` language model loads its tokenizer and weights with
``from_pretrained(name)``; ``name='bert-base-uncased'`` downloads them from
the Hugging Face hub. :func:`write_tiny_bert` writes a 1-layer, 32-wide BERT
and a WordPiece tokenizer over a few words to a folder, and
:func:`use_tiny_bert` points a distillation model config's student and
teacher at it. Needs ``transformers`` (the ``grounding`` extra).
"""
import importlib.util
import os.path as osp
from typing import Iterable

SPECIAL_TOKENS = ('[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', '.', '?')


def write_tiny_bert(path: str, words: Iterable[str] = ('person', 'bicycle', 'car'),
                    seed: int = 0) -> str:
    """Write a tiny BERT (config, safetensors weights, fast tokenizer) to
    ``path``; returns ``path``, usable as ``language_model.name``."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast
    vocab = list(SPECIAL_TOKENS) + [w for w in words if w not in SPECIAL_TOKENS]
    vocab_file = osp.join(path, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True).save_pretrained(path)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=260)  # mmdet's max_tokens is 256
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def use_tiny_bert(model_cfg: dict, path: str) -> None:
    """Point the student and teacher of a distillation model config (inline
    or ``cfg_path``) at the tiny BERT in ``path``; without fairscale, also
    turn off the encoder's activation checkpointing (``num_cp``), which mmdet
    implements with fairscale (same numbers, more memory)."""
    no_fairscale = importlib.util.find_spec('fairscale') is None
    for part in ('architecture', 'teacher'):
        sub = model_cfg[part]
        # (a ConfigDict's setdefault hands back a copy: assign instead)
        sub['language_model'] = dict(sub.get('language_model') or {}, name=path)
        if no_fairscale:
            sub['encoder'] = dict(sub.get('encoder') or {}, num_cp=0)
