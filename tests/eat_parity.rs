//! The EAT encoder against the reference: outputs of a random small EAT checkpoint in the HF port's
//! format equal `tools/eat_reference.py`'s (a standalone PyTorch port of the HF port's forward) within
//! 1e-4, and every tensor of the published EAT-base state dict maps onto acdc's module with nothing
//! left over (`tests/fixtures/eat/PROVENANCE.md`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use acdc::model::eat_checkpoint::{load_eat, EAT_IGNORED, EAT_KEY_REMAP};
use acdc::model::eat_fairseq::{load_eat_fairseq, FAIRSEQ_IGNORED, FAIRSEQ_KEY_REMAP};
use acdc::model::encoder::EatConfig;
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eat")
}

/// The encoder's output on `input_i.npy`, as [tokens, dim] values, checked against `output_i.npy`
/// within 1e-4.
fn assert_matches_reference(eat: &acdc::model::encoder::Eat, what: &str) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let mut outs = Vec::new();
    for i in 0..2 {
        let (x, xs) = acdc::audio::npy::read_f32(&dir().join(format!("input_{i}.npy"))).unwrap();
        let (want, ws) =
            acdc::audio::npy::read_f32(&dir().join(format!("output_{i}.npy"))).unwrap();
        let got = eat.forward(Tensor::<3>::from_data(
            TensorData::new(x, [1, xs[0], xs[1]]),
            &device,
        ));
        assert_eq!(
            got.dims(),
            [1, ws[0], ws[1]],
            "{what}, input {i}: tokens (CLS first) × dim"
        );
        let got: Vec<f32> = got.into_data().try_to_vec::<f32>().unwrap();
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(max < 1e-4, "{what}, input {i}: max |diff| {max}");
        outs.push(got);
    }
    outs
}

#[test]
fn eat_matches_the_reference_forward() {
    let (cfg, eat) = load_eat(&dir(), &Device::flex()).expect("fixture loads");
    assert_eq!(cfg.embed_dim, 32);
    assert_matches_reference(&eat, "HF directory");
}

/// The same small model saved as EAT's original fairseq checkpoints (pretraining, with the EMA
/// teacher and CNN decoder beside the student; fine-tuned, with the classifier) loads to the very
/// same encoder, configured from the checkpoint's own training config.
#[test]
fn fairseq_checkpoints_load_the_same_encoder() {
    let device = Device::flex();
    let (hf_cfg, hf) = load_eat(&dir(), &device).unwrap();
    let want = assert_matches_reference(&hf, "HF directory");
    for file in ["fairseq_pretrain.pt", "fairseq_finetune.pt"] {
        let (cfg, eat) =
            load_eat_fairseq(&dir().join(file), &device).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            format!("{cfg:?}"),
            format!("{hf_cfg:?}"),
            "{file}: config from cfg"
        );
        let got = assert_matches_reference(&eat, file);
        assert_eq!(got, want, "{file}: bit-identical to the HF port's weights");
    }
    // Through the encoder resolver (what `encoder.checkpoint` and `acdc encode --encoder` use).
    let path = dir().join("fairseq_finetune.pt");
    let (_, eat) = acdc::model::backbone::load_encoder(
        path.to_str().unwrap(),
        std::path::Path::new("."),
        &device,
    )
    .expect("resolves");
    assert_eq!(assert_matches_reference(&eat, "load_encoder"), want);
}

/// Module paths and shapes of every float parameter, without materialising them.
#[derive(Default)]
struct Shapes {
    stack: Vec<String>,
    out: BTreeMap<String, Vec<usize>>,
}

impl ModuleVisitor for Shapes {
    fn enter_module(&mut self, name: &str, _container: &str) {
        self.stack.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container: &str) {
        self.stack.pop();
    }
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.out
            .insert(self.stack.join("."), p.lazy_shape().to_vec());
    }
}

/// Every tensor of each key list (`name: shape` JSON) maps onto EAT-base through `remap` or is
/// `ignored`, and every parameter of acdc's EAT-base gets one.
fn assert_maps_exactly(files: &[&str], remap: &[(&str, &str)], ignored: &[&str]) {
    let device = Device::flex();
    let model = EatConfig::new(768, 12, 12).init(&device);
    let mut shapes = Shapes::default();
    model.visit(&mut shapes);
    let ours = shapes.out;
    assert!(
        ours.contains_key("blocks.11.qkv.weight"),
        "{:?}",
        ours.keys().take(8).collect::<Vec<_>>()
    );
    let remap: Vec<(regex::Regex, &str)> = remap
        .iter()
        .map(|(f, t)| (regex::Regex::new(f).unwrap(), *t))
        .collect();
    let ignored: Vec<regex::Regex> = ignored
        .iter()
        .map(|r| regex::Regex::new(r).unwrap())
        .collect();
    for file in files {
        let keys: BTreeMap<String, Vec<usize>> =
            serde_json::from_str(&std::fs::read_to_string(dir().join(file)).unwrap()).unwrap();
        let mut covered = std::collections::BTreeSet::new();
        for (key, shape) in &keys {
            let mut k = key.clone();
            for (re, to) in &remap {
                k = re.replace_all(&k, *to).to_string();
            }
            if ignored.iter().any(|r| r.is_match(&k)) {
                continue;
            }
            // burn's PyTorch adapter: LayerNorm weight/bias → gamma/beta, Linear weight transposed.
            let is_norm = k.contains("norm");
            let path = if is_norm {
                k.replace(".weight", ".gamma").replace(".bias", ".beta")
            } else {
                k.clone()
            };
            let want = ours.get(&path).unwrap_or_else(|| {
                panic!("{file}: `{key}` → `{path}` is not a parameter of acdc's EAT")
            });
            let mut theirs = shape.clone();
            if theirs.len() == 2 {
                theirs.reverse();
            }
            assert_eq!(&theirs, want, "{file}: `{key}` shape");
            assert!(
                covered.insert(path.clone()),
                "{file}: `{path}` filled twice"
            );
        }
        let left: Vec<&String> = ours.keys().filter(|p| !covered.contains(*p)).collect();
        assert!(
            left.is_empty(),
            "{file}: acdc parameters with no checkpoint tensor: {left:?}"
        );
    }
}

/// The published EAT-base checkpoint (pretrained and AS-2M fine-tuned) maps onto EAT-base exactly.
#[test]
fn every_eat_base_tensor_has_its_place() {
    assert_maps_exactly(
        &["eat_base_keys.json", "eat_base_finetune_keys.json"],
        EAT_KEY_REMAP,
        EAT_IGNORED,
    );
}

/// So do the original fairseq checkpoints (pretraining with its EMA teacher and decoder; AS-2M
/// fine-tuned with its classifier).
#[test]
fn every_eat_base_fairseq_tensor_has_its_place() {
    assert_maps_exactly(
        &[
            "eat_base_fairseq_keys.json",
            "eat_base_fairseq_finetune_keys.json",
        ],
        FAIRSEQ_KEY_REMAP,
        FAIRSEQ_IGNORED,
    );
}

#[test]
fn bad_fairseq_checkpoints_are_named() {
    let device = Device::flex();
    let err = |p: &Path| {
        load_eat_fairseq(p, &device)
            .expect_err("must fail")
            .to_string()
    };
    let e = err(&dir().join("fairseq_bad_prenet.pt"));
    assert!(
        e.contains("fairseq_bad_prenet.pt")
            && e.contains("cfg.model.modalities.image.prenet_depth"),
        "{e}"
    );
    let e = err(&dir().join("fairseq_bad_shape.pt"));
    assert!(
        e.contains("fairseq_bad_shape.pt")
            && e.contains("29 tensor(s) do not fit")
            && e.contains("`patch_embed.weight` (checkpoint key `modality_encoders.IMAGE.local_encoder.proj.weight`)")
            && e.contains("[32"),
        "{e}"
    );
    let e = err(&dir().join("fairseq_bad_nocfg.pt"));
    assert!(
        e.contains("fairseq_bad_nocfg.pt") && e.contains("not a fairseq checkpoint"),
        "{e}"
    );
    let t = tempfile::tempdir().unwrap();
    let cut = t.path().join("cut.pt");
    let bytes = std::fs::read(dir().join("fairseq_finetune.pt")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = err(&cut);
    assert!(e.contains("cut.pt"), "{e}");
}

#[test]
fn bad_eat_checkpoints_are_named() {
    let t = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let d = t.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["config.json", "model.safetensors"] {
            std::fs::copy(dir().join(f), d.join(f)).unwrap();
        }
        d
    };
    let device = Device::flex();
    // A checkpoint of the wrong shape (config says 64 wide, weights are 32).
    let d = copy("wrong-shape");
    let cfg = std::fs::read_to_string(d.join("config.json"))
        .unwrap()
        .replace("\"embed_dim\": 32", "\"embed_dim\": 64");
    std::fs::write(d.join("config.json"), cfg).unwrap();
    let e = load_eat(&d, &device).expect_err("must fail").to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("do not fit"),
        "{e}"
    );
    // Deeper config than checkpoint: the missing block is named.
    let d = copy("deeper");
    let cfg = std::fs::read_to_string(d.join("config.json"))
        .unwrap()
        .replace("\"depth\": 2", "\"depth\": 3");
    std::fs::write(d.join("config.json"), cfg).unwrap();
    let e = load_eat(&d, &device).expect_err("must fail").to_string();
    assert!(e.contains("missing") && e.contains("blocks.2"), "{e}");
    // Not an EAT config.
    let d = copy("not-eat");
    let cfg = std::fs::read_to_string(d.join("config.json"))
        .unwrap()
        .replace("\"model_type\": \"eat\"", "\"model_type\": \"whisper\"");
    std::fs::write(d.join("config.json"), cfg).unwrap();
    let e = load_eat(&d, &device).expect_err("must fail").to_string();
    assert!(e.contains("config.json") && e.contains("whisper"), "{e}");
    // A tensor EAT has no place for (a decoder from a pretraining checkpoint, say).
    let d = copy("extra");
    let bytes = std::fs::read(d.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> = st
        .tensors()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let (_, bias) = views
        .iter()
        .find(|(k, _)| k == "model.pre_norm.bias")
        .unwrap()
        .clone();
    views.push(("model.decoder.proj.bias".into(), bias));
    std::fs::write(
        d.join("model.safetensors"),
        safetensors::tensor::serialize(views, None).unwrap(),
    )
    .unwrap();
    let e = load_eat(&d, &device).expect_err("must fail").to_string();
    assert!(
        e.contains("decoder.proj.bias") && e.contains("no place"),
        "{e}"
    );
    // A truncated weights file.
    let d = copy("truncated");
    let w = std::fs::read(d.join("model.safetensors")).unwrap();
    std::fs::write(d.join("model.safetensors"), &w[..w.len() - 100]).unwrap();
    let e = load_eat(&d, &device).expect_err("must fail").to_string();
    assert!(e.contains("truncated"), "{e}");
}
