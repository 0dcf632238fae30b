//! Jinja chat templates render exactly as transformers' `apply_chat_template` (fixtures from
//! tools/chat_template_fixtures.py: Llama-3, Qwen2.5 and Mistral-v0.3 templates over one byte-level
//! BPE tokenizer): identical text and token ids, and the same refusal for a conversation a template
//! rejects.

use std::path::{Path, PathBuf};

use acdc::text::template::{JinjaTemplate, Message};
use acdc::text::{ChatFormat, TextTokenizer};

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/chat")
        .join(name)
}

fn check(name: &str) {
    let d = dir(name);
    let t = JinjaTemplate::from_model_dir(&d)
        .unwrap()
        .expect("a template");
    let tok = TextTokenizer::from_file(&d.join("tokenizer.json")).unwrap();
    let cases: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("cases.json")).unwrap()).unwrap();
    for c in cases.as_array().unwrap() {
        let messages: Vec<Message> = serde_json::from_value(c["messages"].clone()).unwrap();
        let agp = c["add_generation_prompt"].as_bool().unwrap();
        let got = t.render(&messages, agp);
        if let Some(err) = c.get("error") {
            let e = got
                .expect_err("the template must refuse this conversation")
                .to_string();
            assert!(
                e.contains(err["message"].as_str().unwrap()),
                "{name}/{}: {e}",
                c["name"]
            );
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{name}/{}: {e}", c["name"]));
        assert_eq!(
            got,
            c["rendered"].as_str().unwrap(),
            "{name}/{} text",
            c["name"]
        );
        let ids: Vec<u32> = c["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(tok.encode(&got).unwrap(), ids, "{name}/{} ids", c["name"]);
    }
}

#[test]
fn llama3_template() {
    check("llama3");
}

#[test]
fn qwen2_5_template() {
    check("qwen2");
}

#[test]
fn mistral_v0_3_template() {
    check("mistral");
}

#[test]
fn audio_slot_and_reply_end_come_from_the_template() {
    let t = JinjaTemplate::from_model_dir(&dir("qwen2"))
        .unwrap()
        .unwrap();
    let chat = ChatFormat::Jinja(t);
    let (before, after) = chat.split_user_prompt(" Describe the audio.").unwrap();
    assert!(before.ends_with("<|im_start|>user\n"), "{before}");
    assert_eq!(
        after,
        " Describe the audio.<|im_end|>\n<|im_start|>assistant\n"
    );
    assert_eq!(chat.reply_end().unwrap(), "<|im_end|>");
    let m = ChatFormat::Jinja(
        JinjaTemplate::from_model_dir(&dir("mistral"))
            .unwrap()
            .unwrap(),
    );
    assert_eq!(m.reply_end().unwrap(), "</s>");
    // The built-in Llama-3 format equals Meta's template.
    let l = ChatFormat::Jinja(
        JinjaTemplate::from_model_dir(&dir("llama3"))
            .unwrap()
            .unwrap(),
    );
    let msgs = [
        Message::new("system", "Be brief."),
        Message::new("user", "  Rain.  "),
    ];
    assert_eq!(
        ChatFormat::llama3().render(&msgs, true).unwrap(),
        l.render(&msgs, true).unwrap()
    );
}
