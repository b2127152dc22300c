//! TEMPORARY local reader (replaced by the npy26 branch before commit).
use anyhow::{bail, Result};
use ndarray::{ArrayD, IxDyn};
use std::path::Path;
/// Reads a numeric .npy file.
pub fn read_npy(path: &Path) -> Result<ArrayD<f64>> {
    let b = std::fs::read(path)?;
    if !b.starts_with(b"\x93NUMPY") {
        bail!("{}: not npy", path.display());
    }
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = String::from_utf8_lossy(&b[10..10 + hl]).to_string();
    let data = &b[10 + hl..];
    let shape: Vec<usize> = h
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .split(',')
        .filter_map(|x| x.trim().parse().ok())
        .collect();
    let v: Vec<f64> = if h.contains("<f4") {
        data.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
            .collect()
    } else if h.contains("<f8") {
        data.chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    } else {
        bail!("{}: dtype", path.display())
    };
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), v)?)
}
