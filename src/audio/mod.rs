//! The audio front end: decoding (symphonia), resampling to 16 kHz (torchaudio's sinc kernel),
//! Kaldi fbank with EAT's settings and normalisation, and SpecAugment.

pub mod decode;
pub mod fbank;
pub mod npy;
pub mod resample;
pub mod specaugment;
