//! Helpers of the figure tests: rendering into a buffer and reading its pixels.

use super::fonts;
use anyhow::Result;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Share of pixels of a buffer that are not white.
pub(super) fn inked(buf: &[u8]) -> f64 {
    let px = buf.chunks(3).filter(|p| p != &[255, 255, 255]).count();
    px as f64 / (buf.len() / 3) as f64
}

pub(super) fn render(
    w: u32,
    h: u32,
    f: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
) -> Vec<u8> {
    fonts();
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).unwrap();
        f(&root).unwrap();
        root.present().unwrap();
    }
    // FIG_DUMP=dir writes each rendered figure as a PPM file there (to look at)
    if let Ok(dir) = std::env::var("FIG_DUMP") {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let k = N.fetch_add(1, Ordering::SeqCst);
        let name = std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "_");
        let mut out = format!("P6\n{w} {h}\n255\n").into_bytes();
        out.extend_from_slice(&buf);
        let _ = std::fs::write(format!("{dir}/{name}_{k}.ppm"), out);
    }
    buf
}

pub(super) fn render_err(f: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>) -> bool {
    fonts();
    let mut buf = vec![0u8; 300 * 200 * 3];
    let root = BitMapBackend::with_buffer(&mut buf, (300, 200)).into_drawing_area();
    f(&root).is_err()
}

/// Bounding box (x0, y0, x1, y1), inclusive, of the pixels of colour `c`.
pub(super) fn bbox(buf: &[u8], w: u32, c: RGBColor) -> Option<(u32, u32, u32, u32)> {
    let mut b: Option<(u32, u32, u32, u32)> = None;
    for (k, p) in buf.chunks(3).enumerate() {
        if p == [c.0, c.1, c.2] {
            let (x, y) = (k as u32 % w, k as u32 / w);
            b = Some(match b {
                None => (x, y, x, y),
                Some((a, b2, c2, d)) => (a.min(x), b2.min(y), c2.max(x), d.max(y)),
            });
        }
    }
    b
}

pub(super) fn px(buf: &[u8], w: u32, x: u32, y: u32) -> [u8; 3] {
    let k = ((y * w + x) * 3) as usize;
    [buf[k], buf[k + 1], buf[k + 2]]
}

/// A 10 x 20 grid (not the 4x5 one): lat -81..81, lon 0..351.
pub(super) fn small_grid() -> (Vec<f64>, Vec<f64>) {
    (
        (0..10).map(|i| -81.0 + 18.0 * i as f64).collect(),
        (0..20).map(|j| 9.0 + 18.0 * j as f64).collect(),
    )
}
