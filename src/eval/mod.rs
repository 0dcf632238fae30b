//! Evaluation: captioning metrics equal to pycocoevalcap, QA token-F1 / exact match, and the
//! evaluation stage that decodes and scores a trained model.

pub mod caption_metrics;
pub mod caption_tokens;
pub mod external;
pub mod jar;
pub mod judge;
pub mod judge_local;
pub mod judge_openai;
pub mod judged_qa;
pub mod meteor;
pub mod probes;
pub mod qa_metrics;
pub mod qa_verdict;
pub mod run;
pub mod spice;
