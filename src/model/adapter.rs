//! The projector between encoder and LLM, as SLAM-AAC's `EncoderProjectorConcat`: drop trailing
//! tokens that do not fill a group of k, concatenate each group of k consecutive tokens, then
//! Linear(k·d_enc → hidden) → ReLU → Linear(hidden → d_llm). 513 EAT tokens → 102 embeddings.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

#[derive(Config, Debug, PartialEq)]
pub struct AdapterConfig {
    pub encoder_dim: usize,
    pub llm_dim: usize,
    #[config(default = 5)]
    pub downsample: usize,
    #[config(default = 2048)]
    pub hidden: usize,
}

impl AdapterConfig {
    pub fn init(&self, device: &Device) -> Adapter {
        Adapter {
            linear1: LinearConfig::new(self.encoder_dim * self.downsample, self.hidden)
                .init(device),
            linear2: LinearConfig::new(self.hidden, self.llm_dim).init(device),
            downsample: self.downsample,
        }
    }
}

#[derive(Module, Debug)]
pub struct Adapter {
    pub linear1: Linear,
    pub linear2: Linear,
    pub downsample: usize,
}

impl Adapter {
    /// Embeddings produced from `tokens` encoder tokens.
    pub fn num_outputs(&self, tokens: usize) -> usize {
        tokens / self.downsample
    }

    /// `[B, N, d_enc]` → `[B, N / k, d_llm]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        // Encoder tokens join in the adapter's dtype (a frozen encoder may run in bf16).
        let x = super::to_dtype(x, self.linear1.weight.val().dtype());
        let [b, n, d] = x.dims();
        let k = self.downsample;
        let m = n / k;
        let x = x.narrow(1, 0, m * k).reshape([b, m, k * d]);
        self.linear2.forward(relu(self.linear1.forward(x)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn stacks_groups_of_k_and_drops_the_tail() {
        let device = Device::flex();
        let a = AdapterConfig::new(3, 4)
            .with_downsample(5)
            .with_hidden(8)
            .init(&device);
        let x = Tensor::<3>::zeros([2, 513, 3], &device);
        assert_eq!(a.forward(x).dims(), [2, 102, 4]);
        // Group g of the concatenation holds tokens 5g..5g+4 in order.
        let vals: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let x = Tensor::<3>::from_data(TensorData::new(vals, [1, 6, 2]), &device);
        let g: Vec<f32> = x
            .narrow(1, 0, 5)
            .reshape([1, 1, 10])
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        assert_eq!(g, (0..10).map(|v| v as f32).collect::<Vec<_>>());
    }
}
