//! The one place that maps a run's `device` key to a burn device. Nothing else names a backend.

use burn::tensor::Device;

use crate::spec::schema::DeviceKind;

/// Errors choosing a device.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device `{0}` is not compiled into this acdc; rebuild with `--features {0}`")]
    NotCompiled(&'static str),
}

/// The inference device for a run's `device` key.
pub fn device_for(kind: DeviceKind) -> Result<Device, DeviceError> {
    match kind {
        DeviceKind::Cpu => Ok(Device::flex()),
        DeviceKind::Cuda => cuda(),
        DeviceKind::Wgpu => wgpu(),
    }
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
    Ok(Device::cuda(0))
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
