//! The compact on-device model and its file format.
//!
//! Training happens offline with linfa (feature `train`); what ships is this flat, allocation-free form: tree
//! ensembles as node arrays (pre-order, left child = next node) or a standardised linear model. A model holds two
//! classifiers over the same feature schema: one for windows whose input was dense enough to resolve gait, one for
//! sparse (event-driven, low-rate) windows, trained on data at those rates. Windows slower than
//! [`ModelFile::min_rate_hz`] get no decision at all. A linear classifier may score several sub-classes (linear
//! pieces) per class, e.g. low- and high-intensity `other`; their probabilities are summed back into the class, so a
//! model always reports the five classes of [`CLASS_NAMES`].
//!
//! File layout: the 8 magic bytes `MGMODEL\0`, a little-endian `u16` format version, then the postcard encoding of
//! [`ModelFile`]. Loading checks the magic, the format version, the feature-schema version, every index in the
//! node arrays and every linear classifier's sub-class map, so a damaged or foreign file is a typed error, never a
//! panic or an out-of-bounds walk.

use std::sync::{Arc, OnceLock};

use crate::features::{FeatureVector, FEATURE_NAMES, N_FEATURES, SCHEMA_VERSION};

/// Magic bytes at the start of every model file.
pub const MAGIC: &[u8; 8] = b"MGMODEL\0";
/// Current model file format version (3: linear classifiers score sub-classes, each mapped to a class).
pub const FORMAT_VERSION: u16 = 3;
/// Number of classes a model scores: still, walking, running, transit, and `other` (activities outside the four,
/// which the smoother reports as `Unknown`).
pub const N_CLASSES: usize = 5;
/// The class names, in index order.
pub const CLASS_NAMES: [&str; N_CLASSES] = ["still", "walking", "running", "transit", "other"];
/// Index of the transit class.
pub const TRANSIT: usize = 3;
/// Most sub-classes a linear classifier may score (see [`Linear::subclass_of`]); its live form is padded to this.
pub const MAX_SUBCLASSES: usize = 16;
/// Marker in [`Forest::feature`] for a leaf.
pub const LEAF: u16 = u16::MAX;

/// Why a model could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The bytes do not start with the model magic.
    #[error("not a motiongate model file (bad magic bytes)")]
    BadMagic,
    /// The file format version is not this build's.
    #[error("model file format version {found} is not supported (this build reads version {expected})")]
    FormatVersion {
        /// Version in the file.
        found: u16,
        /// Version this build reads.
        expected: u16,
    },
    /// The model was trained on another feature schema.
    #[error("model was trained on feature schema {found}, this build computes schema {expected}")]
    SchemaVersion {
        /// Schema in the file.
        found: u32,
        /// Schema of this build.
        expected: u32,
    },
    /// The body could not be decoded.
    #[error("model file is truncated or corrupt: {0}")]
    Decode(String),
    /// The body decoded but is inconsistent.
    #[error("model file is invalid: {0}")]
    Invalid(String),
    /// No default model is embedded in this build.
    #[error("no default model is embedded in this build")]
    NoEmbeddedModel,
}

/// A tree ensemble in flat arrays.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Forest {
    /// Index of each tree's root node.
    pub roots: Vec<u32>,
    /// Split feature per node, or [`LEAF`].
    pub feature: Vec<u16>,
    /// Split threshold per node: go left when `x[feature] <= threshold`.
    pub threshold: Vec<f32>,
    /// Right child per split node (the left child is the next node); for a leaf, its index in `leaf_probs`.
    pub right: Vec<u32>,
    /// Class probabilities of each leaf, quantised to 0..=255 (a quarter of the size of `f32`, and the forest
    /// averages many leaves, so the rounding is far below the model's own uncertainty).
    pub leaf_probs: Vec<[u8; N_CLASSES]>,
}

impl Forest {
    fn validate(&self) -> Result<(), ModelError> {
        let n = self.feature.len();
        if self.roots.is_empty() {
            return Err(ModelError::Invalid("forest has no trees".into()));
        }
        if self.threshold.len() != n || self.right.len() != n {
            return Err(ModelError::Invalid("node arrays differ in length".into()));
        }
        for &r in &self.roots {
            if r as usize >= n {
                return Err(ModelError::Invalid(format!("tree root {r} out of range")));
            }
        }
        for i in 0..n {
            let f = self.feature[i];
            if f == LEAF {
                if self.right[i] as usize >= self.leaf_probs.len() {
                    return Err(ModelError::Invalid(format!("leaf {i} points past the leaf table")));
                }
            } else {
                if f as usize >= N_FEATURES {
                    return Err(ModelError::Invalid(format!("node {i} splits on unknown feature {f}")));
                }
                // Children must come after their parent: this rules out cycles, so every walk ends.
                let r = self.right[i] as usize;
                if i + 1 >= n || r <= i + 1 || r >= n {
                    return Err(ModelError::Invalid(format!("node {i} has out-of-order children")));
                }
                if !self.threshold[i].is_finite() {
                    return Err(ModelError::Invalid(format!("node {i} has a non-finite threshold")));
                }
            }
        }
        if self.leaf_probs.iter().any(|p| p.iter().all(|&v| v == 0)) {
            return Err(ModelError::Invalid("a leaf has no probability mass".into()));
        }
        Ok(())
    }

    /// Mean of the trees' leaf probabilities.
    pub fn predict(&self, x: &FeatureVector) -> [f32; N_CLASSES] {
        let mut acc = [0.0f32; N_CLASSES];
        for &root in &self.roots {
            let mut i = root as usize;
            // Validated: indices strictly increase along a walk, so this ends within `feature.len()` steps.
            loop {
                let f = self.feature[i];
                if f == LEAF {
                    let p = &self.leaf_probs[self.right[i] as usize];
                    for k in 0..N_CLASSES {
                        acc[k] += f32::from(p[k]);
                    }
                    break;
                }
                i = if x[f as usize] <= self.threshold[i] { i + 1 } else { self.right[i] as usize };
            }
        }
        normalise(acc)
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.feature.len()
    }
}

/// A multinomial logistic model on standardised features, over sub-classes: a class may be scored by several
/// linear pieces (sub-classes, e.g. the chores and the sports within `other`), whose softmax probabilities are summed
/// back into their class. With one sub-class per class this is plain multinomial regression.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Linear {
    /// Per-feature mean subtracted before scaling.
    pub mean: Vec<f32>,
    /// Per-feature scale divided by.
    pub scale: Vec<f32>,
    /// Weights, one row of `N_FEATURES` per sub-class.
    pub weights: Vec<Vec<f32>>,
    /// Intercepts, one per sub-class.
    pub bias: Vec<f32>,
    /// The class ([`CLASS_NAMES`] index) of each sub-class: between `N_CLASSES` and [`MAX_SUBCLASSES`] entries,
    /// every class present at least once.
    pub subclass_of: Vec<u8>,
}

impl Linear {
    fn validate(&self) -> Result<(), ModelError> {
        let k = self.subclass_of.len();
        if !(N_CLASSES..=MAX_SUBCLASSES).contains(&k) {
            return Err(ModelError::Invalid(format!(
                "linear model has {k} sub-classes ({N_CLASSES}..={MAX_SUBCLASSES} allowed)"
            )));
        }
        if let Some(c) = self.subclass_of.iter().find(|&&c| usize::from(c) >= N_CLASSES) {
            return Err(ModelError::Invalid(format!("a sub-class maps to unknown class {c}")));
        }
        if let Some(c) = (0..N_CLASSES).find(|&c| !self.subclass_of.iter().any(|&s| usize::from(s) == c)) {
            return Err(ModelError::Invalid(format!("class {} has no sub-class", CLASS_NAMES[c])));
        }
        if self.mean.len() != N_FEATURES
            || self.scale.len() != N_FEATURES
            || self.weights.len() != k
            || self.bias.len() != k
            || self.weights.iter().any(|w| w.len() != N_FEATURES)
        {
            return Err(ModelError::Invalid("linear model dimensions do not match the feature schema".into()));
        }
        let all = self.mean.iter().chain(&self.scale).chain(self.weights.iter().flatten()).chain(&self.bias);
        if all.clone().any(|v| !v.is_finite()) || self.scale.iter().any(|s| *s <= 0.0) {
            return Err(ModelError::Invalid("linear model holds non-finite values or non-positive scales".into()));
        }
        Ok(())
    }

    /// Class probabilities: the softmax over sub-classes, summed per class.
    pub fn predict(&self, x: &FeatureVector) -> [f32; N_CLASSES] {
        let k = self.subclass_of.len().min(MAX_SUBCLASSES);
        let mut z = [0.0f32; MAX_SUBCLASSES];
        for (zs, (&b, w)) in z.iter_mut().zip(self.bias.iter().zip(&self.weights)).take(k) {
            *zs = b;
            for j in 0..N_FEATURES.min(w.len()) {
                *zs += w[j] * ((x[j] - self.mean[j]) / self.scale[j]);
            }
        }
        sub_softmax(&z[..k], &self.subclass_of[..k])
    }

    /// The same model with standardisation folded into the weights, in fixed arrays (the live path's form).
    fn fold(&self) -> FoldedLinear {
        let n = self.subclass_of.len().min(MAX_SUBCLASSES);
        let mut w = [[0.0f32; PADDED]; MAX_SUBCLASSES];
        let mut b = [0.0f32; MAX_SUBCLASSES];
        let mut class = [0u8; MAX_SUBCLASSES];
        for s in 0..n {
            let mut bias = f64::from(self.bias[s]);
            for j in 0..N_FEATURES {
                let wj = f64::from(self.weights[s][j]) / f64::from(self.scale[j]);
                w[s][j] = wj as f32;
                bias -= wj * f64::from(self.mean[j]);
            }
            b[s] = bias as f32;
            class[s] = self.subclass_of[s];
        }
        FoldedLinear { w, b, class, n }
    }
}

/// Feature vectors padded to a multiple of 8 so dot products vectorise.
const PADDED: usize = N_FEATURES.div_ceil(8) * 8;

/// A [`Linear`] model with `(x - mean) / scale` folded into weights and intercepts: one vectorised dot product per
/// sub-class and no division on the live path. Fixed arrays padded to [`MAX_SUBCLASSES`]; the first `n` rows are
/// the model's.
#[derive(Debug, Clone, PartialEq)]
struct FoldedLinear {
    w: [[f32; PADDED]; MAX_SUBCLASSES],
    b: [f32; MAX_SUBCLASSES],
    class: [u8; MAX_SUBCLASSES],
    n: usize,
}

impl FoldedLinear {
    fn predict(&self, x: &FeatureVector) -> [f32; N_CLASSES] {
        let mut xp = [0.0f32; PADDED];
        xp[..N_FEATURES].copy_from_slice(x);
        let n = self.n.min(MAX_SUBCLASSES);
        let mut z = self.b;
        for (zk, w) in z.iter_mut().zip(&self.w).take(n) {
            *zk += dot_padded(w, &xp);
        }
        sub_softmax(&z[..n], &self.class[..n])
    }
}

/// One sub-class's dot product, in eight lanes. Out of line on purpose: inlined into the loop over a variable
/// number of sub-classes, LLVM unrolls it and vectorises across sub-classes instead, through scalar gathers (1,200
/// instructions per classifier instead of about 500).
#[inline(never)]
fn dot_padded(w: &[f32; PADDED], x: &[f32; PADDED]) -> f32 {
    let mut acc = [0.0f32; 8];
    for (w8, x8) in w.chunks_exact(8).zip(x.chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += w8[l] * x8[l];
        }
    }
    acc.iter().sum::<f32>()
}

/// `classifier` on `x`, through its folded form where it has one.
fn classify(classifier: &Classifier, folded: Option<&FoldedLinear>, x: &FeatureVector) -> [f32; N_CLASSES] {
    match folded {
        Some(f) => f.predict(x),
        None => classifier.predict(x),
    }
}

/// Softmax over sub-class scores `z`, each sub-class's probability added to its class `class[s]` (validated to be
/// below `N_CLASSES`; an out-of-range entry is ignored rather than trusted).
fn sub_softmax(z: &[f32], class: &[u8]) -> [f32; N_CLASSES] {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut p = [0.0; N_CLASSES];
    for (&zs, &c) in z.iter().zip(class) {
        if let Some(pc) = p.get_mut(usize::from(c)) {
            *pc += (zs - max).exp();
        }
    }
    normalise(p)
}

fn normalise(mut p: [f32; N_CLASSES]) -> [f32; N_CLASSES] {
    let s: f32 = p.iter().sum();
    if s > 0.0 && s.is_finite() {
        for v in p.iter_mut() {
            *v /= s;
        }
        p
    } else {
        [1.0 / N_CLASSES as f32; N_CLASSES]
    }
}

/// One classifier of a model.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Classifier {
    /// A tree ensemble.
    Forest(Forest),
    /// A linear model.
    Linear(Linear),
}

impl Classifier {
    /// Class probabilities ([`CLASS_NAMES`] order).
    pub fn predict(&self, x: &FeatureVector) -> [f32; N_CLASSES] {
        match self {
            Classifier::Forest(f) => f.predict(x),
            Classifier::Linear(l) => l.predict(x),
        }
    }

    fn validate(&self) -> Result<(), ModelError> {
        match self {
            Classifier::Forest(f) => f.validate(),
            Classifier::Linear(l) => l.validate(),
        }
    }

    /// The live path's form of a linear classifier (`None` for a forest, which is used as it is).
    fn fold(&self) -> Option<FoldedLinear> {
        match self {
            Classifier::Forest(_) => None,
            Classifier::Linear(l) => Some(l.fold()),
        }
    }
}

/// Everything a model file holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelFile {
    /// Feature schema the model was trained on ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// Feature names, in order (must equal [`FEATURE_NAMES`]).
    pub feature_names: Vec<String>,
    /// Class names, in order ([`CLASS_NAMES`]).
    pub classes: Vec<String>,
    /// Class frequencies of the training windows (the prior the smoother divides out).
    pub class_priors: [f32; N_CLASSES],
    /// A description of the data the model was trained on (datasets, subjects, windows).
    pub trained_on: String,
    /// Windows with an input rate at or above this use `dense`, below it `sparse`.
    pub dense_rate_hz: f32,
    /// Windows with an input rate below this get no decision (`Unknown`).
    pub min_rate_hz: f32,
    /// Weight of the sparse expert (on the slow view) for full-rate windows, 0..=1.
    pub slow_weight: f32,
    /// Weight of the sparse expert for the transit class on full-rate windows, 0..=1 (see [`Model::predict`]).
    pub transit_slow_weight: f32,
    /// Floor on each expert's class probability before the two are combined, in (0, 0.2]: how far one expert's
    /// near-zero probability may veto the other expert's evidence.
    pub expert_floor: f32,
    /// Classifier for windows with enough input rate to resolve gait.
    pub dense: Classifier,
    /// Classifier for low-rate windows.
    pub sparse: Classifier,
}

/// A loaded, validated model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    file: ModelFile,
    /// Folded form of the dense classifier when it is linear, built at load.
    dense_folded: Option<FoldedLinear>,
    /// Folded form of the sparse classifier when it is linear.
    sparse_folded: Option<FoldedLinear>,
}

impl Model {
    /// Wraps and validates a model description.
    pub fn new(file: ModelFile) -> Result<Model, ModelError> {
        if file.schema_version != SCHEMA_VERSION {
            return Err(ModelError::SchemaVersion { found: file.schema_version, expected: SCHEMA_VERSION });
        }
        if file.feature_names.len() != N_FEATURES || file.feature_names.iter().zip(FEATURE_NAMES).any(|(a, b)| a != b) {
            return Err(ModelError::Invalid("feature names differ from this build's schema".into()));
        }
        if file.classes.len() != N_CLASSES || file.classes.iter().zip(CLASS_NAMES).any(|(a, b)| a != b) {
            return Err(ModelError::Invalid("classes must be still, walking, running, transit, other".into()));
        }
        if file.class_priors.iter().any(|p| !p.is_finite() || *p <= 0.0) {
            return Err(ModelError::Invalid("class priors must be positive".into()));
        }
        if !(file.min_rate_hz.is_finite() && file.dense_rate_hz.is_finite() && file.min_rate_hz <= file.dense_rate_hz) {
            return Err(ModelError::Invalid("rate thresholds are inconsistent".into()));
        }
        if !((0.0..=1.0).contains(&file.slow_weight) && (0.0..=1.0).contains(&file.transit_slow_weight)) {
            return Err(ModelError::Invalid("expert weights must be in 0..=1".into()));
        }
        if !(file.expert_floor > 0.0 && file.expert_floor <= 0.2) {
            return Err(ModelError::Invalid("expert floor must be in (0, 0.2]".into()));
        }
        file.dense.validate()?;
        file.sparse.validate()?;
        let (dense_folded, sparse_folded) = (file.dense.fold(), file.sparse.fold());
        Ok(Model { file, dense_folded, sparse_folded })
    }

    /// Parses and validates a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(ModelError::BadMagic);
        }
        let version = u16::from_le_bytes([bytes[8], bytes[9]]);
        if version != FORMAT_VERSION {
            return Err(ModelError::FormatVersion { found: version, expected: FORMAT_VERSION });
        }
        let (file, rest): (ModelFile, &[u8]) =
            postcard::take_from_bytes(&bytes[10..]).map_err(|e| ModelError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(ModelError::Decode(format!("{} unexpected bytes after the model", rest.len())));
        }
        Model::new(file)
    }

    /// Serialises the model (deterministic: the same model gives the same bytes).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 * 1024);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        // postcard cannot fail on these plain types; an empty body would fail to load, never silently succeed.
        if let Ok(body) = postcard::to_allocvec(&self.file) {
            out.extend_from_slice(&body);
        }
        out
    }

    /// The embedded default model (`models/default.mgm`), parsed once and shared.
    pub fn embedded() -> Result<Arc<Model>, ModelError> {
        static EMBEDDED: OnceLock<Result<Arc<Model>, ModelError>> = OnceLock::new();
        let bytes: &[u8] = include_bytes!("../models/default.mgm");
        EMBEDDED
            .get_or_init(|| {
                if bytes.is_empty() {
                    Err(ModelError::NoEmbeddedModel)
                } else {
                    Model::from_bytes(bytes).map(Arc::new)
                }
            })
            .clone()
    }

    /// The model's description.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }

    /// Class probabilities for a window with the given input rate, or `None` when the rate is too low to decide.
    ///
    /// Low-rate windows are judged by the sparse classifier alone. Full-rate windows are judged by both experts:
    /// the dense classifier on the window's features and the sparse classifier on its slow view (what a low-rate
    /// logger would have seen), combined as a product of experts (geometric mean). The sparse expert has seen
    /// vehicles from many more sources (event-driven logs are where most transit recordings are), so this keeps
    /// full-rate transit recognisable even where full-rate vehicle recordings are scarce. For the same reason the
    /// transit class has its own, larger sparse-expert weight ([`ModelFile::transit_slow_weight`]): the dense
    /// expert has seen vehicles from very few full-rate recordings, and where it has not seen a kind of vehicle its
    /// near-zero transit probability would otherwise veto the sparse expert. Each expert's probabilities are floored
    /// at [`ModelFile::expert_floor`] before the product.
    pub fn predict(&self, x: &FeatureVector, slow: &FeatureVector, input_rate_hz: f32) -> Option<[f32; N_CLASSES]> {
        if input_rate_hz.is_nan() || input_rate_hz < self.file.min_rate_hz {
            None
        } else if input_rate_hz >= self.file.dense_rate_hz {
            let d = classify(&self.file.dense, self.dense_folded.as_ref(), x);
            let w = self.file.slow_weight;
            if w <= 0.0 && self.file.transit_slow_weight <= 0.0 {
                return Some(d);
            }
            let s = classify(&self.file.sparse, self.sparse_folded.as_ref(), slow);
            let floor = self.file.expert_floor;
            let mut p = [0.0f32; N_CLASSES];
            for k in 0..N_CLASSES {
                let wk = if k == TRANSIT { self.file.transit_slow_weight } else { w };
                p[k] = d[k].max(floor).powf(1.0 - wk) * s[k].max(floor).powf(wk);
            }
            Some(normalise(p))
        } else {
            Some(classify(&self.file.sparse, self.sparse_folded.as_ref(), x))
        }
    }

    /// Size of the serialised model in bytes.
    pub fn serialized_len(&self) -> usize {
        self.to_bytes().len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn folded_linear_matches_the_reference_form() {
        let model = Model::embedded().unwrap();
        let Classifier::Linear(l) = &model.file().dense else { panic!("the embedded model is linear") };
        let f = l.fold();
        let mut seed = 99u32;
        for _ in 0..200 {
            let mut x = [0.0f32; N_FEATURES];
            for (j, v) in x.iter_mut().enumerate() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let u = (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
                *v = l.mean[j] + 3.0 * l.scale[j] * u;
            }
            let (a, b) = (l.predict(&x), f.predict(&x));
            for k in 0..N_CLASSES {
                assert!((a[k] - b[k]).abs() < 1e-4, "{a:?} vs {b:?}");
            }
        }
    }

    /// A hand-built linear classifier with two sub-classes for `other` (index 5) and two for still (index 6), with
    /// deterministic pseudo-random weights (a test fixture, not a shipped model).
    fn subclassed_linear() -> Linear {
        let mut seed = 7u32;
        let mut next = move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let subclass_of = vec![0u8, 1, 2, 3, 4, 4, 0];
        Linear {
            mean: (0..N_FEATURES).map(|_| next()).collect(),
            scale: (0..N_FEATURES).map(|_| 0.5 + next().abs()).collect(),
            weights: subclass_of.iter().map(|_| (0..N_FEATURES).map(|_| next()).collect()).collect(),
            bias: subclass_of.iter().map(|_| next()).collect(),
            subclass_of,
        }
    }

    #[test]
    fn subclass_probabilities_sum_into_their_classes() {
        let l = subclassed_linear();
        l.validate().unwrap();
        let f = l.fold();
        let mut seed = 5u32;
        for _ in 0..200 {
            let mut x = [0.0f32; N_FEATURES];
            for v in x.iter_mut() {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                *v = ((seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5) * 4.0;
            }
            // Reference: softmax over the seven sub-classes in f64, summed per class.
            let z: Vec<f64> = (0..7)
                .map(|s| {
                    f64::from(l.bias[s])
                        + (0..N_FEATURES)
                            .map(|j| f64::from(l.weights[s][j]) * f64::from((x[j] - l.mean[j]) / l.scale[j]))
                            .sum::<f64>()
                })
                .collect();
            let e: Vec<f64> = z.iter().map(|v| v.exp()).collect();
            let total: f64 = e.iter().sum();
            let mut want = [0.0f64; N_CLASSES];
            for (s, &c) in l.subclass_of.iter().enumerate() {
                want[usize::from(c)] += e[s] / total;
            }
            for p in [l.predict(&x), f.predict(&x)] {
                assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
                for k in 0..N_CLASSES {
                    assert!((f64::from(p[k]) - want[k]).abs() < 1e-4, "{p:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn subclass_map_is_validated() {
        let good = subclassed_linear();
        let mut file = tiny_model().file().clone();
        file.dense = Classifier::Linear(good.clone());
        file.sparse = Classifier::Linear(good.clone());
        let m = Model::new(file.clone()).unwrap();
        assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap(), m);
        let bad = |edit: &dyn Fn(&mut Linear)| {
            let mut l = good.clone();
            edit(&mut l);
            let mut f = file.clone();
            f.sparse = Classifier::Linear(l);
            let r = Model::new(f.clone());
            assert!(matches!(r, Err(ModelError::Invalid(_))), "{r:?}");
            // The same damage in a file is a typed error from the loader too.
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            bytes.extend_from_slice(&postcard::to_allocvec(&f).unwrap());
            assert!(matches!(Model::from_bytes(&bytes), Err(ModelError::Invalid(_))));
        };
        bad(&|l| l.subclass_of[2] = 5); // an unknown class
        bad(&|l| l.subclass_of[3] = 0); // transit has no sub-class
        bad(&|l| l.subclass_of.push(1)); // one map entry more than weight rows
        bad(&|l| {
            l.subclass_of.pop();
            l.bias.pop();
        }); // weight rows and intercepts differ in number
        bad(&|l| {
            l.subclass_of.truncate(4);
            l.weights.truncate(4);
            l.bias.truncate(4);
        }); // fewer sub-classes than classes
        bad(&|l| {
            l.subclass_of.resize(MAX_SUBCLASSES + 1, 1);
            l.weights.resize(MAX_SUBCLASSES + 1, vec![0.0; N_FEATURES]);
            l.bias.resize(MAX_SUBCLASSES + 1, 0.0);
        }); // more than the live form holds
        bad(&|l| l.bias[6] = f32::NAN);
        // Exactly MAX_SUBCLASSES is fine.
        let mut l = good.clone();
        l.subclass_of.resize(MAX_SUBCLASSES, 1);
        l.weights.resize(MAX_SUBCLASSES, vec![0.0; N_FEATURES]);
        l.bias.resize(MAX_SUBCLASSES, 0.0);
        l.validate().unwrap();
        let p = l.fold().predict(&[0.0; N_FEATURES]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    /// A tiny hand-built model: still when log_energy <= -1, else walking (test fixture, not a shipped model).
    pub(crate) fn tiny_model() -> Model {
        let energy = FEATURE_NAMES.iter().position(|n| *n == "log_energy").unwrap() as u16;
        let forest = Forest {
            roots: vec![0],
            feature: vec![energy, LEAF, LEAF],
            threshold: vec![-1.0, 0.0, 0.0],
            right: vec![2, 0, 1],
            leaf_probs: vec![[90, 10, 0, 0, 0], [0, 80, 10, 10, 0]],
        };
        Model::new(ModelFile {
            schema_version: SCHEMA_VERSION,
            feature_names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
            classes: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
            class_priors: [0.2; N_CLASSES],
            trained_on: "hand-built test fixture".into(),
            dense_rate_hz: 8.0,
            min_rate_hz: 1.0,
            slow_weight: 0.0,
            transit_slow_weight: 0.0,
            expert_floor: 1e-3,
            dense: Classifier::Forest(forest.clone()),
            sparse: Classifier::Forest(forest),
        })
        .unwrap()
    }

    #[test]
    fn round_trip_and_prediction() {
        let m = tiny_model();
        let bytes = m.to_bytes();
        let back = Model::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.to_bytes(), bytes);
        let mut x = [0.0; N_FEATURES];
        x[6] = -2.0;
        assert!((m.predict(&x, &x, 20.0).unwrap()[0] - 0.9).abs() < 1e-6);
        x[6] = 0.0;
        assert!((m.predict(&x, &x, 20.0).unwrap()[1] - 0.8).abs() < 1e-6);
        assert!(m.predict(&x, &x, 0.5).is_none());
    }

    #[test]
    fn sparse_expert_outweighs_dense_on_transit() {
        // Dense expert: never transit. Sparse expert: mostly transit. Only the transit weight lets it through.
        let leaf = |p: [u8; N_CLASSES]| Forest {
            roots: vec![0],
            feature: vec![LEAF],
            threshold: vec![0.0],
            right: vec![0],
            leaf_probs: vec![p],
        };
        let mut file = tiny_model().file().clone();
        file.dense = Classifier::Forest(leaf([200, 0, 0, 0, 55]));
        file.sparse = Classifier::Forest(leaf([60, 0, 0, 195, 0]));
        file.slow_weight = 0.5;
        file.expert_floor = 0.02;
        let x = [0.0; N_FEATURES];
        file.transit_slow_weight = 0.5;
        let even = Model::new(file.clone()).unwrap().predict(&x, &x, 50.0).unwrap();
        assert!(even[TRANSIT] < even[0], "{even:?}");
        file.transit_slow_weight = 0.9;
        let m = Model::new(file.clone()).unwrap();
        let p = m.predict(&x, &x, 50.0).unwrap();
        assert!(p[TRANSIT] > p[0], "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // Low-rate windows see only the sparse expert.
        assert!(m.predict(&x, &x, 3.0).unwrap()[TRANSIT] > 0.7);
        file.expert_floor = 0.0;
        assert!(matches!(Model::new(file.clone()), Err(ModelError::Invalid(_))));
        file.expert_floor = 0.02;
        file.transit_slow_weight = 1.5;
        assert!(matches!(Model::new(file), Err(ModelError::Invalid(_))));
    }

    #[test]
    fn damaged_files_are_typed_errors() {
        let bytes = tiny_model().to_bytes();
        assert_eq!(Model::from_bytes(b"nope"), Err(ModelError::BadMagic));
        let mut v = bytes.clone();
        v[8] = 9;
        assert!(matches!(Model::from_bytes(&v), Err(ModelError::FormatVersion { found: 9, .. })));
        for cut in 10..bytes.len() {
            assert!(Model::from_bytes(&bytes[..cut]).is_err(), "truncated at {cut} must fail");
        }
        let mut file = tiny_model().file().clone();
        file.schema_version = SCHEMA_VERSION + 1;
        assert!(matches!(Model::new(file), Err(ModelError::SchemaVersion { .. })));
        let mut file = tiny_model().file().clone();
        if let Classifier::Forest(f) = &mut file.dense {
            f.right[0] = 0; // a cycle
        }
        assert!(matches!(Model::new(file), Err(ModelError::Invalid(_))));
    }
}
