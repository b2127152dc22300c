//! Saving: a figure rendered to a PNG or SVG file, written beside it first. A PNG carries
//! its texts as metadata (title, axis labels, colour bar, legend, the program that drew it),
//! which image viewers show and tests and the report read back ([`png_text`]).

use super::{de, fonts, Options};
use anyhow::{bail, Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

thread_local! {
    /// The line every figure drawn by this thread carries at its foot (see [`set_footnote`]).
    static FOOTNOTE: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

thread_local! {
    /// Texts drawn in the figure being drawn, beyond its options (see [`record`]).
    static DRAWN: std::cell::RefCell<Vec<(&'static str, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Records a text the figure being drawn shows, kept in the PNG's metadata under `key`:
/// "Legend" for each legend entry as drawn (with its r²), "Panel" for each panel's letter,
/// title and colour range (e.g. that six maps share one colour scale).
pub fn record(key: &'static str, text: String) {
    DRAWN.with(|p| p.borrow_mut().push((key, text)));
}

/// Sets the line every figure this thread draws from now on carries at its foot, e.g. "demo
/// model, synthetic identical-twin observations" ("" for none); it is also recorded in the
/// PNG's metadata. Returns the line it replaces.
pub fn set_footnote(text: &str) -> String {
    FOOTNOTE.with(|f| std::mem::replace(&mut *f.borrow_mut(), text.trim().to_string()))
}

/// The footnote figures carry now (see [`set_footnote`]).
pub fn footnote() -> String {
    FOOTNOTE.with(|f| f.borrow().clone())
}

/// Draws `draw` into `root`, below it a strip with the footnote if there is one.
fn with_footnote<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    note: &str,
    draw: impl FnOnce(&DrawingArea<DB, Shift>) -> Result<()>,
) -> Result<()> {
    if note.is_empty() {
        return draw(root);
    }
    let (_, h) = root.dim_in_pixel();
    let (body, foot) = root.split_vertically(h.saturating_sub(20));
    draw(&body)?;
    use plotters::style::text_anchor::{HPos, Pos, VPos};
    foot.draw(&Text::new(
        note.to_string(),
        (8, 10),
        ("sans-serif", 13)
            .into_font()
            .color(&RGBColor(170, 30, 30))
            .pos(Pos::new(HPos::Left, VPos::Center)),
    ))
    .map_err(de)
}

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
    let note = footnote();
    DRAWN.with(|p| p.borrow_mut().clear());
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_lowercase)
        .unwrap_or_default();
    let tmp = crate::files::temp_beside(path, &format!(".{ext}"))?;
    let (w, h) = (opts.width.clamp(100, 10000), opts.height.clamp(100, 10000));
    match ext.as_str() {
        "png" => {
            let mut buf = vec![255u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
                root.fill(&WHITE).map_err(de)?;
                with_footnote(&root, &note, draw)?;
                root.present().map_err(de)?;
            }
            let mut t = texts(opts, &note);
            t.extend(DRAWN.with(|p| p.take()));
            write_png(tmp.as_file(), &buf, (w, h), &t)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        "svg" => {
            let root = SVGBackend::new(tmp.path(), (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(de)?;
            with_footnote(&root, &note, draw_svg)?;
            root.present()
                .map_err(de)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        _ => bail!("{}: figures are .png or .svg files", path.display()),
    }
    crate::files::persist(tmp, path)?;
    Ok(path.to_path_buf())
}

/// The texts a PNG records: what the figure says, in words a reader or a test can find.
fn texts(opts: &Options, note: &str) -> Vec<(&'static str, String)> {
    let mut t = vec![
        ("Title", opts.title.clone()),
        ("X label", opts.xlabel.clone()),
        ("Y label", opts.ylabel.clone()),
        ("Colour bar", super::bar_label(opts)),
    ];
    t.extend(opts.notes.iter().map(|n| ("Comment", n.clone())));
    t.push(("Comment", note.to_string()));
    t.retain(|(_, v)| !v.is_empty());
    t.push(("Software", format!("clmtune {}", env!("CARGO_PKG_VERSION"))));
    t
}

/// Encodes an RGB buffer as a PNG with `texts` as UTF-8 text chunks.
fn write_png(
    file: &std::fs::File,
    buf: &[u8],
    (w, h): (u32, u32),
    texts: &[(&str, String)],
) -> Result<()> {
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    for (k, v) in texts {
        enc.add_itxt_chunk(k.to_string(), v.clone())?;
    }
    let mut wr = enc.write_header()?;
    wr.write_image_data(buf)?;
    wr.finish()?;
    Ok(())
}

/// The text chunks of a PNG file (keyword, text), in order: what [`save`] recorded.
pub fn png_text(path: &Path) -> Result<Vec<(String, String)>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut dec = png::Decoder::new(std::io::BufReader::new(f));
    dec.set_ignore_text_chunk(false);
    let mut reader = dec
        .read_info()
        .with_context(|| format!("{}: not a PNG file", path.display()))?;
    // text after the image data is read with the rest of the file
    let mut img = vec![0; reader.output_buffer_size()];
    let _ = reader.next_frame(&mut img);
    let _ = reader.finish();
    let info = reader.info();
    let mut out: Vec<(String, String)> = info
        .uncompressed_latin1_text
        .iter()
        .map(|c| (c.keyword.clone(), c.text.clone()))
        .collect();
    for c in &info.utf8_text {
        out.push((c.keyword.clone(), c.get_text().unwrap_or_default()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_png_records_its_texts() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.png");
        let o = Options {
            title: "GPP PC1 (62.3 % of variance)".into(),
            xlabel: "RMSE (gC m⁻² d⁻¹)".into(),
            quantity: "GPP".into(),
            units: "gC m-2 d-1".into(),
            notes: vec!["synthetic observations".into()],
            ..Options::default()
        };
        save(
            &p,
            &o,
            |a| a.fill(&RED).map_err(de),
            |a| a.fill(&RED).map_err(de),
        )
        .unwrap();
        let t = png_text(&p).unwrap();
        let get = |k: &str| t.iter().find(|(a, _)| a == k).map(|(_, b)| b.as_str());
        assert_eq!(get("Title"), Some("GPP PC1 (62.3 % of variance)"));
        assert_eq!(get("X label"), Some("RMSE (gC m⁻² d⁻¹)"));
        assert!(get("Colour bar").unwrap().starts_with("GPP (gC m"));
        assert_eq!(get("Comment"), Some("synthetic observations"));
        assert!(get("Y label").is_none(), "empty texts are left out");
        assert!(get("Software").unwrap().starts_with("clmtune "));
        // the image itself: every pixel red
        let img = image_rgb(&p);
        assert!(img.chunks(3).all(|c| c == [255, 0, 0]));
        // a footnote: a strip of 20 rows at the foot, not red, with dark red text; recorded
        let before = set_footnote("demo model, synthetic observations");
        save(
            &p,
            &o,
            |a| a.fill(&RED).map_err(de),
            |a| a.fill(&RED).map_err(de),
        )
        .unwrap();
        set_footnote(&before);
        let img = image_rgb(&p);
        let row = |y: usize| &img[y * 1000 * 3..(y + 1) * 1000 * 3];
        assert!(
            row(539).chunks(3).all(|c| c == [255, 0, 0]),
            "the figure above the strip"
        );
        assert!(
            row(540).chunks(3).all(|c| c != [255, 0, 0]),
            "the strip is not the figure"
        );
        let ink = (540..560)
            .flat_map(|y| {
                row(y)
                    .chunks(3)
                    .filter(|c| c[0] > 100 && c[1] < 120)
                    .collect::<Vec<_>>()
            })
            .count();
        assert!(ink > 100, "the footnote's text: {ink} pixels");
        let t = png_text(&p).unwrap();
        assert!(t
            .iter()
            .any(|(k, v)| k == "Comment" && v == "demo model, synthetic observations"));
        assert_eq!(footnote(), "", "the footnote was put back");
    }

    fn image_rgb(p: &Path) -> Vec<u8> {
        let dec = png::Decoder::new(std::fs::File::open(p).unwrap());
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        r.next_frame(&mut buf).unwrap();
        buf
    }
}
