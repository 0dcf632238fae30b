//! The tiny AC/DC model's forward and backward pass on burn's wgpu backend (CI runs this over
//! Mesa's software Vulkan; on a GPU machine it runs on the GPU). Only built with `--features wgpu`.
#![cfg(feature = "wgpu")]

use acdc::model::audio_llm::SplicedBatch;
use acdc::model::device::train_device_for;
use acdc::model::{assemble, builtin_tiny_eat, builtin_tiny_llm, init_seeded};
use acdc::spec::schema::{DeviceKind, LoraConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

fn loss_and_grad_count(device: &Device) -> (f32, usize) {
    // Weights come from the CPU RNG and move to `device`, so both backends see the same model.
    let cpu = Device::flex().autodiff();
    let llm = init_seeded(&cpu, 1, || builtin_tiny_llm(64).init(&cpu));
    let eat = builtin_tiny_eat();
    let enc = init_seeded(&cpu, 2, || eat.init(&cpu));
    let m = assemble(
        llm,
        enc,
        &eat,
        5,
        16,
        Some(&LoraConfig {
            dropout: 0.0,
            ..Default::default()
        }),
        3,
        &cpu,
    );
    let m = acdc::train::trainer::mark_trainable(burn::module::Module::to_device(m, device), true);
    let feats = Tensor::<3>::ones([1, 64, 128], device).mul_scalar(0.1);
    let audio = m.embed_audio(feats); // [1, 33/5 = 6, 64]
    let a = audio.dims()[1];
    let mut ids = vec![1u32, 2];
    ids.extend(std::iter::repeat_n(0, a));
    ids.extend([3, 4, 5]);
    let n = ids.len();
    let batch = SplicedBatch {
        ids: vec![ids],
        audio_at: vec![2],
        valid: vec![vec![true; n]],
    };
    let logits = m.forward(&batch, audio);
    let loss = burn::tensor::activation::log_softmax(logits, 2)
        .mean()
        .neg();
    let value: f32 = loss.clone().into_scalar();
    let grads = GradientsParams::from_grads(loss.backward(), &m);
    (value, grads.len())
}

#[test]
fn tiny_model_forward_and_backward_on_wgpu_match_cpu() {
    let wgpu = train_device_for(DeviceKind::Wgpu, false).expect("wgpu compiled in");
    let (lw, gw) = loss_and_grad_count(&wgpu);
    let (lc, gc) = loss_and_grad_count(&train_device_for(DeviceKind::Cpu, false).unwrap());
    assert!(lw.is_finite());
    assert!(gw > 0 && gw == gc, "gradients on wgpu {gw}, cpu {gc}");
    assert!(
        (lw - lc).abs() < 1e-3 * lc.abs().max(1.0),
        "wgpu {lw} vs cpu {lc}"
    );
}
