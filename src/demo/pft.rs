//! The demo model's default per-PFT parameter values, on CLM5's 79 plant functional types
//! (see [`crate::clm`] for their names and order).

pub use crate::clm::{parse_indices, NAME_LEN, NPFT, NVEGWCS, PFT_NAMES};

/// The PFTs the authors treated as C4 (`c3psn` = 0): C4 grass, corn, sugarcane, tropical corn.
pub const C4_PFTS: [usize; 7] = [14, 17, 18, 67, 68, 75, 76];

/// Whether PFT `p` is C4.
pub fn is_c4(p: usize) -> bool {
    C4_PFTS.contains(&p)
}

/// Plant form, which sets the per-PFT defaults below.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Form {
    Bare,
    Needleleaf,
    NeedleleafDeciduous,
    BroadleafTropical,
    BroadleafTemperate,
    BroadleafBoreal,
    Shrub,
    ArcticGrass,
    Grass,
    Crop,
}

fn form(p: usize) -> Form {
    match p {
        0 => Form::Bare,
        1 | 2 => Form::Needleleaf,
        3 => Form::NeedleleafDeciduous,
        4 | 6 => Form::BroadleafTropical,
        5 | 7 => Form::BroadleafTemperate,
        8 => Form::BroadleafBoreal,
        9..=11 => Form::Shrub,
        12 => Form::ArcticGrass,
        13 | 14 => Form::Grass,
        _ => Form::Crop,
    }
}

/// Default `medlynslope` (unitless) of PFT `p`: CLM5's values per group (science.md).
pub fn medlynslope(p: usize) -> f64 {
    match p {
        0 => 0.0,
        1..=3 => 2.35,
        4 | 5 => 4.12,
        6..=8 => 4.45,
        9..=11 => 4.7,
        12 => 2.22,
        13 => 5.25,
        _ if is_c4(p) => 1.62,
        _ => 5.79,
    }
}

/// Default `dleaf` (m): 0.04 for every vegetated PFT, as in CLM5.
pub fn dleaf(p: usize) -> f64 {
    if p == 0 {
        0.0
    } else {
        0.04
    }
}

/// Default `kmax` (s-1), the same for all four segments: 2e-8 for vegetated PFTs.
pub fn kmax(p: usize) -> f64 {
    if p == 0 {
        0.0
    } else {
        2e-8
    }
}

/// Default `psi50` (mm): the water potential at 50 % loss of conductance.
pub fn psi50(p: usize) -> f64 {
    match form(p) {
        Form::Bare => -150000.0,
        Form::Needleleaf | Form::NeedleleafDeciduous => -400000.0,
        Form::BroadleafTropical => -175000.0,
        Form::BroadleafTemperate | Form::BroadleafBoreal => -270000.0,
        Form::Shrub => -300000.0,
        _ => -340000.0,
    }
}

/// Default `rootprof_beta` (unitless): the root distribution parameter of Jackson et al. (1996).
pub fn rootprof_beta(p: usize) -> f64 {
    match form(p) {
        Form::Bare => 0.0,
        Form::Needleleaf => 0.976,
        Form::NeedleleafDeciduous => 0.943,
        Form::BroadleafTropical => 0.993,
        Form::BroadleafTemperate => 0.966,
        Form::BroadleafBoreal => 0.943,
        Form::Shrub => 0.964,
        _ => 0.943,
    }
}

/// Default `z0mr` (ratio of momentum roughness length to canopy top height).
pub fn z0mr(p: usize) -> f64 {
    match form(p) {
        Form::Bare => 0.0,
        Form::Shrub | Form::ArcticGrass | Form::Grass | Form::Crop => 0.12,
        _ => 0.055,
    }
}

/// Default `displar` (ratio of displacement height to canopy top height).
pub fn displar(p: usize) -> f64 {
    if p == 0 {
        0.0
    } else {
        0.67
    }
}

/// Default `leafcn` (gC/gN): leaf carbon to nitrogen ratio (inert with prescribed LAI).
pub fn leafcn(p: usize) -> f64 {
    match form(p) {
        Form::Bare => 1.0,
        Form::Needleleaf => 58.0,
        Form::NeedleleafDeciduous => 25.0,
        Form::BroadleafTropical | Form::BroadleafTemperate | Form::BroadleafBoreal => 30.0,
        Form::Shrub => 28.0,
        _ => 25.0,
    }
}

/// Default `froot_leaf` (allocation of new fine root to new leaf carbon; inert with
/// prescribed LAI).
pub fn froot_leaf(p: usize) -> f64 {
    match form(p) {
        Form::Bare => 0.0,
        Form::Needleleaf | Form::NeedleleafDeciduous => 1.0,
        Form::Grass | Form::ArcticGrass | Form::Crop => 2.0,
        _ => 1.5,
    }
}

/// Traits the demo model uses that are not parameters of the study: maximum leaf area
/// index, canopy top height (m), Vcmax at 25 C (umol m-2 s-1) and phenology.
#[derive(Debug, Clone, Copy)]
pub struct Traits {
    /// Seasonal maximum LAI (m2 m-2).
    pub lai_max: f64,
    /// Canopy top height (m).
    pub height: f64,
    /// Vcmax at 25 C (umol m-2 s-1).
    pub vcmax25: f64,
    /// Stem area index (m2 m-2).
    pub sai: f64,
    /// 0 evergreen, 1 cold deciduous, 2 drought deciduous / grass.
    pub phenology: u8,
}

/// The fixed traits of PFT `p`.
pub fn traits(p: usize) -> Traits {
    let t = |lai_max, height, vcmax25, sai, phenology| Traits {
        lai_max,
        height,
        vcmax25,
        sai,
        phenology,
    };
    match p {
        0 => t(0.0, 0.0, 0.0, 0.0, 0),
        1 => t(5.0, 17.0, 55.0, 1.0, 0),
        2 => t(4.0, 14.0, 45.0, 1.0, 0),
        3 => t(3.5, 14.0, 45.0, 0.8, 1),
        4 => t(6.0, 35.0, 50.0, 1.2, 0),
        5 => t(5.0, 35.0, 55.0, 1.0, 0),
        6 => t(5.0, 18.0, 50.0, 1.0, 2),
        7 => t(5.0, 20.0, 60.0, 1.0, 1),
        8 => t(3.5, 20.0, 55.0, 0.8, 1),
        9 => t(2.5, 0.5, 50.0, 0.5, 0),
        10 => t(2.0, 0.5, 55.0, 0.5, 2),
        11 => t(1.8, 0.5, 50.0, 0.5, 1),
        12 => t(1.5, 0.5, 50.0, 0.2, 1),
        13 => t(2.5, 0.5, 60.0, 0.3, 2),
        14 => t(2.5, 0.5, 40.0, 0.3, 2),
        _ => t(3.5, 0.5, 65.0, 0.3, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_groups_match_clm5() {
        assert_eq!(PFT_NAMES.len(), 79);
        assert_eq!(PFT_NAMES[4], "broadleaf_evergreen_tropical_tree");
        assert_eq!(PFT_NAMES[14], "c4_grass");
        assert_eq!(PFT_NAMES[78], "irrigated_tropical_soybean");
        assert!(PFT_NAMES.iter().all(|n| n.len() <= NAME_LEN));
        // the group defaults of the contract's example spec
        let groups = [2.35, 4.12, 4.45, 4.7, 2.22, 5.25, 1.62, 5.79];
        for (p, g) in [
            (1, 0),
            (4, 1),
            (7, 2),
            (10, 3),
            (12, 4),
            (13, 5),
            (75, 6),
            (40, 7),
        ] {
            assert_eq!(medlynslope(p), groups[g], "pft {p}");
        }
    }
}
