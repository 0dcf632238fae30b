//! The EAT audio encoder architecture: a 16×16 Conv2d patch embedding over `[frames, 128 mel]`
//! (tokens time-major: n = t·8 + f), fixed 2-D sin-cos positions on the patch tokens (first D/2
//! dims the frequency index, last D/2 the time index), a learned CLS token in front, one LayerNorm
//! over all tokens, then post-LN transformer blocks (`x = norm1(x + attn(x)); x = norm2(x + mlp(x))`,
//! exact-erf GELU). Output: the last layer's tokens, CLS first. EAT-base is
//! `EatConfig::new(768, 12, 12)`; `builtin:tiny-eat` is the same code at a tiny width.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Device, Distribution, Tensor, TensorData};

#[derive(Config, Debug, PartialEq)]
pub struct EatConfig {
    pub embed_dim: usize,
    pub depth: usize,
    pub num_heads: usize,
    #[config(default = 4.0)]
    pub mlp_ratio: f64,
    #[config(default = 16)]
    pub patch: usize,
    #[config(default = 128)]
    pub mel_bins: usize,
    #[config(default = 1e-6)]
    pub layer_norm_eps: f64,
}

impl EatConfig {
    pub fn init(&self, device: &Device) -> Eat {
        let d = self.embed_dim;
        let hidden = (d as f64 * self.mlp_ratio) as usize;
        let ln = |dev: &Device| {
            LayerNormConfig::new(d)
                .with_epsilon(self.layer_norm_eps)
                .init(dev)
        };
        Eat {
            patch_embed: Conv2dConfig::new([1, d], [self.patch, self.patch])
                .with_stride([self.patch, self.patch])
                .init(device),
            cls_token: Param::from_tensor(Tensor::random(
                [1, 1, d],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            pre_norm: ln(device),
            blocks: (0..self.depth)
                .map(|_| EatBlock {
                    qkv: LinearConfig::new(d, 3 * d).init(device),
                    proj: LinearConfig::new(d, d).init(device),
                    norm1: ln(device),
                    fc1: LinearConfig::new(d, hidden).init(device),
                    fc2: LinearConfig::new(hidden, d).init(device),
                    norm2: ln(device),
                    num_heads: self.num_heads,
                })
                .collect(),
            embed_dim: d,
            patch: self.patch,
            mel_bins: self.mel_bins,
        }
    }
}

#[derive(Module, Debug)]
pub struct EatBlock {
    pub qkv: Linear,
    pub proj: Linear,
    pub norm1: LayerNorm,
    pub fc1: Linear,
    pub fc2: Linear,
    pub norm2: LayerNorm,
    pub num_heads: usize,
}

impl EatBlock {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, d] = x.dims();
        let h = self.num_heads;
        let hd = d / h;
        let qkv = self
            .qkv
            .forward(x.clone())
            .reshape([b, n, 3, h, hd])
            .permute([2, 0, 3, 1, 4]);
        let q: Tensor<4> = qkv.clone().narrow(0, 0, 1).squeeze_dim(0);
        let k: Tensor<4> = qkv.clone().narrow(0, 1, 1).squeeze_dim(0);
        let v: Tensor<4> = qkv.narrow(0, 2, 1).squeeze_dim(0);
        let attn = softmax(
            q.matmul(k.swap_dims(2, 3))
                .mul_scalar((hd as f64).powf(-0.5)),
            3,
        );
        let a = self
            .proj
            .forward(attn.matmul(v).swap_dims(1, 2).reshape([b, n, d]));
        let x = self.norm1.forward(x + a);
        let m = self.fc2.forward(gelu(self.fc1.forward(x.clone())));
        self.norm2.forward(x + m)
    }
}

#[derive(Module, Debug)]
pub struct Eat {
    pub patch_embed: Conv2d,
    pub cls_token: Param<Tensor<3>>,
    pub pre_norm: LayerNorm,
    pub blocks: Vec<EatBlock>,
    pub embed_dim: usize,
    pub patch: usize,
    pub mel_bins: usize,
}

/// 1-D sin-cos embedding of `pos` into `dim` values (MAE's `get_1d_sincos_pos_embed_from_grid`).
fn sincos_1d(dim: usize, pos: f64, out: &mut Vec<f32>) {
    let half = dim / 2;
    let omega: Vec<f64> = (0..half)
        .map(|i| 1.0 / 10000f64.powf(i as f64 / half as f64))
        .collect();
    out.extend(omega.iter().map(|w| (pos * w).sin() as f32));
    out.extend(omega.iter().map(|w| (pos * w).cos() as f32));
}

/// Fixed 2-D positions `[t_patches · f_patches, dim]`, time-major; first dim/2 = frequency index.
pub fn sincos_2d(dim: usize, t_patches: usize, f_patches: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(t_patches * f_patches * dim);
    for t in 0..t_patches {
        for f in 0..f_patches {
            sincos_1d(dim / 2, f as f64, &mut out);
            sincos_1d(dim / 2, t as f64, &mut out);
        }
    }
    out
}

impl Eat {
    /// Tokens produced for `frames` input frames (CLS included).
    pub fn num_tokens(&self, frames: usize) -> usize {
        (frames / self.patch) * (self.mel_bins / self.patch) + 1
    }

    /// Normalised fbank `[B, frames, mel]` → tokens `[B, 1 + (frames/16)·(mel/16), D]`, CLS first.
    pub fn forward(&self, feats: Tensor<3>) -> Tensor<3> {
        let [b, frames, mel] = feats.dims();
        let device = feats.device();
        let feats = super::to_dtype(feats, self.patch_embed.weight.val().dtype());
        let x = self.patch_embed.forward(feats.unsqueeze_dim(1)); // [B, D, T', F']
        let [_, d, tp, fp] = x.dims();
        let x = x.reshape([b, d, tp * fp]).swap_dims(1, 2); // [B, N, D], n = t·F' + f
        debug_assert_eq!(tp, frames / self.patch);
        debug_assert_eq!(fp, mel / self.patch);
        let pos =
            Tensor::<2>::from_data(TensorData::new(sincos_2d(d, tp, fp), [tp * fp, d]), &device);
        let x = x.clone() + super::to_dtype(pos, x.dtype()).unsqueeze();
        let cls = self.cls_token.val().expand([b, 1, d]);
        let mut x = self.pre_norm.forward(Tensor::cat(vec![cls, x], 1));
        for blk in &self.blocks {
            x = blk.forward(x);
        }
        x
    }
}
