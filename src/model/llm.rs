//! A Llama-family decoder (Llama 3, Qwen2, Mistral share it): RMSNorm, rotate-half rotary positions
//! (the Hugging Face checkpoint layout), grouped-query attention, SwiGLU MLP. It runs on input
//! embeddings so audio embeddings can replace token embeddings at any positions, takes an additive
//! attention bias for padded batches, and keeps a KV cache for decoding.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::lora::LoraLinear;

/// Version of the decoder's arithmetic: bump it with any change that makes the same weights give
/// other logits (rotary scaling, attention, norms). Caches of generated text (dialogue targets)
/// record it, so replies from an older model code are regenerated rather than reused.
pub const LLM_CODE_VERSION: u32 = 1;

/// Architecture of a Llama-family decoder (mirrors the fields of an HF `config.json`).
#[derive(Config, Debug, PartialEq)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    #[config(default = 500000.0)]
    pub rope_theta: f64,
    #[config(default = 1e-5)]
    pub rms_norm_eps: f64,
    /// q/k/v projections carry biases (Qwen2).
    #[config(default = false)]
    pub attention_bias: bool,
    /// The output projection shares the token embedding matrix.
    #[config(default = false)]
    pub tie_embeddings: bool,
    /// Rotary frequency scaling: `none` or `llama3` (Llama 3.1/3.2's long-context scaling).
    #[config(default = "RopeScaling::None")]
    pub rope_scaling: RopeScaling,
    /// Width of one attention head (`hidden_size / num_heads` unless a checkpoint says otherwise).
    #[config(default = "None")]
    pub head_dim: Option<usize>,
    /// The context length the checkpoint was trained for (`max_position_embeddings`); unbounded when absent.
    #[config(default = "None")]
    pub max_positions: Option<usize>,
}

/// Rotary frequency scaling, as transformers' `rope_type`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum RopeScaling {
    None,
    /// transformers' `_compute_llama3_parameters`.
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: usize,
    },
}

/// Rotary inverse frequencies (`head_dim / 2` of them) as transformers computes them in float32.
pub fn inv_freq(head_dim: usize, theta: f64, scaling: &RopeScaling) -> Vec<f32> {
    let base: Vec<f32> = (0..head_dim / 2)
        .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
        .collect();
    match *scaling {
        RopeScaling::None => base,
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position_embeddings,
        } => {
            let (factor, low, high, old) = (
                factor as f32,
                low_freq_factor as f32,
                high_freq_factor as f32,
                original_max_position_embeddings as f32,
            );
            let low_wavelen = old / low;
            let high_wavelen = old / high;
            base.iter()
                .map(|&f| {
                    let wavelen = 2.0 * std::f32::consts::PI / f;
                    let scaled = if wavelen > low_wavelen { f / factor } else { f };
                    if wavelen < high_wavelen || wavelen > low_wavelen {
                        scaled
                    } else {
                        let smooth = (old / wavelen - low) / (high - low);
                        (1.0 - smooth) * scaled / factor + smooth * scaled
                    }
                })
                .collect()
        }
    }
}

impl LlamaConfig {
    pub fn head_dim(&self) -> usize {
        self.head_dim.unwrap_or(self.hidden_size / self.num_heads)
    }

    /// Build the model with random weights on `device` (seed the device first for reproducibility).
    pub fn init(&self, device: &Device) -> Llama {
        assert!(
            self.head_dim.is_some() || self.hidden_size.is_multiple_of(self.num_heads),
            "hidden_size must divide by num_heads"
        );
        assert!(
            self.num_heads.is_multiple_of(self.num_kv_heads),
            "num_heads must divide by num_kv_heads"
        );
        let hd = self.head_dim();
        let layers = (0..self.num_layers)
            .map(|_| DecoderLayer {
                self_attn: Attention {
                    q_proj: LoraLinear::new(
                        self.hidden_size,
                        self.num_heads * hd,
                        self.attention_bias,
                        device,
                    ),
                    k_proj: LoraLinear::new(
                        self.hidden_size,
                        self.num_kv_heads * hd,
                        self.attention_bias,
                        device,
                    ),
                    v_proj: LoraLinear::new(
                        self.hidden_size,
                        self.num_kv_heads * hd,
                        self.attention_bias,
                        device,
                    ),
                    o_proj: LoraLinear::new(self.num_heads * hd, self.hidden_size, false, device),
                    num_heads: self.num_heads,
                    num_kv_heads: self.num_kv_heads,
                    head_dim: hd,
                },
                mlp: Mlp {
                    gate_proj: LoraLinear::new(
                        self.hidden_size,
                        self.intermediate_size,
                        false,
                        device,
                    ),
                    up_proj: LoraLinear::new(
                        self.hidden_size,
                        self.intermediate_size,
                        false,
                        device,
                    ),
                    down_proj: LoraLinear::new(
                        self.intermediate_size,
                        self.hidden_size,
                        false,
                        device,
                    ),
                },
                input_layernorm: RmsNormConfig::new(self.hidden_size)
                    .with_epsilon(self.rms_norm_eps)
                    .init(device),
                post_attention_layernorm: RmsNormConfig::new(self.hidden_size)
                    .with_epsilon(self.rms_norm_eps)
                    .init(device),
            })
            .collect();
        Llama {
            embed_tokens: EmbeddingConfig::new(self.vocab_size, self.hidden_size).init(device),
            layers,
            norm: RmsNormConfig::new(self.hidden_size)
                .with_epsilon(self.rms_norm_eps)
                .init(device),
            lm_head: (!self.tie_embeddings).then(|| {
                LinearConfig::new(self.hidden_size, self.vocab_size)
                    .with_bias(false)
                    .init(device)
            }),
            rope_theta: self.rope_theta,
            head_dim: hd,
            inv_freq: inv_freq(hd, self.rope_theta, &self.rope_scaling),
            max_positions: self.max_positions,
        }
    }
}

#[derive(Module, Debug)]
pub struct Attention {
    pub q_proj: LoraLinear,
    pub k_proj: LoraLinear,
    pub v_proj: LoraLinear,
    pub o_proj: LoraLinear,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
}

#[derive(Module, Debug)]
pub struct Mlp {
    pub gate_proj: LoraLinear,
    pub up_proj: LoraLinear,
    pub down_proj: LoraLinear,
}

#[derive(Module, Debug)]
pub struct DecoderLayer {
    pub self_attn: Attention,
    pub mlp: Mlp,
    pub input_layernorm: RmsNorm,
    pub post_attention_layernorm: RmsNorm,
}

#[derive(Module, Debug)]
pub struct Llama {
    pub embed_tokens: Embedding,
    pub layers: Vec<DecoderLayer>,
    pub norm: RmsNorm,
    pub lm_head: Option<Linear>,
    pub rope_theta: f64,
    pub head_dim: usize,
    /// Rotary inverse frequencies `[head_dim / 2]`, rope scaling applied (a constant, not a parameter).
    #[module(skip)]
    pub inv_freq: Vec<f32>,
    /// The context length (`max_position_embeddings`), when the checkpoint states one.
    #[module(skip)]
    pub max_positions: Option<usize>,
}

/// Keys and values of earlier positions, per layer: `[B, kv_heads, S, head_dim]`, or, with a
/// capacity, buffers `[B, kv_heads, capacity, head_dim]` whose first `len` positions are filled.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    pub layers: Vec<Option<(Tensor<4>, Tensor<4>)>>,
    /// Positions already cached.
    pub len: usize,
    /// Positions each layer's buffers hold, allocated at the first forward and written in place
    /// after (a generation knows its length: prompt + new tokens). 0: grow by concatenation,
    /// which allocates and copies the whole cache at every step.
    pub capacity: usize,
}

impl KvCache {
    /// A cache whose buffers hold `positions` (allocated on first use, written in place).
    pub fn with_capacity(positions: usize) -> KvCache {
        KvCache {
            layers: Vec::new(),
            len: 0,
            capacity: positions,
        }
    }
}

/// One layer's cache slot, the positions before this call and the buffers' capacity.
pub(crate) struct CacheSlot<'a> {
    pub kv: &'a mut Option<(Tensor<4>, Tensor<4>)>,
    pub past: usize,
    pub capacity: usize,
}

/// Rotary positions of padded rows: each real slot's position is the number of real slots before
/// it; padding slots get 0 (they are masked out of attention anyway).
pub fn positions_from_mask(valid: &[Vec<bool>]) -> Vec<Vec<usize>> {
    valid
        .iter()
        .map(|row| {
            let mut p = 0usize;
            row.iter()
                .map(|&ok| {
                    if ok {
                        p += 1;
                        p - 1
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect()
}

/// Per-call attention inputs: rotary tables for the query positions and the additive mask.
#[derive(Debug, Clone)]
pub struct AttnInputs {
    /// `[B, 1, T, head_dim]`
    pub cos: Tensor<4>,
    /// `[B, 1, T, head_dim]`
    pub sin: Tensor<4>,
    /// `[B, 1, T, S_total]`: 0 where attention is allowed, -inf elsewhere (-1e9 in a query row
    /// that may see no key).
    pub bias: Tensor<4>,
}

impl AttnInputs {
    /// `positions[b][t]`: rotary position of query t in row b; `key_valid[b][s]` for every key
    /// position (cached + new); queries sit at key indices `past..past+T` (causal).
    pub fn new(
        positions: &[Vec<usize>],
        key_valid: &[Vec<bool>],
        past: usize,
        inv: &[f32],
        device: &Device,
    ) -> Self {
        let head_dim = inv.len() * 2;
        let b = positions.len();
        let t = positions.first().map(|p| p.len()).unwrap_or(0);
        let s = key_valid.first().map(|k| k.len()).unwrap_or(0);
        assert_eq!(s, past + t, "key_valid must cover cached and new positions");
        let mut cos = Vec::with_capacity(b * t * head_dim);
        let mut sin = Vec::with_capacity(b * t * head_dim);
        for row in positions {
            for &p in row {
                for rep in 0..2 {
                    let _ = rep;
                    for f in inv {
                        let a = p as f32 * f;
                        cos.push(a.cos());
                        sin.push(a.sin());
                    }
                }
            }
        }
        let mut bias = Vec::with_capacity(b * t * s);
        for kv in key_valid {
            for q in 0..t {
                let allowed = |k: usize| kv[k] && k <= past + q;
                // A blocked key gets -inf where the query has a key it may see (softmax gives it
                // exactly 0, as -1e9 would, without exp's slow underflow path), and -1e9 where
                // it has none (a left-padding query: finite, uniform attention, not NaN).
                let blocked = if (0..s).any(allowed) {
                    f32::NEG_INFINITY
                } else {
                    -1e9
                };
                bias.extend((0..s).map(|k| if allowed(k) { 0.0f32 } else { blocked }));
            }
        }
        Self {
            cos: Tensor::from_data(TensorData::new(cos, [b, 1, t, head_dim]), device),
            sin: Tensor::from_data(TensorData::new(sin, [b, 1, t, head_dim]), device),
            bias: Tensor::from_data(TensorData::new(bias, [b, 1, t, s]), device),
        }
    }
}

fn rotate_half(x: Tensor<4>) -> Tensor<4> {
    let [_, _, _, d] = x.dims();
    let x1 = x.clone().narrow(3, 0, d / 2);
    let x2 = x.narrow(3, d / 2, d / 2);
    Tensor::cat(vec![x2.neg(), x1], 3)
}

/// Rotary tables and the mask are built in f32 on the host and cast to the activations' dtype (as
/// transformers casts cos/sin to the query dtype).
fn apply_rope(x: Tensor<4>, a: &AttnInputs) -> Tensor<4> {
    let dt = x.dtype();
    x.clone() * super::to_dtype(a.cos.clone(), dt)
        + rotate_half(x) * super::to_dtype(a.sin.clone(), dt)
}

impl Attention {
    /// `[B, T, D]` → `[B, T, D]`.
    fn forward(&self, x: Tensor<3>, a: &AttnInputs, cache: Option<CacheSlot<'_>>) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (h, kvh, hd) = (self.num_heads, self.num_kv_heads, self.head_dim);
        let q = self
            .q_proj
            .forward(x.clone())
            .reshape([b, t, h, hd])
            .swap_dims(1, 2);
        let k = self
            .k_proj
            .forward(x.clone())
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let v = self
            .v_proj
            .forward(x)
            .reshape([b, t, kvh, hd])
            .swap_dims(1, 2);
        let q = apply_rope(q, a);
        let k = apply_rope(k, a);
        let (k, v) = match cache {
            // Preallocated: the new positions written into the buffers in place (the slot owns
            // them alone between calls, so the backend need not copy), attention over the
            // filled prefix.
            Some(slot) if slot.capacity > 0 => {
                let end = slot.past + t;
                assert!(
                    end <= slot.capacity,
                    "KV cache of {} positions asked to hold {end}",
                    slot.capacity
                );
                let (bk, bv) = slot.kv.take().unwrap_or_else(|| {
                    let dev = k.device();
                    let shape = [b, kvh, slot.capacity, hd];
                    let zeros = || super::to_dtype(Tensor::<4>::zeros(shape, &dev), k.dtype());
                    (zeros(), zeros())
                });
                let at = [0..b, 0..kvh, slot.past..end, 0..hd];
                let (bk, bv) = (bk.slice_assign(at.clone(), k), bv.slice_assign(at, v));
                let view = (bk.clone().narrow(2, 0, end), bv.clone().narrow(2, 0, end));
                *slot.kv = Some((bk, bv));
                view
            }
            Some(slot) => {
                let (k, v) = match slot.kv.take() {
                    Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
                    None => (k, v),
                };
                *slot.kv = Some((k.clone(), v.clone()));
                (k, v)
            }
            None => (k, v),
        };
        let s = k.dims()[2];
        let rep = h / kvh;
        let (k, v) = if rep == 1 {
            (k, v)
        } else {
            (
                k.unsqueeze_dim::<5>(2)
                    .expand([b, kvh, rep, s, hd])
                    .reshape([b, h, s, hd]),
                v.unsqueeze_dim::<5>(2)
                    .expand([b, kvh, rep, s, hd])
                    .reshape([b, h, s, hd]),
            )
        };
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((hd as f64).sqrt());
        // In f16 a query row that may see no key (its -1e9 overflowing to -inf) would give NaN:
        // clamp the mask to a finite value f16 holds, as transformers uses finfo(dtype).min.
        let bias = if scores.dtype() == burn::tensor::DType::F16 {
            a.bias.clone().clamp_min(-6.0e4)
        } else {
            a.bias.clone()
        };
        let scores = scores.clone() + super::to_dtype(bias, scores.dtype());
        let probs = softmax(scores, 3);
        let out = probs.matmul(v).swap_dims(1, 2).reshape([b, t, h * hd]);
        self.o_proj.forward(out)
    }
}

impl Mlp {
    fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.down_proj
            .forward(silu(self.gate_proj.forward(x.clone())) * self.up_proj.forward(x))
    }
}

impl Llama {
    /// Token embeddings: `[B, T]` ids → `[B, T, D]`.
    pub fn embed(&self, ids: Tensor<2, Int>) -> Tensor<3> {
        self.embed_tokens.forward(ids)
    }

    pub fn hidden_size(&self) -> usize {
        self.embed_tokens.weight.dims()[1]
    }

    pub fn vocab_size(&self) -> usize {
        self.embed_tokens.weight.dims()[0]
    }

    /// Rotary inverse frequencies on the host.
    pub fn inv_freq(&self) -> Vec<f32> {
        self.inv_freq.clone()
    }

    pub fn num_layers(&self) -> usize {
        self.layers.len()
    }

    /// Refuse a sequence of `len` positions that does not fit the model's context.
    pub fn check_context(&self, len: usize, what: &str) -> Result<(), String> {
        match self.max_positions {
            Some(max) if len > max => Err(format!(
                "{what} needs {len} positions but the model's context is {max} (max_position_embeddings)"
            )),
            _ => Ok(()),
        }
    }

    /// Run the decoder on input embeddings `[B, T, D]`; returns logits `[B, T, vocab]`.
    /// With a cache, the new keys/values are appended to it.
    pub fn forward_embeds(
        &self,
        x: Tensor<3>,
        a: &AttnInputs,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        self.logits(self.forward_hidden(x, a, cache))
    }

    /// The output projection: final hidden states `[B, T, D]` → logits `[B, T, vocab]`.
    pub fn logits(&self, h: Tensor<3>) -> Tensor<3> {
        match &self.lm_head {
            Some(head) => head.forward(h),
            None => h.matmul(self.embed_tokens.weight.val().transpose().unsqueeze()),
        }
    }

    /// Run the decoder on input embeddings `[B, T, D]`; returns the final-norm hidden states.
    pub fn forward_hidden(
        &self,
        x: Tensor<3>,
        a: &AttnInputs,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let t = x.dims()[1];
        if let Some(c) = cache.as_deref_mut() {
            if c.layers.len() != self.layers.len() {
                c.layers = vec![None; self.layers.len()];
            }
        }
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            let slot = cache.as_deref_mut().map(|c| CacheSlot {
                past: c.len,
                capacity: c.capacity,
                kv: &mut c.layers[i],
            });
            let r = layer
                .self_attn
                .forward(layer.input_layernorm.forward(h.clone()), a, slot);
            h = h + r;
            let r = layer
                .mlp
                .forward(layer.post_attention_layernorm.forward(h.clone()));
            h = h + r;
        }
        if let Some(c) = cache {
            c.len += t;
        }
        self.norm.forward(h)
    }

    /// Attach LoRA factors to the named projections of every layer.
    pub fn with_lora(
        mut self,
        targets: &[String],
        rank: usize,
        alpha: f64,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let has = |n: &str| targets.iter().any(|t| t == n);
        for l in self.layers.iter_mut() {
            let attach = |p: LoraLinear, name: &str| {
                if has(name) {
                    p.attach_lora(rank, alpha, dropout, device)
                } else {
                    p
                }
            };
            let a = &mut l.self_attn;
            a.q_proj = attach(a.q_proj.clone(), "q_proj");
            a.k_proj = attach(a.k_proj.clone(), "k_proj");
            a.v_proj = attach(a.v_proj.clone(), "v_proj");
            a.o_proj = attach(a.o_proj.clone(), "o_proj");
            let m = &mut l.mlp;
            m.gate_proj = attach(m.gate_proj.clone(), "gate_proj");
            m.up_proj = attach(m.up_proj.clone(), "up_proj");
            m.down_proj = attach(m.down_proj.clone(), "down_proj");
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> LlamaConfig {
        LlamaConfig::new(50, 32, 64, 2, 4, 2).with_rope_theta(10000.0)
    }

    /// Decoding with a KV cache must equal re-running the full sequence.
    #[test]
    fn kv_cache_matches_full_forward() {
        let device = Device::flex();
        device.seed(3);
        let m = tiny().init(&device);
        let ids: Vec<i64> = vec![1, 5, 7, 9, 11, 2];
        let full_ids = Tensor::<2, Int>::from_data(TensorData::new(ids.clone(), [1, 6]), &device);
        let pos: Vec<Vec<usize>> = vec![(0..6).collect()];
        let a = AttnInputs::new(&pos, &[vec![true; 6]], 0, &m.inv_freq(), &device);
        let full = m.forward_embeds(m.embed(full_ids), &a, None);
        let last_full: Vec<f32> = full
            .narrow(1, 5, 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();

        // A growing cache, and one preallocated for 8 positions (written in place): the same
        // logits, bit for bit, and the full forward's.
        let mut steps = Vec::new();
        for mut cache in [KvCache::default(), KvCache::with_capacity(8)] {
            let pre =
                Tensor::<2, Int>::from_data(TensorData::new(ids[..5].to_vec(), [1, 5]), &device);
            let a1 = AttnInputs::new(
                &[(0..5).collect()],
                &[vec![true; 5]],
                0,
                &m.inv_freq(),
                &device,
            );
            m.forward_embeds(m.embed(pre), &a1, Some(&mut cache));
            let nxt = Tensor::<2, Int>::from_data(TensorData::new(vec![ids[5]], [1, 1]), &device);
            let a2 = AttnInputs::new(&[vec![5]], &[vec![true; 6]], 5, &m.inv_freq(), &device);
            let step: Vec<f32> = m
                .forward_embeds(m.embed(nxt), &a2, Some(&mut cache))
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for (x, y) in last_full.iter().zip(&step) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
            assert_eq!(cache.len, 6);
            steps.push(step);
        }
        assert_eq!(steps[0], steps[1], "preallocated ≠ growing");
    }

    /// Left padding with a mask must not change the real tokens' logits.
    #[test]
    fn left_padding_is_masked() {
        let device = Device::flex();
        device.seed(4);
        let m = tiny().init(&device);
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 4, 5], [1, 3]), &device);
        let a = AttnInputs::new(
            &[vec![0, 1, 2]],
            &[vec![true; 3]],
            0,
            &m.inv_freq(),
            &device,
        );
        let want: Vec<f32> = m
            .forward_embeds(m.embed(ids), &a, None)
            .narrow(1, 2, 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 0, 3, 4, 5], [1, 5]), &device);
        let a = AttnInputs::new(
            &[vec![0, 0, 0, 1, 2]],
            &[vec![false, false, true, true, true]],
            0,
            &m.inv_freq(),
            &device,
        );
        let got: Vec<f32> = m
            .forward_embeds(m.embed(ids), &a, None)
            .narrow(1, 4, 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        for (x, y) in want.iter().zip(&got) {
            assert!((x - y).abs() < 1e-4, "{x} vs {y}");
        }
    }

    /// In f16 a left-padded batch stays finite (the -1e9 mask would overflow to -inf and turn the
    /// fully masked padding rows into NaN that spreads through the values).
    #[test]
    fn f16_padding_stays_finite() {
        let device = Device::flex();
        device.seed(4);
        let m = crate::model::cast_floats(tiny().init(&device), burn::tensor::FloatDType::F16);
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(vec![0i64, 0, 3, 4, 5], [1, 5]), &device);
        let a = AttnInputs::new(
            &[vec![0, 0, 0, 1, 2]],
            &[vec![false, false, true, true, true]],
            0,
            &m.inv_freq(),
            &device,
        );
        let out = crate::model::host_f32(m.forward_embeds(m.embed(ids), &a, None));
        assert!(out.iter().all(|v| v.is_finite()), "{out:?}");
    }
}
