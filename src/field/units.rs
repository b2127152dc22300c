//! Unit conversion driven by the `units` attribute, for the units CLM and FLUXNET-MTE use:
//! carbon fluxes (gC m-2 s-1, gC m-2 d-1, umol CO2 m-2 s-1), water fluxes (mm s-1 = kg m-2
//! s-1, mm d-1), energy fluxes (W m-2, MJ m-2 d-1), temperature (K, degC), area (m^2, km^2),
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
            "mm s-1",
            "mm/s",
            "kg m-2 s-1",
            "kg/m2/s",
            "kg/m^2/s",
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
            "kg/m2/d",
            "kg/m^2/day",
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
    UNITS.iter().find(|unit| {
        unit.names
            .iter()
            .any(|name| name.eq_ignore_ascii_case(&n) && (name.len() > 1 || *name == n))
    })
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
    let f =
        lookup(from).ok_or_else(|| format!("unknown units '{from}' (cannot convert to '{to}')"))?;
    let t =
        lookup(to).ok_or_else(|| format!("unknown units '{to}' (cannot convert from '{from}')"))?;
    if f.quantity != t.quantity {
        return Err(format!(
            "incompatible units: '{from}' ({}) cannot be converted to '{to}' ({})",
            f.quantity, t.quantity
        ));
    }
    Ok((f.scale / t.scale, (f.offset - t.offset) / t.scale))
}

/// Units of a product.
pub fn product(a: &str, b: &str) -> String {
    match (lookup(a).map(|u| u.quantity), lookup(b).map(|u| u.quantity)) {
        (Some("dimensionless"), _) => b.to_string(),
        (_, Some("dimensionless")) => a.to_string(),
        _ if normalize(a) == normalize(b) => format!("{}^2", factor_text(a)),
        _ => format!("{} {}", factor_text(a), factor_text(b)),
    }
}

/// A unit as one factor of a product: in parentheses when it has several parts
/// (`gC/m^2/s` -> `(gC/m^2/s)`), bare otherwise (`K`).
fn factor_text(u: &str) -> String {
    let u = normalize(u);
    if u.contains([' ', '/', '*']) {
        format!("({u})")
    } else {
        u
    }
}

/// Units of a quotient: like units give "1".
pub fn quotient(a: &str, b: &str) -> String {
    if normalize(a) == normalize(b) || conversion(b, a).is_ok_and(|(s, o)| s == 1.0 && o == 0.0) {
        return "1".into();
    }
    match lookup(b).map(|u| u.quantity) {
        Some("dimensionless") => a.to_string(),
        _ => format!("{a} / ({b})"),
    }
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
    fn derived_units() {
        assert_eq!(quotient("mm/s", "mm/s"), "1");
        assert_eq!(quotient("mm/s", "kg m-2 s-1"), "1");
        assert_eq!(quotient("W m-2", "1"), "W m-2");
        assert_eq!(product("unitless", "m"), "m");
    }
}
