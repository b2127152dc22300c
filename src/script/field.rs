//! The script `Field` type and the archive functions: find cases and their months, read
//! history variables and derived outputs, time means, area-weighted means, units.

use super::array::NdArray;
use super::convert::{number, script_err, type_name, RResult};
use crate::archive;
use crate::array::reduce::Reduction;
use crate::field::dims::Label;
use crate::field::read::{
    read_case as read_case_fields, read_ensemble as read_ensemble_fields, Output,
};
use crate::field::write::{Coord, NamedArray};
use crate::field::{Field, Region};
use rhai::plugin::*;
use rhai::{Dynamic, Map, Module, FLOAT, INT};
use std::path::Path;
use std::sync::Arc;

/// A Rhai list.
type List = rhai::Array;

/// A field as scripts hold it (shared, cheap to pass around).
#[derive(Clone, Debug)]
pub struct ScriptField(pub Arc<Field>);

fn err(e: anyhow::Error) -> Box<EvalAltResult> {
    script_err(format!("{e:#}"))
}

fn years_arg(d: &Dynamic) -> RResult<(i64, i64)> {
    let bad = || {
        script_err(format!(
            "years are a list [first, last] of ints, not {}",
            type_name(d)
        ))
    };
    let list = d.read_lock::<List>().ok_or_else(bad)?;
    if list.len() != 2 {
        return Err(bad());
    }
    let (a, b) = (
        list[0].as_int().map_err(|_| bad())?,
        list[1].as_int().map_err(|_| bad())?,
    );
    archive::check_years((a, b)).map_err(err)?;
    Ok((a, b))
}

/// Outputs from a list of variable names or a map of name -> expression.
fn outputs_arg(d: &Dynamic) -> RResult<Vec<Output>> {
    if let Some(list) = d.read_lock::<List>() {
        return list
            .iter()
            .map(|v| {
                let s = v
                    .clone()
                    .into_string()
                    .map_err(|_| script_err("variable names are strings"))?;
                Output::new(&s, &s).map_err(err)
            })
            .collect();
    }
    if let Some(map) = d.read_lock::<Map>() {
        return map
            .iter()
            .map(|(k, v)| {
                let e = v
                    .clone()
                    .into_string()
                    .map_err(|_| script_err(format!("output {k}: the expression is a string")))?;
                Output::new(k, &e).map_err(err)
            })
            .collect();
    }
    if let Ok(s) = d.clone().into_string() {
        return Ok(vec![Output::new(&s, &s).map_err(err)?]);
    }
    Err(script_err(format!(
        "outputs are a variable name, a list of names or a map of name -> expression, not {}",
        type_name(d)
    )))
}

fn region_arg(d: &Dynamic) -> RResult<Region> {
    if let Ok(name) = d.clone().into_string() {
        return Region::named(&name).map_err(err);
    }
    if let Some(m) = d.read_lock::<Map>() {
        let pair = |k: &str| -> RResult<(f64, f64)> {
            let v = m
                .get(k)
                .ok_or_else(|| script_err(format!("a region map needs {k}: [min, max]")))?;
            let l = v
                .read_lock::<List>()
                .ok_or_else(|| script_err(format!("region {k} is a list [min, max]")))?;
            if l.len() != 2 {
                return Err(script_err(format!("region {k} is a list [min, max]")));
            }
            Ok((number(&l[0], k)?, number(&l[1], k)?))
        };
        let (lat_min, lat_max) = pair("lat")?;
        let (lon_min, lon_max) = pair("lon")?;
        let name = m
            .get("name")
            .map(|n| n.to_string())
            .unwrap_or_else(|| "region".into());
        return Ok(Region {
            name,
            lat_min,
            lat_max,
            lon_min,
            lon_max,
        });
    }
    Err(script_err(format!(
        "a region is a name (\"Amazon\") or #{{lat: [..], lon: [..]}}, not {}",
        type_name(d)
    )))
}

fn to_map(fields: Vec<Field>) -> Map {
    fields
        .into_iter()
        .map(|f| {
            (
                f.name.clone().into(),
                Dynamic::from(ScriptField(Arc::new(f))),
            )
        })
        .collect()
}

fn area_mean_value(f: &Field, region: Option<&Region>) -> RResult<Dynamic> {
    let v = f.area_mean(region).map_err(err)?;
    Ok(if v.ndim() == 0 {
        Dynamic::from_float(v[[]])
    } else {
        Dynamic::from(NdArray::new(v))
    })
}

fn field_op(a: &ScriptField, b: &Dynamic, op: char, scalar_first: bool) -> RResult<ScriptField> {
    let f = if let Some(g) = b.read_lock::<ScriptField>() {
        if scalar_first {
            g.0.combine(&a.0, op)
        } else {
            a.0.combine(&g.0, op)
        }
    } else {
        a.0.combine_scalar(number(b, "the other operand")?, op, scalar_first)
    };
    f.map(|f| ScriptField(Arc::new(f))).map_err(err)
}

fn reduce_dim(f: &ScriptField, dim: &str, r: Reduction) -> RResult<ScriptField> {
    f.0.reduce_dim(dim, r)
        .map(|x| ScriptField(Arc::new(x)))
        .map_err(err)
}

/// The options of a field's `std`.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct Ddof {
    /// Delta degrees of freedom (0).
    ddof: f64,
}

fn ddof_opt(opts: &Map) -> RResult<f64> {
    Ok(crate::script::options::read::<Ddof>(opts, "a field's std")?.ddof)
}

/// The options of `read_obs`, as given (parsed by [`ReadObsOptions::parse`]).
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct ReadObsOptions {
    first_month: Option<String>,
    regrid: Option<String>,
    units: Option<String>,
}

impl ReadObsOptions {
    fn parse(self) -> RResult<crate::field::obs::ReadOptions> {
        let mut o = crate::field::obs::ReadOptions::default();
        if let Some(m) = self.first_month {
            o.first_month = Some(
                crate::field::obs::parse_month(&m)
                    .map_err(|e| script_err(format!("read_obs: first_month: {e:#}")))?,
            );
        }
        if let Some(r) = self.regrid {
            o.regrid = crate::field::obs::Regrid::parse(&r)
                .map_err(|e| script_err(format!("read_obs: {e:#}")))?;
        }
        o.units = self.units;
        Ok(o)
    }
}

/// A map `#{values, dims, coords, units, long_name}` as a [`NamedArray`] named `name`.
fn named_array(name: &str, m: &Map) -> RResult<NamedArray> {
    let what = |k: &str| format!("write_netcdf: {name}.{k}");
    for k in m.keys() {
        if !["values", "dims", "coords", "units", "long_name"].contains(&k.as_str()) {
            return Err(script_err(format!(
                "write_netcdf: {name} has an unknown key '{k}' (an array is #{{values, dims, coords, units, long_name}})"
            , k = crate::format::printable(k))));
        }
    }
    let values = m
        .get("values")
        .and_then(|v| v.read_lock::<NdArray>().map(|a| a.data().clone()))
        .ok_or_else(|| script_err(format!("{} is missing or not an Array", what("values"))))?;
    let strings = |k: &str, d: &Dynamic| -> RResult<Vec<String>> {
        d.read_lock::<List>()
            .ok_or_else(|| script_err(format!("{} is a list of names", what(k))))?
            .iter()
            .map(|x| {
                x.clone()
                    .into_string()
                    .map_err(|_| script_err(format!("{} is a list of names", what(k))))
            })
            .collect()
    };
    let dims = match m.get("dims") {
        Some(d) => strings("dims", d)?,
        None => Vec::new(),
    };
    let mut coords = std::collections::BTreeMap::new();
    if let Some(c) = m.get("coords") {
        let c = c.read_lock::<Map>().ok_or_else(|| {
            script_err(format!(
                "{} is a map of dimension -> values",
                what("coords")
            ))
        })?;
        for (d, v) in c.iter() {
            let coord = if let Some(a) = v.read_lock::<NdArray>() {
                Coord::Numbers(a.data().iter().copied().collect())
            } else if let Some(l) = v.read_lock::<List>() {
                if l.iter().all(|x| x.is_string()) {
                    Coord::Text(strings(&format!("coords.{d}"), v)?)
                } else {
                    Coord::Numbers(
                        l.iter()
                            .map(|x| number(x, &what(&format!("coords.{d}"))))
                            .collect::<RResult<_>>()?,
                    )
                }
            } else {
                return Err(script_err(format!(
                    "{} is an Array or a list, not {}",
                    what(&format!("coords.{d}")),
                    type_name(v)
                )));
            };
            coords.insert(d.to_string(), coord);
        }
    }
    let text = |k: &str| -> RResult<String> {
        match m.get(k) {
            Some(v) => v
                .clone()
                .into_string()
                .map_err(|_| script_err(format!("{} is a string", what(k)))),
            None => Ok(String::new()),
        }
    };
    Ok(NamedArray {
        name: name.to_string(),
        values,
        dims,
        coords,
        units: text("units")?,
        long_name: text("long_name")?,
    })
}

/// A [`NamedArray`] as the map scripts see: `#{values, dims, coords, units, long_name}`.
fn named_array_map(a: NamedArray) -> Map {
    let mut coords = Map::new();
    for (d, c) in a.coords {
        let v = match c {
            Coord::Numbers(v) => Dynamic::from(NdArray::new(
                ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[v.len()]), v)
                    .expect("a vector's shape"),
            )),
            Coord::Text(v) => Dynamic::from_array(v.into_iter().map(Dynamic::from).collect()),
        };
        coords.insert(d.into(), v);
    }
    let mut m = Map::new();
    m.insert(
        "dims".into(),
        Dynamic::from_array(a.dims.into_iter().map(Dynamic::from).collect()),
    );
    m.insert("values".into(), Dynamic::from(NdArray::new(a.values)));
    m.insert("coords".into(), Dynamic::from_map(coords));
    m.insert("units".into(), Dynamic::from(a.units));
    m.insert("long_name".into(), Dynamic::from(a.long_name));
    m
}

/// The functions of the `field` module.
#[export_module]
pub mod field_fns {
    use super::*;

    /// Values on the land grid with named dimensions (`member`, `time`, a level such as
    /// `levsoi`, `lat`, `lon`), the grid (area in m^2, landfrac, landmask), units and long
    /// name. Missing values (ocean, fill values) are NaN and never enter a mean.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", ["GPP"], [1, 1]).GPP;
    /// f.dims     //=> ["time", "lat", "lon"]
    /// f.units    //=> gC/m^2/s
    /// ```
    pub type Field = ScriptField;

    /// A case name from a pattern: `{member}`, `{param}` and `{end}` take the values of the map.
    ///
    /// ```rhai
    /// case_name("hydro_LHC_{member}", #{member: 7})                      //=> hydro_LHC_7
    /// case_name("hydro_{param}_{end}", #{param: "kmax", end: "min"})     //=> hydro_kmax_min
    /// ```
    #[rhai_fn(return_raw)]
    pub fn case_name(pattern: &str, values: Map) -> RResult<String> {
        let s = |k: &str| values.get(k).map(|v| v.to_string());
        archive::case_name(
            pattern,
            s("member").as_deref(),
            s("param").as_deref(),
            s("end").as_deref(),
        )
        .map_err(err)
    }

    /// The months (`"YYYY-MM"`) of the simulation `years` [first, last] that a case lacks in
    /// the archive `root` (`ROOT/CASE/lnd/hist/CASE.clm2.h0.YYYY-MM.nc`).
    ///
    /// ```rhai
    /// missing_months(`${TEMP_DIR}/archive`, "demo", [1, 2]).len()    //=> 12
    /// ```
    #[rhai_fn(return_raw)]
    pub fn missing_months(root: &str, case: &str, years: Dynamic) -> RResult<List> {
        let c = archive::find_case(Path::new(root), case).map_err(err)?;
        Ok(c.missing_months(years_arg(&years)?)
            .into_iter()
            .map(Dynamic::from)
            .collect())
    }

    /// Whether a case has every month of `years` in the archive.
    ///
    /// ```rhai
    /// is_complete(`${TEMP_DIR}/archive`, "demo", [1, 1])    //=> true
    /// is_complete(`${TEMP_DIR}/archive`, "nosuch", [1, 1])  //=> false
    /// ```
    #[rhai_fn(return_raw)]
    pub fn is_complete(root: &str, case: &str, years: Dynamic) -> RResult<bool> {
        // an archive that is a file, a FIFO, a device or a link loop is an error, not `false`
        crate::files::check_dir_input(Path::new(root), "archive").map_err(err)?;
        Ok(archive::is_complete(
            Path::new(root),
            case,
            years_arg(&years)?,
        ))
    }

    /// Reads monthly fields of one case for `years` [first, last]: `outputs` is a variable
    /// name, a list of names, or a map of name -> expression such as
    /// `#{TF: "QVEGT / QFLX_EVAP_TOT"}`. Returns a map of name -> Field (dims time, lat, lon).
    ///
    /// ```rhai
    /// let out = read_case(`${TEMP_DIR}/archive`, "demo", #{GPP: "GPP", DOUBLE: "2 * GPP"}, [1, 1]);
    /// out.GPP.shape      //=> [12, 2, 3]
    /// out.DOUBLE.units   //=> gC/m^2/s
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_case(root: &str, case: &str, outputs: Dynamic, years: Dynamic) -> RResult<Map> {
        let c = archive::find_case(Path::new(root), case).map_err(err)?;
        read_case_fields(&c, &outputs_arg(&outputs)?, years_arg(&years)?, false)
            .map(to_map)
            .map_err(err)
    }

    /// [`read_case`] counting the months whose samples cover at least `min_coverage` of
    /// them (`cfg.archive.min_coverage`, in (0, 1]; 1 = whole months only): a month kept
    /// with partial coverage (e.g. the last month of hourly output one hour short) is the
    /// mean of the intervals present, and a warning names its file and coverage.
    ///
    /// ```rhai
    /// let out = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1], 0.95);
    /// out.GPP.shape      //=> [12, 2, 3]
    /// ```
    #[rhai_fn(name = "read_case", return_raw)]
    pub fn read_case_covering(
        root: &str,
        case: &str,
        outputs: Dynamic,
        years: Dynamic,
        min_coverage: f64,
    ) -> RResult<Map> {
        let c = archive::find_case_covering(Path::new(root), case, min_coverage).map_err(err)?;
        read_case_fields(&c, &outputs_arg(&outputs)?, years_arg(&years)?, false)
            .map(to_map)
            .map_err(err)
    }

    /// [`read_ensemble`] counting the months whose samples cover at least `min_coverage`
    /// of them (`cfg.archive.min_coverage`; 1 = whole months only).
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo"], ["GPP"], [1, 1], 0.95);
    /// ens.GPP.dims    //=> ["member", "lat", "lon"]
    /// ```
    #[rhai_fn(name = "read_ensemble", return_raw)]
    pub fn read_ensemble_covering(
        root: &str,
        cases: List,
        outputs: Dynamic,
        years: Dynamic,
        min_coverage: f64,
    ) -> RResult<Map> {
        let names: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
        let found =
            archive::find_cases_covering(Path::new(root), &names, min_coverage).map_err(err)?;
        read_ensemble_fields(&found, &outputs_arg(&outputs)?, years_arg(&years)?, true)
            .map(to_map)
            .map_err(err)
    }

    /// Reads the time means over `years` of every case in `cases` (a list of names), stacked
    /// along a `member` dimension; each member is averaged as it is read.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo"], ["GPP"], [1, 1]);
    /// ens.GPP.dims    //=> ["member", "lat", "lon"]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_ensemble(
        root: &str,
        cases: List,
        outputs: Dynamic,
        years: Dynamic,
    ) -> RResult<Map> {
        let names: Vec<String> = cases.iter().map(|c| c.to_string()).collect();
        let found = archive::find_cases(Path::new(root), &names).map_err(err)?;
        read_ensemble_fields(&found, &outputs_arg(&outputs)?, years_arg(&years)?, true)
            .map(to_map)
            .map_err(err)
    }

    /// The variable name or expression.
    #[rhai_fn(get = "name", pure)]
    pub fn name(f: &mut ScriptField) -> String {
        f.0.name.clone()
    }
    /// The units.
    #[rhai_fn(get = "units", pure)]
    pub fn units(f: &mut ScriptField) -> String {
        f.0.units.clone()
    }
    /// The long name.
    #[rhai_fn(get = "long_name", pure)]
    pub fn long_name(f: &mut ScriptField) -> String {
        f.0.long_name.clone()
    }
    /// The dimension names.
    #[rhai_fn(get = "dims", pure)]
    pub fn dims(f: &mut ScriptField) -> List {
        f.0.dims.iter().cloned().map(Dynamic::from).collect()
    }
    /// The size of each dimension.
    #[rhai_fn(get = "shape", pure)]
    pub fn shape(f: &mut ScriptField) -> List {
        f.0.values
            .shape()
            .iter()
            .map(|&n| Dynamic::from_int(n as INT))
            .collect()
    }
    /// The values as an Array (NaN where missing).
    #[rhai_fn(get = "values", pure)]
    pub fn values(f: &mut ScriptField) -> NdArray {
        NdArray::new(f.0.values.clone())
    }
    /// The months of the `time` dimension as `"YYYY-MM"`.
    #[rhai_fn(get = "months", pure)]
    pub fn months(f: &mut ScriptField) -> List {
        f.0.months
            .iter()
            .map(|(y, m)| Dynamic::from(format!("{y:04}-{m:02}")))
            .collect()
    }
    /// The case names of the `member` dimension.
    #[rhai_fn(get = "members", pure)]
    pub fn members(f: &mut ScriptField) -> List {
        f.0.members.iter().cloned().map(Dynamic::from).collect()
    }
    /// Latitudes of the grid.
    #[rhai_fn(get = "lat", pure)]
    pub fn lat(f: &mut ScriptField) -> NdArray {
        NdArray::new(ndarray::Array1::from(f.0.grid.lat.clone()).into_dyn())
    }
    /// Longitudes of the grid.
    #[rhai_fn(get = "lon", pure)]
    pub fn lon(f: &mut ScriptField) -> NdArray {
        NdArray::new(ndarray::Array1::from(f.0.grid.lon.clone()).into_dyn())
    }
    /// Cell areas in m^2, in the grid's shape ((lat, lon), or (cell) on a 1-D grid).
    #[rhai_fn(get = "area", pure)]
    pub fn area(f: &mut ScriptField) -> NdArray {
        let g = &f.0.grid;
        NdArray::new(
            g.shaped(&g.area)
                .unwrap_or_else(|_| g.area.clone().into_dyn()),
        )
    }
    /// Land fraction of each cell, in the grid's shape.
    #[rhai_fn(get = "landfrac", pure)]
    pub fn landfrac(f: &mut ScriptField) -> NdArray {
        let g = &f.0.grid;
        NdArray::new(
            g.shaped(&g.landfrac)
                .unwrap_or_else(|_| g.landfrac.clone().into_dyn()),
        )
    }
    /// The weights of land means, `area * landfrac` (m^2), 0 where undefined, in the grid's
    /// shape.
    #[rhai_fn(get = "weights", pure)]
    pub fn weights(f: &mut ScriptField) -> NdArray {
        let g = &f.0.grid;
        let w = g.weights();
        NdArray::new(g.shaped(&w).unwrap_or_else(|_| w.into_dyn()))
    }

    /// Mean over `time` of the monthly means, over the months where each value is defined
    /// (the authors' convention).
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// f.time_mean().dims    //=> ["lat", "lon"]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn time_mean(f: &mut ScriptField) -> RResult<ScriptField> {
        f.0.time_mean()
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// Mean over `time` weighted by days in each month (noleap calendar).
    #[rhai_fn(return_raw, pure)]
    pub fn time_mean_weighted(f: &mut ScriptField) -> RResult<ScriptField> {
        f.0.time_mean_weighted()
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// The mean annual cycle: `time` becomes `month`.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// f.climatology().dims    //=> ["month", "lat", "lon"]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn climatology(f: &mut ScriptField) -> RResult<ScriptField> {
        f.0.climatology()
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// The months of the years [first, last] of a (time, ...) field.
    ///
    /// ```rhai
    /// let f = read_obs(`${TEMP_DIR}/obs.nc`, "GPP", [1999, 2001], read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP);
    /// f.select_years([2000, 2001]).shape    //=> [24, 2, 3]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn select_years(f: &mut ScriptField, years: Dynamic) -> RResult<ScriptField> {
        let (a, b) = years_arg(&years)?;
        f.0.select_years(a, b)
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// The mean of each year (mean of its monthly means): dims (year, lat, lon); `years`
    /// lists them.
    ///
    /// ```rhai
    /// let f = read_obs(`${TEMP_DIR}/obs.nc`, "GPP", [1999, 2001], read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP);
    /// let a = f.annual_means();
    /// a.dims     //=> ["year", "lat", "lon"]
    /// a.years    //=> [1999, 2000, 2001]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn annual_means(f: &mut ScriptField) -> RResult<ScriptField> {
        f.0.annual_means()
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// The distinct years of the field's time steps.
    #[rhai_fn(get = "years", pure)]
    pub fn years(f: &mut ScriptField) -> List {
        let mut y: Vec<i64> = f.0.months.iter().map(|m| m.0).collect();
        y.dedup();
        y.into_iter().map(Dynamic::from_int).collect()
    }

    /// Sum over a dimension such as `levsoi` (missing levels skipped).
    #[rhai_fn(return_raw, pure)]
    pub fn sum_over(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        f.0.sum_over(dim)
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// Land area-weighted global mean (weights `area * landfrac` over defined cells): a
    /// number for a map, an Array over the other dimensions otherwise.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// fmt(f.time_mean().global_mean(), ".4f")    //=> 3.9500
    /// f.global_mean().shape                      //=> [12]
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn global_mean(f: &mut ScriptField) -> RResult<Dynamic> {
        area_mean_value(&f.0, None)
    }

    /// Land area-weighted mean over a region: a Table 2 name ("Amazon", "Sahel", "Eastern
    /// US", "Siberia", "Global") or `#{lat: [min, max], lon: [min, max]}` (western
    /// longitudes may be negative).
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP.time_mean();
    /// fmt(f.regional_mean(#{lat: [0, 20], lon: [100, 250]}), ".4f")    //=> 4.7808
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn regional_mean(f: &mut ScriptField, region: Dynamic) -> RResult<Dynamic> {
        let r = region_arg(&region)?;
        area_mean_value(&f.0, Some(&r))
    }

    /// The names of the built-in regions (Dagon et al. 2020, Table 2).
    ///
    /// ```rhai
    /// regions()    //=> ["Amazon", "Sahel", "Eastern US", "Siberia"]
    /// ```
    pub fn regions() -> List {
        Region::table2()
            .into_iter()
            .map(|r| Dynamic::from(r.name))
            .collect()
    }

    /// The field in other units ("gC m-2 d-1", "W m-2", "mm d-1", "degC", ...);
    /// incompatible units are an error naming both.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// f.convert("gC m-2 d-1").units    //=> gC m-2 d-1
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn convert(f: &mut ScriptField, units: &str) -> RResult<ScriptField> {
        f.0.convert(units)
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// Field + field (same dims, grid and units) or + number.
    #[rhai_fn(name = "+", return_raw)]
    pub fn add(a: ScriptField, b: Dynamic) -> RResult<ScriptField> {
        field_op(&a, &b, '+', false)
    }
    /// Number + field.
    #[rhai_fn(name = "+", return_raw)]
    pub fn radd(a: FLOAT, b: ScriptField) -> RResult<ScriptField> {
        field_op(&b, &Dynamic::from_float(a), '+', true)
    }
    /// Field - field or - number.
    #[rhai_fn(name = "-", return_raw)]
    pub fn sub(a: ScriptField, b: Dynamic) -> RResult<ScriptField> {
        field_op(&a, &b, '-', false)
    }
    /// Field * field or * number.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP.time_mean();
    /// fmt((f * 2).global_mean() / f.global_mean(), ".1f")    //=> 2.0
    /// ```
    #[rhai_fn(name = "*", return_raw)]
    pub fn mul(a: ScriptField, b: Dynamic) -> RResult<ScriptField> {
        field_op(&a, &b, '*', false)
    }
    /// Number * field.
    #[rhai_fn(name = "*", return_raw)]
    pub fn rmul(a: FLOAT, b: ScriptField) -> RResult<ScriptField> {
        field_op(&b, &Dynamic::from_float(a), '*', true)
    }
    /// Field / field or / number; division by zero gives a missing value.
    #[rhai_fn(name = "/", return_raw)]
    pub fn div(a: ScriptField, b: Dynamic) -> RResult<ScriptField> {
        field_op(&a, &b, '/', false)
    }

    /// Reads an observation variable from a CF gridded file (netCDF-4 or classic, latitudes
    /// either way, longitudes 0..360 or -180..180, standard or noleap calendar) for `years`
    /// [first, last] and regrids it bilinearly onto the grid of `like` (a model field):
    /// periodic in longitude, missing where a source neighbour of non-zero weight is missing
    /// (so the same grid is the identity). Missing values: `_FillValue`, `missing_value`, or
    /// -9999 when the variable declares neither. A file whose time dimension has no
    /// coordinate variable needs the options form below (`first_month`).
    ///
    /// ```rhai
    /// let like = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// let obs = read_obs(`${TEMP_DIR}/obs.nc`, "GPP", [2000, 2000], like);
    /// obs.shape     //=> [12, 2, 3]
    /// obs.months[0] //=> 2000-01
    /// ```
    #[rhai_fn(return_raw)]
    pub fn read_obs(
        path: &str,
        var: &str,
        years: Dynamic,
        like: ScriptField,
    ) -> RResult<ScriptField> {
        let y = if years.is_unit() {
            None
        } else {
            Some(years_arg(&years)?)
        };
        crate::field::obs::read_obs(Path::new(path), var, y, like.0.grid.clone())
            .map(|f| ScriptField(Arc::new(f)))
            .map_err(err)
    }

    /// Reads an observation variable as [`read_obs`] does, with options: `first_month`
    /// (`"2000-01"`: the month of the first step of a time dimension without a coordinate
    /// variable, such as the authors' `month`), `regrid` (`"bilinear"`, the default, or
    /// `"conservative"`: area-weighted means over each model cell, lat/lon grids only) and
    /// `units` (in place of the file's `units` attribute).
    ///
    /// ```rhai
    /// let like = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// let obs = read_obs(`${TEMP_DIR}/obs.nc`, "GPP", [2000, 2000], like, #{regrid: "conservative"});
    /// obs.shape     //=> [12, 2, 3]
    /// ```
    #[rhai_fn(name = "read_obs", return_raw)]
    pub fn read_obs_opts(
        path: &str,
        var: &str,
        years: Dynamic,
        like: ScriptField,
        options: Map,
    ) -> RResult<ScriptField> {
        let y = if years.is_unit() {
            None
        } else {
            Some(years_arg(&years)?)
        };
        let o = crate::script::options::read::<ReadObsOptions>(&options, "read_obs")?.parse()?;
        crate::field::obs::read_obs_with(Path::new(path), var, y, like.0.grid.clone(), &o)
            .map(|f| ScriptField(Arc::new(f)))
            .map_err(err)
    }

    /// The observation data mask of a (time, lat, lon) field: true where a cell is defined
    /// in at least `min_coverage` (e.g. 0.8) of the months.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// coverage_mask(f, 0.8)    //=> [[ True  True False]
    ///                          //=>  [ True  True  True]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn coverage_mask(f: ScriptField, min_coverage: FLOAT) -> RResult<NdArray> {
        let m = crate::field::obs::coverage_mask(&f.0, min_coverage).map_err(err)?;
        Ok(NdArray::new_mask(f.0.grid.shaped(&m).map_err(err)?))
    }

    /// The field with the cells where `mask` (in the grid's shape: lat x lon, or cells) is
    /// false set missing.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP.time_mean();
    /// let keep = array([[true, false, false], [true, true, true]]);
    /// isnan(apply_mask(f, keep).values)    //=> [[False  True  True]
    ///                                      //=>  [False False False]]
    /// ```
    #[rhai_fn(return_raw)]
    pub fn apply_mask(f: ScriptField, mask: NdArray) -> RResult<ScriptField> {
        let g = &f.0.grid;
        if mask.data().shape() != g.spatial_shape() {
            return Err(script_err(format!(
                "a mask has the grid's shape ({}), not {:?}",
                g.dims().join(", "),
                mask.data().shape()
            )));
        }
        let m: ndarray::Array1<f64> = mask.data().iter().copied().collect();
        crate::field::obs::apply_mask(&f.0, &m)
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// Writes fields (a map of name -> Field on one grid, or Array) to CF netCDF-4 that xarray and
    /// ncview open: coordinates, units, fill values, time bounds, member names, the grid's
    /// area and land fraction, and a `history` attribute with the command that made it. The
    /// file is replaced only when complete; an input of the run is never overwritten.
    ///
    /// An Array may come with named dimensions and coordinates, as an xarray DataArray
    /// without a grid: `#{values: a, dims: ["parameter", "output"], coords: #{parameter:
    /// ["a", "b"], output: array([1, 2, 3])}, units: "1", long_name: "..."}` (only `values`
    /// is required; a bare Array gets dimensions `NAME_0`, `NAME_1`, ...). Dimensions shared
    /// by name have one length; coordinates of the fields' dimensions (lat, lon, member, ...)
    /// come from the fields.
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// write_netcdf(`${TEMP_DIR}/gpp.nc`, #{GPP: f, GPP_mean: f.time_mean(), weights: eye(2)});
    /// read_netcdf(`${TEMP_DIR}/gpp.nc`).GPP_mean.dims    //=> ["lat", "lon"]
    /// // xarray: xr.DataArray(x, dims=("parameter", "mode"), coords={"parameter": ["kmax", "dint"]})
    /// let x = #{values: array([[1, 2, 3], [4, 5, 6]]), dims: ["parameter", "mode"],
    ///           coords: #{parameter: ["kmax", "dint"], mode: array([1, 2, 3])}, units: "1"};
    /// write_netcdf(`${TEMP_DIR}/effects.nc`, #{effect: x});
    /// let back = read_netcdf(`${TEMP_DIR}/effects.nc`).effect;
    /// back.dims                     //=> ["parameter", "mode"]
    /// back.coords.parameter         //=> ["kmax", "dint"]
    /// back.values[1, 2]             //=> 6.0
    /// back.units                    //=> 1
    /// ```
    #[rhai_fn(return_raw)]
    pub fn write_netcdf(path: &str, fields: Map) -> RResult<()> {
        let mut owned: Vec<crate::field::Field> = Vec::new();
        let mut arrays: Vec<NamedArray> = Vec::new();
        for (k, v) in &fields {
            if let Some(a) = v.read_lock::<NdArray>() {
                arrays.push(NamedArray::plain(k, a.data().clone()));
                continue;
            }
            if let Some(m) = v.read_lock::<Map>() {
                arrays.push(named_array(k, &m)?);
                continue;
            }
            let f = v.read_lock::<ScriptField>().ok_or_else(|| {
                script_err(format!(
                    "write_netcdf: {k} is a {}, not a Field, an Array or a map #{{values, dims, coords}}",
                    type_name(v)
                ))
            })?;
            let mut f = (*f.0).clone();
            f.name = k.to_string();
            owned.push(f);
        }
        let refs: Vec<&crate::field::Field> = owned.iter().collect();
        let cmd: Vec<String> = std::env::args().collect();
        let history = format!("{}: {}", crate::files::now_utc(), cmd.join(" "));
        crate::field::write::write_netcdf(Path::new(path), &refs, &arrays, &history).map_err(err)
    }

    /// What a netCDF file holds, as `ncdump -h` shows it: dimensions, each variable with its
    /// type, dimensions, units and long name, and the global attributes.
    ///
    /// ```rhai
    /// let d = describe(`${TEMP_DIR}/archive/demo/lnd/hist/demo.clm2.h0.0001-01.nc`);
    /// d.contains("float GPP(time, lat, lon)")    //=> true
    /// d.contains("time = 1 (unlimited)")         //=> true
    /// ```
    #[rhai_fn(return_raw)]
    pub fn describe(path: &str) -> RResult<String> {
        crate::nc::describe(Path::new(path)).map_err(err)
    }

    /// Reads a netCDF file written by `write_netcdf` (or any with the same layout): a map of
    /// name -> Field for every (..., lat, lon) variable on the file's grid, and for every
    /// other variable a map `#{values, dims, coords, units, long_name}` (coords: the
    /// coordinate variables the file has for its dimensions, an Array or a list of names).
    #[rhai_fn(return_raw)]
    pub fn read_netcdf(path: &str) -> RResult<Map> {
        let (fields, arrays) = crate::field::write::read_all(Path::new(path)).map_err(err)?;
        let mut m = to_map(fields.into_values().collect());
        for (name, a) in arrays {
            m.insert(name.into(), Dynamic::from_map(named_array_map(a)));
        }
        Ok(m)
    }

    // ---- xarray habits ---------------------------------------------------------------

    /// Mean over a named dimension (not `lat`/`lon`), skipping missing values: xarray's
    /// `f.mean("member")`.
    ///
    /// ```rhai
    /// // xarray: ens.mean("member")[0, 0] = 1.6166666666666667 (members 1.55, 2.05, 1.25)
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// let m = ens.mean("member");
    /// m.dims                        //=> ["lat", "lon"]
    /// fmt(m.values[[0, 0]], ".6f")  //=> 1.616667
    /// ```
    #[rhai_fn(name = "mean", return_raw, pure)]
    pub fn mean_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Mean)
    }

    /// Standard deviation over a named dimension (ddof 0 as xarray), skipping missing values.
    ///
    /// ```rhai
    /// // xarray: ens.std("member")[0, 0] = 0.329983164553722
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens.std("member").values[[0, 0]], ".6f")    //=> 0.329983
    /// ```
    #[rhai_fn(name = "std", return_raw, pure)]
    pub fn std_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Std(0.0))
    }

    /// Standard deviation over a named dimension with options: `ddof` (default 0).
    ///
    /// ```rhai
    /// // xarray: ens.std("member", ddof=1)[0, 0] = 0.4041451884327381
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens.std("member", #{ddof: 1}).values[[0, 0]], ".6f")    //=> 0.404145
    /// ```
    #[rhai_fn(name = "std", return_raw, pure)]
    pub fn std_dim_opts(f: &mut ScriptField, dim: &str, options: Map) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Std(ddof_opt(&options)?))
    }

    /// Variance over a named dimension (ddof 0); the units are squared.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// ens.variance("member").units    //=> (gC/m^2/s)^2
    /// ```
    #[rhai_fn(name = "variance", return_raw, pure)]
    pub fn var_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Var(0.0))
    }

    /// Sum over a named dimension of the defined values; missing where none is defined
    /// (xarray's `f.sum(dim, min_count=1)`).
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens.sum("member").values[[0, 0]], ".2f")    //=> 4.85
    /// ```
    #[rhai_fn(name = "sum", return_raw, pure)]
    pub fn sum_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Sum)
    }

    /// Smallest value over a named dimension, skipping missing values.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens.min("member").values[[0, 0]], ".2f")    //=> 1.25
    /// ```
    #[rhai_fn(name = "min", return_raw, pure)]
    pub fn min_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Min)
    }

    /// Largest value over a named dimension, skipping missing values.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens.max("member").values[[1, 2]], ".2f")    //=> 6.15
    /// ```
    #[rhai_fn(name = "max", return_raw, pure)]
    pub fn max_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Max)
    }

    /// Median over a named dimension, skipping missing values.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens.median("member").values[[1, 1]], ".2f")    //=> 4.55
    /// ```
    #[rhai_fn(name = "median", return_raw, pure)]
    pub fn median_dim(f: &mut ScriptField, dim: &str) -> RResult<ScriptField> {
        reduce_dim(f, dim, Reduction::Median)
    }

    /// Selection by label, one dimension per key (xarray's `sel`): a member or parameter
    /// name, a month "2000-01" of `time`, a year of `year`, a month number of `month`. The
    /// selected dimensions disappear.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// let d2 = ens.sel(#{member: "demo2"});
    /// d2.dims                        //=> ["lat", "lon"]
    /// fmt(d2.values[[0, 0]], ".2f")  //=> 2.05
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn sel(f: &mut ScriptField, labels: Map) -> RResult<ScriptField> {
        let mut out = f.0.as_ref().clone();
        for (dim, v) in labels {
            let label = if let Ok(i) = v.as_int() {
                Label::Number(i)
            } else if let Ok(s) = v.clone().into_string() {
                Label::Text(s)
            } else {
                return Err(script_err(format!(
                    "sel: the label of {dim} is a string or an int, not {}",
                    type_name(&v)
                )));
            };
            out = out.sel(&dim, &label).map_err(err)?;
        }
        Ok(ScriptField(Arc::new(out)))
    }

    /// Selection by position, one dimension per key (xarray's `isel`; negative counts
    /// from the end).
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// let jan = f.isel(#{time: 0});
    /// jan.dims                         //=> ["lat", "lon"]
    /// fmt(f.isel(#{time: -1}).values[[0, 0]], ".2f")    //=> 2.10
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn isel(f: &mut ScriptField, positions: Map) -> RResult<ScriptField> {
        let mut out = f.0.as_ref().clone();
        for (dim, v) in positions {
            let i = v.as_int().map_err(|_| {
                script_err(format!(
                    "isel: the position of {dim} is an int, not {}",
                    type_name(&v)
                ))
            })?;
            out = out.isel(&dim, i).map_err(err)?;
        }
        Ok(ScriptField(Arc::new(out)))
    }

    /// `f[i]`: position `i` of the first dimension (e.g. one member of an ensemble), as
    /// numpy and xarray index.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo", "demo2", "demo3"], ["GPP"], [1, 1]).GPP;
    /// fmt(ens[2].values[[0, 0]], ".2f")    //=> 1.25
    /// ```
    #[rhai_fn(index_get, return_raw, pure)]
    pub fn index_get(f: &mut ScriptField, i: INT) -> RResult<ScriptField> {
        let dim = f.0.dims.first().cloned().unwrap_or_default();
        f.0.isel(&dim, i)
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// The field without its length-one dimensions (xarray's `squeeze`); lat and lon stay.
    ///
    /// ```rhai
    /// let ens = read_ensemble(`${TEMP_DIR}/archive`, ["demo"], ["GPP"], [1, 1]).GPP;
    /// ens.dims              //=> ["member", "lat", "lon"]
    /// ens.squeeze().dims    //=> ["lat", "lon"]
    /// ```
    #[rhai_fn(pure)]
    pub fn squeeze(f: &mut ScriptField) -> ScriptField {
        ScriptField(Arc::new(f.0.squeeze()))
    }

    /// A field holding the Array `a` with this field's grid, units and name (xarray's
    /// `f.copy(data=a)`), e.g. an EOF pattern or a cost map that should write as CF netCDF.
    /// `a` ends with (lat, lon); its leading dimensions take this field's names if the shape
    /// is the same, else `dim_0`, `dim_1`, ... .
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP.time_mean();
    /// let g = f.with_values(f.values * 2);
    /// g.units                                         //=> gC/m^2/s
    /// fmt(g.global_mean() / f.global_mean(), ".1f")   //=> 2.0
    /// ```
    #[rhai_fn(return_raw, pure)]
    pub fn with_values(f: &mut ScriptField, a: NdArray) -> RResult<ScriptField> {
        f.0.with_array(a.into_data(), None)
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// Like `with_values(a)`, naming the leading dimensions of `a` (e.g. `["mode"]`).
    ///
    /// ```rhai
    /// let f = read_case(`${TEMP_DIR}/archive`, "demo", "GPP", [1, 1]).GPP;
    /// let modes = f.with_values(ones([2, 2, 3]), ["mode"]);
    /// modes.dims    //=> ["mode", "lat", "lon"]
    /// write_netcdf(`${TEMP_DIR}/modes.nc`, #{GPP_modes: modes});
    /// let back = read_netcdf(`${TEMP_DIR}/modes.nc`).GPP_modes;
    /// back.dims     //=> ["mode", "lat", "lon"]
    /// back.units    //=> gC/m^2/s
    /// ```
    #[rhai_fn(name = "with_values", return_raw, pure)]
    pub fn with_values_dims(f: &mut ScriptField, a: NdArray, dims: List) -> RResult<ScriptField> {
        let names = dims
            .iter()
            .map(|d| {
                d.clone()
                    .into_string()
                    .map_err(|_| script_err("with_values: dimension names are strings"))
            })
            .collect::<RResult<Vec<_>>>()?;
        f.0.with_array(a.into_data(), Some(names))
            .map(|x| ScriptField(Arc::new(x)))
            .map_err(err)
    }

    /// A one-line summary.
    #[rhai_fn(global, pure)]
    pub fn to_string(f: &mut ScriptField) -> String {
        let dims: Vec<String> =
            f.0.dims
                .iter()
                .zip(f.0.values.shape())
                .map(|(d, n)| format!("{d}: {n}"))
                .collect();
        format!(
            "Field {} [{}] ({}) {}",
            f.0.name,
            f.0.units,
            dims.join(", "),
            f.0.long_name
        )
    }

    /// The same summary (used by the REPL).
    #[rhai_fn(global, pure)]
    pub fn to_debug(f: &mut ScriptField) -> String {
        to_string(f)
    }
}

/// The `field` module.
pub fn module() -> Module {
    exported_module!(field_fns)
}
