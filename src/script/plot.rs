//! The `plot` module: one call per figure, settings in an options map, the written path
//! returned (the REPL prints it).

use super::array::{operand, NdArray};
use super::convert::{number, script_err, type_name, RResult};
use super::field::ScriptField;
use crate::plot::{self, Options};
use ndarray::{Array2, Ix2};
use rhai::plugin::*;
use rhai::{Dynamic, Map, Module};
use std::path::Path;

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

/// Writes a figure to `file` (PNG or SVG by its extension) with one drawing expression for
/// both backends, and returns the path written.
macro_rules! figure {
    ($file:expr, $o:expr, |$a:ident| $draw:expr) => {
        plot::save(Path::new(&$file), &$o, |$a| $draw, |$a| $draw)
            .map(|p| p.display().to_string())
            .map_err(err)
    };
}

/// A map of label -> values (one series each).
fn series_of(map: &Map) -> RResult<Vec<(String, Vec<f64>)>> {
    map.iter()
        .map(|(k, v)| Ok((k.to_string(), values_of(v)?)))
        .collect()
}

/// The options every figure takes (maps, scatter plots and heat maps use some of them
/// only); `regions` and `mask` are read after ([`FigureOptions::options`]).
#[derive(serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FigureOptions {
    file: Option<String>,
    title: String,
    xlabel: String,
    ylabel: String,
    units: String,
    quantity: String,
    cmap: Option<String>,
    vmin: Option<f64>,
    vmax: Option<f64>,
    width: f64,
    height: f64,
    regions: Option<Dynamic>,
    mask: Option<Dynamic>,
    min_landfrac: f64,
    one_to_one: bool,
    r2: Option<bool>,
    label: String,
    notes: Vec<String>,
    points: Option<Dynamic>,
    vlines: Option<Dynamic>,
    xticks: Option<Dynamic>,
    errors: Option<Dynamic>,
    reference: Option<Dynamic>,
    share: Option<String>,
    diagonal: bool,
}

impl Default for FigureOptions {
    fn default() -> Self {
        let d = Options::default();
        FigureOptions {
            file: None,
            title: d.title,
            xlabel: d.xlabel,
            ylabel: d.ylabel,
            units: d.units,
            quantity: d.quantity,
            cmap: d.cmap,
            vmin: d.vmin,
            vmax: d.vmax,
            width: d.width as f64,
            height: d.height as f64,
            regions: None,
            mask: None,
            min_landfrac: d.min_landfrac,
            one_to_one: d.one_to_one,
            r2: d.r2,
            label: d.label,
            notes: d.notes,
            points: None,
            vlines: None,
            xticks: None,
            errors: None,
            reference: None,
            share: None,
            diagonal: d.diagonal,
        }
    }
}

impl FigureOptions {
    /// The plot's options and the output file.
    fn options(self) -> RResult<(Options, String)> {
        let cmap = match self.cmap.as_deref() {
            None => None,
            Some("viridis" | "sequential") => Some("viridis".into()),
            Some("RdBu_r" | "diverging") => Some("RdBu_r".into()),
            Some(other) => return Err(script_err(format!("unknown cmap '{other}': use viridis (sequential) or RdBu_r (diverging, centred on 0)", other = crate::format::printable(other)))),
        };
        let o = Options {
            title: self.title,
            xlabel: self.xlabel,
            ylabel: self.ylabel,
            units: self.units,
            cmap,
            vmin: self.vmin,
            vmax: self.vmax,
            regions: match &self.regions {
                Some(v) => regions_of(v)?,
                None => Vec::new(),
            },
            width: self.width as u32,
            height: self.height as u32,
            quantity: self.quantity,
            min_landfrac: self.min_landfrac,
            mask: self.mask.map(|v| grid_of(&v, "mask")).transpose()?,
            one_to_one: self.one_to_one,
            r2: self.r2,
            label: self.label,
            notes: self.notes,
            points: match &self.points {
                Some(v) => named_points(v)?,
                None => Vec::new(),
            },
            vlines: match &self.vlines {
                Some(v) => named_values(v, "vlines")?,
                None => Vec::new(),
            },
            xticks: Vec::new(),
            errors: match &self.errors {
                Some(v) => values_of(v)?,
                None => Vec::new(),
            },
            reference: match &self.reference {
                Some(v) => {
                    let r = named_values(v, "reference")?;
                    match r.as_slice() {
                        [(l, x)] => Some((l.clone(), *x, 0.0)),
                        _ => return Err(script_err("option reference is a map of one label -> value, e.g. #{\"no shuffle\": 0.02}")),
                    }
                }
                None => None,
            },
            share: match &self.share {
                Some(s) => plot::Share::parse(s).map_err(err)?,
                None => plot::Share::None,
            },
            diagonal: self.diagonal,
        };
        let mut o = o;
        if let Some(v) = &self.xticks {
            // one label per x value; paired with the x values by the figure that has them
            o.xticks = labels_of(v)?
                .into_iter()
                .enumerate()
                .map(|(k, l)| (k as f64, l))
                .collect();
        }
        let file = self
            .file
            .ok_or_else(|| script_err("a figure needs #{file: \"name.png\"} (or .svg)"))?;
        Ok((o, file))
    }
}

/// Reads the options every figure takes, and `extra` ones the caller reads itself;
/// returns them and the output file.
fn options(m: &Map, extra: &[&str]) -> RResult<(Options, String)> {
    super::options::read_with::<FigureOptions>(m, "a figure", extra)?.options()
}

/// A (lat, lon) option given as an Array or a Field (e.g. `mask`, `land`).
fn grid_of(v: &Dynamic, k: &str) -> RResult<Array2<f64>> {
    let values = if let Some(f) = v.read_lock::<ScriptField>() {
        f.0.values.clone()
    } else if let Some(a) = v.read_lock::<NdArray>() {
        a.data().clone()
    } else {
        return Err(script_err(format!(
            "option {k} is a (lat, lon) Array or Field, not {}",
            type_name(v)
        )));
    };
    let shape = values.shape().to_vec();
    values.into_dimensionality::<Ix2>().map_err(|_| {
        script_err(format!(
            "option {k} is a (lat, lon) Array, not shape {shape:?}"
        ))
    })
}

/// `regions: true` (the Table 2 regions) or a list of region names.
fn regions_of(v: &Dynamic) -> RResult<Vec<crate::field::Region>> {
    if let Ok(b) = v.as_bool() {
        return Ok(if b {
            crate::field::Region::table2()
        } else {
            Vec::new()
        });
    }
    let list = v
        .read_lock::<rhai::Array>()
        .ok_or_else(|| script_err("option regions is true or a list of region names"))?;
    list.iter()
        .map(|n| crate::field::Region::named(&n.to_string()).map_err(err))
        .collect()
}

fn values_of(d: &Dynamic) -> RResult<Vec<f64>> {
    if let Some(a) = d.read_lock::<NdArray>() {
        return Ok(a.data().iter().copied().collect());
    }
    if let Some(f) = d.read_lock::<ScriptField>() {
        return Ok(f.0.values.iter().copied().collect());
    }
    super::array::operand(d).map(|a| a.data().iter().copied().collect())
}

/// The values, coordinates and land fraction of a map: a (lat, lon) Field (which also gives
/// the title and units when the options do not), or a 2-D Array with `lat`, `lon` and
/// optionally `land` options.
fn map_data(data: &Dynamic, options: &Map, o: &mut Options) -> RResult<plot::Panel> {
    let out = if let Some(f) = data.read_lock::<ScriptField>() {
        let f = &f.0;
        if f.dims != f.grid.dims() {
            return Err(script_err(format!(
                "plot_map needs a ({}) field, not ({}): take a time mean or select a member first",
                f.grid.dims().join(", "),
                f.dims.join(", ")
            )));
        }
        if o.title.is_empty() {
            o.title = if f.long_name.is_empty() {
                f.name.clone()
            } else {
                f.long_name.clone()
            };
        }
        if o.quantity.is_empty() {
            o.quantity = f.name.clone();
        }
        // as a paper shows it: carbon fluxes per day, units without carets
        let scale = if o.units.is_empty() {
            let (scale, units) = plot::paper_units(&f.units);
            o.units = units;
            scale
        } else {
            // units asked for: converted to if they measure the same quantity
            match crate::field::units::conversion(&f.units, &o.units) {
                Ok((scale, 0.0)) => scale,
                _ => 1.0,
            }
        };
        plot::Panel::of_grid(&f.values.mapv(|v| v * scale), &f.grid).map_err(err)?
    } else if let Some(a) = data.read_lock::<NdArray>() {
        let v = a.data().clone().into_dimensionality::<Ix2>().map_err(|_| {
            script_err(format!(
                "plot_map needs a 2-D Array, not shape {:?}",
                a.data().shape()
            ))
        })?;
        let coord = |k: &str| -> RResult<Vec<f64>> {
            options.get(k).map(values_of).transpose()?.ok_or_else(|| {
                script_err(format!(
                    "plot_map of an Array needs the {k} option (cell centres)"
                ))
            })
        };
        let land = options
            .get("land")
            .map(|l| grid_of(l, "land"))
            .transpose()?;
        plot::Panel::Map {
            values: v,
            lat: coord("lat")?,
            lon: coord("lon")?,
            land,
        }
    } else {
        return Err(script_err(format!(
            "plot_map takes a Field or an Array, not {}",
            type_name(data)
        )));
    };
    Ok(out)
}

/// The bins and markers of a histogram's options.
fn histogram_opts(options: &Map) -> RResult<(usize, Vec<(f64, String)>)> {
    let bins = match options.get("bins") {
        Some(b) => b
            .as_int()
            .map_err(|_| script_err("option bins is an int"))?
            .clamp(1, 1000) as usize,
        None => 20,
    };
    let mut markers: Vec<(f64, String)> = Vec::new();
    if let Some(m) = options.get("markers") {
        let m = m
            .read_lock::<Map>()
            .ok_or_else(|| script_err("option markers is a map of label -> value"))?;
        for (k, x) in m.iter() {
            markers.push((number(x, &format!("marker {k}"))?, k.to_string()));
        }
    }
    Ok((bins, markers))
}

/// Option `points`: a map of label -> [x, y] (e.g. `#{default: [0.8, 0.9]}`).
fn named_points(v: &Dynamic) -> RResult<Vec<(String, f64, f64)>> {
    let m = v
        .read_lock::<Map>()
        .ok_or_else(|| script_err("option points is a map of label -> [x, y]"))?;
    m.iter()
        .map(|(k, p)| {
            let xy = values_of(p)
                .map_err(|_| script_err(format!("option points: {k} is not [x, y]")))?;
            match xy.as_slice() {
                [x, y] => Ok((k.to_string(), *x, *y)),
                _ => Err(script_err(format!(
                    "option points: {k} has {} numbers, not [x, y]",
                    xy.len()
                ))),
            }
        })
        .collect()
}

/// An option that maps labels to numbers (`vlines`, `reference`).
fn named_values(v: &Dynamic, what: &str) -> RResult<Vec<(String, f64)>> {
    let m = v
        .read_lock::<Map>()
        .ok_or_else(|| script_err(format!("option {what} is a map of label -> value")))?;
    m.iter()
        .map(|(k, x)| Ok((k.to_string(), number(x, &format!("{what} {k}"))?)))
        .collect()
}

/// Option `xticks`: a list of words, one per x value (e.g. month names).
fn labels_of(v: &Dynamic) -> RResult<Vec<String>> {
    let a = v
        .read_lock::<rhai::Array>()
        .ok_or_else(|| script_err("option xticks is a list of words, one per x value"))?;
    Ok(a.iter().map(|x| x.to_string()).collect())
}

/// Pairs `xticks` words (numbered 0, 1, ... when read) with the figure's x values.
fn ticks_at(o: &mut Options, x: &[f64]) -> RResult<()> {
    if o.xticks.is_empty() {
        return Ok(());
    }
    if o.xticks.len() != x.len() {
        return Err(script_err(format!(
            "option xticks has {} words for {} x values",
            o.xticks.len(),
            x.len()
        )));
    }
    for (t, &v) in o.xticks.iter_mut().zip(x) {
        t.0 = v;
    }
    Ok(())
}

/// One panel of a multi-panel figure from its map: `kind` and that kind's data keys.
fn panel_of(m: &Map) -> RResult<(plot::Panel, Options)> {
    let kind = m.get("kind").map(|k| k.to_string()).ok_or_else(|| {
        script_err("a panel needs kind: map, histogram, scatter, lines, bars or grouped_bars")
    })?;
    let get = |k: &str| -> RResult<&Dynamic> {
        m.get(k)
            .ok_or_else(|| script_err(format!("a {kind} panel needs {k}")))
    };
    let data_keys: &[&str] = match kind.as_str() {
        "map" => &["kind", "data", "lat", "lon", "land"],
        "histogram" => &["kind", "values", "bins", "markers"],
        "scatter" => &["kind", "x", "y"],
        "lines" => &["kind", "x", "series"],
        "bars" => &["kind", "labels", "values"],
        "grouped_bars" => &["kind", "categories", "series"],
        k => {
            return Err(script_err(format!(
            "unknown panel kind '{k}': use map, histogram, scatter, lines, bars or grouped_bars"
        , k = crate::format::printable(k))))
        }
    };
    let mut with_file = m.clone();
    with_file.insert("file".into(), "panel.png".into());
    let (mut o, _) = options(&with_file, data_keys)?;
    let names = |d: &Dynamic| -> RResult<Vec<String>> {
        Ok(d.read_lock::<rhai::Array>()
            .ok_or_else(|| script_err(format!("{kind} panel: give a list of names")))?
            .iter()
            .map(|x| x.to_string())
            .collect())
    };
    let series = |d: &Dynamic| -> RResult<Vec<(String, Vec<f64>)>> {
        let map = d.read_lock::<Map>().ok_or_else(|| {
            script_err(format!("{kind} panel: series is a map of label -> values"))
        })?;
        map.iter()
            .map(|(k, v)| Ok((k.to_string(), values_of(v)?)))
            .collect()
    };
    let panel = match kind.as_str() {
        "map" => map_data(get("data")?, m, &mut o)?,
        "histogram" => {
            let (bins, markers) = histogram_opts(m)?;
            plot::Panel::Histogram {
                values: values_of(get("values")?)?,
                bins,
                markers,
            }
        }
        "scatter" => plot::Panel::Scatter {
            x: values_of(get("x")?)?,
            y: values_of(get("y")?)?,
        },
        "lines" => plot::Panel::Lines {
            x: values_of(get("x")?)?,
            series: series(get("series")?)?,
        },
        "bars" => plot::Panel::Bars {
            labels: names(get("labels")?)?,
            values: values_of(get("values")?)?,
        },
        _ => plot::Panel::GroupedBars {
            categories: names(get("categories")?)?,
            series: series(get("series")?)?,
        },
    };
    if let plot::Panel::Lines { x, .. } = &panel {
        ticks_at(&mut o, x)?;
    }
    Ok((panel, o))
}

/// The functions of the `plot` module.
#[export_module]
pub mod plot_fns {
    use super::*;

    /// Sets the line at the foot of every figure drawn from now on (also kept in each PNG's
    /// metadata), e.g. that the data are the demo's synthetic twin; `""` for none. Returns
    /// the line it replaces. The stage scripts set it through `experiment::config`.
    ///
    /// ```rhai
    /// let before = figure_footnote("demo model, synthetic identical-twin observations");
    /// figure_footnote(before)    //=> demo model, synthetic identical-twin observations
    /// ```
    pub fn figure_footnote(text: &str) -> String {
        plot::set_footnote(text)
    }

    /// How a figure shows values in `units`, as papers write them: `#{scale, units}`, the
    /// factor to multiply the values by and the units to write (carbon fluxes per day, water
    /// fluxes in mm d-1, exponents without carets). `plot_map` of a Field does this itself.
    ///
    /// ```rhai
    /// paper_units("gC/m^2/s")    //=> #{"scale": 86400.0, "units": "gC m-2 d-1"}
    /// paper_units("W/m^2")    //=> #{"scale": 1.0, "units": "W m-2"}
    /// ```
    pub fn paper_units(units: &str) -> Map {
        let (scale, text) = plot::paper_units(units);
        let mut m = Map::new();
        m.insert("scale".into(), Dynamic::from_float(scale));
        m.insert("units".into(), Dynamic::from(text));
        m
    }

    /// A map of a (lat, lon) Field — or an Array with `#{lat, lon}` options — as filled
    /// cells with coastlines, cells without a value light grey, and a colour bar labelled
    /// "quantity (units)". A Field is shown as a paper shows it: carbon fluxes in gC m-2 d-1
    /// and water fluxes in mm d-1 (converted from per second), other units written without
    /// carets (W m-2); cells whose land fraction is below 0.1 are not drawn and do not set
    /// the colour range. An Array's coastlines come from its `land` option (a land fraction;
    /// its cells below 0.1 are left out too), else from the built-in 4x5 land fraction when
    /// the map is on that grid, else from the edge of its defined cells.
    ///
    /// Options: `file` (.png or .svg, required), `title` (default: the long name),
    /// `quantity` (default: the Field's name) and `units` (default: the Field's, as above;
    /// other units of the same quantity are converted to), `cmap` ("viridis" sequential,
    /// default; "RdBu_r" diverging, centred on zero, for biases, effects of either sign and
    /// EOFs), `vmin`, `vmax`, `width`, `height`, `regions` (`true`: the Table 2 boxes; or a
    /// list of their names), `min_landfrac` (default 0.1), `mask` (a (lat, lon) Array or
    /// Field: cells where it is 0 or NaN are not drawn, e.g. the analysis mask). Returns the
    /// path written.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP.time_mean();
    /// plot_map(f, #{file: `${TEMP_DIR}/gpp.png`}).ends_with("gpp.png")    //=> true
    /// plot_map(f, #{file: `${TEMP_DIR}/boxes.png`, regions: ["Amazon", "Sahel"]}).ends_with("boxes.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_map(data: Dynamic, options: Map) -> RResult<String> {
        let (mut o, file) = options_of(&options, &["lat", "lon", "land"])?;
        let panel = map_data(&data, &options, &mut o)?;
        figure!(file, o, |a| plot::draw_geo_panel(a, &panel, &o))
    }

    /// A histogram with vertical marker lines (Fig. 3). Options as for every figure, plus
    /// `bins` (default 20) and `markers`, a map of label -> value (e.g. `#{observed: 0.3,
    /// "default": -0.1}`; `default` is a reserved word in Rhai, so quote it).
    ///
    /// ```rhai
    /// let pcs = randn(100, 1);
    /// plot_histogram(pcs, #{file: `${TEMP_DIR}/pc1.png`, markers: #{observed: 0.5}, xlabel: "PC1"}).ends_with("pc1.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_histogram(values: Dynamic, options: Map) -> RResult<String> {
        let (o, file) = options_of(&options, &["bins", "markers"])?;
        let v = values_of(&values)?;
        let (bins, markers) = histogram_opts(&options)?;
        figure!(file, o, |a| plot::draw_histogram(a, &v, bins, &markers, &o))
    }

    /// Lines with markers (Figs. 8, S12): `x` and a map of label -> values, one line each
    /// (NaN breaks a line); the legend stands beside the plot. `xticks`: words, one per x
    /// value, in place of numbers (e.g. month names).
    ///
    /// ```rhai
    /// let iters = arange(1, 6);
    /// plot_lines(iters, #{"differential evolution": array([5, 3, 2, 1.5, 1.4]), "dual annealing": array([6, 4, 2.5, 2, 1.8])}, #{file: `${TEMP_DIR}/cost.png`, xlabel: "iteration", ylabel: "J"}).ends_with("cost.png")    //=> true
    /// let q = plot_lines(arange(1, 4), #{GPP: [1, 3, 2]}, #{file: `${TEMP_DIR}/season.png`, xticks: ["Jan", "Feb", "Mar"]});
    /// q.ends_with("season.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_lines(x: Dynamic, series: Map, options: Map) -> RResult<String> {
        let (mut o, file) = options_of(&options, &[])?;
        let xv = values_of(&x)?;
        ticks_at(&mut o, &xv)?;
        let s = series_of(&series)?;
        figure!(file, o, |a| plot::draw_lines(a, &xv, &s, &o))
    }

    /// A labelled heat map of a matrix (Fig. S2), cells annotated with their values when
    /// they are large enough, NaN cells light grey, one label per row and column (column
    /// labels read bottom to top), a colour bar as high as the matrix labelled with
    /// `quantity` and `units`. Colours: data of both signs get the diverging map symmetric
    /// about 0 at the largest |value|, data of one sign the sequential map over their range,
    /// unless `cmap`, `vmin` or `vmax` say otherwise. `labels` names the rows and columns of
    /// a square matrix; `#{columns: [...]}` names columns otherwise; `diagonal: false`
    /// leaves the diagonal out (e.g. self-correlations).
    ///
    /// ```rhai
    /// let pc = array([[NAN, 0.8, -0.3], [0.8, NAN, 0.1], [-0.3, 0.1, NAN]]);
    /// plot_heatmap(pc, ["medlynslope", "dleaf", "kmax"], #{file: `${TEMP_DIR}/pc.png`}).ends_with("pc.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_heatmap(matrix: NdArray, labels: rhai::Array, options: Map) -> RResult<String> {
        let (mut o, file) = options_of(&options, &["columns"])?;
        let m = matrix
            .data()
            .clone()
            .into_dimensionality::<Ix2>()
            .map_err(|_| {
                script_err(format!(
                    "a heat map needs a 2-D Array, not shape {:?}",
                    matrix.data().shape()
                ))
            })?;
        let rows: Vec<String> = labels.iter().map(|x| x.to_string()).collect();
        let cols: Vec<String> = match options.get("columns") {
            Some(c) => c
                .read_lock::<rhai::Array>()
                .ok_or_else(|| script_err("option columns is a list of names"))?
                .iter()
                .map(|x| x.to_string())
                .collect(),
            None => rows.clone(),
        };
        // cells of about 46 pixels, room for labels, title and colour bar
        if !options.contains_key("width") && !options.contains_key("height") {
            let l = plot::heat_layout(4000, 4000, &rows, &cols, !o.title.is_empty());
            let room_x = l
                .row_boxes
                .iter()
                .map(|b| b.2 - b.0)
                .max()
                .unwrap_or(0)
                .max(0) as u32;
            let room_y = l
                .col_boxes
                .iter()
                .map(|b| b.3 - b.1)
                .max()
                .unwrap_or(0)
                .max(0) as u32;
            let (nr, nc) = (rows.len().max(1) as u32, cols.len().max(1) as u32);
            o.width = (room_x + 46 * nc + 170).clamp(400, 2400);
            o.height = (room_y + 46 * nr + 80).clamp(300, 2400);
        }
        figure!(file, o, |a| plot::draw_heatmap(a, &m, &rows, &cols, &o))
    }

    /// Horizontal bars, one per label from the top (Fig. 7: permutation importance);
    /// `errors` (one spread per bar) draws error bars, `reference` (a map of one label ->
    /// value) an orange bar on top, e.g. the error with nothing shuffled.
    ///
    /// ```rhai
    /// plot_bars(["medlynslope", "kmax", "dint"], [0.8, 0.3, 0.05], #{file: `${TEMP_DIR}/importance.png`, xlabel: "MSE increase"}).ends_with("importance.png")    //=> true
    /// let o = #{file: `${TEMP_DIR}/fig7.png`, errors: [0.05, 0.02, 0.01], reference: #{"none shuffled": 0.04}};
    /// plot_bars(["kmax", "medlynslope", "dint"], [0.9, 0.5, 0.06], o).ends_with("fig7.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_bars(labels: rhai::Array, values: Dynamic, options: Map) -> RResult<String> {
        let (o, file) = options_of(&options, &[])?;
        let l: Vec<String> = labels.iter().map(|x| x.to_string()).collect();
        let v = values_of(&values)?;
        figure!(file, o, |a| plot::draw_bars(a, &l, &v, &o))
    }

    /// Vertical bars in groups (Fig. 10): `categories` (e.g. regions) and a map of series
    /// label -> one value per category (e.g. the optimised and the default run's bias).
    ///
    /// ```rhai
    /// let bias = #{"optimized - obs": [0.1, -0.4, 0.2], "default - obs": [0.3, -0.9, 0.5]};
    /// let opts = #{file: `${TEMP_DIR}/bias.png`, ylabel: "GPP bias (gC m-2 d-1)"};
    /// plot_grouped_bars(["Global", "Amazon", "Sahel"], bias, opts).ends_with("bias.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_grouped_bars(
        categories: rhai::Array,
        series: Map,
        options: Map,
    ) -> RResult<String> {
        let (o, file) = options_of(&options, &[])?;
        let c: Vec<String> = categories.iter().map(|x| x.to_string()).collect();
        let s = series_of(&series)?;
        figure!(file, o, |a| plot::draw_grouped_bars(a, &c, &s, &o))
    }

    /// A pair (corner) plot of a point cloud (Fig. 9): `points` (n x k Array), `names` of the
    /// k columns; histograms on the diagonal, each pair's points below it (above 400 points a
    /// 2-D histogram shaded by count). `vmin`/`vmax` fix every axis (e.g. 0 and 1 for
    /// scalings); `mark` (k values, e.g. the optimum or the truth) is drawn as a red cross in
    /// each pair and a red line in each histogram, `default` (k values, the default run's
    /// scalings; `()` for none) the same in black (Fig. 9).
    ///
    /// ```rhai
    /// let best = latin_hypercube(200, 3, 7);
    /// let o = #{file: `${TEMP_DIR}/pairs.png`, vmin: 0, vmax: 1, mark: [0.6, 0.5, 0.3], "default": [0.5, 0.5, 0.5]};
    /// plot_pairs(best, ["medlynslope", "kmax", "fff"], o).ends_with("pairs.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_pairs(points: NdArray, names: rhai::Array, options: Map) -> RResult<String> {
        let (mut o, file) = options_of(&options, &["mark", "default"])?;
        let read = |key: &str| -> RResult<Option<Vec<f64>>> {
            match options.get(key) {
                None => Ok(None),
                Some(m) if m.is_unit() => Ok(None),
                Some(m) => Ok(Some(
                    operand(m)
                        .map_err(|_| {
                            script_err(format!(
                                "plot_pairs: {key} is a list of numbers, one per column"
                            ))
                        })?
                        .data()
                        .iter()
                        .copied()
                        .collect(),
                )),
            }
        };
        let (mark, dflt) = (read("mark")?, read("default")?);
        let mut marks: Vec<(&[f64], plotters::style::RGBColor)> = Vec::new();
        if let Some(d) = &dflt {
            marks.push((d, plotters::style::BLACK));
        }
        if let Some(m) = &mark {
            marks.push((m, plot::MARK));
        }
        if !options.contains_key("width") && !options.contains_key("height") {
            (o.width, o.height) = (900, 900);
        }
        let pts = points
            .data()
            .clone()
            .into_dimensionality::<Ix2>()
            .map_err(|_| {
                script_err(format!(
                    "plot_pairs needs an (n, k) Array, not shape {:?}",
                    points.data().shape()
                ))
            })?;
        let n: Vec<String> = names.iter().map(|x| x.to_string()).collect();
        figure!(file, o, |a| plot::draw_pairs_marks(a, &pts, &n, &marks, &o))
    }

    /// A multi-panel figure with (a), (b), (c) labels: `panels` is a list of maps, each with
    /// a `kind` (map, histogram, scatter, lines, bars, grouped_bars), that kind's data (map:
    /// `data` and for an Array `lat`, `lon`; histogram: `values`, `bins`, `markers`; scatter:
    /// `x`, `y`; lines: `x`, `series`; bars: `labels`, `values`; grouped_bars: `categories`,
    /// `series`) and its own `title`, labels, `cmap`, limits. Options: `file`, `title`,
    /// `columns` (default 2), `width` and `height` of the whole figure, `share` ("rows": the
    /// panels of each row over one value range, "all": every panel, "none"). Line panels
    /// naming the same series share one legend, in an empty cell or beside the grid.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP.time_mean();
    /// let panels = [#{kind: "map", data: f, title: "GPP", regions: true},
    ///               #{kind: "histogram", values: randn(50, 1), markers: #{observed: 0.2}},
    ///               #{kind: "scatter", x: linspace(0, 1, 9), y: linspace(0, 1, 9)}];
    /// plot_panels(panels, #{file: `${TEMP_DIR}/panels.png`, columns: 3}).ends_with("panels.png")    //=> true
    /// let h = [#{kind: "histogram", values: randn(50, 1)}, #{kind: "histogram", values: randn(50, 1) * 3}];
    /// plot_panels(h, #{file: `${TEMP_DIR}/shared.png`, share: "rows"}).ends_with("shared.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_panels(panels: rhai::Array, options: Map) -> RResult<String> {
        let (mut o, file) = options_of(&options, &["columns"])?;
        let cols = match options.get("columns") {
            Some(c) => c
                .as_int()
                .map_err(|_| script_err("option columns is an int"))?
                .clamp(1, 12) as usize,
            None => 2,
        };
        let parsed: Vec<(plot::Panel, Options)> = panels
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let m = p
                    .read_lock::<Map>()
                    .ok_or_else(|| script_err(format!("panel {} is not a map", i + 1)))?;
                panel_of(&m).map_err(|e| script_err(format!("panel {}: {e}", i + 1)))
            })
            .collect::<RResult<_>>()?;
        if parsed.is_empty() {
            return Err(script_err("plot_panels: no panels"));
        }
        if parsed.len() > 26 {
            return Err(script_err("plot_panels: at most 26 panels, (a) to (z)"));
        }
        let rows = parsed.len().div_ceil(cols);
        if !options.contains_key("width") && !options.contains_key("height") {
            (o.width, o.height) = (520 * cols.min(parsed.len()) as u32, 380 * rows as u32 + 40);
        }
        figure!(file, o, |a| plot::draw_panels(a, &parsed, cols, &o))
    }

    /// Predicted (`y`) against actual (`x`) with the 1:1 line on equal axes and r^2 (the
    /// squared correlation) in the legend (Figs. 5, 6). Options as for every figure, plus
    /// `one_to_one: false` for a plain scatter (each axis over its own data, no 1:1 line, no
    /// r^2, e.g. a cost against a parameter), `r2` (true/false: r^2 in the legend; default
    /// with the 1:1 line), `label`, the points' legend entry, `points` (a map of label -> [x,
    /// y], each a black cross: Fig. 6's default run) and `vlines` (a map of label -> x, the
    /// first magenta: Fig. 6e's threshold). The legend stands beside the plot.
    ///
    /// ```rhai
    /// let x = linspace(0, 1, 30);
    /// plot_scatter(x, x * 0.9 + 0.05, #{file: `${TEMP_DIR}/fit.svg`, title: "PC1"}).ends_with("fit.svg")    //=> true
    /// plot_scatter(x, (x - 0.3) ** 2, #{file: `${TEMP_DIR}/cost.png`, one_to_one: false, xlabel: "kmax scaling", ylabel: "J"}).ends_with("cost.png")    //=> true
    /// plot_scatter(x, x, #{file: `${TEMP_DIR}/rmse.png`, r2: false, label: "PPE members"}).ends_with("rmse.png")    //=> true
    /// plot_scatter(x, x * 1.1, #{file: `${TEMP_DIR}/fig6e.png`, points: #{"default run": [0.7, 0.9]}, vlines: #{threshold: 0.3}}).ends_with("fig6e.png")    //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn plot_scatter(x: Dynamic, y: Dynamic, options: Map) -> RResult<String> {
        let (mut o, file) = options_of(&options, &[])?;
        let (xv, yv) = (values_of(&x)?, values_of(&y)?);
        // square by default, so that the 1:1 line is a diagonal (the legend beside it); a
        // plain scatter is wide
        if !options.contains_key("width") && !options.contains_key("height") {
            let mut names: Vec<(String, plotters::style::RGBColor, plot::Swatch)> = Vec::new();
            let swatch = (plotters::style::BLACK, plot::Swatch::Line);
            let mut add = |l: String| names.push((l, swatch.0, swatch.1));
            if o.one_to_one {
                add("1:1".into());
            }
            if let Some(l) = plot::scatter_label(&xv, &yv, &o) {
                add(l);
            }
            o.points.iter().for_each(|p| add(p.0.clone()));
            o.vlines.iter().for_each(|p| add(p.0.clone()));
            let lw = plot::legend_width(&names);
            (o.width, o.height) = if o.one_to_one {
                (600 + lw, 600)
            } else {
                (800 + lw, 520)
            };
        }
        figure!(file, o, |a| plot::draw_scatter(a, &xv, &yv, &o))
    }
}

fn options_of(m: &Map, extra: &[&str]) -> RResult<(Options, String)> {
    options(m, extra)
}

/// The `plot` module.
pub fn module() -> Module {
    exported_module!(plot_fns)
}
