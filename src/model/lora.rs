//! A linear layer with optional LoRA factors, PEFT semantics: `y = x·W + b + dropout(x)·A·B · (alpha / r)`,
//! A initialised like PEFT's `kaiming_uniform_(a = √5)` (uniform in ±1/√d_in), B zero, so a fresh
//! adapter leaves the layer unchanged. Weights are stored `[d_in, d_out]` (burn's layout).

use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};

/// The trainable low-rank pair.
#[derive(Module, Debug)]
pub struct LoraFactors {
    /// `[d_in, r]` (PEFT's `lora_A.weight` transposed).
    pub lora_a: Param<Tensor<2>>,
    /// `[r, d_out]` (PEFT's `lora_B.weight` transposed).
    pub lora_b: Param<Tensor<2>>,
    pub dropout: Dropout,
    /// alpha / r.
    pub scale: f64,
}

/// A linear projection that may carry LoRA factors.
#[derive(Module, Debug)]
pub struct LoraLinear {
    pub base: Linear,
    pub lora: Option<LoraFactors>,
}

impl LoraLinear {
    pub fn new(d_in: usize, d_out: usize, bias: bool, device: &Device) -> Self {
        Self {
            base: LinearConfig::new(d_in, d_out).with_bias(bias).init(device),
            lora: None,
        }
    }

    /// Attach fresh LoRA factors (PEFT initialisation).
    pub fn attach_lora(mut self, rank: usize, alpha: f64, dropout: f64, device: &Device) -> Self {
        let [d_in, d_out] = self.base.weight.dims();
        let bound = 1.0 / (d_in as f64).sqrt();
        let a = Tensor::<2>::random([d_in, rank], Distribution::Uniform(-bound, bound), device);
        let b = Tensor::<2>::zeros([rank, d_out], device);
        self.lora = Some(LoraFactors {
            lora_a: Param::from_tensor(a),
            lora_b: Param::from_tensor(b),
            dropout: DropoutConfig::new(dropout).init(),
            scale: alpha / rank as f64,
        });
        self
    }

    /// `[..., d_in]` → `[..., d_out]`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        let y = self.base.forward(x.clone());
        match &self.lora {
            None => y,
            Some(l) => {
                // Trainable factors stay f32 over a base that may be bf16: compute in the factors'
                // dtype, add in the base's.
                let a = l.lora_a.val();
                let x = super::to_dtype(x, a.dtype());
                let h = l.dropout.forward(x).matmul(a.unsqueeze());
                let d = h.matmul(l.lora_b.val().unsqueeze()).mul_scalar(l.scale);
                let dt = y.dtype();
                y + super::to_dtype(d, dt)
            }
        }
    }
}
