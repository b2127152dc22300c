//! Unit conversion driven by the `units` attribute, for the units CLM and FLUXNET-MTE use:
//! carbon fluxes (gC m-2 s-1, gC m-2 d-1, umol CO2 m-2 s-1, kgC m-2 s-1), water fluxes (mm
//! s-1 = kg m-2 s-1, mm d-1), energy fluxes (W m-2, MJ m-2 d-1), temperature (K, degC), area (m^2, km^2),
//! water amounts (kg m-2) and lengths (m). Incompatible or unknown units are refused.

/// A known unit: its spellings, the quantity it measures, and `canonical = value * scale +
/// offset`.
struct Unit {
    names: &'static [&'static str],
    quantity: &'static str,
    scale: f64,
    offset: f64,
}

const DAY: f64 = 86400.0;
/// Grams of carbon in a micromole of CO2.
pub const GC_PER_UMOL_CO2: f64 = 12.011e-6;

const UNITS: &[Unit] = &[
    Unit {
        names: &[
            "gC m-2 s-1",
            "gC/m^2/s",
            "gC/m2/s",
            "g C m-2 s-1",
            "gC m^-2 s^-1",
        ],
        quantity: "carbon flux",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &[
            "gC m-2 d-1",
            "gC/m^2/day",
            "gC/m^2/d",
            "gC/m2/d",
            "gC/m2/day",
            "gC m-2 day-1",
            "g C m-2 d-1",
            "gC m^-2 d^-1",
        ],
        quantity: "carbon flux",
        scale: 1.0 / DAY,
        offset: 0.0,
    },
    Unit {
        names: &[
            "umol CO2 m-2 s-1",
            "umolCO2/m^2/s",
            "umol CO2/m^2/s",
            "umol m-2 s-1",
            "umol/m2/s",
            "umol/m^2/s",
            "umolCO2 m-2 s-1",
        ],
        quantity: "carbon flux",
        scale: GC_PER_UMOL_CO2,
        offset: 0.0,
    },
    Unit {
        names: &[
            "kgC m-2 s-1",
            "kg C m-2 s-1",
            "kgC/m2/s",
            "kgC/m^2/s",
            "kgC m^-2 s^-1",
        ],
        quantity: "carbon flux",
        scale: 1000.0,
        offset: 0.0,
    },
    Unit {
        names: &[
            "mm s-1",
            "mm/s",
            "kg m-2 s-1",
            "kg/m2/s",
            "kg/m^2/s",
            "kg m^-2 s^-1",
            "mm H2O/s",
        ],
        quantity: "water flux",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &[
            "mm d-1",
            "mm/d",
            "mm/day",
            "mm day-1",
            "kg m-2 d-1",
            "kg m-2 day-1",
            "kg/m2/d",
            "kg/m2/day",
            "kg/m^2/day",
            "mm d^-1",
            "mm day^-1",
        ],
        quantity: "water flux",
        scale: 1.0 / DAY,
        offset: 0.0,
    },
    Unit {
        names: &["W m-2", "W/m^2", "W/m2", "W m^-2"],
        quantity: "energy flux",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &[
            "MJ m-2 d-1",
            "MJ/m^2/day",
            "MJ/m^2/d",
            "MJ/m2/d",
            "MJ/m2/day",
            "MJ m-2 day-1",
            "MJ m^-2 d^-1",
        ],
        quantity: "energy flux",
        scale: 1e6 / DAY,
        offset: 0.0,
    },
    Unit {
        names: &["K", "degK", "kelvin"],
        quantity: "temperature",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &["degC", "deg C", "C", "celsius", "degrees_Celsius"],
        quantity: "temperature",
        scale: 1.0,
        offset: 273.15,
    },
    Unit {
        names: &["m^2", "m2"],
        quantity: "area",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &["km^2", "km2"],
        quantity: "area",
        scale: 1e6,
        offset: 0.0,
    },
    Unit {
        names: &["kg m-2", "kg/m2", "kg/m^2", "mm H2O"],
        quantity: "water amount",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &["m"],
        quantity: "length",
        scale: 1.0,
        offset: 0.0,
    },
    Unit {
        names: &["1", "unitless", "fraction", "-", ""],
        quantity: "dimensionless",
        scale: 1.0,
        offset: 0.0,
    },
];

fn normalize(u: &str) -> String {
    u.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn lookup(u: &str) -> Option<&'static Unit> {
    let n = normalize(u);
    // Fortran-style powers (`W m**-2`, CDO's spelling) are the same as `^`
    let n = n.replace("**", "^");
    UNITS.iter().find(|unit| {
        unit.names
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&n) && (name.len() > 1 || *name == n))
    })
}

/// Why two quantities do not convert, when a user may expect them to.
fn incompatibility_hint(from: &str, to: &str) -> &'static str {
    match (from, to) {
        ("water flux", "energy flux") | ("energy flux", "water flux") => {
            " (latent heat is evaporation times the latent heat of vaporisation, a physical assumption and not a unit conversion: compare latent heat with EFLX_LH_TOT, evaporation with QFLX_EVAP_TOT)"
        }
        ("water flux", "carbon flux") => {
            " (kg m-2 s-1 is read as a water flux; a flux of kilograms of carbon is written kgC m-2 s-1: give the observed variable units = \"kgC m-2 s-1\")"
        }
        _ => "",
    }
}

/// The quantity a unit measures ("carbon flux", "energy flux", ...), if known.
pub fn quantity(u: &str) -> Option<&'static str> {
    lookup(u).map(|x| x.quantity)
}

/// `(scale, offset)` with `to_value = from_value * scale + offset`. Identical spellings
/// convert trivially even if unknown; otherwise both must be known and measure the same
/// quantity, else the error names both.
pub fn conversion(from: &str, to: &str) -> Result<(f64, f64), String> {
    if normalize(from) == normalize(to) {
        return Ok((1.0, 0.0));
    }
    if lookup(from).is_none() || lookup(to).is_none() {
        if let Some(scale) = product_conversion(from, to) {
            return Ok((scale, 0.0));
        }
    }
    let f = lookup(from).ok_or_else(|| {
        format!(
            "unknown units '{from}' (cannot convert to '{to}')",
            from = crate::format::printable(from),
            to = crate::format::printable(to)
        )
    })?;
    let t = lookup(to).ok_or_else(|| {
        format!(
            "unknown units '{to}' (cannot convert from '{from}')",
            from = crate::format::printable(from),
            to = crate::format::printable(to)
        )
    })?;
    if f.quantity != t.quantity {
        return Err(format!(
            "incompatible units: '{from}' ({}) cannot be converted to '{to}' ({}){}",
            f.quantity,
            t.quantity,
            incompatibility_hint(f.quantity, t.quantity),
            from = crate::format::printable(from),
            to = crate::format::printable(to)
        ));
    }
    Ok((f.scale / t.scale, (f.offset - t.offset) / t.scale))
}

/// A unit as factors with integer powers, in the order they appear: `(gC/m^2/s)^2` is
/// `[("gC/m^2/s", 2)]`, `(W m-2) K` is `[("W m-2", 1), ("K", 1)]`, `a / (b)` gives `b` a
/// negative power; a known unit (`W m-2`, `m^2`) or any text without brackets is one factor.
/// Dimensionless units have no factors.
fn factors(u: &str) -> Vec<(String, i32)> {
    let u = normalize(u);
    if lookup(&u).is_some_and(|x| x.quantity == "dimensionless") {
        return Vec::new();
    }
    if lookup(&u).is_some() {
        return vec![(u, 1)];
    }
    // a quotient as `quotient` writes it: NUM / (DEN)
    if let Some(i) = top_level_find(&u, " / ") {
        let (num, den) = (&u[..i], &u[i + 3..]);
        let den = strip_brackets(den).unwrap_or(den);
        let mut f = factors(num);
        for (b, p) in factors(den) {
            push_factor(&mut f, &b, -p);
        }
        return f;
    }
    if !u.contains('(') {
        return vec![bare_factor(&u)];
    }
    let mut out = Vec::new();
    for tok in top_level_split(&u) {
        let (base, power) = match tok
            .strip_prefix('(')
            .and_then(|t| t.rfind(')').map(|j| (t, j)))
        {
            Some((t, j)) => {
                let power = match &t[j + 1..] {
                    "" => Some(1),
                    rest => rest.strip_prefix('^').and_then(|p| p.parse::<i32>().ok()),
                };
                match power {
                    Some(p) => (t[..j].to_string(), p),
                    None => return vec![(u.clone(), 1)],
                }
            }
            None => bare_factor(tok),
        };
        if lookup(&base).is_some_and(|x| x.quantity == "dimensionless") {
            continue;
        }
        push_factor(&mut out, &base, power);
    }
    out
}

/// `K^2` as ("K", 2) unless the whole is a known unit (`m^2` is one unit of area).
fn bare_factor(t: &str) -> (String, i32) {
    if lookup(t).is_none() {
        if let Some((b, p)) = t.rsplit_once('^') {
            if let Ok(p) = p.parse::<i32>() {
                if !b.is_empty() && !b.contains([' ', '(', ')']) {
                    return (b.to_string(), p);
                }
            }
        }
    }
    (t.to_string(), 1)
}

fn push_factor(f: &mut Vec<(String, i32)>, base: &str, power: i32) {
    match f.iter_mut().find(|(b, _)| normalize(b) == normalize(base)) {
        Some(x) => x.1 += power,
        None => f.push((base.to_string(), power)),
    }
    f.retain(|(_, p)| *p != 0);
}

/// The position of `pat` outside brackets.
fn top_level_find(u: &str, pat: &str) -> Option<usize> {
    let mut depth = 0i32;
    for (i, c) in u.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 && u[i..].starts_with(pat) => return Some(i),
            _ => {}
        }
    }
    None
}

/// The words of `u` separated by spaces outside brackets.
fn top_level_split(u: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in u.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ' ' if depth == 0 => {
                if i > start {
                    out.push(&u[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < u.len() {
        out.push(&u[start..]);
    }
    out
}

/// `(x)` -> `x` when the brackets enclose the whole text.
fn strip_brackets(u: &str) -> Option<&str> {
    let inner = u.strip_prefix('(')?.strip_suffix(')')?;
    let mut depth = 0i32;
    for c in inner.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return None;
        }
    }
    Some(inner)
}

/// Writes factors back as a unit: `(gC/m^2/s)^3`, `(W m-2) K`, `gC/m^2/s / (W m-2)`, `1`.
fn render(f: &[(String, i32)]) -> String {
    let part = |f: &[(String, i32)]| -> String {
        if let [(b, 1)] = f {
            return b.clone();
        }
        f.iter()
            .map(|(b, p)| {
                let single = *p == 1;
                let t = if b.contains([' ', '/', '*']) || (!single && b.contains('^')) {
                    format!("({b})")
                } else {
                    b.clone()
                };
                if single {
                    t
                } else {
                    format!("{t}^{p}")
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let num: Vec<(String, i32)> = f.iter().filter(|x| x.1 > 0).cloned().collect();
    let den: Vec<(String, i32)> = f
        .iter()
        .filter(|x| x.1 < 0)
        .map(|(b, p)| (b.clone(), -p))
        .collect();
    match (num.is_empty(), den.is_empty()) {
        (true, true) => "1".into(),
        (false, true) => part(&num),
        (true, false) => format!("1 / ({})", part(&den)),
        (false, false) => format!("{} / ({})", part(&num), part(&den)),
    }
}

/// Conversion between two products of known units with the same powers in the same order
/// (`(gC/m^2/s)^2` to `(gC m-2 d-1)^2` scales by 86400^2); units with an offset (degC) do
/// not convert this way.
fn product_conversion(from: &str, to: &str) -> Option<f64> {
    let (a, b) = (factors(from), factors(to));
    if a.len() != b.len() || (a.len() == 1 && a[0].1 == 1) {
        return None;
    }
    let mut scale = 1.0;
    for ((fa, pa), (fb, pb)) in a.iter().zip(&b) {
        let (ua, ub) = (lookup(fa)?, lookup(fb)?);
        if pa != pb || ua.quantity != ub.quantity || ua.offset != 0.0 || ub.offset != 0.0 {
            return None;
        }
        scale *= (ua.scale / ub.scale).powi(*pa);
    }
    Some(scale)
}

/// Units of a product: powers add (`f * f * f` is `(gC/m^2/s)^3`), dimensionless factors
/// drop out.
pub fn product(a: &str, b: &str) -> String {
    let mut f = factors(a);
    for (base, p) in factors(b) {
        push_factor(&mut f, &base, p);
    }
    render(&f)
}

/// Units of a quotient: like units give "1", powers subtract (`(K)^2 / K` is `K`).
pub fn quotient(a: &str, b: &str) -> String {
    if normalize(a) == normalize(b) || conversion(b, a).is_ok_and(|(s, o)| s == 1.0 && o == 0.0) {
        return "1".into();
    }
    let mut f = factors(a);
    for (base, p) in factors(b) {
        push_factor(&mut f, &base, -p);
    }
    render(&f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(x: f64, from: &str, to: &str) -> f64 {
        let (s, o) = conversion(from, to).unwrap();
        x * s + o
    }

    #[test]
    fn products_square_or_bracket_their_factors() {
        // f * f: one squared factor, not the units written twice
        assert_eq!(product("gC/m^2/s", "gC/m^2/s"), "(gC/m^2/s)^2");
        assert_eq!(product("K", "K"), "K^2");
        assert_eq!(product("W m-2", "K"), "(W m-2) K");
        assert_eq!(product("1", "W m-2"), "W m-2");
    }

    #[test]
    fn conversions_by_hand() {
        // 1 gC m-2 s-1 = 86400 gC m-2 d-1
        assert_eq!(convert(1.0, "gC/m^2/s", "gC m-2 d-1"), 86400.0);
        // 1 MJ m-2 d-1 = 1e6 / 86400 = 11.574074... W m-2
        assert!((convert(1.0, "MJ m-2 d-1", "W m-2") - 11.574074074074074).abs() < 1e-12);
        // 10 umol CO2 m-2 s-1 = 10 * 12.011e-6 gC m-2 s-1 = 1.2011e-4, or 10.377504 gC m-2 d-1
        assert!((convert(10.0, "umol CO2 m-2 s-1", "gC m-2 d-1") - 10.377504).abs() < 1e-9);
        assert_eq!(convert(1.0, "mm/s", "mm d-1"), 86400.0);
        assert!((convert(300.0, "K", "degC") - 26.85).abs() < 1e-12);
        assert!((convert(0.0, "degC", "K") - 273.15).abs() < 1e-12);
        assert_eq!(convert(2.5, "km^2", "m^2"), 2.5e6);
        assert_eq!(convert(3.0, "kg m-2 s-1", "mm s-1"), 3.0);
    }

    #[test]
    fn units_as_observation_products_write_them() {
        // FLUXNET-MTE, the authors' files, FLUXCOM, GLEAM, ILAMB and CDO spellings
        assert_eq!(convert(1.0, "gC/m2/day", "gC m-2 d-1"), 1.0);
        assert_eq!(convert(86400.0, "gC m-2 d-1", "gC/m^2/s"), 1.0);
        assert_eq!(convert(2.0, "W/m2", "W m-2"), 2.0);
        assert_eq!(convert(2.0, "W m**-2", "W m-2"), 2.0);
        assert!((convert(1.0, "MJ m-2 d-1", "W/m2") - 1e6 / 86400.0).abs() < 1e-12);
        // water: kg m-2 s-1 = mm s-1 (1 kg of water over 1 m2 is 1 mm), 86400 mm/day
        assert_eq!(convert(1.0, "kg m-2 s-1", "mm/day"), 86400.0);
        assert_eq!(convert(86400.0, "mm/day", "kg m-2 s-1"), 1.0);
        assert_eq!(convert(1.0, "kg m^-2 s^-1", "mm day-1"), 86400.0);
        assert_eq!(convert(5.0, "kg m-2 day-1", "mm/d"), 5.0);
        // carbon in kilograms (CMIP): 1 kgC m-2 s-1 = 1000 * 86400 gC m-2 d-1
        assert_eq!(convert(1.0, "kgC m-2 s-1", "gC m-2 d-1"), 86_400_000.0);
        assert_eq!(convert(1.0, "kg C m-2 s-1", "gC/m^2/s"), 1000.0);
    }

    #[test]
    fn water_is_not_latent_heat_nor_carbon() {
        let e = conversion("kg m-2 s-1", "W m-2").unwrap_err();
        assert!(
            e.contains("'kg m-2 s-1' (water flux) cannot be converted to 'W m-2' (energy flux)")
                && e.contains("not a unit conversion"),
            "{e}"
        );
        let e = conversion("mm/day", "W/m2").unwrap_err();
        assert!(e.contains("latent heat of vaporisation"), "{e}");
        let e = conversion("kg m-2 s-1", "gC m-2 d-1").unwrap_err();
        assert!(e.contains("units = \"kgC m-2 s-1\""), "{e}");
    }

    #[test]
    fn incompatible_and_unknown_units_are_refused() {
        let e = conversion("W m-2", "gC m-2 d-1").unwrap_err();
        assert!(
            e.contains("'W m-2' (energy flux)") && e.contains("'gC m-2 d-1' (carbon flux)"),
            "{e}"
        );
        assert!(conversion("furlongs", "m")
            .unwrap_err()
            .contains("unknown units 'furlongs'"));
        assert_eq!(conversion("furlongs", "furlongs").unwrap(), (1.0, 0.0));
    }

    #[test]
    fn powers_add_and_cancel_through_products_and_quotients() {
        // f * f * f: one factor cubed (written by hand)
        let sq = product("gC/m^2/s", "gC/m^2/s");
        assert_eq!(product(&sq, "gC/m^2/s"), "(gC/m^2/s)^3");
        assert_eq!(quotient(&sq, "gC/m^2/s"), "gC/m^2/s");
        assert_eq!(quotient(&sq, &sq), "1");
        assert_eq!(quotient("1", "gC/m^2/s"), "1 / (gC/m^2/s)");
        assert_eq!(product(&quotient("1", "K"), "K"), "1");
        assert_eq!(quotient("gC/m^2/s", "W m-2"), "gC/m^2/s / (W m-2)");
        assert_eq!(product(&quotient("gC/m^2/s", "W m-2"), "W m-2"), "gC/m^2/s");
        assert_eq!(product("m^2", "m^2"), "(m^2)^2");
        assert_eq!(product(&product("W m-2", "K"), "K"), "(W m-2) K^2");
        // a variance converts with the square of the scale: 86400^2 = 7464960000
        assert_eq!(convert(1.0, &sq, "(gC m-2 d-1)^2"), 7464960000.0);
        assert!(conversion(&sq, "gC m-2 d-1").is_err());
        assert!(conversion("K^2", "degC^2").is_err());
    }

    #[test]
    fn derived_units() {
        assert_eq!(quotient("mm/s", "mm/s"), "1");
        assert_eq!(quotient("mm/s", "kg m-2 s-1"), "1");
        assert_eq!(quotient("W m-2", "1"), "W m-2");
        assert_eq!(product("unitless", "m"), "m");
    }
}
