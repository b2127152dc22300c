//! Saving: a figure rendered to a PNG or SVG file, written beside it first.

use super::{de, fonts, Options};
use anyhow::{bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Renders a figure to `path` (.png or .svg), writing a temporary file beside it first.
pub fn save(
    path: &Path,
    opts: &Options,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
) -> Result<PathBuf> {
    let _step = crate::progress::step("figures");
    opts.check()?;
    fonts();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    let tmp = crate::files::temp_beside(path, &format!(".{ext}"))?;
    let (w, h) = (opts.width.clamp(100, 10000), opts.height.clamp(100, 10000));
    match ext.as_str() {
        "png" => {
            let root = BitMapBackend::new(tmp.path(), (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(de)?;
            draw(&root)?;
            root.present()
                .map_err(de)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        "svg" => {
            let root = SVGBackend::new(tmp.path(), (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(de)?;
            draw_svg(&root)?;
            root.present()
                .map_err(de)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => bail!("{}: figures are .png or .svg files", path.display()),
    }
    crate::files::persist(tmp, path)?;
    Ok(path.to_path_buf())
}
