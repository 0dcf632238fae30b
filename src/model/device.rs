//! The one place that maps a run's `device` key to a burn device. Nothing else names a backend.

use burn::tensor::Device;

use crate::spec::schema::DeviceKind;

/// Errors choosing a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device `{0}` is not compiled into this acdc; rebuild with `--features {0}`")]
    NotCompiled(&'static str),
    #[error("device `{device}`: {message}")]
    Unavailable {
        device: &'static str,
        message: String,
    },
}

/// The inference device for a run's `device` key.
pub fn device_for(kind: DeviceKind) -> Result<Device, DeviceError> {
    match kind {
        DeviceKind::Cpu => Ok(Device::flex()),
        DeviceKind::Cuda => cuda(),
        DeviceKind::Wgpu => wgpu(),
    }
}

/// Whether tensors on `device` live in this process's own memory (the CPU backend, `flex`), so
/// reading one back is a copy rather than a transfer from an accelerator to wait for.
pub fn is_host(device: &Device) -> bool {
    device.clone().inner() == Device::flex()
}

/// The training (autodiff) device for a run's `device` key, with burn's balanced gradient
/// checkpointing when `checkpointing` is set.
pub fn train_device_for(kind: DeviceKind, checkpointing: bool) -> Result<Device, DeviceError> {
    let d = device_for(kind)?.autodiff();
    Ok(if checkpointing {
        d.gradient_checkpointing()
    } else {
        d
    })
}

#[cfg(feature = "cuda")]
fn cuda() -> Result<Device, DeviceError> {
    cuda_driver_check()?;
    Ok(Device::cuda(0))
}

/// The NVIDIA driver is loaded, initialised and has a device: checked here because burn's CUDA
/// backend panics on a side thread without one (and the main thread then fails on a closed
/// channel), where a user should read which device is missing and why.
#[cfg(feature = "cuda")]
fn cuda_driver_check() -> Result<(), DeviceError> {
    use std::sync::OnceLock;
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let unavailable = |message: String| DeviceError::Unavailable {
        device: "cuda",
        message,
    };
    CHECK
        .get_or_init(|| {
            type CuInit = unsafe extern "C" fn(u32) -> i32;
            type CuDeviceGetCount = unsafe extern "C" fn(*mut i32) -> i32;
            // SAFETY: loading the NVIDIA driver library runs its initialisers, as burn's own
            // loading of it would; the symbols are looked up with the driver API's C signatures.
            unsafe {
                let lib = libloading::Library::new("libcuda.so.1").map_err(|e| {
                    format!("the NVIDIA driver (libcuda.so.1) cannot be loaded: {e}; is an NVIDIA GPU with its driver installed?")
                })?;
                let init: libloading::Symbol<CuInit> = lib
                    .get(b"cuInit\0")
                    .map_err(|e| format!("libcuda.so.1 has no cuInit: {e}"))?;
                let code = init(0);
                if code != 0 {
                    return Err(format!("cuInit failed with CUDA error {code} (no usable GPU, or a driver older than the CUDA 12.8 API acdc was built for)"));
                }
                let count: libloading::Symbol<CuDeviceGetCount> = lib
                    .get(b"cuDeviceGetCount\0")
                    .map_err(|e| format!("libcuda.so.1 has no cuDeviceGetCount: {e}"))?;
                let mut n = 0i32;
                let code = count(&mut n);
                if code != 0 || n < 1 {
                    return Err(format!("the NVIDIA driver reports no GPU (cuDeviceGetCount: error {code}, {n} devices)"));
                }
                // Kept loaded: burn loads the same library next.
                std::mem::forget(lib);
            }
            Ok(())
        })
        .clone()
        .map_err(unavailable)
}
#[cfg(not(feature = "cuda"))]
fn cuda() -> Result<Device, DeviceError> {
    Err(DeviceError::NotCompiled("cuda"))
}

#[cfg(feature = "wgpu")]
fn wgpu() -> Result<Device, DeviceError> {
    Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice))
}
#[cfg(not(feature = "wgpu"))]
fn wgpu() -> Result<Device, DeviceError> {
    Err(DeviceError::NotCompiled("wgpu"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::GradientCheckpointingStrategy as S;

    #[test]
    fn checkpointing_is_set_on_the_training_device() {
        let on = train_device_for(DeviceKind::Cpu, true).unwrap();
        let off = train_device_for(DeviceKind::Cpu, false).unwrap();
        assert!(matches!(
            on.gradient_checkpointing_strategy(),
            Some(S::Balanced)
        ));
        assert!(matches!(
            off.gradient_checkpointing_strategy(),
            Some(S::Disabled)
        ));
    }
}
