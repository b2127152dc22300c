//! Kinds of emulator: one trait a method implements ([`Method`]: its settings, checked once
//! before any work as linfa's `ParamGuard`, and its fit), one registry of kinds that the
//! emulator stage, the script's `fit` functions, saving and loading, and the docs read.
//!
//! Adding an emulator is one file (the model type, its settings, `impl Saved` and
//! `impl Method`) and one line: `Kind::of::<T>()` in [`BUILT_IN`], or [`register`] from a
//! program built on clmtune (as `tests/emulator_plugin.rs` does).
//!
//! A fitted model of any kind is a [`Model`]; it is saved as the model's own JSON with a
//! `"kind"` field first (`{"kind": "gp", ...}`), and loading finds the kind in the
//! registry.

use super::gp::Gp;
use super::nn::Network;
use super::protocol::NetworkEnsemble;
use super::ridge::Ridge;
use super::sparse_gp::SparseGp;
use super::Emulator;
use anyhow::{bail, Result};
use ndarray::ArrayView2;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

/// A fitted model that can be saved and loaded: the emulator itself, serialisable.
pub trait Saved: Emulator + Serialize + DeserializeOwned + Clone + Debug + 'static {
    /// The kind's name: the `kind` of a saved file and what a script fits it by.
    const KIND: &'static str;
    /// One line on the method, for `emulator_kinds()` and the docs.
    const ABOUT: &'static str;
}

/// An emulator method: settings read from a script's options map (a struct with
/// `#[serde(default, deny_unknown_fields)]`) and one fit.
pub trait Method: Saved {
    /// The settings; their fields are the options a script gives.
    type Settings: DeserializeOwned + Default;
    /// Checks the settings before any work: bad settings are refused before fitting starts.
    fn check(settings: &Self::Settings) -> Result<()>;
    /// Fits `y` (rows x outputs) on `x` (rows x inputs) with settings [`Method::check`]
    /// accepted.
    fn fit_checked(
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        settings: &Self::Settings,
    ) -> Result<Self>;
    /// Checks the settings, then fits: the one way every emulator is fitted.
    fn fit(x: ArrayView2<f64>, y: ArrayView2<f64>, settings: &Self::Settings) -> Result<Self> {
        Self::check(settings)?;
        Self::fit_checked(x, y, settings)
    }
}

/// What a [`Model`] holds: a saved model of some kind, seen as an emulator.
trait Object: Emulator + erased_serde::Serialize + Debug + Any {
    fn as_emulator(&self) -> &dyn Emulator;
    fn as_any(&self) -> &dyn Any;
}

impl<T: Saved> Object for T {
    fn as_emulator(&self) -> &dyn Emulator {
        self
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

erased_serde::serialize_trait_object!(Object);

/// A fitted emulator of any registered kind, as saved.
#[derive(Clone, Debug)]
pub struct Model {
    kind: &'static str,
    object: Arc<dyn Object>,
}

impl Model {
    /// Wraps a fitted model.
    pub fn new<T: Saved>(model: T) -> Model {
        Model {
            kind: T::KIND,
            object: Arc::new(model),
        }
    }

    /// The kind's name (`gp`, `ridge`, ...), as saved.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// The model as an [`Emulator`].
    pub fn emulator(&self) -> &dyn Emulator {
        self.object.as_emulator()
    }

    /// The model as its own type, if it is a `T`.
    pub fn downcast_ref<T: Saved>(&self) -> Option<&T> {
        self.object.as_any().downcast_ref::<T>()
    }
}

impl PartialEq for Model {
    /// The same kind and the same saved JSON (every number bit for bit).
    fn eq(&self, other: &Model) -> bool {
        self.kind == other.kind
            && matches!(
                (serde_json::to_string(self), serde_json::to_string(other)),
                (Ok(a), Ok(b)) if a == b
            )
    }
}

impl Serialize for Model {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Tagged<'a> {
            kind: &'a str,
            #[serde(flatten)]
            model: &'a dyn Object,
        }
        Tagged {
            kind: self.kind,
            model: self.object.as_ref(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Model {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Model, D::Error> {
        let mut value = serde_json::Value::deserialize(d)?;
        let name = match value.as_object_mut().map(|m| m.remove("kind")) {
            Some(Some(serde_json::Value::String(k))) => k,
            _ => {
                return Err(D::Error::custom(
                    "a saved model names its kind (\"kind\": \"gp\", \"nn\", ...)",
                ))
            }
        };
        let k = kind(&name).map_err(D::Error::custom)?;
        (k.load)(value).map_err(|e| D::Error::custom(format!("{} model: {e:#}", k.name)))
    }
}

type FitFn =
    fn(ArrayView2<f64>, ArrayView2<f64>, &mut dyn erased_serde::Deserializer<'_>) -> Result<Model>;

/// One kind of emulator in the registry.
#[derive(Clone, Copy)]
pub struct Kind {
    /// The name scripts fit it by and saved files give as `kind`.
    pub name: &'static str,
    /// One line on the method.
    pub about: &'static str,
    /// The options its settings take (empty for a kind that is not fitted alone).
    pub options: fn() -> &'static [&'static str],
    fit: Option<FitFn>,
    load: fn(serde_json::Value) -> Result<Model>,
}

impl Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Kind({})", self.name)
    }
}

fn fit_erased<T: Method>(
    x: ArrayView2<f64>,
    y: ArrayView2<f64>,
    settings: &mut dyn erased_serde::Deserializer<'_>,
) -> Result<Model> {
    let s: T::Settings = erased_serde::deserialize(settings).map_err(|e| anyhow::anyhow!("{e}"))?;
    T::fit(x, y, &s).map(Model::new)
}

fn load_erased<T: Saved>(value: serde_json::Value) -> Result<Model> {
    Ok(Model::new(serde_json::from_value::<T>(value)?))
}

fn no_options() -> &'static [&'static str] {
    &[]
}

impl Kind {
    /// The kind of a method: fitted from settings, saved and loaded.
    pub const fn of<T: Method>() -> Kind {
        Kind {
            name: T::KIND,
            about: T::ABOUT,
            options: crate::settings::field_names::<T::Settings>,
            fit: Some(fit_erased::<T>),
            load: load_erased::<T>,
        }
    }

    /// A kind that is only loaded (another procedure fits it, e.g. the stage's network
    /// ensemble).
    pub const fn saved<T: Saved>() -> Kind {
        Kind {
            name: T::KIND,
            about: T::ABOUT,
            options: no_options,
            fit: None,
            load: load_erased::<T>,
        }
    }

    /// Whether it is fitted alone (`fit("KIND", x, y, options)`).
    pub fn fits(&self) -> bool {
        self.fit.is_some()
    }

    /// Fits `y` on `x` with settings read from `settings` (unknown fields refused by the
    /// kind's settings type).
    pub fn fit(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        settings: &mut dyn erased_serde::Deserializer<'_>,
    ) -> Result<Model> {
        match self.fit {
            Some(f) => f(x, y, settings),
            None => bail!(
                "emulator kind '{}' is not fitted alone: the emulator stage trains it \
                 (emulate(eof_stage, options)); a saved one loads with load_emulator",
                self.name
            ),
        }
    }

    /// [`Kind::fit`] with settings from any serde deserializer (a JSON value, a map).
    pub fn fit_from<'de, D>(
        &self,
        x: ArrayView2<f64>,
        y: ArrayView2<f64>,
        settings: D,
    ) -> Result<Model>
    where
        D: Deserializer<'de>,
    {
        let mut d = <dyn erased_serde::Deserializer>::erase(settings);
        self.fit(x, y, &mut d)
    }
}

/// The kinds clmtune has, in the order docs list them.
pub const BUILT_IN: [Kind; 5] = [
    Kind::of::<Ridge>(),
    Kind::of::<Network>(),
    Kind::saved::<NetworkEnsemble>(),
    Kind::of::<Gp>(),
    Kind::of::<SparseGp>(),
];

impl crate::kinds::Named for Kind {
    fn name(&self) -> &'static str {
        self.name
    }
}

static KINDS: crate::kinds::Kinds<Kind> = crate::kinds::Kinds::new("an emulator kind", &BUILT_IN);

/// Every kind of emulator: the built-in ones, then those added by [`register`].
pub fn kinds() -> Vec<Kind> {
    KINDS.all()
}

/// Adds a kind of emulator (a program built on clmtune, or a test); an error if its name
/// is taken.
pub fn register(kind: Kind) -> Result<()> {
    KINDS.register(kind)
}

/// The kind named `name`, or an error listing the known ones with a did-you-mean.
pub fn kind(name: &str) -> Result<Kind> {
    if let Some(k) = KINDS.get(name) {
        return Ok(k);
    }
    let hint = match crate::format::closest_names(name, &KINDS.names()).first() {
        Some(c) => format!(" (did you mean '{c}'?)"),
        None => String::new(),
    };
    bail!(
        "unknown emulator kind '{}'{hint}: use {}",
        crate::format::printable(name),
        KINDS.choices()
    )
}
