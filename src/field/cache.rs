//! A cache of the time means of a case's outputs, so that a stage run again (or another
//! stage reading the same outputs of the same runs) reads one small file per case instead of
//! every monthly history file: on a busy or cold disk, reading an ensemble's thousands of
//! history files is what the EOF and sensitivity stages spend their time on.
//!
//! An entry holds, for one case, the time means of some outputs over some years, with the
//! grid, as raw little-endian f64 values (exact). Its key is the SHA-256 of: the cache
//! format, a hash of clmtune's reading code (the files that read history files and compute
//! time means, hashed at build time), the case's history folder, every selected file's name, size
//! and modification time (ns), the years, and each output's name and parsed expression. A
//! rewritten, added or removed history file, another expression, or another clmtune build
//! makes another key; a damaged entry is ignored and rewritten. The folder is
//! `$CLMTUNE_CACHE_DIR` (`off`: no cache), else `$XDG_CACHE_HOME/clmtune/means`, else
//! `~/.cache/clmtune/means`; it may be deleted at any time. Entries written by a clmtune
//! whose reading code differed (see `CLMTUNE_READ_CODE` in build.rs) for the same case are
//! removed when a new one is written.

use super::read::Output;
use super::{Field, Grid};
use crate::archive::HistFile;
use anyhow::{bail, Context, Result};
use ndarray::{Array2, ArrayD, IxDyn};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The layout version of an entry; part of the key.
const FORMAT: &str = "clmtune time means v2";
const MAGIC: &[u8] = b"CLMTUNE-MEANS-2\n";

/// The cache folder (see the module docs); `None` (no cache) when `$CLMTUNE_CACHE_DIR` is
/// `off` or there is no home folder.
pub fn dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("CLMTUNE_CACHE_DIR") {
        return (d != "off" && !d.is_empty()).then(|| PathBuf::from(d));
    }
    if let Some(c) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(Path::new(&c).join("clmtune/means"));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/clmtune/means"))
}

/// The key of the time means of `outputs` over `years` from `files` of case `case` in
/// `hist_dir`; `None` if a file cannot be looked at (then the files are read as usual).
pub fn key(
    case: &str,
    hist_dir: &Path,
    files: &[HistFile],
    years: (i64, i64),
    outputs: &[Output],
) -> Option<String> {
    let mut text = format!(
        "{FORMAT}\n{}\n{case}\n{}\n{years:?}\n",
        READ_CODE,
        std::path::absolute(hist_dir).ok()?.display()
    );
    for f in files {
        let m = std::fs::metadata(&f.path).ok()?;
        let t = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?;
        text.push_str(&format!(
            "{} {} {}.{:09}\n",
            f.path.file_name()?.to_string_lossy(),
            m.len(),
            t.as_secs(),
            t.subsec_nanos()
        ));
    }
    for o in outputs {
        text.push_str(&format!("{} = {:?}\n", o.name, o.expr));
    }
    Some(crate::hash::sha256_hex(text.as_bytes()))
}

/// A hash of the source files that read history files and compute time means (build.rs),
/// so that a cache entry never outlives the code that computed it.
pub const READ_CODE: &str = env!("CLMTUNE_READ_CODE");

fn commit_tag() -> String {
    READ_CODE.chars().take(12).collect()
}

/// A case name made safe as part of a file name.
fn safe(case: &str) -> String {
    case.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn entry_path(dir: &Path, case: &str, key: &str) -> PathBuf {
    dir.join(format!(
        "{}.{}.{}.bin",
        safe(case),
        &key[..20],
        commit_tag()
    ))
}

/// The header of an entry: what each output is (all of one grid).
#[derive(serde::Serialize, serde::Deserialize)]
struct Header {
    key: String,
    /// Number of `lat` and `lon` values (each the number of cells on a 1-D grid).
    nlat: usize,
    nlon: usize,
    /// The cell dimension of a 1-D grid.
    cell_dim: Option<String>,
    outputs: Vec<OutputHeader>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct OutputHeader {
    name: String,
    units: String,
    long_name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
}

/// Whether there is an entry for `key` (without reading it).
pub fn exists(dir: &Path, case: &str, key: &str) -> bool {
    entry_path(dir, case, key).is_file()
}

/// The time means of a cached entry, if there is one for `key` in `dir` that reads whole.
pub fn load(dir: &Path, case: &str, key: &str) -> Option<Vec<Field>> {
    let bytes = std::fs::read(entry_path(dir, case, key)).ok()?;
    decode(&bytes, key).ok()
}

fn decode(bytes: &[u8], key: &str) -> Result<Vec<Field>> {
    let rest = bytes.strip_prefix(MAGIC).context("not a cache entry")?;
    let nl = rest.iter().position(|&b| b == b'\n').context("no header")?;
    let h: Header = serde_json::from_slice(&rest[..nl])?;
    if h.key != key {
        bail!("another key");
    }
    let mut data = &rest[nl + 1..];
    let mut take = |n: usize| -> Result<Vec<f64>> {
        if data.len() < 8 * n {
            bail!("truncated");
        }
        let v = data[..8 * n]
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect();
        data = &data[8 * n..];
        Ok(v)
    };
    let (ny, nx) = (h.nlat, h.nlon);
    let lat = take(ny)?;
    let lon = take(nx)?;
    let grid = Arc::new(match h.cell_dim {
        None => {
            let mut a2 =
                || -> Result<Array2<f64>> { Ok(Array2::from_shape_vec((ny, nx), take(ny * nx)?)?) };
            let (area, landfrac, landmask) = (a2()?, a2()?, a2()?);
            Grid::lat_lon(lat, lon, area, landfrac, landmask)?
        }
        Some(d) => {
            let (area, landfrac, landmask) = (take(ny)?, take(ny)?, take(ny)?);
            Grid::cells(&d, lat, lon, area.into(), landfrac.into(), landmask.into())?
        }
    });
    let mut out = Vec::new();
    for o in h.outputs {
        let n = o.shape.iter().product();
        let values = ArrayD::from_shape_vec(IxDyn(&o.shape), take(n)?)?;
        out.push(Field {
            name: o.name,
            units: o.units,
            long_name: o.long_name,
            dims: o.dims,
            values,
            grid: grid.clone(),
            months: Vec::new(),
            members: Vec::new(),
        });
    }
    if !data.is_empty() {
        bail!("trailing bytes");
    }
    Ok(out)
}

/// Writes an entry for `key` (atomically); entries of the same case written by other
/// clmtune builds are removed. Failures are returned, for the caller to ignore: the cache
/// only saves time.
pub fn store(dir: &Path, case: &str, key: &str, fields: &[Field]) -> Result<()> {
    let Some(first) = fields.first() else {
        return Ok(());
    };
    let g = &first.grid;
    let header = Header {
        key: key.to_string(),
        nlat: g.lat.len(),
        nlon: g.lon.len(),
        cell_dim: g.cell_dim.clone(),
        outputs: fields
            .iter()
            .map(|f| OutputHeader {
                name: f.name.clone(),
                units: f.units.clone(),
                long_name: f.long_name.clone(),
                dims: f.dims.clone(),
                shape: f.values.shape().to_vec(),
            })
            .collect(),
    };
    let mut buf: Vec<u8> = MAGIC.to_vec();
    serde_json::to_writer(&mut buf, &header)?;
    buf.push(b'\n');
    let mut put = |xs: &mut dyn Iterator<Item = f64>| {
        for x in xs {
            buf.extend_from_slice(&x.to_le_bytes());
        }
    };
    put(&mut g.lat.iter().copied());
    put(&mut g.lon.iter().copied());
    put(&mut g.area.iter().copied());
    put(&mut g.landfrac.iter().copied());
    put(&mut g.landmask.iter().copied());
    for f in fields {
        if !Arc::ptr_eq(&f.grid, &first.grid) && *f.grid != *first.grid {
            bail!("outputs on different grids");
        }
        put(&mut f.values.iter().copied());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = entry_path(dir, case, key);
    let mut tmp = crate::files::temp_in(dir, ".tmp")?;
    tmp.write_all(&buf)?;
    tmp.persist(&path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    // entries of this case from other reading code can never be used again
    let prefix = format!("{}.", safe(case));
    let tag = format!(".{}.bin", commit_tag());
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(&prefix)
                && n.ends_with(".bin")
                && !n.ends_with(&tag)
                && n[prefix.len()..].matches('.').count() == 2
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, grid: &Arc<Grid>, v: Vec<f64>) -> Field {
        Field {
            name: name.into(),
            units: "W/m^2".into(),
            long_name: "a flux".into(),
            dims: vec!["lat".into(), "lon".into()],
            values: ArrayD::from_shape_vec(IxDyn(&[2, 3]), v).unwrap(),
            grid: grid.clone(),
            months: Vec::new(),
            members: Vec::new(),
        }
    }

    #[test]
    fn an_entry_reads_back_bit_for_bit() {
        let d = tempfile::tempdir().unwrap();
        let grid = Arc::new(
            Grid::lat_lon(
                vec![-45.0, 45.0],
                vec![0.0, 120.0, 240.0],
                Array2::from_shape_vec((2, 3), vec![1e10, 2e10, f64::NAN, 3e10, 4e10, 5e10])
                    .unwrap(),
                Array2::from_elem((2, 3), 0.5),
                Array2::from_elem((2, 3), 1.0),
            )
            .unwrap(),
        );
        let a = field(
            "GPP",
            &grid,
            vec![0.1, f64::NAN, 1e-300, -2.5, 3.0, 1.0 / 3.0],
        );
        let b = field("LHF", &grid, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        store(
            d.path(),
            "demo/LHC 1",
            "k".repeat(64).as_str(),
            &[a.clone(), b.clone()],
        )
        .unwrap();
        let back = load(d.path(), "demo/LHC 1", &"k".repeat(64)).unwrap();
        assert_eq!(back.len(), 2);
        for (x, y) in back.iter().zip([&a, &b]) {
            assert_eq!(x.name, y.name);
            assert_eq!(x.units, y.units);
            assert_eq!(x.dims, y.dims);
            let bits = |f: &Field| f.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(x), bits(y));
        }
        assert_eq!(back[0].grid.lat, grid.lat);
        assert_eq!(back[0].grid.area[5], 5e10);
        // another key finds nothing; a damaged entry is not used
        assert!(load(d.path(), "demo/LHC 1", &"j".repeat(64)).is_none());
        let p = entry_path(d.path(), "demo/LHC 1", &"k".repeat(64));
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 8]).unwrap();
        assert!(load(d.path(), "demo/LHC 1", &"k".repeat(64)).is_none());
    }
}
