//! The demo model's land physics, one grid cell at a time: prescribed vegetation and leaf
//! area, photosynthesis with Medlyn stomatal conductance, Penman-Monteith transpiration with
//! leaf boundary layer and aerodynamic conductances, plant hydraulic supply, interception,
//! soil evaporation through a dry surface layer, snow, a four-layer soil with frozen water,
//! saturated-area runoff and an aquifer with base flow. The equations are on
//! docs/demo-model.md.

use super::climate::{self, Base, Forcing, Geo, YearAnomaly, DAYS};
use super::params::Params;
use super::pft;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// Soil layer thicknesses (mm): 0-10 cm, 10-40 cm, 40-110 cm, 110-380 cm.
pub const DZ: [f64; 4] = [100.0, 300.0, 700.0, 2700.0];
/// Layer tops (mm).
const ZTOP: [f64; 4] = [0.0, 100.0, 400.0, 1100.0];
/// Soil column depth (m).
const ZSOIL: f64 = 3.8;
/// Porosity.
const THETA_S: f64 = 0.45;
/// Air-dry volumetric water content.
const THETA_AIR: f64 = 0.05;
/// Clapp-Hornberger exponent.
const B_CH: f64 = 6.0;
/// Saturated matric potential (mm).
const PSI_SAT: f64 = -200.0;
/// Saturated hydraulic conductivity (mm/day).
const K_SAT: f64 = 400.0;
/// Specific yield of the aquifer.
const SY: f64 = 0.2;
/// Aquifer storage when the water table is at the bottom of the soil (mm).
const G_FULL: f64 = 5000.0;
/// Lowest aquifer storage: water table 10 m below the soil (mm).
const G_MIN: f64 = G_FULL - 10.0 * 1000.0 * SY;
/// Base-flow scale (mm/day per unit baseflow_scalar) and e-folding depth (m).
const BASEFLOW_RATE: f64 = 10000.0;
const BASEFLOW_DEPTH: f64 = 2.0;
/// Plant hydraulic supply scale (mm/day per (s-1 mm) per unit leaf area).
const HYDRAULIC_SCALE: f64 = 300.0;
/// Leaf boundary-layer coefficient (m s-1/2).
const CV: f64 = 0.004;
/// Atmospheric CO2 (ppm), year 2000.
const CO2: f64 = 367.0;
/// Latent heat of vaporisation (J/kg).
const LAMBDA: f64 = 2.501e6;
const RHO_CP: f64 = 1.2 * 1005.0;
const GAMMA: f64 = 66.0;
const SIGMA: f64 = 5.67e-8;
/// Soil-water sub-steps per month.
const NSUB: usize = 2;

/// CLM's 20 `levsoi` layer thicknesses (m), for the SOILLIQ / SOILICE output.
pub const LEVSOI_DZ: [f64; 20] = [
    0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.20, 0.24, 0.28, 0.32, 0.36, 0.40, 0.44, 0.54, 0.64, 0.74,
    0.84, 0.94, 1.04, 1.14,
];

/// The monthly outputs of one cell (grid-cell means over the land of the cell).
#[derive(Debug, Clone, Copy, Default)]
pub struct Monthly {
    /// Gross primary production (umol CO2 m-2 s-1).
    pub gpp_umol: f64,
    /// Transpiration, canopy evaporation, ground evaporation (mm/day).
    pub qvegt: f64,
    pub qvege: f64,
    pub qsoil: f64,
    /// Energy fluxes (W m-2).
    pub lh: f64,
    pub fsh: f64,
    pub fsa: f64,
    pub fira: f64,
    pub fgr: f64,
    pub fsds: f64,
    /// 2-m air temperature (K).
    pub tsa: f64,
    /// Rain and snow (mm/day).
    pub rain: f64,
    pub snow: f64,
    /// Surface runoff and drainage (mm/day).
    pub qover: f64,
    pub qdrai: f64,
    /// Water in the top 10 cm (kg m-2).
    pub soilwater_10cm: f64,
    /// Column liquid and ice (kg m-2).
    pub totsoilliq: f64,
    pub totsoilice: f64,
    /// Water table depth (m).
    pub zwt: f64,
    /// Total water storage (mm).
    pub tws: f64,
    /// Snow water (mm).
    pub h2osno: f64,
    /// Leaf area index.
    pub tlai: f64,
    /// Saturated fraction.
    pub fsat: f64,
    /// Liquid and ice per CLM layer (kg m-2).
    pub soilliq: [f64; 20],
    pub soilice: [f64; 20],
}

/// Everything about a cell that does not change during a run.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Geography.
    pub geo: Geo,
    /// Climatology per month.
    pub base: [Base; 12],
    /// Anomaly basis.
    pub basis: [f64; 6],
    /// PFTs and their shares of the land.
    pub pfts: Vec<(usize, f64)>,
    /// LAI of each PFT (same order) per month.
    pub lai: Vec<[f64; 12]>,
}

/// Prescribed vegetation from the climatology (a simple biome rule, fixed for all runs).
pub fn vegetation(geo: &Geo, base: &[Base; 12]) -> Vec<(usize, f64)> {
    if geo.ice {
        return vec![(0, 1.0)];
    }
    let t_min = base.iter().map(|b| b.t).fold(f64::INFINITY, f64::min);
    let t_max = base.iter().map(|b| b.t).fold(f64::NEG_INFINITY, f64::max);
    let p_ann = base.iter().map(|b| b.p).sum::<f64>() / 12.0;
    let dry_months = base.iter().filter(|b| b.p < 1.5).count();
    let v: Vec<(usize, f64)> = if p_ann < 0.35 {
        vec![
            (0, 0.85),
            (10, 0.05),
            (if t_max > 22.0 { 14 } else { 13 }, 0.10),
        ]
    } else if t_max <= 8.0 {
        vec![(12, 0.45), (11, 0.25), (0, 0.30)]
    } else if t_min < -15.0 {
        if t_min < -32.0 {
            vec![(3, 0.45), (2, 0.15), (8, 0.10), (11, 0.15), (12, 0.15)]
        } else {
            vec![(2, 0.50), (8, 0.15), (11, 0.15), (12, 0.10), (0, 0.10)]
        }
    } else if t_min > 15.0 {
        if p_ann > 4.0 && dry_months <= 3 {
            vec![(4, 0.85), (14, 0.05), (0, 0.10)]
        } else if p_ann > 2.0 {
            vec![(6, 0.50), (14, 0.35), (0, 0.15)]
        } else if p_ann > 0.8 {
            vec![(14, 0.50), (10, 0.15), (6, 0.05), (0, 0.30)]
        } else {
            vec![(14, 0.30), (10, 0.15), (0, 0.55)]
        }
    } else if p_ann > 2.0 {
        if t_min > 3.0 {
            vec![(5, 0.35), (7, 0.20), (13, 0.10), (15, 0.25), (0, 0.10)]
        } else {
            vec![(7, 0.35), (1, 0.20), (13, 0.15), (15, 0.25), (0, 0.05)]
        }
    } else if p_ann > 0.8 {
        let grass = if t_max > 22.0 { 14 } else { 13 };
        vec![(grass, 0.40), (15, 0.20), (10, 0.10), (9, 0.05), (0, 0.25)]
    } else {
        vec![(13, 0.20), (10, 0.20), (9, 0.05), (0, 0.55)]
    };
    v
}

/// Monthly LAI of PFT `p` from the climatology (satellite-phenology style: the same every
/// year).
pub fn lai_cycle(p: usize, base: &[Base; 12]) -> [f64; 12] {
    let tr = pft::traits(p);
    let mut out = [0.0; 12];
    for m in 0..12 {
        let prev = base[(m + 11) % 12];
        let t = 0.5 * (base[m].t + prev.t);
        let warm = ((t - 2.0) / 10.0).clamp(0.0, 1.0);
        let wet = ((0.5 * (base[m].p + prev.p) - 0.3) / 2.5).clamp(0.0, 1.0);
        let f = match tr.phenology {
            0 => 0.8 + 0.2 * warm,
            1 => warm,
            _ => warm * wet,
        };
        out[m] = tr.lai_max * f.max(if tr.phenology == 0 { 0.5 } else { 0.02 });
    }
    out
}

impl Cell {
    /// Builds a cell from its geography.
    pub fn new(geo: Geo) -> Cell {
        let base: [Base; 12] = std::array::from_fn(|m| climate::base(&geo, m));
        let pfts = vegetation(&geo, &base);
        let lai = pfts.iter().map(|&(p, _)| lai_cycle(p, &base)).collect();
        let basis = climate::basis(&geo);
        Cell {
            geo,
            base,
            basis,
            pfts,
            lai,
        }
    }
}

/// Saturation vapour pressure (Pa) at `tc` (C).
fn esat(tc: f64) -> f64 {
    610.8 * (17.27 * tc / (tc + 237.3)).exp()
}

/// Penman-Monteith latent heat (W m-2) for available energy `a`, vapour pressure deficit
/// `d` (Pa), heat conductance `gh` and surface conductance `gs` (m/s).
fn penman_monteith(delta: f64, a: f64, d: f64, gh: f64, gs: f64) -> f64 {
    (delta * a + RHO_CP * d * gh) / (delta + GAMMA * (1.0 + gh / gs.max(1e-9)))
}

/// Soil matric potential (mm) at relative saturation `x`.
fn psi(x: f64) -> f64 {
    (PSI_SAT * x.max(0.01).powi(-(B_CH as i32))).max(-1.0e7)
}

/// Canopy photosynthesis (24-h mean, umol m-2 s-1 of ground) and stomatal conductance
/// (m/s) of PFT `p` at leaf temperature `tl` (C), leaf-to-air vapour pressure deficit `dl`
/// (Pa), absorbed PAR over the day, LAI `lai` and Medlyn slope `g1`.
fn photosynthesis(
    p: usize,
    tl: f64,
    dl: f64,
    f: &Forcing,
    lai: f64,
    g1: f64,
    vcmax25: f64,
) -> (f64, f64) {
    if lai <= 0.0 || f.daylight <= 0.0 || tl < -2.0 {
        return (0.0, 1e-6);
    }
    let dkpa = (dl / 1000.0).max(0.05);
    let fapar = 1.0 - (-0.5 * lai).exp();
    let par_day = 0.5 * f.fsds * 4.6 / f.daylight;
    let apar = par_day * fapar;
    let scale = fapar / 0.7;
    let ratio = g1 / (g1 + dkpa.sqrt());
    let ci = CO2 * ratio;
    let a_day = if pft::is_c4(p) {
        let vc = vcmax25 * (std::f64::consts::LN_2 * (tl - 25.0) / 10.0).exp()
            / ((1.0 + (0.2 * (10.0 - tl)).exp()) * (1.0 + (0.3 * (tl - 40.0)).exp()));
        let vc = vc * scale;
        let ac = vc;
        let aj = 0.04 * apar;
        let ap = 20000.0 * vc * ci * 1e-6;
        colimit(colimit(ac, aj), ap)
    } else {
        let vc = vcmax25 * (std::f64::consts::LN_2 * (tl - 25.0) / 10.0).exp()
            / ((1.0 + (0.3 * (13.0 - tl)).exp()) * (1.0 + (0.3 * (tl - 36.0)).exp()));
        let vc = vc * scale;
        let gamma = 42.75 * (0.0512 * (tl - 25.0)).exp();
        let km = 700.0 * (0.06 * (tl - 25.0)).exp();
        if ci <= gamma {
            0.0
        } else {
            let ac = vc * (ci - gamma) / (ci + km);
            let aj = 0.065 * apar * (ci - gamma) / (ci + 2.0 * gamma);
            colimit(ac, aj)
        }
    };
    let a24 = a_day * f.daylight;
    // Medlyn: gs = 1.6 (1 + g1 / sqrt(D)) A / ca (mol m-2 s-1) -> m/s
    let gs_mol = 1.6 * (1.0 + g1 / dkpa.sqrt()) * a24 / CO2;
    let gs = gs_mol * 0.0245 * (tl + 273.15) / 298.15;
    (a24, gs.max(1e-6))
}

/// Smooth minimum of two rates (co-limitation, curvature 0.95).
fn colimit(a: f64, b: f64) -> f64 {
    let th = 0.95;
    let s = a + b;
    ((s - (s * s - 4.0 * th * a * b).max(0.0).sqrt()) / (2.0 * th)).max(0.0)
}

/// The evolving state of a cell.
#[derive(Debug, Clone)]
pub struct State {
    /// Total water (liquid + ice) per layer (mm).
    pub w: [f64; State::LAYERS],
    /// Aquifer storage (mm).
    pub g: f64,
    /// Snow water (mm).
    pub snow: f64,
}

impl State {
    /// Soil layers.
    pub const LAYERS: usize = 4;

    /// A cold start: moist soil, water table 3 m below the soil, no snow (ice sheets start
    /// with deep snow).
    pub fn cold(cell: &Cell) -> State {
        State {
            w: std::array::from_fn(|i| 0.6 * THETA_S * DZ[i]),
            g: G_FULL - 3.0 * 1000.0 * SY,
            snow: if cell.geo.ice { 2000.0 } else { 0.0 },
        }
    }
}

/// Water table depth (m): in the soil where its layers are saturated from below, else in the
/// aquifer.
fn water_table(st: &State) -> f64 {
    if st.g < G_FULL {
        return ZSOIL + (G_FULL - st.g) / (1000.0 * SY);
    }
    let mut z = ZSOIL * 1000.0;
    for i in (0..4).rev() {
        let x = st.w[i] / (THETA_S * DZ[i]);
        let f = ((x - 0.85) / 0.15).clamp(0.0, 1.0);
        z -= f * DZ[i];
        if f < 1.0 {
            break;
        }
    }
    z / 1000.0
}

/// Frozen fraction of each layer from the climatological soil temperature (damped and lagged
/// air temperature), insulated by snow.
fn frozen(cell: &Cell, m: usize, snow: f64) -> [f64; 4] {
    let t_ann = cell.base.iter().map(|b| b.t).sum::<f64>() / 12.0;
    std::array::from_fn(|i| {
        let z = ZTOP[i] + 0.5 * DZ[i];
        let lag = (z / 1000.0).round() as usize;
        let tm = cell.base[(m + 12 - lag.min(11)) % 12].t;
        let mut ts = t_ann + (tm - t_ann) * (-z / 2000.0).exp();
        if snow > 20.0 && ts < 0.0 {
            ts *= 0.6;
        }
        (-ts / 2.0).clamp(0.0, 1.0)
    })
}

/// Root fractions in the four layers for `beta` (Jackson et al. 1996: cumulative 1 - beta^d,
/// d in cm).
fn root_fractions(beta: f64) -> [f64; 4] {
    let beta = beta.clamp(0.5, 0.9999);
    let mut r: [f64; 4] =
        std::array::from_fn(|i| beta.powf(ZTOP[i] / 10.0) - beta.powf((ZTOP[i] + DZ[i]) / 10.0));
    let s: f64 = r.iter().sum();
    for x in r.iter_mut() {
        *x /= s;
    }
    r
}

/// Per-PFT parameter values a cell needs, looked up once per run.
#[derive(Debug, Clone)]
pub struct PftParams {
    g1: f64,
    dleaf: f64,
    kmax: f64,
    psi50: f64,
    roots: [f64; 4],
    z0mr: f64,
    displar: f64,
}

/// The parameter values of a run in the form the physics uses, looked up once.
#[derive(Debug, Clone)]
pub struct RunParams {
    pft: Vec<PftParams>,
    fff: f64,
    dint: f64,
    baseflow: f64,
    interception: f64,
    max_wet: f64,
    d_max: f64,
    csoilc: f64,
}

/// Looks up the parameters of `params` (clamped to the ranges the physics accepts).
pub fn run_params(params: &Params) -> RunParams {
    let pft = (0..pft::NPFT)
        .map(|p| PftParams {
            g1: params.pft("medlynslope")[p].max(0.01),
            dleaf: params.pft("dleaf")[p].max(1e-5),
            kmax: params.pft("kmax")[p].max(0.0),
            psi50: params.pft("psi50")[p].min(-1000.0),
            roots: root_fractions(params.pft("rootprof_beta")[p]),
            z0mr: params.pft("z0mr")[p].max(1e-4),
            displar: params.pft("displar")[p].clamp(0.0, 0.95),
        })
        .collect();
    RunParams {
        pft,
        fff: params.get("fff").max(0.0),
        dint: params.get("dint").clamp(0.05, 1.0),
        baseflow: params.get("baseflow_scalar").max(0.0),
        interception: params.get("interception_fraction").clamp(0.0, 1.0),
        max_wet: params.get("maximum_leaf_wetted_fraction").clamp(0.0, 1.0),
        d_max: params.get("d_max").max(0.0),
        csoilc: params.get("csoilc").max(1e-5),
    }
}

/// Simulates one cell through `years` (calendar years of forcing, one per simulated year);
/// returns the monthly outputs of the years whose index is `>= write_from`. `seed` gives the
/// member's small weather noise.
pub fn run_cell(
    cell: &Cell,
    rp: &RunParams,
    years: &[&YearAnomaly],
    write_from: usize,
    seed: u64,
) -> Vec<Monthly> {
    run_cell_from(cell, rp, years, write_from, seed, None).0
}

/// [`run_cell`] from a given state (a restart; a cold start if `None`), returning the state
/// at the end as well.
pub fn run_cell_from(
    cell: &Cell,
    rp: &RunParams,
    years: &[&YearAnomaly],
    write_from: usize,
    seed: u64,
    init: Option<State>,
) -> (Vec<Monthly>, State) {
    let mut st = init.unwrap_or_else(|| State::cold(cell));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::with_capacity((years.len().saturating_sub(write_from)) * 12);
    for (iy, anomaly) in years.iter().enumerate() {
        for m in 0..12 {
            let n1: f64 = StandardNormal.sample(&mut rng);
            let n2: f64 = StandardNormal.sample(&mut rng);
            let noise = ((0.03 * n1).exp(), 0.05 * n2);
            let f = climate::forcing(&cell.geo, &cell.base[m], &cell.basis, anomaly, m, noise);
            let mo = step_month(cell, rp, &mut st, &f, m);
            if iy >= write_from {
                out.push(mo);
            }
        }
    }
    (out, st)
}

/// One month of one cell.
fn step_month(cell: &Cell, rp: &RunParams, st: &mut State, f: &Forcing, m: usize) -> Monthly {
    let tc = f.t - 273.15;
    let es = esat(tc);
    let ea = es * f.rh;
    let d_air = es - ea;
    let delta = 4098.0 * es / (tc + 237.3).powi(2);
    let days = DAYS[m];
    let dt = days / NSUB as f64;
    let (fff, dint, bflow) = (rp.fff, rp.dint, rp.baseflow);
    let (ifrac, maxwet, d_max, csoilc) = (rp.interception, rp.max_wet, rp.d_max, rp.csoilc);
    let pp = &rp.pft;

    // radiation and the energy available at the surface
    let lai_cell: f64 = cell
        .pfts
        .iter()
        .zip(&cell.lai)
        .map(|(&(_, w), l)| w * l[m])
        .sum();
    let fsno = (st.snow / 30.0).min(1.0);
    let veg_cover = 1.0 - (-0.5 * lai_cell).exp();
    let albedo_ground = if cell.geo.ice {
        0.75
    } else {
        0.30 - 0.12 * veg_cover
    };
    let albedo = albedo_ground * (1.0 - fsno * (1.0 - veg_cover)) + 0.75 * fsno * (1.0 - veg_cover);
    let fsa = f.fsds * (1.0 - albedo);
    let fira = SIGMA * f.t.powi(4) * (0.32 - 0.26 * f.cloud);
    let fgr = 2.5 * (cell.base[m].t - cell.base[(m + 11) % 12].t);
    let avail = fsa - fira - fgr;
    let frz = frozen(cell, m, st.snow);

    // per-PFT canopy demand (monthly)
    struct Patch {
        w: f64,
        p: usize,
        lai: f64,
        a_pot: f64,
        e_dem: f64,
        e_wet: f64,
        fpi: f64,
        a_soil: f64,
        g_soil_air: f64,
    }
    let mut patches: Vec<Patch> = Vec::with_capacity(cell.pfts.len());
    let rain_days = 30.0 * (1.0 - (-f.p / 4.0).exp());
    for (k, &(p, w)) in cell.pfts.iter().enumerate() {
        let lai = cell.lai[k][m];
        let tr = pft::traits(p);
        let prm = &pp[p];
        let h = tr.height.max(0.1);
        let (z0, d0) = if p == 0 {
            (0.01, 0.0)
        } else {
            (prm.z0mr * h, prm.displar * h)
        };
        let zref = h + 10.0;
        let ga = 0.41f64.powi(2) * f.wind / ((zref - d0) / z0).ln().max(1.0).powi(2);
        let cover = 1.0 - (-0.5 * (lai + tr.sai)).exp();
        let a_can = avail * cover;
        let a_soil = avail - a_can;
        let g_soil_air = {
            let under = csoilc * f.wind * 3.0;
            let wb = (-(lai + tr.sai)).exp();
            wb * ga + (1.0 - wb) * under
        };
        let (mut a_pot, mut e_dem, mut e_wet) = (0.0, 0.0, 0.0);
        if lai > 0.0 && p != 0 {
            let gb = (lai + tr.sai) * CV * (0.4 * f.wind / prm.dleaf).sqrt();
            let gh = 1.0 / (1.0 / ga + 1.0 / gb);
            // first pass at air temperature, second at the leaf temperature it implies
            let (_, gs1) = photosynthesis(p, tc, d_air, f, lai, prm.g1, tr.vcmax25);
            let le1 = penman_monteith(delta, a_can, d_air, gh, gs1).max(0.0);
            let tl = tc + ((a_can - le1) / (RHO_CP * gh)).clamp(-8.0, 12.0);
            let dl = (esat(tl) - ea).max(10.0);
            let (a2, gs2) = photosynthesis(p, tl, dl, f, lai, prm.g1, tr.vcmax25);
            a_pot = a2;
            e_dem = penman_monteith(delta, a_can, d_air, gh, gs2).max(0.0) / LAMBDA * 86400.0;
            e_wet = penman_monteith(delta, a_can, d_air, gh, 1e9).max(0.0) / LAMBDA * 86400.0;
        }
        patches.push(Patch {
            w,
            p,
            lai,
            a_pot,
            e_dem,
            e_wet,
            fpi: ifrac * (0.5 * (lai + tr.sai)).tanh(),
            a_soil,
            g_soil_air,
        });
    }
    let fwet_raw = (0.5 * (rain_days / 30.0).powf(2.0 / 3.0)).min(maxwet);

    let mut mo = Monthly {
        fsa,
        fira,
        fgr,
        fsds: f.fsds,
        tsa: f.t,
        tlai: lai_cell,
        ..Default::default()
    };
    let rain = f.p * (1.0 - f.snow_frac);
    let snowfall = f.p * f.snow_frac;
    mo.rain = rain;
    mo.snow = snowfall;
    let (mut layer_liq, mut layer_ice) = ([0.0f64; 4], [0.0f64; 4]);
    for _ in 0..NSUB {
        // snow
        st.snow += snowfall * dt;
        let melt = if tc > 0.0 {
            (3.0 * tc * dt).min(st.snow)
        } else {
            0.0
        };
        let melt = if cell.geo.ice {
            melt.min(0.5 * dt)
        } else {
            melt
        };
        st.snow -= melt;
        let fsno = (st.snow / 30.0).min(1.0);

        let liq: [f64; 4] = std::array::from_fn(|i| st.w[i] * (1.0 - frz[i]));
        let x: [f64; 4] = std::array::from_fn(|i| liq[i] / (THETA_S * DZ[i]));
        let psis: [f64; 4] = std::array::from_fn(|i| psi(x[i]));
        let wilt: [f64; 4] = std::array::from_fn(|i| THETA_AIR * DZ[i]);

        let (mut tr_tot, mut int_tot, mut soil_tot, mut gpp_tot) = (0.0, 0.0, 0.0, 0.0);
        let mut take = [0.0f64; 4];
        let mut throughfall = 0.0;
        for pa in &patches {
            let prm = &pp[pa.p];
            // interception
            let intercepted = pa.fpi * rain;
            let fwet = if pa.p == 0 { 0.0 } else { fwet_raw };
            let e_int = (fwet * pa.e_wet).min(intercepted);
            throughfall += pa.w * (rain - e_int);
            int_tot += pa.w * e_int;
            // transpiration: demand of the dry leaves against the hydraulic supply
            let demand = pa.e_dem * (1.0 - fwet);
            let mut transp = 0.0;
            let mut layer_share = [0.0; 4];
            if demand > 0.0 {
                let lmin = 1.5 * prm.psi50;
                let mut supply = 0.0;
                for i in 0..4 {
                    if prm.roots[i] < 1e-3 {
                        continue;
                    }
                    let dpsi = (psis[i] - lmin).max(0.0);
                    let mid = 0.5 * (psis[i] + lmin);
                    // CLM's 2^(-(psi/psi50)^ck) with ck = 4
                    let r = (mid / prm.psi50).powi(2);
                    let vuln = (-std::f64::consts::LN_2 * r * r).exp();
                    let s = prm.roots[i] * HYDRAULIC_SCALE * prm.kmax * pa.lai * vuln * dpsi;
                    layer_share[i] = s;
                    supply += s;
                }
                transp = demand.min(supply);
                if supply > 0.0 {
                    for s in layer_share.iter_mut() {
                        *s /= supply;
                    }
                }
                let beta = if demand > 0.0 { transp / demand } else { 0.0 };
                gpp_tot += pa.w * pa.a_pot * if beta >= 1.0 { 1.0 } else { beta.powf(0.6) };
            }
            tr_tot += pa.w * transp;
            for i in 0..4 {
                take[i] += pa.w * transp * layer_share[i];
            }
            // ground evaporation: snow sublimation, or soil through the dry surface layer
            let theta1 = x[0] * THETA_S;
            let theta_init = dint * THETA_S;
            let dsl = d_max * ((theta_init - theta1) / (theta_init - THETA_AIR)).clamp(0.0, 1.0);
            let r_soil = 20.0 + dsl / 1000.0 / (2.12e-5 * 0.4);
            let le_soil = penman_monteith(delta, pa.a_soil, d_air, pa.g_soil_air, 1.0 / r_soil);
            let le_snow = penman_monteith(delta, pa.a_soil, d_air, pa.g_soil_air, 1e9);
            let e_ground = (fsno * le_snow + (1.0 - fsno) * le_soil) / LAMBDA * 86400.0;
            soil_tot += pa.w * e_ground;
        }
        // water available for transpiration: liquid above the air-dry content
        let mut scale_tr = 1.0f64;
        for i in 0..4 {
            let have = (liq[i] - wilt[i]).max(0.0);
            if take[i] * dt > have && take[i] > 0.0 {
                scale_tr = scale_tr.min(have / (take[i] * dt));
            }
        }
        tr_tot *= scale_tr;
        if scale_tr < 1.0 {
            gpp_tot *= scale_tr.powf(0.6);
        }
        for (i, t) in take.iter().enumerate() {
            st.w[i] -= t * scale_tr * dt;
        }
        // ground evaporation from snow first, then the top layer; dew adds water
        let mut e_ground = soil_tot;
        if e_ground > 0.0 {
            let from_snow = (e_ground * dt * fsno).min(st.snow);
            st.snow -= from_snow;
            let have = (st.w[0] * (1.0 - frz[0]) - wilt[0]).max(0.0);
            let from_soil = (e_ground * dt - from_snow).min(have).max(0.0);
            st.w[0] -= from_soil;
            e_ground = (from_snow + from_soil) / dt;
        } else if st.snow > 0.0 || tc < 0.0 {
            st.snow -= e_ground * dt;
        } else {
            st.w[0] -= e_ground * dt;
        }
        // infiltration and saturated-area runoff
        let zwt = water_table(st);
        let fsat = cell.geo.fmax * (-0.5 * fff * zwt).exp();
        let input = throughfall + melt / dt;
        let infil_cap = K_SAT * (1.0 - frz[0]);
        let mut qover = fsat * input + (1.0 - fsat) * (input - infil_cap).max(0.0);
        // infiltrated water fills the layers from the top down within the step; what the
        // whole column cannot hold runs off
        let mut infil = (input - qover) * dt;
        for i in 0..4 {
            let room =
                (THETA_S * DZ[i] - st.w[i]).max(0.0) * if i == 0 { 1.0 } else { 1.0 - frz[i] };
            let put = infil.min(room);
            st.w[i] += put;
            infil -= put;
            if infil <= 0.0 {
                break;
            }
        }
        qover += infil.max(0.0) / dt;
        // gravity drainage layer to layer (exact solution of dx/dt = -a x^n), then recharge
        let n = 2.0 * B_CH + 3.0;
        let mut recharge = 0.0;
        for i in 0..4 {
            let cap = THETA_S * DZ[i];
            if st.w[i] > cap {
                let excess = st.w[i] - cap;
                st.w[i] = cap;
                if i == 0 {
                    qover += excess / dt;
                } else {
                    st.w[i - 1] += excess;
                }
            }
            let ice = st.w[i] * frz[i];
            let l = st.w[i] - ice;
            let x0 = (l / cap).max(1e-6);
            let a = K_SAT * (1.0 - frz[i]) / cap;
            // exact solution; where the drop is tiny its first-order form (no powf)
            let rate = a * x0.powi(14) * dt;
            let x1 = if rate < 1e-4 {
                x0 * (1.0 - rate)
            } else {
                (x0.powi(-14) + (n - 1.0) * a * dt).powf(1.0 / (1.0 - n))
            };
            let drained = ((x0 - x1) * cap).max(0.0);
            st.w[i] -= drained;
            if i < 3 {
                st.w[i + 1] += drained;
            } else {
                recharge = drained;
            }
        }
        // aquifer: recharge in, base flow out, overflow back into the soil from below
        st.g += recharge;
        let zwt = water_table(st);
        let qb = (bflow * BASEFLOW_RATE * (-zwt / BASEFLOW_DEPTH).exp() * dt)
            .min((st.g - G_MIN).max(0.0));
        st.g -= qb;
        if st.g > G_FULL {
            let mut extra = st.g - G_FULL;
            st.g = G_FULL;
            for i in (0..4).rev() {
                let room = (THETA_S * DZ[i] - st.w[i]).max(0.0);
                let put = extra.min(room);
                st.w[i] += put;
                extra -= put;
            }
            qover += extra / dt;
        }
        let zwt = water_table(st);

        let k = 1.0 / NSUB as f64;
        mo.gpp_umol += k * gpp_tot;
        mo.qvegt += k * tr_tot;
        mo.qvege += k * int_tot;
        mo.qsoil += k * e_ground;
        mo.qover += k * qover;
        mo.qdrai += k * qb / dt;
        mo.zwt += k * zwt;
        mo.fsat += k * fsat;
        mo.h2osno += k * st.snow;
        let (mut liq_tot, mut ice_tot) = (0.0, 0.0);
        for (w, fz) in st.w.iter().zip(&frz) {
            liq_tot += w * (1.0 - fz);
            ice_tot += w * fz;
        }
        mo.totsoilliq += k * liq_tot;
        mo.totsoilice += k * ice_tot;
        mo.soilwater_10cm += k * st.w[0];
        mo.tws += k * (liq_tot + ice_tot + st.snow + st.g);
        for i in 0..4 {
            layer_liq[i] += k * st.w[i] * (1.0 - frz[i]);
            layer_ice[i] += k * st.w[i] * frz[i];
        }
    }
    // CLM levels: the overlap of each level with the four layers (monthly means map
    // linearly, so mapping the mean equals the mean of the mapped values)
    let mut top = 0.0;
    for (lev, dz) in LEVSOI_DZ.iter().enumerate() {
        let (a, b) = (top * 1000.0, (top + dz) * 1000.0);
        top += dz;
        for i in 0..4 {
            let lo = a.max(ZTOP[i]);
            let hi = b.min(ZTOP[i] + DZ[i]);
            if hi > lo {
                let share = (hi - lo) / DZ[i];
                mo.soilliq[lev] += layer_liq[i] * share;
                mo.soilice[lev] += layer_ice[i] * share;
            }
        }
    }
    let et = mo.qvegt + mo.qvege + mo.qsoil;
    mo.lh = et * LAMBDA / 86400.0;
    mo.fsh = avail - mo.lh;
    mo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_and_colimitation() {
        let r = root_fractions(0.943);
        assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // 1 - 0.943^10 of the roots in the top 10 cm (before the 3.8 m renormalisation)
        let total = 1.0 - 0.943f64.powf(380.0);
        assert!((r[0] - (1.0 - 0.943f64.powf(10.0)) / total).abs() < 1e-12);
        assert!(root_fractions(0.993)[3] > root_fractions(0.943)[3]);
        // co-limitation is below both rates and close to the smaller one
        let c = colimit(10.0, 30.0);
        assert!(c < 10.0 && c > 9.0, "{c}");
        assert_eq!(colimit(0.0, 5.0), 0.0);
    }

    #[test]
    fn penman_monteith_limits() {
        // with no surface resistance and no deficit, latent heat = delta / (delta + gamma) * A
        let d = 145.0;
        let le = penman_monteith(d, 100.0, 0.0, 0.05, 1e12);
        assert!((le - d / (d + GAMMA) * 100.0).abs() < 1e-6);
        // closed stomata give (almost) nothing
        assert!(penman_monteith(d, 100.0, 1000.0, 0.05, 1e-9) < 1e-3);
    }
}
