//! Figures with plotters, PNG or SVG by the file's extension, with an embedded font so they
//! render on machines without fonts: maps on the lat/lon grid (filled cells over a light blue
//! ocean and grey land without data, the Natural Earth coastline, a colour bar with units
//! and extension triangles, sequential or diverging colour maps), histograms with marker lines (Fig. 3) and predicted-vs-actual scatter plots
//! with the 1:1 line and r^2 (Figs. 5, 6). NaN, empty and constant data never panic.
//!
//! The module is split by idea: `axes` (ticks, tick and unit text, ranges), `colour` (colour
//! maps, the colour bar, series colours), `legend` (legends beside and inside plots), `maps`
//! (maps of cells and of points), `charts` (histograms, scatter plots, lines, bars, grouped
//! bars, pair plots), `heatmap`, `profiles` (cost profiles of identifiability), `panels`
//! (multi-panel figures) and `save` (writing a figure to PNG or SVG). Everything public is
//! re-exported here, as `crate::plot::draw_map` and so on.

mod axes;
mod charts;
mod coast;
mod colour;
mod heatmap;
mod legend;
mod maps;
mod panels;
mod profiles;
mod save;
#[cfg(test)]
mod test_support;

pub use axes::{
    axis, degree_text, lat_ticks, lon_ticks, nice_ticks, paper_units, range, tick_exponent,
    tick_text, unit_text,
};
pub use charts::{
    draw_bars, draw_grouped_bars, draw_histogram, draw_lines, draw_pairs, draw_pairs_marked,
    draw_pairs_marks, draw_scatter, emptiest_corner, histogram_range, scatter_label, MARK,
};
pub use colour::{bar_label, color, MISSING};
pub use heatmap::{draw_heatmap, heat_colours, heat_layout, HeatLayout};
pub use legend::{legend_width, Swatch};
pub use maps::{draw_geo_panel, draw_map, draw_points, map_values};
pub use panels::{draw_panels, Panel};
pub use profiles::{draw_profiles, ProfilePanel};
pub use save::{footnote, png_text, record, save, set_footnote};

use anyhow::{bail, Result};
use ndarray::Array2;
use plotters::prelude::FontStyle;

/// Settings shared by every kind of figure.
#[derive(Debug, Clone)]
pub struct Options {
    /// Title above the plot.
    pub title: String,
    /// Label of the x axis.
    pub xlabel: String,
    /// Label of the y axis.
    pub ylabel: String,
    /// Units (colour bar label of maps).
    pub units: String,
    /// Colour map: "viridis" (sequential) or "RdBu_r" (diverging, centred on zero).
    pub cmap: Option<String>,
    /// Lower end of the colour (or x) range.
    pub vmin: Option<f64>,
    /// Upper end of the colour (or x) range.
    pub vmax: Option<f64>,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Region boxes drawn on maps (e.g. the Table 2 regions).
    pub regions: Vec<crate::field::Region>,
    /// The quantity a colour bar names before its units: "GPP" and "gC m-2 d-1" label the
    /// bar "GPP (gC m-2 d-1)".
    pub quantity: String,
    /// Maps with a land fraction: cells whose land fraction is below this are not drawn and
    /// do not set the colour range (default 0.1).
    pub min_landfrac: f64,
    /// Maps: the analysis mask (lat x lon); cells where it is 0 or NaN are not drawn and do
    /// not set the colour range.
    pub mask: Option<Array2<f64>>,
    /// Scatter plots: the 1:1 line on equal axes (default); `false` gives a plain scatter
    /// with each axis over its own data.
    pub one_to_one: bool,
    /// Scatter plots: the squared correlation in the legend (default: with the 1:1 line).
    pub r2: Option<bool>,
    /// Scatter plots: the legend entry of the points (none if empty and without r^2).
    pub label: String,
    /// Scatter plots: named points drawn as black crosses and named in the legend (Fig. 6's
    /// default run, an "x").
    pub points: Vec<(String, f64, f64)>,
    /// Scatter plots: named vertical lines, magenta, in the legend (Fig. 6e's history-matching
    /// threshold).
    pub vlines: Vec<(String, f64)>,
    /// Line plots: tick labels at given x values in place of numbers (month names).
    pub xticks: Vec<(f64, String)>,
    /// Bar charts: the spread of each bar, drawn as an error bar of plus and minus it.
    pub errors: Vec<f64>,
    /// Bar charts: a reference bar on top in orange (label, value, spread): Fig. 7's error
    /// without permutation.
    pub reference: Option<(String, f64, f64)>,
    /// Multi-panel figures: which panels share their value range, so that they compare at a
    /// glance (Fig. S10): histograms their x range, line plots their y range, scatter plots
    /// both.
    pub share: Share,
    /// Texts the figure records beside its title and labels (PNG metadata, e.g. "synthetic
    /// observations" or what a marker means); not drawn.
    pub notes: Vec<String>,
    /// Heat maps: whether the diagonal is drawn (default true; `false` leaves it blank and
    /// out of the colour range, e.g. the self-correlations of Fig. S2).
    pub diagonal: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            title: String::new(),
            xlabel: String::new(),
            ylabel: String::new(),
            units: String::new(),
            cmap: None,
            vmin: None,
            vmax: None,
            regions: Vec::new(),
            width: 1000,
            height: 560,
            quantity: String::new(),
            min_landfrac: 0.1,
            mask: None,
            one_to_one: true,
            r2: None,
            label: String::new(),
            notes: Vec::new(),
            points: Vec::new(),
            vlines: Vec::new(),
            xticks: Vec::new(),
            errors: Vec::new(),
            reference: None,
            share: Share::None,
            diagonal: true,
        }
    }
}

impl Options {
    /// Checks the limits before any drawing: `vmin` and `vmax` must be finite numbers and,
    /// if both are given, `vmin < vmax` (NaN or inverted limits made plotters panic).
    pub fn check(&self) -> Result<()> {
        for (k, v) in [("vmin", self.vmin), ("vmax", self.vmax)] {
            if let Some(v) = v.filter(|v| !v.is_finite()) {
                bail!("figure option {k}: {v} is not a finite number");
            }
        }
        if let (Some(a), Some(b)) = (self.vmin, self.vmax) {
            if a >= b {
                bail!("figure options vmin = {a} and vmax = {b}: vmin must be below vmax");
            }
        }
        Ok(())
    }
}

/// Which panels of a multi-panel figure share their value range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Share {
    /// Each panel over its own data.
    #[default]
    None,
    /// Every panel of the figure over the same range.
    All,
    /// The panels of each row over the same range (e.g. the ensemble beside the emulated).
    Rows,
}

impl Share {
    /// The setting named by a script: "none", "all" or "rows".
    pub fn parse(s: &str) -> Result<Share> {
        Ok(match s {
            "none" => Share::None,
            "all" => Share::All,
            "rows" => Share::Rows,
            other => bail!(
                "share '{}': use \"all\" (every panel one range), \"rows\" (each row one range) or \"none\"",
                crate::format::printable(other)
            ),
        })
    }
}

static FONTS: std::sync::Once = std::sync::Once::new();

/// Registers the embedded DejaVu Sans (once): without it, no text can be drawn.
fn fonts() {
    FONTS.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

fn de<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing failed: {e:?}")
}
