#!/usr/bin/env python3
"""Fixtures for loading EAT's original fairseq checkpoints (src/model/eat_fairseq.rs).

Run from the repository root, after tools/eat_reference.py (whose small random model it reuses):

    /work/venv-ref/bin/python tools/eat_fairseq_fixture.py

Writes into tests/fixtures/eat/:

* `fairseq_pretrain.pt`  - the small model of `model.safetensors` as a fairseq *pretraining*
  checkpoint of EAT (`Data2VecMultiModel`): the student's tensors under their fairseq names, the
  EMA teacher under `model._ema` (perturbed, so loading it by mistake fails the test), the
  pretraining CNN decoder, the training `cfg` (a plain nested dict, as fairseq's
  `trainer.state_dict()` stores it: `OmegaConf.to_container(cfg, resolve=True,
  enum_to_str=True)`), `optimizer_history`, `extra_state` (with a numpy scalar, as fairseq's
  meters leave there) and `last_optimizer_state` (Adam moments under integer keys, for four parameters to keep the
  file small).
* `fairseq_finetune.pt`  - the same encoder as a fairseq *fine-tuned* checkpoint
  (`MaeImageClassificationModel`): `model.`-prefixed encoder, `fc_norm`, `head`, no teacher or
  decoder (`remove_pretraining_modules`), and `cfg.model.pretrained_model_args` holding the
  pretraining config.
* `fairseq_bad_{prenet,shape,nocfg}.pt` - bad input: a config acdc refuses (prenet blocks), a
  config 64 wide over the 32-wide tensors, and a torch file without a fairseq `cfg`.
* `eat_base_fairseq_keys.json` / `eat_base_fairseq_finetune_keys.json` - every tensor name and
  shape of the real EAT-base fairseq checkpoints (`EAT-base_epoch30_pretrain.pt`,
  `EAT-base_epoch30_finetune_AS2M.pt`), written down from the model code (those files are not
  reachable from here); the EMA teacher's `_ema.*` copies are listed too.

fairseq itself cannot be installed here (it pins hydra-core/omegaconf versions that do not
import on this Python), so the state-dict layout is written from the EAT model code rather than
produced by instantiating it. Source: github.com/cwx-worst-one/EAT @
06c1c34e2afd8dc35297e6d3815d31dbeec9d372:

* models/EAT_pretraining.py `Data2VecMultiModel`: `modality_encoders` (an `nn.ModuleDict` keyed
  by modality name, `IMAGE`), `blocks` (`AltBlock` x depth), `norm` only when
  `layer_norm_first`; `state_dict()` adds `_ema` = the EMA teacher's fp32 params (a full model
  copy without the decoder when `ema_encoder_only = false`, as in config/pretraining_AS2M.yaml);
  `recon_proj` only when `recon_loss > 0`, `cls_proj`/`center` only when `utterance_level`
  (both off for EAT).
* models/base.py `ModalitySpecificEncoder`: `local_encoder`, `fixed_positional_encoder`
  (`positions`, a requires_grad=False Parameter), `context_encoder` (`BlockEncoder`: prenet
  `blocks` (prenet_depth = 0 for EAT) and `norm`), `decoder`, `extra_tokens`
  (num_extra_tokens = 1), `alibi_scale` only with `use_alibi_encoder`.
* models/images.py `ImageEncoder`: `PatchEmbed_new` (`proj`: Conv2d 1 -> D, 16x16, stride 16),
  `Decoder2d` (models/modules.py: `blocks.i.0` grouped Conv2d, LayerNorm without affine, `proj`).
* models/modules.py `AltBlock`: `norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`.
* models/EAT_audio_classification.py `MaeImageClassificationModel`: `self.model` (the
  data2vec model after `remove_pretraining_modules`), `fc_norm` (use_fc_norm), `head`.
* fairseq's trainer (fairseq/trainer.py `state_dict`) and checkpoint_utils: the top-level keys
  `args`, `cfg`, `model`, `criterion`, `optimizer_history`, `task_state`, `extra_state`,
  `last_optimizer_state`, saved with `torch.save`.
"""
import json
import pathlib

import numpy as np
import torch
from safetensors.torch import load_file

OUT = pathlib.Path("tests/fixtures/eat")


def student_from_hf(hf):
    """HF-port keys (`model.` prefix) -> fairseq `Data2VecMultiModel` keys."""
    out = {}
    for k, v in hf.items():
        k = k[len("model."):]
        if k.startswith("blocks."):
            out[k] = v
        elif k == "pre_norm.weight" or k == "pre_norm.bias":
            out["modality_encoders.IMAGE.context_encoder.norm." + k.split(".")[-1]] = v
        else:
            out["modality_encoders.IMAGE." + k] = v
    return out


def decoder(dim, dec_dim, groups, kernel, layers, gen):
    out = {}
    for i in range(layers):
        cin = dim if i == 0 else dec_dim
        out[f"modality_encoders.IMAGE.decoder.blocks.{i}.0.weight"] = torch.randn(
            dec_dim, cin // groups, kernel, kernel, generator=gen)
        out[f"modality_encoders.IMAGE.decoder.blocks.{i}.0.bias"] = torch.randn(dec_dim, generator=gen)
    out["modality_encoders.IMAGE.decoder.proj.weight"] = torch.randn(dim, dec_dim, generator=gen)
    out["modality_encoders.IMAGE.decoder.proj.bias"] = torch.randn(dim, generator=gen)
    return out


def model_cfg(dim, depth, heads, dec):
    """`cfg.model` of an EAT pretraining run (Data2VecMultiConfig fields, config/pretraining_AS2M.yaml
    values, the small sizes)."""
    return {
        "_name": "data2vec_multi",
        "loss_beta": 0.0, "loss_scale": None, "depth": depth, "start_drop_path_rate": 0.0,
        "end_drop_path_rate": 0.0, "num_heads": heads, "norm_eps": 1e-06, "norm_affine": True,
        "encoder_dropout": 0.0, "post_mlp_drop": 0.0, "attention_dropout": 0.0,
        "activation_dropout": 0.0, "dropout_input": 0.0, "layerdrop": 0.0, "embed_dim": dim,
        "mlp_ratio": 4.0, "layer_norm_first": False, "average_top_k_layers": depth,
        "end_of_block_targets": False, "clone_batch": 16, "layer_norm_target_layer": False,
        "batch_norm_target_layer": False, "instance_norm_target_layer": True,
        "instance_norm_targets": False, "layer_norm_targets": True, "ema_decay": 0.9998,
        "ema_same_dtype": True, "log_norms": True, "ema_end_decay": 0.99999,
        "ema_anneal_end_step": 400000, "ema_encoder_only": False, "max_update": 400000,
        "modalities": {
            "_name": None,
            "image": {
                "type": "IMAGE", "prenet_depth": 0, "prenet_layerdrop": 0.0, "prenet_dropout": 0.0,
                "start_drop_path_rate": 0.0, "end_drop_path_rate": 0.0, "num_extra_tokens": 1,
                "init_extra_token_zero": False, "mask_noise_std": 0.01, "mask_prob_min": None,
                "mask_prob": 0.8, "inverse_mask": True, "mask_prob_adjust": 0.07,
                "keep_masked_pct": 0.0, "mask_length": 5, "add_masks": False, "remove_masks": False,
                "mask_dropout": 0.0, "encoder_zero_mask": True, "mask_channel_prob": 0.0,
                "mask_channel_length": 64, "ema_local_encoder": True, "local_grad_mult": 1.0,
                "use_alibi_encoder": False, "alibi_scale": 1.0, "learned_alibi": False,
                "alibi_max_pos": None, "learned_alibi_scale": False,
                "learned_alibi_scale_per_head": False, "learned_alibi_scale_per_layer": False,
                "num_alibi_heads": heads, "model_depth": depth,
                "decoder": {
                    "decoder_dim": dec["dim"], "decoder_groups": dec["groups"],
                    "decoder_kernel": dec["kernel"], "decoder_layers": dec["layers"],
                    "input_dropout": 0.0, "add_positions_masked": False, "add_positions_all": False,
                    "decoder_residual": True, "projection_layers": 1, "projection_ratio": 2.0,
                },
                "input_size": 224, "in_chans": 1, "patch_size": 16, "embed_dim": dim,
                "alibi_dims": 2, "alibi_distance": "manhattan", "fixed_positions": True,
                "transformer_decoder": False, "enc_dec_transformer": False, "target_length": 1024,
                "max_length": 16,
            },
        },
        "shared_decoder": None, "min_target_var": 0.0, "min_pred_var": 0.0,
        "supported_modality": "IMAGE", "mae_init": False, "seed": 1, "skip_ema": False,
        "cls_loss": 1.0, "recon_loss": 0.0, "d2v_loss": 1.0, "decoder_group": False,
        "utterance_level": False, "init_center_token_zero": False, "center_exp": 0.9,
        "softmax_temperature_student": 0.1, "softmax_temperature_teacher": 0.05,
    }


def full_cfg(model):
    return {
        "_name": None,
        "common": {"_name": None, "no_progress_bar": False, "log_interval": 200, "log_format": "json",
                   "seed": 1, "fp16": True, "bf16": False, "user_dir": "EAT", "tensorboard_logdir": None},
        "distributed_training": {"_name": None, "distributed_world_size": 4, "ddp_backend": "legacy_ddp"},
        "dataset": {"_name": None, "num_workers": 6, "batch_size": 12, "max_tokens": None,
                    "valid_subset": "valid", "disable_validation": True},
        "optimization": {"_name": None, "max_update": 400000, "lr": [0.0005], "clip_norm": 4.0,
                         "update_freq": [1], "stop_min_lr": -1.0},
        "checkpoint": {"_name": None, "save_dir": "/checkpoints/EAT", "save_interval_updates": 10000,
                       "keep_interval_updates": 1, "no_save_optimizer_state": False},
        "model": model,
        "task": {"_name": "mae_image_pretraining", "data": "/data/AS2M", "multi_data": None,
                 "input_size": 224, "local_cache_path": None, "key": "imgs", "beit_transforms": False,
                 "target_transform": False, "no_transform": False, "rebuild_batches": True,
                 "precompute_mask_config": None, "subsample": 1.0, "seed": 1, "dataset_type": "imagefolder",
                 "audio_mae": True, "h5_format": False, "downsr_16hz": True, "target_length": 1024,
                 "flexible_mask": False, "esc50_eval": False, "spcv2_eval": False, "AS2M_finetune": False,
                 "spcv1_eval": False, "roll_aug": False, "noise": False, "weights_file": "", "num_samples": 200000,
                 "is_finetuning": False, "label_descriptors": "label_descriptors.csv", "labels": "lbl"},
        "criterion": {"_name": "model", "loss_weights": {}, "log_keys": ["ema_decay", "target_var", "pred_var"],
                      "can_sum": True},
        "optimizer": {"_name": "composite", "dynamic_groups": True,
                      "groups": {"default": {"lr_float": 0.0005,
                                             "optimizer": {"_name": "adam", "adam_betas": [0.9, 0.95],
                                                           "adam_eps": 1e-06, "weight_decay": 0.05}}}},
        "lr_scheduler": {"_name": "pass_through"},
        "ema": {"_name": None, "store_ema": False, "ema_decay": 0.9999},
    }


def adam_state(tensors, gen):
    """Adam moments as torch.optim keeps them (integer keys); the first four parameters only, to
    keep the fixture small (the reader must parse this section, not use it)."""
    tensors = tensors[:4]
    state = {}
    for i, t in enumerate(tensors):
        state[i] = {"step": torch.tensor(400000.0), "exp_avg": torch.randn(t.shape, generator=gen) * 1e-3,
                    "exp_avg_sq": torch.rand(t.shape, generator=gen) * 1e-6}
    return {"state": state, "param_groups": [{"lr": 5e-4, "betas": (0.9, 0.95), "eps": 1e-6,
                                              "weight_decay": 0.05, "params": list(range(len(tensors)))}]}


def fairseq_checkpoint(cfg, model, trainable, gen):
    return {
        "args": None,
        "cfg": cfg,
        "model": model,
        "criterion": None,
        "optimizer_history": [{"criterion_name": "ModelCriterion", "optimizer_name": "FairseqAdam",
                               "lr_scheduler_state": {"best": None}, "num_updates": 400000}],
        "task_state": {},
        "extra_state": {"metrics": {"train": [("loss", 0, "AverageMeter",
                                               {"val": np.float64(0.123), "sum": 12.3, "count": 100,
                                                "round": 3})]},
                        "previous_training_time": 123456.7,
                        "train_iterator": {"version": 2, "epoch": 30, "iterations_in_epoch": 0,
                                           "shuffle": True}},
        "last_optimizer_state": adam_state(trainable, gen),
    }


def key_list(dim, depth, max_length, dec, ema):
    """Every tensor of a fairseq EAT pretraining state dict (names and shapes)."""
    enc = {
        "modality_encoders.IMAGE.extra_tokens": [1, 1, dim],
        "modality_encoders.IMAGE.local_encoder.proj.weight": [dim, 1, 16, 16],
        "modality_encoders.IMAGE.local_encoder.proj.bias": [dim],
        "modality_encoders.IMAGE.fixed_positional_encoder.positions": [1, max_length * 8, dim],
        "modality_encoders.IMAGE.context_encoder.norm.weight": [dim],
        "modality_encoders.IMAGE.context_encoder.norm.bias": [dim],
    }
    blocks = {}
    for i in range(depth):
        for name, shape in [("norm1.weight", [dim]), ("norm1.bias", [dim]),
                            ("attn.qkv.weight", [3 * dim, dim]), ("attn.qkv.bias", [3 * dim]),
                            ("attn.proj.weight", [dim, dim]), ("attn.proj.bias", [dim]),
                            ("norm2.weight", [dim]), ("norm2.bias", [dim]),
                            ("mlp.fc1.weight", [4 * dim, dim]), ("mlp.fc1.bias", [4 * dim]),
                            ("mlp.fc2.weight", [dim, 4 * dim]), ("mlp.fc2.bias", [dim])]:
            blocks[f"blocks.{i}.{name}"] = shape
    d = {}
    for i in range(dec["layers"]):
        cin = dim if i == 0 else dec["dim"]
        d[f"modality_encoders.IMAGE.decoder.blocks.{i}.0.weight"] = [dec["dim"], cin // dec["groups"],
                                                                    dec["kernel"], dec["kernel"]]
        d[f"modality_encoders.IMAGE.decoder.blocks.{i}.0.bias"] = [dec["dim"]]
    d["modality_encoders.IMAGE.decoder.proj.weight"] = [dim, dec["dim"]]
    d["modality_encoders.IMAGE.decoder.proj.bias"] = [dim]
    out = {**enc, **d, **blocks}
    if ema:
        out.update({"_ema." + k: v for k, v in {**enc, **blocks}.items()})
    return out


def main():
    gen = torch.Generator().manual_seed(2506)
    hf = load_file(str(OUT / "model.safetensors"))
    dim, depth, heads = 32, 2, 2
    dec = {"dim": 16, "groups": 4, "kernel": 3, "layers": 2}

    student = student_from_hf(hf)
    teacher = {k: v + 0.5 * torch.randn(v.shape, generator=gen) for k, v in student.items()}
    dec_t = decoder(dim, dec["dim"], dec["groups"], dec["kernel"], dec["layers"], gen)
    model = {**student, **dec_t, "_ema": teacher}
    pre_cfg = full_cfg(model_cfg(dim, depth, heads, dec))
    trainable = [v for k, v in {**student, **dec_t}.items() if not k.endswith("positions")]
    torch.save(fairseq_checkpoint(pre_cfg, model, trainable, gen), OUT / "fairseq_pretrain.pt")

    ft_model = {"model." + k: v for k, v in student.items()}
    ft_model["fc_norm.weight"] = torch.ones(dim)
    ft_model["fc_norm.bias"] = torch.zeros(dim)
    ft_model["head.weight"] = torch.randn(527, dim, generator=gen) * 0.02
    ft_model["head.bias"] = torch.zeros(527)
    ft_cfg = full_cfg({
        "_name": "mae_image_classification", "model_path": "/checkpoints/EAT/checkpoint_last.pt",
        "no_pretrained_weights": False, "linear_classifier": False, "num_classes": 527, "mixup": 0.8,
        "cutmix": 0.0, "label_smoothing": 0.1, "drop_path_rate": 0.1, "layer_decay": 0.75,
        "pretrained_model_args": pre_cfg, "data": "/data/AS2M", "norm_eps": None,
        "remove_alibi": False, "use_fc_norm": True, "prediction_mode": "CLS_TOKEN",
        "audio_mae": True, "target_length": 1024, "specaug": True, "mask_ratio": 0.0,
    })
    ft_trainable = [v for k, v in ft_model.items() if not k.endswith("positions")]
    torch.save(fairseq_checkpoint(ft_cfg, ft_model, ft_trainable, gen), OUT / "fairseq_finetune.pt")

    base_dec = {"dim": 768, "groups": 16, "kernel": 3, "layers": 6}
    pre_keys = key_list(768, 12, 768, base_dec, ema=True)
    ft_keys = {"model." + k: v for k, v in key_list(768, 12, 768, base_dec, ema=False).items()
               if ".decoder." not in k}
    ft_keys.update({"fc_norm.weight": [768], "fc_norm.bias": [768], "head.weight": [527, 768],
                    "head.bias": [527]})
    for name, keys in [("eat_base_fairseq_keys.json", pre_keys),
                       ("eat_base_fairseq_finetune_keys.json", ft_keys)]:
        (OUT / name).write_text(json.dumps(keys, indent=1) + "\n")
    # Bad input: a config acdc refuses (prenet blocks), weights of the wrong shape for the config
    # (embed_dim 64 in cfg, 32-wide tensors), and a torch file that is not a fairseq checkpoint.
    bad_cfg = full_cfg(model_cfg(dim, depth, heads, dec))
    bad_cfg["model"]["modalities"]["image"]["prenet_depth"] = 2
    torch.save({"cfg": bad_cfg, "model": {}}, OUT / "fairseq_bad_prenet.pt")
    wide = full_cfg(model_cfg(64, depth, heads, dec))
    wide["model"]["modalities"]["image"]["embed_dim"] = 64
    torch.save({"cfg": wide, "model": student}, OUT / "fairseq_bad_shape.pt")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, OUT / "fairseq_bad_nocfg.pt")
    for f in ["fairseq_pretrain.pt", "fairseq_finetune.pt", "fairseq_bad_prenet.pt",
              "fairseq_bad_shape.pt", "fairseq_bad_nocfg.pt"]:
        print(f, (OUT / f).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
