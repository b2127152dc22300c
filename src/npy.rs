//! Reading numpy `.npy` files (experiment designs, saved results) as `f64` arrays.
//!
//! Numeric dtypes (`f4`, `f8`, `i1`..`i8`, `u1`..`u8`, either byte order, C or Fortran
//! order) are read by the `ndarray-npy` crate and converted to `f64`. Object arrays whose
//! elements are numbers, pickled by numpy (the Latin hypercube design `lhc_100.npy` of
//! Dagon et al. 2020 is one), are read by a small, strict pickle reader: it walks the
//! opcodes, builds plain values (numbers, strings, tuples, lists, names of globals and
//! records of calls) and then checks that they spell an array of numbers; nothing in the
//! pickle is ever executed or imported.
//!
//! Every error names the file and says what is wrong: not a `.npy` file, truncated,
//! unsupported dtype, objects that are not numbers, not a regular file, too large.

use anyhow::{anyhow, bail, Result};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::ReadNpyExt;
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The largest `.npy` file [`read_npy`] reads (2 GiB); larger files are refused before any
/// byte is read.
pub const MAX_FILE_BYTES: u64 = 2 << 30;

/// The largest pickled (object-array) payload [`read_npy`] reads (16 MiB: about 300 000
/// numpy scalars or 1.8 million Python floats). Object arrays are for small designs; large
/// data belong in a numeric dtype.
pub const MAX_PICKLE_BYTES: usize = 16 << 20;

/// The most objects a pickle may build (a 16 MiB pickle of numpy scalars builds about
/// 2 million): bounds the memory a damaged or hostile pickle can take.
const MAX_PICKLE_OBJECTS: usize = 4 << 20;

/// The magic string every `.npy` file begins with.
const MAGIC: &[u8] = b"\x93NUMPY";

/// How an object array's elements should be saved instead (the advice of the errors).
const SAVE_AS_NUMBERS: &str = "save it as numbers, e.g. np.save(path, a.astype(float))";

/// Reads a numpy `.npy` file as an `f64` array of the file's shape (in C order whatever the
/// file's order).
///
/// Numeric dtypes `f4`, `f8`, `i1`, `i2`, `i4`, `i8`, `u1`, `u2`, `u4`, `u8` in either byte
/// order and C or Fortran order are read (64-bit integers beyond 2^53 are rounded to the
/// nearest `f64`). Object arrays (`descr '|O'`, written with `allow_pickle=True`) are read
/// when every element is a number: a numpy scalar of one of those dtypes, a Python float
/// or a Python int. Errors name the file: a missing file, a FIFO, device or folder (refused
/// without reading), a file over [`MAX_FILE_BYTES`], a file that is not `.npy` (an `.npz`
/// archive is recognised), a truncated file, an unsupported dtype (text, booleans, complex,
/// records, dates), or an object array holding anything but numbers.
pub fn read_npy(path: &Path) -> Result<ArrayD<f64>> {
    let name = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow!("{name}: no such file"),
        _ => anyhow!("{name}: cannot read: {e}"),
    })?;
    // checked before opening: opening a FIFO blocks until a writer comes
    check_regular(&name, &meta)?;
    let file = std::fs::File::open(path).map_err(|e| anyhow!("{name}: cannot open: {e}"))?;
    // and again on the open file, in case the path was replaced in between
    let meta = file
        .metadata()
        .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    check_regular(&name, &meta)?;
    crate::files::mark_input(path);
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| anyhow!("{name}: cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        bail!("{name}: larger than {} GiB, not read", MAX_FILE_BYTES >> 30);
    }
    parse_npy(&bytes, &name)
}

/// Refuses anything but a regular file of at most [`MAX_FILE_BYTES`].
fn check_regular(name: &str, meta: &std::fs::Metadata) -> Result<()> {
    if meta.is_dir() {
        bail!("{name}: is a folder, not a .npy file");
    }
    if !meta.is_file() {
        bail!("{name}: not a regular file (a FIFO, socket or device?): refused, a .npy file must be a regular file");
    }
    if meta.len() > MAX_FILE_BYTES {
        bail!(
            "{name}: {} bytes, larger than the {} GiB that read_npy reads",
            meta.len(),
            MAX_FILE_BYTES >> 30
        );
    }
    Ok(())
}

/// The numeric dtypes read through `ndarray-npy`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Num {
    F4,
    F8,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
}

impl Num {
    /// The dtype of a header's `descr`, spelled exactly as `ndarray-npy` accepts it.
    fn from_descr(d: &str) -> Option<Num> {
        Some(match d {
            "<f4" | ">f4" => Num::F4,
            "<f8" | ">f8" => Num::F8,
            "|i1" | "i1" | "b" => Num::I1,
            "<i2" | ">i2" => Num::I2,
            "<i4" | ">i4" => Num::I4,
            "<i8" | ">i8" => Num::I8,
            "|u1" | "u1" | "B" => Num::U1,
            "<u2" | ">u2" => Num::U2,
            "<u4" | ">u4" => Num::U4,
            "<u8" | ">u8" => Num::U8,
            _ => return None,
        })
    }

    /// Bytes per element.
    fn size(self) -> usize {
        match self {
            Num::I1 | Num::U1 => 1,
            Num::I2 | Num::U2 => 2,
            Num::F4 | Num::I4 | Num::U4 => 4,
            Num::F8 | Num::I8 | Num::U8 => 8,
        }
    }
}

/// What an unsupported `descr` string holds, in a user's words.
fn describe_descr(d: &str) -> &'static str {
    let t = d.trim_start_matches(['<', '>', '|', '=']);
    match t.chars().next() {
        Some('U') => "text (numpy str)",
        Some('S') | Some('a') => "byte strings",
        Some('b') | Some('?') => "booleans",
        Some('c') => "complex numbers",
        Some('f') | Some('e') | Some('d') | Some('g') => "floats of a size other than 4 or 8 bytes",
        Some('M') => "dates (datetime64)",
        Some('m') => "time spans (timedelta64)",
        Some('V') => "raw bytes (void)",
        _ => "an unknown kind of element",
    }
}

/// Formats a shape as numpy prints it: `(100, 6)`, `(3,)`, `()`.
fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Number of elements of `shape`, if the array fits in memory at `elem` bytes each (the
/// product of the non-zero lengths too, which ndarray requires even of an empty array).
fn element_count(shape: &[usize], elem: usize) -> Option<usize> {
    let limit = isize::MAX as usize / elem.max(1);
    let mut nonzero: usize = 1;
    for &n in shape {
        if n != 0 {
            nonzero = nonzero.checked_mul(n).filter(|&p| p <= limit)?;
        }
    }
    Some(if shape.contains(&0) { 0 } else { nonzero })
}

/// A value of the Python literal that is a `.npy` header.
#[derive(Debug)]
enum Lit {
    Str(String),
    Bool(bool),
    Int(u64),
    Seq(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
    None,
}

/// Parses the Python literals of `.npy` headers: strings, ints, `True`, `False`, `None`,
/// tuples, lists and dicts.
struct LitParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl LitParser<'_> {
    /// Skips white space; the next byte, if any.
    fn peek(&mut self) -> Option<u8> {
        while self
            .s
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
        self.s.get(self.pos).copied()
    }

    /// One value; `depth` bounds the nesting.
    fn value(&mut self, depth: usize) -> std::result::Result<Lit, String> {
        if depth > 16 {
            return Err("values nested too deep".into());
        }
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.pos) {
                        None => return Err("a string without its closing quote".into()),
                        Some(&b) if b == q => break,
                        Some(b'\\') => {
                            out.extend(self.s.get(self.pos + 1));
                            self.pos += 2;
                        }
                        Some(&b) => {
                            out.push(b);
                            self.pos += 1;
                        }
                    }
                }
                self.pos += 1;
                String::from_utf8(out)
                    .map(Lit::Str)
                    .map_err(|_| "a string that is not text".into())
            }
            Some(open @ (b'(' | b'[' | b'{')) => {
                self.pos += 1;
                let close = match open {
                    b'(' => b')',
                    b'[' => b']',
                    _ => b'}',
                };
                let (mut items, mut pairs) = (Vec::new(), Vec::new());
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        break;
                    }
                    let v = self.value(depth + 1)?;
                    if open == b'{' {
                        if self.peek() != Some(b':') {
                            return Err("a dict entry without ':'".into());
                        }
                        self.pos += 1;
                        pairs.push((v, self.value(depth + 1)?));
                    } else {
                        items.push(v);
                    }
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(format!("'{}' not closed", open as char)),
                    }
                }
                Ok(if open == b'{' {
                    Lit::Dict(pairs)
                } else {
                    Lit::Seq(items)
                })
            }
            Some(b'0'..=b'9') => {
                let start = self.pos;
                let digits = self.s[start..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                self.pos += digits;
                // Python 2 wrote long integers with an L: (100L, 6L)
                if self.s.get(self.pos) == Some(&b'L') {
                    self.pos += 1;
                }
                std::str::from_utf8(&self.s[start..start + digits])
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .map(Lit::Int)
                    .ok_or_else(|| "an integer too large".into())
            }
            _ => {
                for (word, v) in [
                    ("True", Lit::Bool(true)),
                    ("False", Lit::Bool(false)),
                    ("None", Lit::None),
                ] {
                    if self.s[self.pos..].starts_with(word.as_bytes()) {
                        self.pos += word.len();
                        return Ok(v);
                    }
                }
                Err(format!("unexpected text at byte {}", self.pos))
            }
        }
    }
}

/// The `descr` and `shape` of a `.npy` header (the dict after the length field), checking
/// its keys as numpy does; Fortran order does not matter here (`ndarray-npy` and the pickle
/// reader each handle it).
fn parse_header(text: &[u8]) -> std::result::Result<(Lit, Vec<usize>), String> {
    let mut p = LitParser { s: text, pos: 0 };
    let Lit::Dict(pairs) = p.value(0)? else {
        return Err("not a dict".into());
    };
    if p.peek().is_some() {
        return Err("text after the dict".into());
    }
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in pairs {
        match (k, v) {
            (Lit::Str(k), v) if k == "descr" && descr.is_none() => descr = Some(v),
            (Lit::Str(k), Lit::Bool(b)) if k == "fortran_order" && fortran.is_none() => {
                fortran = Some(b)
            }
            (Lit::Str(k), Lit::Seq(dims)) if k == "shape" && shape.is_none() => {
                let dims: Option<Vec<usize>> = dims
                    .iter()
                    .map(|d| match d {
                        Lit::Int(n) => usize::try_from(*n).ok(),
                        _ => None,
                    })
                    .collect();
                shape = Some(dims.ok_or("a shape that is not a tuple of sizes")?);
            }
            (Lit::Str(k), _) => {
                return Err(format!(
                    "the key '{k}' is unknown, repeated or has a value of the wrong kind",
                    k = crate::format::printable(&k)
                ))
            }
            _ => return Err("a key that is not text".into()),
        }
    }
    match (descr, fortran, shape) {
        (Some(d), Some(_), Some(s)) => Ok((d, s)),
        _ => Err("it lacks one of descr, fortran_order and shape".into()),
    }
}

/// Reads the bytes of a `.npy` file; `name` is the file's name for the errors.
fn parse_npy(bytes: &[u8], name: &str) -> Result<ArrayD<f64>> {
    if bytes.is_empty() {
        bail!("{name}: not a .npy file: it is empty");
    }
    if !bytes.starts_with(MAGIC) {
        if MAGIC.starts_with(bytes) {
            bail!("{name}: truncated: the file ends inside the .npy mark (\\x93NUMPY)");
        }
        if bytes.starts_with(b"PK\x03\x04") {
            bail!("{name}: not a .npy file: it is a zip archive (an .npz file of np.savez?): unzip it, each array inside is a .npy file");
        }
        bail!("{name}: not a .npy file: it does not begin with \\x93NUMPY, the mark numpy writes");
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(v) => (v[0], v[1]),
        None => bail!("{name}: truncated: the file ends before its .npy format version"),
    };
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => bail!("{name}: .npy format version {major}.{minor}, which read_npy does not know (it reads 1.0, 2.0 and 3.0)"),
    };
    let Some(len_field) = bytes.get(8..8 + len_bytes) else {
        bail!("{name}: truncated: the file ends before the length of its header");
    };
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    let header_end = header_len.saturating_add(8 + len_bytes);
    if bytes.len() < header_end {
        bail!(
            "{name}: truncated: the header should be {header_len} bytes, but the file ends after {}",
            bytes.len() - 8 - len_bytes
        );
    }
    let (descr, shape) = parse_header(&bytes[8 + len_bytes..header_end])
        .map_err(|e| anyhow!("{name}: not a valid .npy header: {e}"))?;
    let data = &bytes[header_end..];
    let Lit::Str(descr) = descr else {
        bail!("{name}: unsupported dtype: a record (structured) dtype; read_npy reads plain numbers only");
    };
    if descr == "|O" || descr == "O" {
        return read_object_array(data, &shape, name);
    }
    let Some(num) = Num::from_descr(&descr) else {
        bail!(
            "{name}: unsupported dtype '{descr}' ({}); read_npy reads numbers only (f4, f8, i1-i8, u1-u8, or an object array of numbers)",
            describe_descr(&descr)
        , descr = crate::format::printable(&descr));
    };
    let Some(count) = element_count(&shape, num.size()) else {
        bail!(
            "{name}: the header's shape {} is too large to hold in memory",
            fmt_shape(&shape)
        );
    };
    let want = count * num.size();
    if data.len() < want {
        bail!(
            "{name}: truncated: shape {} of '{descr}' needs {want} bytes of data, the file has {}",
            fmt_shape(&shape),
            data.len(),
            descr = crate::format::printable(&descr)
        );
    }
    if data.len() > want {
        bail!(
            "{name}: {} bytes more than shape {} of '{descr}' needs after its header (damaged, or more than one array written into it?)",
            data.len() - want,
            fmt_shape(&shape)
        , descr = crate::format::printable(&descr));
    }
    let out: std::result::Result<ArrayD<f64>, String> = match num {
        Num::F4 => convert::<f32>(bytes, |x| x as f64),
        Num::F8 => convert::<f64>(bytes, |x| x),
        Num::I1 => convert::<i8>(bytes, |x| x as f64),
        Num::I2 => convert::<i16>(bytes, |x| x as f64),
        Num::I4 => convert::<i32>(bytes, |x| x as f64),
        Num::I8 => convert::<i64>(bytes, |x| x as f64),
        Num::U1 => convert::<u8>(bytes, |x| x as f64),
        Num::U2 => convert::<u16>(bytes, |x| x as f64),
        Num::U4 => convert::<u32>(bytes, |x| x as f64),
        Num::U8 => convert::<u64>(bytes, |x| x as f64),
    };
    out.map_err(|e| {
        anyhow!(
            "{name}: cannot read the '{descr}' data: {e}",
            descr = crate::format::printable(&descr)
        )
    })
}

/// Reads a whole `.npy` file of element type `T` with `ndarray-npy` and converts it to a
/// C-order `f64` array.
fn convert<T: ndarray_npy::ReadableElement + Copy>(
    bytes: &[u8],
    f: fn(T) -> f64,
) -> std::result::Result<ArrayD<f64>, String> {
    let a = ArrayD::<T>::read_npy(bytes).map_err(|e| e.to_string())?;
    // the elements in logical (C) order, whatever the file's order
    let values: Vec<f64> = a.iter().map(|&x| f(x)).collect();
    ArrayD::from_shape_vec(a.raw_dim(), values).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------
// Object arrays: a strict reader of numpy's pickles.

/// A value the pickle builds. Calls (`REDUCE`) and their `BUILD` state are only recorded,
/// never executed.
#[derive(Debug)]
enum Obj {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    /// `module.name`, by `GLOBAL` or `STACK_GLOBAL`.
    Global(String, String),
    /// `func(*args)` by `REDUCE`, with the state a later `BUILD` gave it.
    Call {
        func: usize,
        args: usize,
        state: Option<usize>,
    },
}

/// One slot of the pickle machine's stack: a mark or an object (an index into the arena,
/// so that memo references share one object as in Python, and `BUILD`/`APPENDS` change
/// it in place).
#[derive(Clone, Copy)]
enum Slot {
    Mark,
    Obj(usize),
}

/// The pickle machine: the opcodes read, the objects built, the stack and the memo.
struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    arena: Vec<Obj>,
    stack: Vec<Slot>,
    memo: HashMap<u32, usize>,
}

impl<'a> Machine<'a> {
    /// `n` bytes of the pickle, or an error if it ends first.
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "truncated: the pickled object array ends inside the opcode at its byte {}",
                    self.pos
                )
            })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// An unsigned little-endian number of `n` bytes (n ≤ 8).
    fn uint(&mut self, n: usize) -> std::result::Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length field of `n` bytes, then that many bytes.
    fn counted(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        let len =
            usize::try_from(self.uint(n)?).map_err(|_| "a length beyond memory".to_string())?;
        self.take(len)
    }

    /// One line of a `GLOBAL` opcode (without its newline).
    fn line(&mut self) -> std::result::Result<String, String> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .take(1024)
            .position(|&b| b == b'\n')
            .ok_or_else(|| format!("a GLOBAL name without its end at byte {}", self.pos))?;
        let s = std::str::from_utf8(&rest[..n])
            .map_err(|_| format!("a GLOBAL name that is not text at byte {}", self.pos))?
            .to_string();
        self.pos += n + 1;
        Ok(s)
    }

    /// Adds an object and pushes it.
    fn push(&mut self, o: Obj) -> std::result::Result<(), String> {
        if self.arena.len() >= MAX_PICKLE_OBJECTS {
            return Err(format!(
                "more than {MAX_PICKLE_OBJECTS} objects, at byte {}",
                self.pos
            ));
        }
        self.arena.push(o);
        self.stack.push(Slot::Obj(self.arena.len() - 1));
        Ok(())
    }

    /// Pops an object (not a mark).
    fn pop(&mut self) -> std::result::Result<usize, String> {
        match self.stack.pop() {
            Some(Slot::Obj(i)) => Ok(i),
            Some(Slot::Mark) => Err(format!(
                "a MARK where an object belongs, before byte {}",
                self.pos
            )),
            None => Err(format!(
                "an empty stack where an object belongs, before byte {}",
                self.pos
            )),
        }
    }

    /// The object on top of the stack, without popping it.
    fn top(&self) -> std::result::Result<usize, String> {
        match self.stack.last() {
            Some(Slot::Obj(i)) => Ok(*i),
            _ => Err(format!(
                "no object on the stack to memoize, before byte {}",
                self.pos
            )),
        }
    }

    /// Pops every object above the topmost mark, and the mark.
    fn pop_mark(&mut self) -> std::result::Result<Vec<usize>, String> {
        let at = self
            .stack
            .iter()
            .rposition(|s| matches!(s, Slot::Mark))
            .ok_or_else(|| format!("no MARK for the opcode before byte {}", self.pos))?;
        let items = self.stack.split_off(at + 1);
        self.stack.pop();
        Ok(items
            .into_iter()
            .filter_map(|s| match s {
                Slot::Obj(i) => Some(i),
                Slot::Mark => None,
            })
            .collect())
    }

    /// A text opcode's UTF-8 payload.
    fn text(bytes: &[u8], at: usize) -> std::result::Result<String, String> {
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| format!("a string that is not UTF-8 before byte {at}"))
    }

    /// Appends `items` to the list at `list`.
    fn extend(&mut self, list: usize, items: Vec<usize>) -> std::result::Result<(), String> {
        match self.arena.get_mut(list) {
            Some(Obj::List(v)) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(format!(
                "APPEND to something that is not a list, before byte {}",
                self.pos
            )),
        }
    }

    /// Runs the opcodes up to `STOP`; returns the one object left on the stack (`pos` is
    /// then just past `STOP`).
    fn run(&mut self) -> std::result::Result<usize, String> {
        loop {
            let at = self.pos;
            let Some(&op) = self.data.get(at) else {
                return Err(
                    "truncated: the pickled object array ends before its STOP opcode".to_string(),
                );
            };
            self.pos += 1;
            match op {
                0x80 => {
                    // PROTO
                    let v = self.take(1)?[0];
                    if v > 5 {
                        return Err(format!("pickle protocol {v}, unknown (0 to 5 exist)"));
                    }
                }
                0x95 => {
                    // FRAME: only a length hint
                    self.take(8)?;
                }
                b'c' => {
                    // GLOBAL
                    let module = self.line()?;
                    let name = self.line()?;
                    self.push(Obj::Global(module, name))?;
                }
                0x93 => {
                    // STACK_GLOBAL
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let g = match (&self.arena[module], &self.arena[name]) {
                        (Obj::Str(m), Obj::Str(n)) => Obj::Global(m.clone(), n.clone()),
                        _ => {
                            return Err(format!(
                                "STACK_GLOBAL of names that are not text at byte {at}"
                            ))
                        }
                    };
                    self.push(g)?;
                }
                b'q' | b'r' => {
                    // BINPUT, LONG_BINPUT
                    let key = self.uint(if op == b'q' { 1 } else { 4 })? as u32;
                    let top = self.top()?;
                    self.memo.insert(key, top);
                }
                0x94 => {
                    // MEMOIZE
                    let key =
                        u32::try_from(self.memo.len()).map_err(|_| "memo overflow".to_string())?;
                    let top = self.top()?;
                    self.memo.insert(key, top);
                }
                b'h' | b'j' => {
                    // BINGET, LONG_BINGET
                    let key = self.uint(if op == b'h' { 1 } else { 4 })? as u32;
                    let i = *self.memo.get(&key).ok_or_else(|| {
                        format!("BINGET of memo {key}, never stored, at byte {at}")
                    })?;
                    self.stack.push(Slot::Obj(i));
                }
                b'(' => self.stack.push(Slot::Mark),
                b'J' => {
                    // BININT: signed 4 bytes
                    let v = self.uint(4)? as u32 as i32;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.uint(1)?;
                    self.push(Obj::Int(v as i64))?;
                }
                b'M' => {
                    let v = self.uint(2)?;
                    self.push(Obj::Int(v as i64))?;
                }
                0x8a => {
                    // LONG1: n bytes of a little-endian two's complement integer
                    let n = usize::from(self.take(1)?[0]);
                    if n > 8 {
                        return Err(format!(
                            "an integer of {n} bytes (beyond 64 bits) at byte {at}"
                        ));
                    }
                    let raw = self.uint(n)?;
                    let v = if n == 0 {
                        0
                    } else {
                        let shift = 64 - 8 * n as u32;
                        ((raw << shift) as i64) >> shift
                    };
                    self.push(Obj::Int(v))?;
                }
                b'G' => {
                    // BINFLOAT: big-endian f64
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Obj::Float(f64::from_be_bytes(a)))?;
                }
                b'N' => self.push(Obj::None)?,
                0x88 => self.push(Obj::Bool(true))?,
                0x89 => self.push(Obj::Bool(false))?,
                b'X' | 0x8c | 0x8d => {
                    // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
                    let n = match op {
                        b'X' => 4,
                        0x8c => 1,
                        _ => 8,
                    };
                    let b = self.counted(n)?;
                    let s = Self::text(b, self.pos)?;
                    self.push(Obj::Str(s))?;
                }
                b'C' | b'B' | 0x8e | b'U' | b'T' => {
                    // SHORT_BINBYTES, BINBYTES, BINBYTES8, and Python 2's SHORT_BINSTRING,
                    // BINSTRING (bytes there)
                    let n = match op {
                        b'C' | b'U' => 1,
                        b'B' | b'T' => 4,
                        _ => 8,
                    };
                    let b = self.counted(n)?.to_vec();
                    self.push(Obj::Bytes(b))?;
                }
                b')' => self.push(Obj::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))?;
                }
                0x85..=0x87 => {
                    // TUPLE1, TUPLE2, TUPLE3
                    let n = usize::from(op - 0x84);
                    let mut items = vec![0; n];
                    for k in (0..n).rev() {
                        items[k] = self.pop()?;
                    }
                    self.push(Obj::Tuple(items))?;
                }
                b']' => self.push(Obj::List(Vec::new()))?,
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    self.extend(list, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.extend(list, items)?;
                }
                b'R' => {
                    // REDUCE: recorded, not called
                    let args = self.pop()?;
                    let func = self.pop()?;
                    if !matches!(self.arena[args], Obj::Tuple(_)) {
                        return Err(format!(
                            "REDUCE with arguments that are not a tuple at byte {at}"
                        ));
                    }
                    self.push(Obj::Call {
                        func,
                        args,
                        state: None,
                    })?;
                }
                b'b' => {
                    // BUILD: the state is recorded on the object
                    let st = self.pop()?;
                    let obj = self.top()?;
                    match &mut self.arena[obj] {
                        Obj::Call { state, .. } if state.is_none() => *state = Some(st),
                        _ => {
                            return Err(format!(
                                "BUILD of an object that cannot take a state at byte {at}"
                            ))
                        }
                    }
                }
                b'.' => {
                    // STOP
                    let root = self.pop()?;
                    if !self.stack.is_empty() {
                        return Err("objects left on the stack at STOP".to_string());
                    }
                    return Ok(root);
                }
                _ => {
                    let c = if op.is_ascii_graphic() {
                        format!(" ('{}')", op as char)
                    } else {
                        String::new()
                    };
                    return Err(format!(
                        "opcode 0x{op:02x}{c} at byte {at}, which is not among those numpy's pickles of arrays of numbers use"
                    ));
                }
            }
        }
    }

    /// The `module.name` of a global.
    fn global(&self, i: usize) -> Option<(&str, &str)> {
        match self.arena.get(i)? {
            Obj::Global(m, n) => Some((m, n)),
            _ => None,
        }
    }

    /// The items of a tuple.
    fn tuple(&self, i: usize) -> Option<&[usize]> {
        match self.arena.get(i)? {
            Obj::Tuple(v) => Some(v),
            _ => None,
        }
    }

    /// A string's text.
    fn str(&self, i: usize) -> Option<&str> {
        match self.arena.get(i)? {
            Obj::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A call's function, arguments and state.
    fn call(&self, i: usize) -> Option<(usize, &[usize], Option<usize>)> {
        match self.arena.get(i)? {
            Obj::Call { func, args, state } => Some((*func, self.tuple(*args)?, *state)),
            _ => None,
        }
    }

    /// A `numpy.dtype(...)` object: its type string (`f8`, `O8`) and byte order (`<`, `>`,
    /// `|`, from the state `BUILD` gave it).
    fn dtype(&self, i: usize) -> Option<(&str, Option<&str>)> {
        let (func, args, state) = self.call(i)?;
        if self.global(func)? != ("numpy", "dtype") {
            return None;
        }
        let descr = self.str(*args.first()?)?;
        let order = state
            .and_then(|s| self.tuple(s))
            .and_then(|t| t.get(1))
            .and_then(|&o| self.str(o));
        Some((descr, order))
    }

    /// The raw bytes of a numpy scalar: bytes, or (protocol 2, Python 3) text that
    /// `_codecs.encode(text, 'latin1')` turns back into bytes.
    fn raw_bytes(&self, i: usize) -> Option<Vec<u8>> {
        match self.arena.get(i)? {
            Obj::Bytes(b) => Some(b.clone()),
            Obj::Call { .. } => {
                let (func, args, _) = self.call(i)?;
                if self.global(func)? != ("_codecs", "encode") || args.len() != 2 {
                    return None;
                }
                let enc = self.str(args[1])?;
                if enc != "latin1" && enc != "latin-1" {
                    return None;
                }
                self.str(args[0])?
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).ok())
                    .collect()
            }
            _ => None,
        }
    }

    /// The number an element holds: a numpy scalar of a numeric dtype, a Python float or
    /// a Python int; otherwise what it is instead.
    fn number(&self, i: usize) -> std::result::Result<f64, NotRead> {
        match self.arena.get(i) {
            Some(Obj::Float(x)) => return Ok(*x),
            Some(Obj::Int(v)) => return Ok(*v as f64),
            _ => {}
        }
        let not_number = || NotRead::NotNumber(self.kind(i));
        let (func, args, _) = self.call(i).ok_or_else(not_number)?;
        if !matches!(self.global(func), Some((m, "scalar")) if is_multiarray(m)) || args.len() != 2
        {
            return Err(not_number());
        }
        let Some((descr, order)) = self.dtype(args[0]) else {
            return Err(NotRead::Damaged(
                "a numpy scalar without a readable dtype".into(),
            ));
        };
        let Some((kind, size)) = numeric_scalar(descr) else {
            return Err(NotRead::NotNumber(format!(
                "a numpy scalar of dtype '{descr}'",
                descr = crate::format::printable(descr)
            )));
        };
        let Some(raw) = self.raw_bytes(args[1]) else {
            return Err(NotRead::Damaged(format!(
                "a numpy scalar of dtype '{descr}' whose bytes cannot be read",
                descr = crate::format::printable(descr)
            )));
        };
        scalar_value(kind, size, order.unwrap_or("?"), &raw).ok_or_else(|| {
            NotRead::Damaged(format!(
                "a numpy scalar of dtype '{descr}' with {} bytes in byte order '{}'",
                raw.len(),
                order.unwrap_or("?"),
                descr = crate::format::printable(descr)
            ))
        })
    }

    /// What an object is, for the errors.
    fn kind(&self, i: usize) -> String {
        match self.arena.get(i) {
            Some(Obj::None) => "None".into(),
            Some(Obj::Bool(b)) => format!("the bool {}", if *b { "True" } else { "False" }),
            Some(Obj::Int(_)) => "an int".into(),
            Some(Obj::Float(_)) => "a float".into(),
            Some(Obj::Str(s)) => format!("the text {:?}", s.chars().take(40).collect::<String>()),
            Some(Obj::Bytes(_)) => "bytes".into(),
            Some(Obj::Tuple(_)) => "a tuple".into(),
            Some(Obj::List(_)) => "a list".into(),
            Some(Obj::Global(m, n)) => format!("the name {m}.{n}"),
            Some(Obj::Call { func, .. }) => match self.global(*func) {
                Some((m, n)) => format!("an object made by {m}.{n}"),
                None => "an object made by a call".into(),
            },
            None => "nothing".into(),
        }
    }
}

/// numpy's C module, before (`numpy.core`) and since (`numpy._core`) numpy 2.
fn is_multiarray(module: &str) -> bool {
    module == "numpy.core.multiarray" || module == "numpy._core.multiarray"
}

/// Why an object-array element is not read.
enum NotRead {
    /// It is not a number (text, None, a bool, a numpy scalar of a non-numeric dtype...).
    NotNumber(String),
    /// It is a numpy scalar whose parts are damaged.
    Damaged(String),
}

/// The kind (`f`, `i`, `u`) and size of a numeric numpy scalar's dtype (`f8`, `i4`...).
fn numeric_scalar(descr: &str) -> Option<(u8, usize)> {
    Some(match descr {
        "f4" => (b'f', 4),
        "f8" => (b'f', 8),
        "i1" => (b'i', 1),
        "i2" => (b'i', 2),
        "i4" => (b'i', 4),
        "i8" => (b'i', 8),
        "u1" => (b'u', 1),
        "u2" => (b'u', 2),
        "u4" => (b'u', 4),
        "u8" => (b'u', 8),
        _ => return None,
    })
}

/// The value of a numpy scalar of `kind` and `size` (from [`numeric_scalar`]) and byte
/// order `order` (`<`, `>`, `|` for one byte) from its raw bytes; `None` when they do not
/// fit.
fn scalar_value(kind: u8, size: usize, order: &str, raw: &[u8]) -> Option<f64> {
    let big = match (order, size) {
        ("<", _) => false,
        (">", _) => true,
        ("|", 1) => false,
        _ => return None,
    };
    if raw.len() != size || !matches!(size, 1 | 2 | 4 | 8) {
        return None;
    }
    let mut b = [0u8; 8];
    if big {
        b[8 - size..].copy_from_slice(raw);
    } else {
        b[..size].copy_from_slice(raw);
    }
    let u = if big {
        u64::from_be_bytes(b)
    } else {
        u64::from_le_bytes(b)
    };
    let shift = 64 - 8 * size as u32;
    Some(match (kind, size) {
        (b'f', 8) => f64::from_bits(u),
        (b'f', 4) => f32::from_bits(u as u32) as f64,
        (b'i', _) => (((u << shift) as i64) >> shift) as f64,
        (b'u', _) => u as f64,
        _ => return None,
    })
}

/// `flat` as an index of `shape` in C order, as numpy prints it: `[3, 1]`.
fn unravel(mut flat: usize, shape: &[usize]) -> String {
    let mut idx = vec![0; shape.len()];
    for (k, &n) in shape.iter().enumerate().rev() {
        if n > 0 {
            idx[k] = flat % n;
            flat /= n;
        }
    }
    format!("{idx:?}")
}

/// Reads the pickle after the header of an object array: numpy's pickle of an ndarray
/// whose elements are numbers.
fn read_object_array(data: &[u8], shape: &[usize], name: &str) -> Result<ArrayD<f64>> {
    if data.len() > MAX_PICKLE_BYTES {
        bail!(
            "{name}: an object array of {} MiB: read_npy reads object arrays up to {} MiB; {SAVE_AS_NUMBERS}",
            data.len() >> 20,
            MAX_PICKLE_BYTES >> 20
        );
    }
    let Some(count) = element_count(shape, 8) else {
        bail!(
            "{name}: the header's shape {} is too large to hold in memory",
            fmt_shape(shape)
        );
    };
    let mut m = Machine {
        data,
        pos: 0,
        arena: Vec::new(),
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run().map_err(|e| {
        if e.starts_with("truncated") {
            anyhow!("{name}: {e}")
        } else {
            anyhow!("{name}: an object array whose pickled data read_npy cannot take: {e}")
        }
    })?;
    if m.pos != data.len() {
        bail!(
            "{name}: {} bytes after the end of the pickled object array (damaged, or more than one array written into it?)",
            data.len() - m.pos
        );
    }
    let not_array = |what: &str| {
        anyhow!("{name}: the pickled object is not a numpy array as np.save writes it: {what}")
    };
    // _reconstruct(ndarray, (0,), b'b') with BUILD state (1, shape, dtype, fortran, list)
    let Some((func, args, state)) = m.call(root) else {
        return Err(not_array(&m.kind(root)));
    };
    if !matches!(m.global(func), Some((md, "_reconstruct")) if is_multiarray(md)) {
        return Err(not_array(&m.kind(root)));
    }
    match args.first().and_then(|&a| m.global(a)) {
        Some(("numpy", "ndarray")) => {}
        Some((md, n)) => return Err(not_array(&format!("an array of class {md}.{n}"))),
        None => return Err(not_array("no array class")),
    }
    let Some(st) = state.and_then(|s| m.tuple(s)) else {
        return Err(not_array("an array without its state"));
    };
    let [version, pshape, dtype, _fortran, list] = *st else {
        return Err(not_array(&format!(
            "a state of {} items (5 expected)",
            st.len()
        )));
    };
    if !matches!(m.arena.get(version), Some(Obj::Int(1))) {
        return Err(not_array("a state of an unknown version"));
    }
    let dims: Option<Vec<usize>> = m.tuple(pshape).and_then(|t| {
        t.iter()
            .map(|&d| match m.arena.get(d) {
                Some(Obj::Int(n)) => usize::try_from(*n).ok(),
                _ => None,
            })
            .collect()
    });
    let Some(dims) = dims else {
        return Err(not_array("a shape that is not a tuple of sizes"));
    };
    if dims != shape {
        bail!(
            "{name}: damaged: the header says shape {}, the pickled array {}",
            fmt_shape(shape),
            fmt_shape(&dims)
        );
    }
    match m.dtype(dtype) {
        Some(("O8", _)) | Some(("O4", _)) => {}
        Some((d, _)) => {
            return Err(not_array(&format!(
                "an array of dtype '{d}' in an object-array file",
                d = crate::format::printable(d)
            )))
        }
        None => return Err(not_array("an array without a readable dtype")),
    }
    // the list is in C order whatever the array's order (numpy iterates it flat)
    let Some(Obj::List(items)) = m.arena.get(list) else {
        return Err(not_array("elements that are not a list"));
    };
    if items.len() != count {
        bail!(
            "{name}: damaged: shape {} has {count} elements, the pickled array holds {}",
            fmt_shape(shape),
            items.len()
        );
    }
    let mut values = Vec::with_capacity(count);
    for (k, &it) in items.iter().enumerate() {
        match m.number(it) {
            Ok(x) => values.push(x),
            Err(NotRead::NotNumber(what)) => bail!(
                "{name} holds Python objects that are not numbers (element {} is {what}): {SAVE_AS_NUMBERS}",
                unravel(k, shape)
            ),
            Err(NotRead::Damaged(what)) => {
                bail!("{name}: damaged: element {} is {what}", unravel(k, shape))
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(shape), values)
        .map_err(|e| anyhow!("{name}: shape {}: {e}", fmt_shape(shape)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    // Fixtures: .npy files written by numpy, embedded byte for byte so that the tests need
    // no Python. Each comment says how the file was made (`f` an io.BytesIO, whose bytes
    // were printed as a Rust literal).

    // numpy 1.24.2, made like lhc_100.npy (pickle protocol 2, each np.float64 as _codecs.encode of
    // latin1 text): a = np.array([[0.5, 0.25], [1.0, 2.0]], dtype=object); a[0,0], a[0,1], a[1,1]
    // = np.float64(...); a[1,0] stays a Python float; np.lib.format.write_array_header_1_0(f,
    // np.lib.format.header_data_from_array_1_0(a)); pickle.dump(a, f, protocol=2)
    const OBJ_P2: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }\
        \x20                                                          \x0a\x80\x02cnumpy\
        .core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02\
        c_codecs\x0aencode\x0aq\x03X\x01\x00\x00\x00bq\x04X\x06\x00\x00\x00latin1q\x05\x86\
        q\x06Rq\x07\x87q\x08Rq\x09(K\x01K\x02K\x02\x86q\x0acnumpy\x0adtype\x0aq\x0bX\x02\
        \x00\x00\x00O8q\x0c\x89\x88\x87q\x0dRq\x0e(K\x03X\x01\x00\x00\x00|q\x0fNNNJ\xff\xff\
        \xff\xffJ\xff\xff\xff\xffK?tq\x10b\x89]q\x11(cnumpy.core.multiarray\x0ascalar\x0a\
        q\x12h\x0bX\x02\x00\x00\x00f8q\x13\x89\x88\x87q\x14Rq\x15(K\x03X\x01\x00\x00\x00\
        <q\x16NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x17bh\x03X\x09\x00\x00\x00\x00\
        \x00\x00\x00\x00\x00\xc3\xa0?q\x18h\x05\x86q\x19Rq\x1a\x86q\x1bRq\x1ch\x12h\x15h\
        \x03X\x09\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc3\x90?q\x1dh\x05\x86q\x1eRq\x1f\x86\
        q Rq!G?\xf0\x00\x00\x00\x00\x00\x00h\x12h\x15h\x03X\x08\x00\x00\x00\x00\x00\x00\x00\
        \x00\x00\x00@q\"h\x05\x86q#Rq$\x86q%Rq&etq'b.";

    // numpy 1.24.2: np.save(f, a, allow_pickle=True) (pickle protocol 3), with a as in OBJ_P2
    const OBJ_P3: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }\
        \x20                                                          \x0a\x80\x03cnumpy\
        .core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02\
        C\x01bq\x03\x87q\x04Rq\x05(K\x01K\x02K\x02\x86q\x06cnumpy\x0adtype\x0aq\x07X\x02\
        \x00\x00\x00O8q\x08\x89\x88\x87q\x09Rq\x0a(K\x03X\x01\x00\x00\x00|q\x0bNNNJ\xff\xff\
        \xff\xffJ\xff\xff\xff\xffK?tq\x0cb\x89]q\x0d(cnumpy.core.multiarray\x0ascalar\x0a\
        q\x0eh\x07X\x02\x00\x00\x00f8q\x0f\x89\x88\x87q\x10Rq\x11(K\x03X\x01\x00\x00\x00\
        <q\x12NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x13bC\x08\x00\x00\x00\x00\x00\
        \x00\xe0?q\x14\x86q\x15Rq\x16h\x0eh\x11C\x08\x00\x00\x00\x00\x00\x00\xd0?q\x17\x86\
        q\x18Rq\x19G?\xf0\x00\x00\x00\x00\x00\x00h\x0eh\x11C\x08\x00\x00\x00\x00\x00\x00\
        \x00@q\x1a\x86q\x1bRq\x1cetq\x1db.";

    // numpy 1.24.2: np.save(f, np.asfortranarray(np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
    // dtype=object)), allow_pickle=True): Python floats, header fortran_order True
    const OBJ_FORTRAN: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': True, 'shape': (2, 3), } \
        \x20                                                          \x0a\x80\x03cnumpy\
        .core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02\
        C\x01bq\x03\x87q\x04Rq\x05(K\x01K\x02K\x03\x86q\x06cnumpy\x0adtype\x0aq\x07X\x02\
        \x00\x00\x00O8q\x08\x89\x88\x87q\x09Rq\x0a(K\x03X\x01\x00\x00\x00|q\x0bNNNJ\xff\xff\
        \xff\xffJ\xff\xff\xff\xffK?tq\x0cb\x88]q\x0d(G?\xf0\x00\x00\x00\x00\x00\x00G@\x00\
        \x00\x00\x00\x00\x00\x00G@\x08\x00\x00\x00\x00\x00\x00G@\x10\x00\x00\x00\x00\x00\
        \x00G@\x14\x00\x00\x00\x00\x00\x00G@\x18\x00\x00\x00\x00\x00\x00etq\x0eb.";

    // numpy 1.24.2: np.save(f, np.array([[0.5, 'x']], dtype=object), allow_pickle=True)
    const OBJ_STR: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }\
        \x20                                                          \x0a\x80\x03cnumpy\
        .core.multiarray\x0a_reconstruct\x0aq\x00cnumpy\x0andarray\x0aq\x01K\x00\x85q\x02\
        C\x01bq\x03\x87q\x04Rq\x05(K\x01K\x01K\x02\x86q\x06cnumpy\x0adtype\x0aq\x07X\x02\
        \x00\x00\x00O8q\x08\x89\x88\x87q\x09Rq\x0a(K\x03X\x01\x00\x00\x00|q\x0bNNNJ\xff\xff\
        \xff\xffJ\xff\xff\xff\xffK?tq\x0cb\x89]q\x0d(G?\xe0\x00\x00\x00\x00\x00\x00X\x01\
        \x00\x00\x00xq\x0eetq\x0fb.";

    // numpy 1.24.2: np.save(f, np.array([[0.5, -1.25, 3.0], [4.0, 0.1, -6.5]], dtype='<f8', order='C'))
    const F8_C_LE: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), \
        }                                                          \x0a\x00\x00\x00\x00\x00\
        \x00\xe0?\x00\x00\x00\x00\x00\x00\xf4\xbf\x00\x00\x00\x00\x00\x00\x08@\x00\x00\x00\
        \x00\x00\x00\x10@\x9a\x99\x99\x99\x99\x99\xb9?\x00\x00\x00\x00\x00\x00\x1a\xc0";

    // numpy 1.24.2: np.save(f, np.array([[0.5, -1.25, 3.0], [4.0, 0.1, -6.5]], dtype='>f8', order='F'))
    const F8_F_BE: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '>f8', 'fortran_order': True, 'shape': (2, 3), }\
        \x20                                                          \x0a?\xe0\x00\x00\x00\
        \x00\x00\x00@\x10\x00\x00\x00\x00\x00\x00\xbf\xf4\x00\x00\x00\x00\x00\x00?\xb9\x99\
        \x99\x99\x99\x99\x9a@\x08\x00\x00\x00\x00\x00\x00\xc0\x1a\x00\x00\x00\x00\x00\x00";

    // numpy 1.24.2: np.save(f, np.array([[0.5, -1.25, 3.0], [4.0, 0.1, -6.5]], dtype='>f4', order='C'))
    const F4_C_BE: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), \
        }                                                          \x0a?\x00\x00\x00\xbf\
        \xa0\x00\x00@@\x00\x00@\x80\x00\x00=\xcc\xcc\xcd\xc0\xd0\x00\x00";

    // numpy 1.24.2: np.save(f, np.array([[0.5, -1.25, 3.0], [4.0, 0.1, -6.5]], dtype='<f4', order='F'))
    const F4_F_LE: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\
        \x20                                                          \x0a\x00\x00\x00?\x00\
        \x00\x80@\x00\x00\xa0\xbf\xcd\xcc\xcc=\x00\x00@@\x00\x00\xd0\xc0";

    // numpy 1.24.2: np.save(f, np.array([[1, -2, 3], [40000, -5, 6]], dtype='<i4', order='C'))
    const I4_C_LE: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), \
        }                                                          \x0a\x01\x00\x00\x00\xfe\
        \xff\xff\xff\x03\x00\x00\x00@\x9c\x00\x00\xfb\xff\xff\xff\x06\x00\x00\x00";

    // numpy 1.24.2: np.save(f, np.array([[1, -2, 3], [40000, -5, 6]], dtype='>i4', order='F'))
    const I4_F_BE: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '>i4', 'fortran_order': True, 'shape': (2, 3), }\
        \x20                                                          \x0a\x00\x00\x00\x01\
        \x00\x00\x9c@\xff\xff\xff\xfe\xff\xff\xff\xfb\x00\x00\x00\x03\x00\x00\x00\x06";

    // numpy 1.24.2: np.save(f, np.array(['ab', 'cde'])) (dtype <U3)
    const STR_U3: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '<U3', 'fortran_order': False, 'shape': (2,), } \
        \x20                                                          \x0aa\x00\x00\x00b\
        \x00\x00\x00\x00\x00\x00\x00c\x00\x00\x00d\x00\x00\x00e\x00\x00\x00";

    // numpy 2.4.6: np.save(f, a, allow_pickle=True) (pickle protocol 4), with a as in OBJ_P2
    const OBJ_P4: &[u8] = b"\
        \x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, 'shape': (2, 2), }\
        \x20                                                          \x0a\x80\x04\x95\xfd\
        \x00\x00\x00\x00\x00\x00\x00\x8c\x16numpy._core.multiarray\x94\x8c\x0c_reconstru\
        ct\x94\x93\x94\x8c\x05numpy\x94\x8c\x07ndarray\x94\x93\x94K\x00\x85\x94C\x01b\x94\
        \x87\x94R\x94(K\x01K\x02K\x02\x86\x94h\x03\x8c\x05dtype\x94\x93\x94\x8c\x02O8\x94\
        \x89\x88\x87\x94R\x94(K\x03\x8c\x01|\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK?t\
        \x94b\x89]\x94(h\x00\x8c\x06scalar\x94\x93\x94h\x0c\x8c\x02f8\x94\x89\x88\x87\x94\
        R\x94(K\x03\x8c\x01<\x94NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t\x94bC\x08\x00\
        \x00\x00\x00\x00\x00\xe0?\x94\x86\x94R\x94h\x14h\x17C\x08\x00\x00\x00\x00\x00\x00\
        \xd0?\x94\x86\x94R\x94G?\xf0\x00\x00\x00\x00\x00\x00h\x14h\x17C\x08\x00\x00\x00\x00\
        \x00\x00\x00@\x94\x86\x94R\x94et\x94b.";

    /// Reads in-memory bytes as the file `t.npy`.
    fn read(bytes: &[u8]) -> Result<ArrayD<f64>> {
        parse_npy(bytes, "t.npy")
    }

    /// The error reading `bytes` gives (fails the test if it reads).
    fn err(bytes: &[u8]) -> String {
        match read(bytes) {
            Ok(a) => panic!("read, shape {:?}: {a}", a.shape()),
            Err(e) => format!("{e:#}"),
        }
    }

    /// Asserts that `a` has `shape` and, in C order, exactly `values`.
    fn check(a: &ArrayD<f64>, shape: &[usize], values: &[f64]) {
        assert_eq!(a.shape(), shape);
        assert!(a.is_standard_layout());
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), values);
    }

    /// A `.npy` file as numpy writes it (format 1.0, header padded with spaces to a multiple
    /// of 64 bytes): `descr` as a Python literal (`"'<f8'"`), then the raw `data`.
    fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> Vec<u8> {
        let dict = format!(
            "{{'descr': {descr}, 'fortran_order': {}, 'shape': {}, }}",
            if fortran { "True" } else { "False" },
            fmt_shape(shape)
        );
        let mut h = dict.into_bytes();
        let pad = (64 - (10 + h.len() + 1) % 64) % 64;
        h.extend(std::iter::repeat_n(b' ', pad));
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend((h.len() as u16).to_le_bytes());
        out.extend(h);
        out.extend(data);
        out
    }

    /// Writes pickle opcodes as numpy's protocol-2 pickles of object arrays have them.
    #[derive(Default)]
    struct Pk(Vec<u8>);

    impl Pk {
        fn b(&mut self, x: &[u8]) -> &mut Self {
            self.0.extend_from_slice(x);
            self
        }
        fn global(&mut self, m: &str, n: &str) -> &mut Self {
            self.b(b"c")
                .b(m.as_bytes())
                .b(b"\n")
                .b(n.as_bytes())
                .b(b"\n")
        }
        fn text(&mut self, s: &str) -> &mut Self {
            self.b(b"X")
                .b(&(s.len() as u32).to_le_bytes())
                .b(s.as_bytes())
        }
        fn int(&mut self, v: u8) -> &mut Self {
            self.b(&[b'K', v])
        }
        fn float(&mut self, x: f64) -> &mut Self {
            self.b(b"G").b(&x.to_be_bytes())
        }
        /// `numpy.dtype(descr, 0, 1)` with the state numpy gives it (byte order `order`).
        fn dtype(&mut self, descr: &str, order: &str) -> &mut Self {
            self.global("numpy", "dtype")
                .text(descr)
                .int(0)
                .int(1)
                .b(b"\x87R(");
            self.int(3)
                .text(order)
                .b(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff")
                .int(0);
            self.b(b"tb")
        }
        /// A numpy scalar of dtype `descr` whose raw bytes are `raw` (as SHORT_BINBYTES).
        fn scalar(&mut self, descr: &str, order: &str, raw: &[u8]) -> &mut Self {
            self.global("numpy.core.multiarray", "scalar")
                .dtype(descr, order);
            self.b(&[b'C', raw.len() as u8]).b(raw).b(b"\x86R")
        }
    }

    /// An object-array `.npy` file of `shape` whose elements `elems` pushes, pickled as
    /// numpy does (`_reconstruct`, then BUILD with `(1, shape, dtype('O8'), False, list)`).
    fn obj_npy(shape: &[usize], elems: impl FnOnce(&mut Pk)) -> Vec<u8> {
        let mut p = Pk::default();
        p.b(b"\x80\x02")
            .global("numpy.core.multiarray", "_reconstruct");
        p.global("numpy", "ndarray")
            .int(0)
            .b(b"\x85C\x01b\x87R(")
            .int(1)
            .b(b"(");
        for &d in shape {
            p.b(b"J").b(&(d as u32).to_le_bytes());
        }
        p.b(b"t").dtype("O8", "|").b(b"\x89](");
        elems(&mut p);
        p.b(b"etb.");
        npy("'|O'", false, shape, &p.0)
    }

    #[test]
    fn object_arrays_as_numpy_pickles_them() {
        // protocol 2 (numpy 1.24, like lhc_100.npy), 3 (np.save of numpy 1.x), 4 (numpy 2)
        for bytes in [OBJ_P2, OBJ_P3, OBJ_P4] {
            check(&read(bytes).unwrap(), &[2, 2], &[0.5, 0.25, 1.0, 2.0]);
        }
        // a Fortran-order object array: the pickled list is in C order all the same
        check(
            &read(OBJ_FORTRAN).unwrap(),
            &[2, 3],
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        );
    }

    #[test]
    fn object_arrays_of_other_things_are_refused() {
        let e = err(OBJ_STR);
        assert!(
            e.starts_with("t.npy holds Python objects that are not numbers"),
            "{e}"
        );
        assert!(e.contains("element [0, 1] is the text \"x\""), "{e}");
        assert!(
            e.contains("save it as numbers, e.g. np.save(path, a.astype(float))"),
            "{e}"
        );
        let e = err(&obj_npy(&[3], |p| {
            p.float(1.0).b(b"N").float(2.0);
        }));
        assert!(e.contains("element [1] is None"), "{e}");
        let e = err(&obj_npy(&[2], |p| {
            p.b(b"\x88").float(2.0);
        }));
        assert!(e.contains("element [0] is the bool True"), "{e}");
        let e = err(&obj_npy(&[1], |p| {
            p.scalar("b1", "|", &[1]);
        }));
        assert!(e.contains("a numpy scalar of dtype 'b1'"), "{e}");
        // an element made by any other call is only described, never called
        let e = err(&obj_npy(&[1], |p| {
            p.global("os", "system").text("echo hi").b(b"\x85R");
        }));
        assert!(
            e.contains("element [0] is an object made by os.system"),
            "{e}"
        );
        // a pickle that is not an array at all
        let mut p = Pk::default();
        p.b(b"\x80\x02")
            .global("os", "system")
            .text("echo hi")
            .b(b"\x85R.");
        let e = err(&npy("'|O'", false, &[], &p.0));
        assert!(
            e.contains("not a numpy array as np.save writes it: an object made by os.system"),
            "{e}"
        );
        // a dict element: an opcode this reader does not take
        let e = err(&obj_npy(&[1], |p| {
            p.b(b"}");
        }));
        assert!(e.contains("opcode 0x7d ('}')"), "{e}");
    }

    #[test]
    fn object_array_elements_of_every_numeric_kind() {
        let a = obj_npy(&[2, 4], |p| {
            p.scalar("f8", ">", &2.5f64.to_be_bytes());
            p.scalar("f4", "<", &0.1f32.to_le_bytes());
            p.scalar("i8", "<", &(-7i64).to_le_bytes());
            p.scalar("i2", ">", &(-300i16).to_be_bytes());
            p.scalar("u1", "|", &[200]);
            p.int(5);
            p.b(b"J").b(&(-70000i32).to_le_bytes());
            p.b(b"\x8a\x05").b(&[0, 0, 0, 0, 0x80]); // LONG1: -2^39
        });
        check(
            &read(&a).unwrap(),
            &[2, 4],
            &[
                2.5,
                0.1f32 as f64,
                -7.0,
                -300.0,
                200.0,
                5.0,
                -70000.0,
                -(2f64.powi(39)),
            ],
        );
        // a 0-d object array and an empty one
        check(
            &read(&obj_npy(&[], |p| {
                p.float(4.0);
            }))
            .unwrap(),
            &[],
            &[4.0],
        );
        check(&read(&obj_npy(&[0, 3], |_| {})).unwrap(), &[0, 3], &[]);
    }

    #[test]
    fn damaged_object_arrays_are_refused() {
        // fewer elements than the shape needs
        let e = err(&obj_npy(&[3], |p| {
            p.float(1.0).float(2.0);
        }));
        assert!(
            e.contains("damaged: shape (3,) has 3 elements, the pickled array holds 2"),
            "{e}"
        );
        // the header and the pickle disagree on the shape
        let mut bytes = obj_npy(&[2], |p| {
            p.float(1.0).float(2.0);
        });
        let at = bytes.iter().position(|&b| b == b'2').unwrap();
        bytes[at] = b'1';
        let e = err(&bytes);
        assert!(
            e.contains("the header says shape (1,), the pickled array (2,)"),
            "{e}"
        );
        // bytes after STOP
        let mut bytes = OBJ_P2.to_vec();
        bytes.push(b'N');
        assert!(err(&bytes).contains("1 bytes after the end of the pickled object array"));
        // a numpy scalar whose bytes are short
        let e = err(&obj_npy(&[1], |p| {
            p.scalar("f8", "<", &[0; 7]);
        }));
        assert!(
            e.contains("damaged: element [0] is a numpy scalar of dtype 'f8' with 7 bytes"),
            "{e}"
        );
        // too large a pickle is refused before it is read
        let e = err(&npy("'|O'", false, &[1], &vec![b'N'; MAX_PICKLE_BYTES + 1]));
        assert!(
            e.contains("read_npy reads object arrays up to 16 MiB"),
            "{e}"
        );
    }

    #[test]
    fn fuzzed_object_arrays_give_errors_not_panics() {
        // every truncation of a valid file is an error that names the file
        for bytes in [OBJ_P2, OBJ_P4, F8_F_BE] {
            for n in 0..bytes.len() {
                match read(&bytes[..n]) {
                    Ok(a) => panic!("{n} of {} bytes read as {a}", bytes.len()),
                    Err(e) => assert!(format!("{e:#}").starts_with("t.npy"), "{e:#}"),
                }
            }
        }
        // random byte flips: an error or (a flip inside a number) a value; never a panic
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut errors = 0;
        for round in 0..3000 {
            let base = [OBJ_P2, OBJ_P3, OBJ_P4][round % 3];
            let mut bytes = base.to_vec();
            for _ in 0..1 + next() % 3 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            if read(&bytes).is_err() {
                errors += 1;
            }
        }
        assert!(errors > 1500, "only {errors} of 3000 damaged files refused");
    }

    #[test]
    fn numeric_files_in_c_and_fortran_order_and_both_byte_orders() {
        let fl = [0.5, -1.25, 3.0, 4.0, 0.1, -6.5];
        check(&read(F8_C_LE).unwrap(), &[2, 3], &fl);
        check(&read(F8_F_BE).unwrap(), &[2, 3], &fl);
        let fl32 = fl.map(|x| x as f32 as f64);
        check(&read(F4_C_BE).unwrap(), &[2, 3], &fl32);
        check(&read(F4_F_LE).unwrap(), &[2, 3], &fl32);
        let it = [1.0, -2.0, 3.0, 40000.0, -5.0, 6.0];
        check(&read(I4_C_LE).unwrap(), &[2, 3], &it);
        check(&read(I4_F_BE).unwrap(), &[2, 3], &it);
        // the test's own writer makes numpy's bytes
        let data: Vec<u8> = fl.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(npy("'<f8'", false, &[2, 3], &data), F8_C_LE);
    }

    #[test]
    fn every_integer_dtype() {
        let cases: Vec<(&str, Vec<u8>, Vec<f64>)> = vec![
            ("'|i1'", vec![0x80, 0x7f], vec![-128.0, 127.0]),
            ("'|u1'", vec![0, 255], vec![0.0, 255.0]),
            (
                "'<i2'",
                [(-2i16).to_le_bytes(), 300i16.to_le_bytes()].concat(),
                vec![-2.0, 300.0],
            ),
            (
                "'>i2'",
                [(-2i16).to_be_bytes(), 300i16.to_be_bytes()].concat(),
                vec![-2.0, 300.0],
            ),
            (
                "'<u2'",
                [65535u16.to_le_bytes(), 1u16.to_le_bytes()].concat(),
                vec![65535.0, 1.0],
            ),
            (
                "'>u4'",
                [4e9 as u32, 7]
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect(),
                vec![4e9, 7.0],
            ),
            (
                "'<i8'",
                [-(1i64 << 40), 3]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                vec![-(2f64.powi(40)), 3.0],
            ),
            (
                "'>u8'",
                [1u64 << 53, 9]
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect(),
                vec![2f64.powi(53), 9.0],
            ),
        ];
        for (descr, data, want) in cases {
            let a =
                read(&npy(descr, false, &[2], &data)).unwrap_or_else(|e| panic!("{descr}: {e:#}"));
            check(&a, &[2], &want);
        }
        // 3-D in Fortran order, 0-d, empty, and a format 2.0 header
        let f: Vec<u8> = (0..8).collect();
        let a = read(&npy("'|u1'", true, &[2, 2, 2], &f)).unwrap();
        check(&a, &[2, 2, 2], &[0.0, 4.0, 2.0, 6.0, 1.0, 5.0, 3.0, 7.0]);
        check(
            &read(&npy("'<f8'", false, &[], &1.5f64.to_le_bytes())).unwrap(),
            &[],
            &[1.5],
        );
        check(
            &read(&npy("'<f8'", false, &[0, 3], &[])).unwrap(),
            &[0, 3],
            &[],
        );
        let mut v2 = b"\x93NUMPY\x02\x00".to_vec();
        let head = npy("'<i4'", false, &[1], &[]);
        v2.extend(((head.len() - 10) as u32).to_le_bytes());
        v2.extend(&head[10..]);
        v2.extend(7i32.to_le_bytes());
        check(&read(&v2).unwrap(), &[1], &[7.0]);
    }

    #[test]
    fn unsupported_dtypes_are_named() {
        let e = err(STR_U3);
        assert!(
            e.starts_with("t.npy: unsupported dtype '<U3' (text (numpy str))"),
            "{e}"
        );
        for (descr, what) in [
            ("'|b1'", "booleans"),
            ("'<c16'", "complex numbers"),
            ("'<f2'", "floats of a size other than 4 or 8 bytes"),
            ("'|S3'", "byte strings"),
            ("'<M8[D]'", "dates"),
        ] {
            let e = err(&npy(descr, false, &[1], &[0; 16]));
            assert!(
                e.contains("unsupported dtype") && e.contains(what),
                "{descr}: {e}"
            );
        }
        let e = err(&npy("[('a', '<f8')]", false, &[1], &[0; 8]));
        assert!(e.contains("a record (structured) dtype"), "{e}");
    }

    #[test]
    fn not_npy_truncated_or_too_long() {
        assert_eq!(err(b""), "t.npy: not a .npy file: it is empty");
        assert!(err(b"a,b\n1,2\n").contains("not a .npy file: it does not begin with \\x93NUMPY"));
        assert!(err(b"PK\x03\x04rest").contains("zip archive (an .npz file"));
        assert!(err(b"\x93NUM").contains("truncated"));
        assert!(err(b"\x93NUMPY\x09\x00").contains("format version 9.0"));
        assert!(err(&F8_C_LE[..100]).contains("truncated: the header should be 118 bytes"));
        assert_eq!(
            err(&F8_C_LE[..F8_C_LE.len() - 1]),
            "t.npy: truncated: shape (2, 3) of '<f8' needs 48 bytes of data, the file has 47"
        );
        let mut long = F8_C_LE.to_vec();
        long.extend([0; 8]);
        assert!(err(&long).contains("8 bytes more than shape (2, 3) of '<f8' needs"));
        let e = err(&npy("'<f8'", false, &[1 << 40, 1 << 40], &[]));
        assert!(
            e.contains("shape (1099511627776, 1099511627776) is too large"),
            "{e}"
        );
        let e = err(&npy("'<f8'", false, &[0, 1 << 62], &[]));
        assert!(e.contains("too large"), "{e}");
        let mut bad = F8_C_LE.to_vec();
        bad[20] = b'#';
        assert!(err(&bad).contains("not a valid .npy header"));
        let mut bad = npy("'<f8'", false, &[1], &[0; 8]);
        let at = bad.windows(5).position(|w| w == b"False").unwrap();
        bad[at..at + 5].copy_from_slice(b"0    ");
        let e = err(&bad);
        assert!(
            e.contains("not a valid .npy header: the key 'fortran_order' is unknown, repeated"),
            "{e}"
        );
    }

    #[test]
    fn files_refused_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("lhc.npy");
        std::fs::write(&good, OBJ_P2).unwrap();
        check(&read_npy(&good).unwrap(), &[2, 2], &[0.5, 0.25, 1.0, 2.0]);
        let e = format!("{:#}", read_npy(&dir.path().join("none.npy")).unwrap_err());
        assert!(e.ends_with("none.npy: no such file"), "{e}");
        let e = format!("{:#}", read_npy(dir.path()).unwrap_err());
        assert!(e.ends_with(": is a folder, not a .npy file"), "{e}");
        // over the size limit: a sparse file, refused by its length
        let big = dir.path().join("big.npy");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_FILE_BYTES + 1)
            .unwrap();
        let e = format!("{:#}", read_npy(&big).unwrap_err());
        assert!(
            e.contains("larger than the 2 GiB that read_npy reads"),
            "{e}"
        );
        let mut str_file = std::fs::File::create(dir.path().join("s.npy")).unwrap();
        std::io::Write::write_all(&mut str_file, OBJ_STR).unwrap();
        let e = format!("{:#}", read_npy(&dir.path().join("s.npy")).unwrap_err());
        assert!(
            e.contains("s.npy holds Python objects that are not numbers"),
            "{e}"
        );
        #[cfg(unix)]
        {
            let e = format!("{:#}", read_npy(Path::new("/dev/zero")).unwrap_err());
            assert_eq!(e, "/dev/zero: not a regular file (a FIFO, socket or device?): refused, a .npy file must be a regular file");
            let fifo = dir.path().join("fifo.npy");
            let made = crate::files::command("mkfifo").arg(&fifo).status();
            if made.is_ok_and(|s| s.success()) {
                let e = format!("{:#}", read_npy(&fifo).unwrap_err());
                assert!(e.contains("fifo.npy: not a regular file"), "{e}");
            } else {
                println!("skipped the FIFO case: mkfifo did not run");
            }
        }
    }

    /// `rel` under the real-data folder: `$CLMTUNE_REAL_DATA`, then `tests/data/real` of
    /// the crate, then `../shared/data/real`; `None` when the file is in none of them.
    fn real_data(rel: &str) -> Option<PathBuf> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        std::env::var_os("CLMTUNE_REAL_DATA")
            .map(PathBuf::from)
            .into_iter()
            .chain([
                root.join("tests/data/real"),
                root.join("../shared/data/real"),
            ])
            .map(|d| d.join(rel))
            .find(|p| p.is_file())
    }

    #[test]
    fn real_lhc_100_of_dagon_2020() {
        let Some(path) = real_data("dagon2020/lhc_100.npy") else {
            println!("skipped: dagon2020/lhc_100.npy is not in $CLMTUNE_REAL_DATA, tests/data/real or ../shared/data/real");
            return;
        };
        let a = read_npy(&path).unwrap();
        assert_eq!(a.shape(), [100, 6]);
        // first row: tests/data/real/REFERENCE.md, item f
        let first = [
            0.3453476305164902,
            0.25748417320905964,
            0.7234931598436986,
            0.7749756249348837,
            0.8671102981698793,
            0.2662391868651302,
        ];
        assert_eq!(a.slice(ndarray::s![0, ..]).to_vec(), first);
        // last row, [50, 3] (a Python float), min and max: numpy 1.24.2,
        // np.load(path, allow_pickle=True).astype(float)
        let last = [
            0.4485767558735262,
            0.24179725037866392,
            0.09470556860320721,
            0.5826334765699318,
            0.36894134516307586,
            0.3341685928479972,
        ];
        assert_eq!(a.slice(ndarray::s![99, ..]).to_vec(), last);
        assert_eq!(a[[50, 3]], 0.7239433334376029);
        let min = a.iter().copied().fold(f64::INFINITY, f64::min);
        let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert_eq!((min, max), (0.0002886490739208817, 0.9979597787333867));
    }
}
