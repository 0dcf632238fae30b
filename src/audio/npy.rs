//! Minimal `.npy` (NumPy format 1.0) reading and writing of little-endian float32 arrays, the
//! interchange format of `acdc features` / `acdc encode` with researchers' own pipelines.

use std::io::Write;
use std::path::Path;

/// Write a C-order float32 array of `shape` to `path`.
pub fn write_f32(path: &Path, data: &[f32], shape: &[usize]) -> std::io::Result<()> {
    assert_eq!(
        data.len(),
        shape.iter().product::<usize>(),
        "data does not fill the shape"
    );
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_txt = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_txt}, }}");
    // Pad so that magic (6) + version (2) + len (2) + header + '\n' is a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    let tmp = path.with_extension(format!("npy.tmp{}", std::process::id()));
    std::fs::File::create(&tmp)?.write_all(&out)?;
    std::fs::rename(&tmp, path)
}

/// Parse the header of a float32 C-order `.npy` file from its first bytes: (offset of the data,
/// shape).
fn parse_header(bytes: &[u8], path: &Path) -> Result<(usize, Vec<usize>), String> {
    let bad = |m: &str| format!("{}: not a float32 .npy file ({m})", path.display());
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("no NUMPY magic"));
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        _ => return Err(bad("unknown version")),
    };
    let header = std::str::from_utf8(
        bytes
            .get(start..start + hlen)
            .ok_or_else(|| bad("short header"))?,
    )
    .map_err(|_| bad("header not text"))?;
    if !header.contains("'descr': '<f4'") {
        return Err(bad("dtype is not '<f4'"));
    }
    if header.contains("'fortran_order': True") {
        return Err(bad("Fortran order"));
    }
    let shape_txt = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(['(', ')']).nth(1))
        .ok_or_else(|| bad("no shape"))?;
    let shape: Vec<usize> = shape_txt
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("bad shape"))?;
    Ok((start + hlen, shape))
}

fn check_size(path: &Path, data_bytes: usize, shape: &[usize]) -> Result<(), String> {
    let n: usize = shape.iter().product();
    if data_bytes != n * 4 {
        return Err(format!(
            "{}: not a float32 .npy file ({data_bytes} data bytes for shape {shape:?})",
            path.display()
        ));
    }
    Ok(())
}

/// Read a little-endian float32 C-order `.npy` file: (data, shape).
pub fn read_f32(path: &Path) -> Result<(Vec<f32>, Vec<usize>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (start, shape) = parse_header(&bytes, path)?;
    let body = &bytes[start..];
    check_size(path, body.len(), &shape)?;
    Ok((
        body.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        shape,
    ))
}

/// The shape of a float32 `.npy` file, reading only its header; the file's size must match the
/// shape (a truncated file is an error), so [`read_f32`] of it will succeed.
pub fn read_f32_shape(path: &Path) -> Result<Vec<usize>, String> {
    use std::io::Read;
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len() as usize;
    let mut head = Vec::with_capacity(4096);
    Read::by_ref(&mut f)
        .take(4096)
        .read_to_end(&mut head)
        .map_err(io)?;
    let (start, shape) = parse_header(&head, path)?;
    check_size(path, len.saturating_sub(start), &shape)?;
    Ok(shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_alignment() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.npy");
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        write_f32(&p, &data, &[2, 3]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(read_f32(&p).unwrap(), (data, vec![2, 3]));
        assert_eq!(read_f32_shape(&p).unwrap(), vec![2, 3]);
        // A truncated file: its header alone is not taken for the whole.
        std::fs::write(&p, &bytes[..bytes.len() - 4]).unwrap();
        assert!(read_f32_shape(&p).unwrap_err().contains("data bytes"));
        assert!(read_f32(&p).unwrap_err().contains("data bytes"));
        std::fs::write(&p, b"nope").unwrap();
        assert!(read_f32(&p).unwrap_err().contains("x.npy"));
        assert!(read_f32_shape(&p).unwrap_err().contains("x.npy"));
    }
}
