#!/usr/bin/env python3
"""Reference fixture for acdc's EAT audio encoder (src/model/encoder.rs).

Run from the repository root:

    /work/venv-ref/bin/python tools/eat_reference.py

Writes tests/fixtures/eat/ (see tests/fixtures/eat/PROVENANCE.md for what each
file is). CPU, float32, deterministic (torch.manual_seed(0) plus fixed numpy
seeds for the inputs).

Provenance of the model code below
----------------------------------
This is a standalone PyTorch port of the fairseq-free Hugging Face port of EAT
(the `trust_remote_code` files shipped with the `worstchan/EAT-*` Hugging Face
repos, e.g. `worstchan/EAT-base_epoch30_finetune_AS2M`):

* `model_core.py`   -> PatchEmbed_new, get_2d_sincos_pos_embed_flexible,
  get_2d_sincos_pos_embed_from_grid, get_1d_sincos_pos_embed_from_grid,
  FixedPositionalEncoder, AltBlock, AltAttention. Read from the vendored copy
  github.com/Jezidmar/drone-detector @ d6be3463a5283defb0bb9c734389511d0ac8440d,
  file `model/model_core.py` (other vendored copies in the public code index are
  identical up to whitespace).
* `eat_model.py`    -> class EAT (encode / forward / extract_features). Read
  verbatim from a vendored copy in the public code index (the index did not
  name its repository). Cross-checked against Jezidmar/drone-detector @ d6be346
  `model/model.py`, which is the same code except that it hard-codes
  `self.mode = "finetune"` instead of `config.model_variant`.
* `modeling_eat.py` -> class EATModel(PreTrainedModel) with `self.model = EAT(config)`
  and `extract_features(x) = self.model.extract_features(x)`; this wrapper is why
  every key of the published `model.safetensors` starts with `model.`.
* `configuration_eat.py` -> EATConfig(PretrainedConfig), model_type "eat".

The fairseq original it was derived from is github.com/cwx-worst-one/EAT @
06c1c34e2afd8dc35297e6d3815d31dbeec9d372 (`models/EAT_pretraining.py`,
`models/images.py`, `models/base.py`, `models/modules.py`, `models/mae.py`,
`feature_extract/feature_extract.py`). fairseq, timm and transformers are NOT
installed here, so this file re-creates the HF port faithfully instead of
importing it.

What was changed relative to the HF port (nothing that affects the forward pass
or the state_dict key names):

* `timm.layers.to_2tuple`, `timm.models.vision_transformer.Mlp` / `DropPath` and
  `timm.models.layers.trunc_normal_` are replaced by local equivalents with the
  same attribute names (Mlp: fc1, act, drop1, norm=Identity, fc2, drop2), and
  torch.nn.init.trunc_normal_.
* `PretrainedConfig` / `PreTrainedModel` are replaced by a plain config class
  and `nn.Module`; `EATModel` keeps the single child `model`, so
  `EATModel.state_dict()` keys equal the published checkpoint's keys.
* The unused `cosine_attention`, alibi and padding-mask branches of AltAttention
  are kept as in the source (they are inactive for EAT).
"""

import json
import os
import sys
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join("tests", "fixtures", "eat")

# --------------------------------------------------------------------------- #
# configuration_eat.py                                                         #
# --------------------------------------------------------------------------- #


class EATConfig:
    model_type = "eat"

    def __init__(
        self,
        embed_dim=768,
        depth=12,
        num_heads=12,
        patch_size=16,
        stride=16,
        in_chans=1,
        mel_bins=128,
        max_length=768,
        num_classes=527,
        model_variant="pretrain",  # or "finetune"
        mlp_ratio=4.0,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        activation_dropout=0.0,
        post_mlp_drop=0.0,
        start_drop_path_rate=0.0,
        end_drop_path_rate=0.0,
        layer_norm_first=False,
        norm_eps=1e-6,
        norm_affine=True,
        fixed_positions=True,
        img_size=(1024, 128),  # (target_length, mel_bins)
        **kwargs,
    ):
        self.embed_dim = embed_dim
        self.depth = depth
        self.num_heads = num_heads
        self.patch_size = patch_size
        self.stride = stride
        self.in_chans = in_chans
        self.mel_bins = mel_bins
        self.max_length = max_length
        self.num_classes = num_classes
        self.model_variant = model_variant
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.drop_rate = drop_rate
        self.attn_drop_rate = attn_drop_rate
        self.activation_dropout = activation_dropout
        self.post_mlp_drop = post_mlp_drop
        self.start_drop_path_rate = start_drop_path_rate
        self.end_drop_path_rate = end_drop_path_rate
        self.layer_norm_first = layer_norm_first
        self.norm_eps = norm_eps
        self.norm_affine = norm_affine
        self.fixed_positions = fixed_positions
        self.img_size = img_size

    def to_hf_json(self):
        """config.json in the key set of the published EAT-base config.json."""
        return {
            "activation_dropout": self.activation_dropout,
            "architectures": ["EATModel"],
            "auto_map": {
                "AutoModel": "modeling_eat.EATModel",
                "AutoConfig": "configuration_eat.EATConfig",
            },
            "attn_drop_rate": self.attn_drop_rate,
            "depth": self.depth,
            "drop_rate": self.drop_rate,
            "embed_dim": self.embed_dim,
            "end_drop_path_rate": self.end_drop_path_rate,
            "fixed_positions": self.fixed_positions,
            "img_size": list(self.img_size),
            "in_chans": self.in_chans,
            "layer_norm_first": self.layer_norm_first,
            "max_length": self.max_length,
            "mel_bins": self.mel_bins,
            "mlp_ratio": self.mlp_ratio,
            "model_type": self.model_type,
            "model_variant": self.model_variant,
            "norm_affine": self.norm_affine,
            "norm_eps": self.norm_eps,
            "num_classes": self.num_classes,
            "num_heads": self.num_heads,
            "patch_size": self.patch_size,
            "post_mlp_drop": self.post_mlp_drop,
            "qkv_bias": self.qkv_bias,
            "start_drop_path_rate": self.start_drop_path_rate,
            "stride": self.stride,
            "torch_dtype": "float32",
            "transformers_version": "4.51.3",
        }


# --------------------------------------------------------------------------- #
# timm stand-ins (same attribute names as timm, so the same state_dict keys)   #
# --------------------------------------------------------------------------- #


def to_2tuple(x):
    if isinstance(x, (tuple, list)):
        return tuple(x)
    return (x, x)


class DropPath(nn.Module):
    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        return x.div(keep) * x.new_empty(shape).bernoulli_(keep)


class Mlp(nn.Module):
    """timm.layers.Mlp with its defaults (bias=True, norm_layer=None)."""

    def __init__(self, in_features, hidden_features=None, out_features=None,
                 act_layer=nn.GELU, drop=0.0):
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = act_layer()  # nn.GELU(): exact erf form
        self.drop1 = nn.Dropout(drop)
        self.norm = nn.Identity()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x):
        x = self.fc1(x)
        x = self.act(x)
        x = self.drop1(x)
        x = self.norm(x)
        x = self.fc2(x)
        x = self.drop2(x)
        return x


# --------------------------------------------------------------------------- #
# model_core.py                                                                #
# --------------------------------------------------------------------------- #


class PatchEmbed_new(nn.Module):
    """Flexible Image to Patch Embedding"""

    def __init__(self, img_size=224, patch_size=16, in_chans=3, embed_dim=768, stride=16):
        super().__init__()
        img_size = to_2tuple(img_size)
        patch_size = to_2tuple(patch_size)
        stride = to_2tuple(stride)
        self.img_size = img_size
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=stride)

    def forward(self, x):
        x = self.proj(x)  # [B, D, T/16, F/16]
        x = x.flatten(2).transpose(1, 2)  # [B, T'*F', D], n = t*F' + f
        return x


def get_2d_sincos_pos_embed_flexible(embed_dim, grid_size, cls_token=False):
    grid_h = np.arange(grid_size[0], dtype=np.float32)
    grid_w = np.arange(grid_size[1], dtype=np.float32)
    grid = np.meshgrid(grid_w, grid_h)  # here w goes first
    grid = np.stack(grid, axis=0)
    grid = grid.reshape([2, 1, grid_size[0], grid_size[1]])
    pos_embed = get_2d_sincos_pos_embed_from_grid(embed_dim, grid)
    if cls_token:
        pos_embed = np.concatenate([np.zeros([1, embed_dim]), pos_embed], axis=0)
    return pos_embed


def get_2d_sincos_pos_embed_from_grid(embed_dim, grid):
    assert embed_dim % 2 == 0
    # NB: grid[0] holds the *w* (frequency) coordinate because of meshgrid(grid_w, grid_h)
    emb_h = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[0])  # (H*W, D/2)
    emb_w = get_1d_sincos_pos_embed_from_grid(embed_dim // 2, grid[1])  # (H*W, D/2)
    emb = np.concatenate([emb_h, emb_w], axis=1)  # (H*W, D)
    return emb


def get_1d_sincos_pos_embed_from_grid(embed_dim, pos):
    assert embed_dim % 2 == 0
    omega = np.arange(embed_dim // 2, dtype=np.float32)
    omega /= embed_dim / 2.0
    omega = 1.0 / 10000 ** omega  # (D/2,)
    pos = pos.reshape(-1)  # (M,)
    out = np.einsum("m,d->md", pos, omega)  # (M, D/2), outer product
    emb_sin = np.sin(out)
    emb_cos = np.cos(out)
    emb = np.concatenate([emb_sin, emb_cos], axis=1)  # (M, D)
    return emb


class FixedPositionalEncoder(nn.Module):
    def __init__(self, pos_embed):
        super().__init__()
        self.positions = pos_embed  # nn.Parameter(requires_grad=False) -> in state_dict

    def forward(self, x, padding_mask):
        return self.positions


class AltBlock(nn.Module):
    def __init__(
        self,
        dim,
        num_heads,
        mlp_ratio=4.0,
        qkv_bias=False,
        qk_scale=None,
        drop=0.0,
        attn_drop=0.0,
        mlp_drop=0.0,
        post_mlp_drop=0.0,
        drop_path=0.0,
        act_layer=nn.GELU,
        norm_layer=nn.LayerNorm,
        layer_norm_first=True,
        ffn_targets=False,
        cosine_attention=False,
    ):
        super().__init__()
        self.layer_norm_first = layer_norm_first
        self.ffn_targets = ffn_targets
        self.norm1 = norm_layer(dim)
        self.attn = AltAttention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qk_scale=qk_scale,
            attn_drop=attn_drop,
            proj_drop=drop,
            cosine_attention=cosine_attention,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        mlp_hidden_dim = int(dim * mlp_ratio)
        self.mlp = Mlp(
            in_features=dim,
            hidden_features=mlp_hidden_dim,
            act_layer=act_layer,
            drop=mlp_drop,
        )
        self.post_mlp_dropout = nn.Dropout(post_mlp_drop, inplace=False)

    def forward(self, x, padding_mask=None, alibi_bias=None):
        if self.layer_norm_first:
            x = x + self.drop_path(self.attn(self.norm1(x), padding_mask, alibi_bias))
            r = x = self.mlp(self.norm2(x))
            t = x
            x = r + self.drop_path(self.post_mlp_dropout(x))
            if not self.ffn_targets:
                t = x
        else:  # EAT: layer_norm_first = False (post-LN)
            x = x + self.drop_path(self.attn(x, padding_mask, alibi_bias))
            r = x = self.norm1(x)
            x = self.mlp(x)
            t = x
            x = self.norm2(r + self.drop_path(self.post_mlp_dropout(x)))
            if not self.ffn_targets:
                t = x
        return x, t


class AltAttention(nn.Module):
    def __init__(
        self,
        dim,
        num_heads=8,
        qkv_bias=False,
        qk_scale=None,
        attn_drop=0.0,
        proj_drop=0.0,
        cosine_attention=False,
    ):
        super().__init__()
        self.num_heads = num_heads
        head_dim = dim // num_heads
        self.scale = qk_scale or head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.cosine_attention = cosine_attention
        if cosine_attention:
            self.logit_scale = nn.Parameter(
                torch.log(10 * torch.ones((num_heads, 1, 1))), requires_grad=True
            )

    def forward(self, x, padding_mask=None, alibi_bias=None):
        B, N, C = x.shape
        qkv = (
            self.qkv(x)
            .reshape(B, N, 3, self.num_heads, C // self.num_heads)
            .permute(2, 0, 3, 1, 4)  # qkv x B x H x L x D
        )
        q, k, v = qkv[0], qkv[1], qkv[2]
        dtype = q.dtype
        if self.cosine_attention:
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            logit_scale = torch.clamp(
                self.logit_scale, max=torch.log(torch.tensor(1.0 / 0.01))
            ).exp()
            attn = attn * logit_scale
        else:
            q = q * self.scale
            attn = q @ k.transpose(-2, -1)
        if alibi_bias is not None:
            attn = attn.type_as(alibi_bias)
            attn[:, : alibi_bias.size(1)] += alibi_bias
        if padding_mask is not None and padding_mask.any():
            attn = attn.masked_fill(
                padding_mask.unsqueeze(1).unsqueeze(2).to(torch.bool), float("-inf")
            )
        attn = attn.softmax(dim=-1, dtype=torch.float32).to(dtype=dtype)
        attn = self.attn_drop(attn)
        x = (attn @ v).transpose(1, 2)
        x = x.reshape(B, N, C)
        x = self.proj(x)
        x = self.proj_drop(x)
        return x


# --------------------------------------------------------------------------- #
# eat_model.py                                                                 #
# --------------------------------------------------------------------------- #


class EAT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.mode = config.model_variant  # "pretrain" or "finetune"

        self.local_encoder = PatchEmbed_new(
            img_size=config.img_size,
            patch_size=config.patch_size,
            in_chans=config.in_chans,
            embed_dim=config.embed_dim,
            stride=config.stride,
        )
        self.extra_tokens = nn.Parameter(torch.zeros(1, 1, config.embed_dim))
        self.pos_drop = nn.Dropout(p=config.drop_rate, inplace=True)
        nn.init.trunc_normal_(self.extra_tokens, std=0.02)

        self.fixed_positional_encoder = (
            FixedPositionalEncoder(self.build_sincos_pos_embed()) if config.fixed_positions else None
        )

        norm_layer = partial(nn.LayerNorm, eps=config.norm_eps, elementwise_affine=config.norm_affine)
        dpr = np.linspace(config.start_drop_path_rate, config.end_drop_path_rate, config.depth)
        self.blocks = nn.ModuleList([
            AltBlock(config.embed_dim, config.num_heads, config.mlp_ratio,
                     qkv_bias=config.qkv_bias, drop=config.drop_rate,
                     attn_drop=config.attn_drop_rate, mlp_drop=config.activation_dropout,
                     post_mlp_drop=config.post_mlp_drop, drop_path=dpr[i],
                     norm_layer=norm_layer, layer_norm_first=config.layer_norm_first,
                     ffn_targets=True)
            for i in range(config.depth)
        ])

        self.pre_norm = norm_layer(config.embed_dim)

        if self.mode == "finetune":
            self.fc_norm = nn.LayerNorm(config.embed_dim)  # NB: default eps 1e-5
            self.head = nn.Linear(config.embed_dim, config.num_classes, bias=True)
        else:
            self.head = nn.Identity()

        self.apply(self._init_weights)

    def build_sincos_pos_embed(self):
        W = self.config.mel_bins // self.config.patch_size
        max_length = self.config.max_length
        embed_dim = self.config.embed_dim
        pos_embed = nn.Parameter(torch.zeros(1, max_length * W, embed_dim), requires_grad=False)
        emb = get_2d_sincos_pos_embed_flexible(embed_dim, (max_length, W), cls_token=False)
        if pos_embed.device.type != "meta":  # (meta-device key dump only; no data there)
            pos_embed.data.copy_(torch.from_numpy(emb).float().unsqueeze(0))
        return pos_embed

    def _init_weights(self, m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)

    def encode(self, x):
        B = x.shape[0]
        x = self.local_encoder(x)
        if self.fixed_positional_encoder is not None:
            x = x + self.fixed_positional_encoder(x, None)[:, :x.size(1), :]
        x = torch.cat((self.extra_tokens.expand(B, -1, -1), x), dim=1)
        x = self.pre_norm(x)
        x = self.pos_drop(x)
        for blk in self.blocks:
            x, _ = blk(x)
        return x

    def forward(self, x):
        x = self.encode(x)
        if self.mode == "finetune":
            x = x[:, 0]  # use cls token
            x = self.fc_norm(x)
            x = self.head(x)
        return x

    def extract_features(self, x):
        x = self.encode(x)
        return x


# --------------------------------------------------------------------------- #
# modeling_eat.py                                                              #
# --------------------------------------------------------------------------- #


class EATModel(nn.Module):  # PreTrainedModel in the HF port
    config_class = EATConfig

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.model = EAT(config)

    def forward(self, *args, **kwargs):
        return self.model(*args, **kwargs)

    def extract_features(self, x):
        return self.model.extract_features(x)


# --------------------------------------------------------------------------- #
# Fixture generation                                                           #
# --------------------------------------------------------------------------- #

SMALL = dict(
    embed_dim=32,
    depth=2,
    num_heads=2,
    mlp_ratio=4.0,
    patch_size=16,
    stride=16,
    mel_bins=128,
    norm_eps=1e-6,
    # max_length only sizes the stored sin-cos table (max_length * 8 rows); 16
    # time patches (256 frames) keeps model.safetensors small.
    max_length=16,
    img_size=[1024, 128],
    model_variant="pretrain",
)
BASE = dict(embed_dim=768, depth=12, num_heads=12, model_variant="pretrain")
FRAMES = [64, 48]


def randomise(model):
    """Re-initialise every trainable tensor with non-trivial values.

    The fixed sin-cos table (`model.fixed_positional_encoder.positions`,
    requires_grad=False) is left as computed: it is a deterministic function of
    the config in both the HF port and acdc.
    """
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            if name.endswith("extra_tokens"):
                p.normal_(0.0, 0.5)
            elif name.endswith("norm1.weight") or name.endswith("norm2.weight") or name.endswith("pre_norm.weight"):
                p.uniform_(0.5, 1.5)
            elif name.endswith(".bias"):
                p.uniform_(-0.5, 0.5)
            elif name.endswith(".weight"):
                # std 0.2 (not 0.02) so attention is far from uniform and a
                # wrong q/k/v split or head layout changes the output visibly.
                p.normal_(0.0, 0.2)
            else:
                raise RuntimeError(f"unhandled parameter {name}")


def make_input(i, frames, mel):
    """Normalised-fbank-like input: what HF's extract_features receives after
    feature_extract.py's (mel - (-4.268)) / (4.569 * 2)."""
    rng = np.random.default_rng(1000 + i)
    raw = -4.268 + 4.569 * rng.standard_normal((frames, mel))  # log-mel-ish
    # a little smooth structure along time and frequency
    t = np.arange(frames)[:, None]
    f = np.arange(mel)[None, :]
    raw += 2.0 * np.sin(0.21 * t + 0.05 * f + i)
    return ((raw - (-4.268)) / (4.569 * 2)).astype(np.float32)


def acdc_style_forward(sd, cfg, x):
    """Independent re-implementation of the forward as src/model/encoder.rs
    describes it (positions computed in f64 per token, time-major, first D/2 =
    frequency index), used only as a self-check of the reference output."""
    D, P, H = cfg.embed_dim, cfg.patch_size, cfg.num_heads
    pre = "model."
    feats = torch.from_numpy(x)[None, None]
    y = F.conv2d(feats, sd[pre + "local_encoder.proj.weight"], sd[pre + "local_encoder.proj.bias"], stride=P)
    _, _, tp, fp = y.shape
    y = y.reshape(1, D, tp * fp).transpose(1, 2)

    def sincos_1d(dim, pos):
        half = dim // 2
        om = [1.0 / 10000.0 ** (i / half) for i in range(half)]
        return [np.sin(pos * w) for w in om] + [np.cos(pos * w) for w in om]

    pos = np.array([sincos_1d(D // 2, f) + sincos_1d(D // 2, t) for t in range(tp) for f in range(fp)])
    y = y + torch.from_numpy(pos).float()[None]
    y = torch.cat([sd[pre + "extra_tokens"], y], 1)
    ln = lambda z, n: F.layer_norm(z, (D,), sd[n + ".weight"], sd[n + ".bias"], cfg.norm_eps)
    y = ln(y, pre + "pre_norm")
    for b in range(cfg.depth):
        bp = f"{pre}blocks.{b}."
        n = y.shape[1]
        qkv = F.linear(y, sd[bp + "attn.qkv.weight"], sd[bp + "attn.qkv.bias"])
        qkv = qkv.reshape(1, n, 3, H, D // H).permute(2, 0, 3, 1, 4)
        a = torch.softmax(qkv[0] @ qkv[1].transpose(2, 3) * (D // H) ** -0.5, -1) @ qkv[2]
        a = F.linear(a.transpose(1, 2).reshape(1, n, D), sd[bp + "attn.proj.weight"], sd[bp + "attn.proj.bias"])
        y = ln(y + a, bp + "norm1")
        m = F.linear(F.gelu(F.linear(y, sd[bp + "mlp.fc1.weight"], sd[bp + "mlp.fc1.bias"])),
                     sd[bp + "mlp.fc2.weight"], sd[bp + "mlp.fc2.bias"])
        y = ln(y + m, bp + "norm2")
    return y[0]


def main():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = EATConfig(**SMALL)
    model = EATModel(cfg)
    randomise(model)
    model.eval()

    os.makedirs(OUT, exist_ok=True)

    sd = {k: v.detach().contiguous().to(torch.float32) for k, v in model.state_dict().items()}
    save_file(sd, os.path.join(OUT, "model.safetensors"), metadata={"format": "pt"})
    os.chmod(os.path.join(OUT, "model.safetensors"), 0o644)
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(cfg.to_hf_json(), f, indent=2, sort_keys=True)
        f.write("\n")

    worst = 0.0
    for i, frames in enumerate(FRAMES):
        x = make_input(i, frames, cfg.mel_bins)
        with torch.no_grad():
            # exactly feature_extract.py's HF path: [1, 1, T, F] -> extract_features
            # -> [1, 1 + T/16*8, D] -> squeeze(0) (granularity "all", CLS first)
            out = model.extract_features(torch.from_numpy(x)[None, None]).squeeze(0)
            check = acdc_style_forward(sd, cfg, x)
        out = out.numpy().astype(np.float32)
        assert out.shape == (1 + (frames // 16) * (cfg.mel_bins // 16), cfg.embed_dim), out.shape
        diff = float(np.abs(out - check.numpy()).max())
        worst = max(worst, diff)
        np.save(os.path.join(OUT, f"input_{i}.npy"), x)
        np.save(os.path.join(OUT, f"output_{i}.npy"), out)
        print(f"input_{i}: {x.shape} -> output_{i}: {out.shape}; "
              f"|ref - acdc-style re-impl| max = {diff:.2e}; out std = {out.std():.3f}")
    assert worst < 1e-4, f"self-check failed: {worst}"

    # Structure of the published EAT-base checkpoint (keys + shapes only).
    for variant, fname in (("pretrain", "eat_base_keys.json"), ("finetune", "eat_base_finetune_keys.json")):
        with torch.device("meta"):
            base = EATModel(EATConfig(**dict(BASE, model_variant=variant)))
        keys = {k: list(v.shape) for k, v in base.state_dict().items()}
        with open(os.path.join(OUT, fname), "w") as f:  # one "key": [shape] per line
            f.write("{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(s)}" for k, s in keys.items()) + "\n}\n")
        print(f"{fname}: {len(keys)} tensors, "
              f"{sum(int(np.prod(s)) for s in keys.values()):,} values")

    print("small model state_dict:")
    for k, v in sd.items():
        print(f"  {k} {list(v.shape)}")


if __name__ == "__main__":
    sys.exit(main())
