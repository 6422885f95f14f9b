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
/// Current model file format version (3: linear classifiers score sub-classes, each mapped to a class; 4: linear
/// classifiers may add a step function of each feature, see [`Linear::bin_edges`]; 5: a second pair of classifiers
/// for input without gravity, see [`Model::predict`]).
pub const FORMAT_VERSION: u16 = 5;
/// Number of classes a model scores: still, walking, running, transit, and `other` (activities outside the four,
/// which the smoother reports as `Unknown`).
pub const N_CLASSES: usize = 5;
/// The class names, in index order.
pub const CLASS_NAMES: [&str; N_CLASSES] = ["still", "walking", "running", "transit", "other"];
/// Index of the transit class.
pub const TRANSIT: usize = 3;
/// Most sub-classes a linear classifier may score (see [`Linear::subclass_of`]); its live form is padded to this.
pub const MAX_SUBCLASSES: usize = 16;
/// Most trees a forest may hold (training makes at most 1000): every window walks every tree, so a file of
/// millions of small trees would stall the live path.
pub const MAX_TREES: usize = 1024;
/// Smallest class prior a model may hold.
pub const MIN_CLASS_PRIOR: f32 = 1e-3;
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
        if self.roots.len() > MAX_TREES {
            return Err(ModelError::Invalid(format!("forest of {} trees (at most {MAX_TREES})", self.roots.len())));
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
/// back into their class. With one sub-class per class this is plain multinomial regression. Each sub-class's score
/// may also add a step function of every feature (`bin_edges`, `bin_weights`): the model is then additive in its
/// features but no longer linear in them.
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
    /// Per-feature bin edges on the raw feature scale (empty: no binned terms; else one strictly increasing list of
    /// at most [`MAX_BIN_EDGES`] edges per feature). A feature value `x` falls in bin `#{edges <= x}`, so a feature
    /// with `e` edges has `e + 1` bins.
    pub bin_edges: Vec<Vec<f32>>,
    /// Per sub-class, one additive score per (feature, bin), features in order, bins in order within a feature
    /// (empty when `bin_edges` is). With them the model is a generalised additive model: a linear term per
    /// feature plus a step function of it, which lets one feature count differently in different ranges (a
    /// resting pocket's and a hand's stillness sit at the same mean but not at the same quantiles).
    pub bin_weights: Vec<Vec<f32>>,
}

/// Upper bound on a feature's bin edges in a [`Linear`] model (8 bins). The live form counts every feature's bin
/// with one lane-wise comparison per edge rank, so the rank count is bounded.
pub const MAX_BIN_EDGES: usize = 7;

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
        if self.bin_edges.is_empty() {
            if !self.bin_weights.is_empty() {
                return Err(ModelError::Invalid("linear model has bin weights but no bin edges".into()));
            }
            return Ok(());
        }
        if self.bin_edges.len() != N_FEATURES {
            return Err(ModelError::Invalid(format!(
                "linear model has bin edges for {} features, not {N_FEATURES}",
                self.bin_edges.len()
            )));
        }
        for (j, e) in self.bin_edges.iter().enumerate() {
            if e.len() > MAX_BIN_EDGES || e.iter().any(|v| !v.is_finite()) || e.windows(2).any(|w| w[0] >= w[1]) {
                return Err(ModelError::Invalid(format!(
                    "bin edges of feature {} are not at most {MAX_BIN_EDGES} finite, strictly increasing values",
                    FEATURE_NAMES[j]
                )));
            }
        }
        let n_bins = self.n_bins();
        if self.bin_weights.len() != k
            || self.bin_weights.iter().any(|w| w.len() != n_bins || w.iter().any(|v| !v.is_finite()))
        {
            return Err(ModelError::Invalid(format!(
                "linear model's bin weights are not {k} rows of {n_bins} finite values"
            )));
        }
        Ok(())
    }

    /// Total bins over all features (0 without binned terms).
    pub fn n_bins(&self) -> usize {
        self.bin_edges.iter().map(|e| e.len() + 1).sum()
    }

    /// The bin of feature value `v` among `edges`: the number of edges at or below it.
    #[inline]
    pub(crate) fn bin_of(edges: &[f32], v: f32) -> usize {
        edges.iter().filter(|&&e| e <= v).count()
    }

    /// Class probabilities: the softmax over sub-classes, summed per class.
    pub fn predict(&self, x: &FeatureVector) -> [f32; N_CLASSES] {
        let k = self.subclass_of.len().min(MAX_SUBCLASSES);
        let mut z = [0.0f32; MAX_SUBCLASSES];
        for (s, (zs, (&b, w))) in z.iter_mut().zip(self.bias.iter().zip(&self.weights)).take(k).enumerate() {
            *zs = b;
            for j in 0..N_FEATURES.min(w.len()) {
                *zs += w[j] * ((x[j] - self.mean[j]) / self.scale[j]);
            }
            if let Some(bw) = self.bin_weights.get(s) {
                let mut offset = 0;
                for (j, edges) in self.bin_edges.iter().enumerate() {
                    *zs += bw.get(offset + Self::bin_of(edges, x[j])).copied().unwrap_or(0.0);
                    offset += edges.len() + 1;
                }
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
        // Binned terms. Edges transposed (row `i` holds every feature's `i`-th edge, NaN where a feature has fewer,
        // which no comparison passes), so the live path counts every feature's bin at once, lane by lane. Every
        // feature has `BINS` rows of scores, bin `k` of feature `j` at row `BINS * j + k`; a row holds the step
        // scores of sub-classes 0-7 side by side (and of 8-15 in a second table, only when the model has more
        // than eight sub-classes).
        let mut edges = [[f32::NAN; PADDED]; MAX_BIN_EDGES];
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        if !self.bin_edges.is_empty() {
            lo = vec![[0.0f32; 8]; N_FEATURES * BINS];
            if n > 8 {
                hi = vec![[0.0f32; 8]; N_FEATURES * BINS];
            }
            let mut offset = 0;
            for (j, e) in self.bin_edges.iter().enumerate().take(N_FEATURES) {
                for (i, &v) in e.iter().enumerate().take(MAX_BIN_EDGES) {
                    edges[i][j] = v;
                }
                for bin in 0..=e.len() {
                    for s in 0..n {
                        let table = if s < 8 { &mut lo } else { &mut hi };
                        table[j * BINS + bin][s % 8] = self.bin_weights[s][offset + bin];
                    }
                }
                offset += e.len() + 1;
            }
        }
        FoldedLinear { w, b, class, n, edges, lo, hi }
    }
}

/// Feature vectors padded to a multiple of 8 so dot products vectorise.
const PADDED: usize = N_FEATURES.div_ceil(8) * 8;

/// A [`Linear`] model with `(x - mean) / scale` folded into weights and intercepts: one vectorised dot product per
/// sub-class and no division on the live path. Fixed arrays padded to [`MAX_SUBCLASSES`]; the first `n` rows are
/// the model's.
#[derive(Debug, Clone)]
struct FoldedLinear {
    w: [[f32; PADDED]; MAX_SUBCLASSES],
    b: [f32; MAX_SUBCLASSES],
    class: [u8; MAX_SUBCLASSES],
    n: usize,
    /// Bin edges transposed: `edges[i][j]` is feature `j`'s `i`-th edge, NaN where it has fewer.
    edges: [[f32; PADDED]; MAX_BIN_EDGES],
    /// Per (feature, bin), row `BINS * feature + bin`: the step scores of sub-classes 0-7 (empty without step terms).
    lo: Vec<[f32; 8]>,
    /// The same for sub-classes 8-15 (empty unless the model has more than eight sub-classes).
    hi: Vec<[f32; 8]>,
}

impl FoldedLinear {
    /// True when every weight and intercept in use is finite.
    fn is_finite(&self) -> bool {
        let n = self.n.min(MAX_SUBCLASSES);
        self.w[..n].iter().flatten().chain(&self.b[..n]).all(|v| v.is_finite())
    }

    fn predict(&self, x: &FeatureVector) -> [f32; N_CLASSES] {
        let mut xp = [0.0f32; PADDED];
        xp[..N_FEATURES].copy_from_slice(x);
        let n = self.n.min(MAX_SUBCLASSES);
        let mut z = self.b;
        for (zk, w) in z.iter_mut().zip(&self.w).take(n) {
            *zk += dot_padded(w, &xp);
        }
        if !self.lo.is_empty() {
            let bins = count_bins(&self.edges, &xp);
            // Two accumulators (even and odd features) halve the chain of dependent additions; `bin % BINS` keeps
            // every index provably inside its feature's rows, so the loop has no bounds checks.
            let mut acc = [[0.0f32; 8]; 2];
            for (j, (rows, &bin)) in self.lo.chunks_exact(BINS).zip(&bins).enumerate() {
                let r = &rows[bin as usize % BINS];
                for (a, rk) in acc[j % 2].iter_mut().zip(r) {
                    *a += rk;
                }
            }
            for (k, zk) in z.iter_mut().take(8).enumerate() {
                *zk += acc[0][k] + acc[1][k];
            }
            for (rows, &bin) in self.hi.chunks_exact(BINS).zip(&bins) {
                for (zk, rk) in z[8..].iter_mut().zip(&rows[bin as usize % BINS]) {
                    *zk += rk;
                }
            }
        }
        sub_softmax(&z[..n], &self.class[..n])
    }
}

/// Bins per feature in the live form of step terms: `MAX_BIN_EDGES + 1`.
const BINS: usize = MAX_BIN_EDGES + 1;

/// Every feature's bin at once: the number of its edges at or below its value, counted edge by edge across all
/// features' lanes (seven vectorised comparisons instead of a search per feature). A NaN edge or value passes no
/// comparison, so a NaN feature falls in bin 0, as in [`Linear::predict`].
#[inline]
fn count_bins(edges: &[[f32; PADDED]; MAX_BIN_EDGES], x: &[f32; PADDED]) -> [u32; PADDED] {
    let mut bins = [0u32; PADDED];
    for row in edges {
        for ((b, &e), &v) in bins.iter_mut().zip(row).zip(x) {
            *b += u32::from(e <= v);
        }
    }
    bins
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
    /// The gravity-free expert's classifier for full-rate windows without gravity (see [`Model::predict`]).
    pub free_dense: Classifier,
    /// The gravity-free expert's classifier for low-rate windows and slow views without gravity.
    pub free_sparse: Classifier,
}

/// A loaded, validated model. Two models are equal when their files are: the folded forms are derived from the
/// file (and hold NaN padding, which equals nothing).
#[derive(Debug, Clone)]
pub struct Model {
    file: ModelFile,
    /// Folded form of the dense classifier when it is linear, built at load.
    dense_folded: Option<FoldedLinear>,
    /// Folded form of the sparse classifier when it is linear.
    sparse_folded: Option<FoldedLinear>,
    /// Folded forms of the gravity-free expert's classifiers.
    free_dense_folded: Option<FoldedLinear>,
    free_sparse_folded: Option<FoldedLinear>,
}

impl PartialEq for Model {
    fn eq(&self, other: &Model) -> bool {
        self.file == other.file
    }
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
        // The smoother divides by the priors: a subnormal one would make every emission infinite.
        if file.class_priors.iter().any(|p| !(MIN_CLASS_PRIOR..=1.0).contains(p)) {
            return Err(ModelError::Invalid(format!("class priors must be in {MIN_CLASS_PRIOR}..=1")));
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
        for c in [&file.dense, &file.sparse, &file.free_dense, &file.free_sparse] {
            c.validate()?;
        }
        let (dense_folded, sparse_folded) = (file.dense.fold(), file.sparse.fold());
        let (free_dense_folded, free_sparse_folded) = (file.free_dense.fold(), file.free_sparse.fold());
        // The live path scores with the standardisation folded into the weights: a scale so small, or a mean so
        // large, that a folded weight or bias overflows f32 would make every window's scores non-finite.
        if [&dense_folded, &sparse_folded, &free_dense_folded, &free_sparse_folded]
            .into_iter()
            .flatten()
            .any(|f| !f.is_finite())
        {
            return Err(ModelError::Invalid(
                "linear model's weights overflow once standardisation is folded in".into(),
            ));
        }
        Ok(Model { file, dense_folded, sparse_folded, free_dense_folded, free_sparse_folded })
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
    ///
    /// A window whose input holds no gravity (`holds_gravity` false: a source of linear acceleration, see
    /// [`crate::window::WindowView::holds_gravity`]) is judged the same way by the gravity-free pair
    /// ([`ModelFile::free_dense`], [`ModelFile::free_sparse`]). Its features are split along the principal axis of
    /// motion instead of the vertical, and that pair learned from every recording seen that way, so a phone at rest
    /// means the same to it with gravity or without; the pair for input with gravity keeps the vertical axis, which
    /// is worth several points of accuracy where it exists (model card).
    pub fn predict(
        &self,
        x: &FeatureVector,
        slow: &FeatureVector,
        input_rate_hz: f32,
        holds_gravity: bool,
    ) -> Option<[f32; N_CLASSES]> {
        let f = &self.file;
        let ((dense, dense_folded), (sparse, sparse_folded)) = if holds_gravity {
            ((&f.dense, self.dense_folded.as_ref()), (&f.sparse, self.sparse_folded.as_ref()))
        } else {
            ((&f.free_dense, self.free_dense_folded.as_ref()), (&f.free_sparse, self.free_sparse_folded.as_ref()))
        };
        if input_rate_hz.is_nan() || input_rate_hz < f.min_rate_hz {
            None
        } else if input_rate_hz >= f.dense_rate_hz {
            let d = classify(dense, dense_folded, x);
            let w = f.slow_weight;
            if w <= 0.0 && f.transit_slow_weight <= 0.0 {
                return Some(d);
            }
            let s = classify(sparse, sparse_folded, slow);
            let floor = f.expert_floor;
            let mut p = [0.0f32; N_CLASSES];
            for k in 0..N_CLASSES {
                let wk = if k == TRANSIT { f.transit_slow_weight } else { w };
                p[k] = d[k].max(floor).powf(1.0 - wk) * s[k].max(floor).powf(wk);
            }
            Some(normalise(p))
        } else {
            Some(classify(sparse, sparse_folded, x))
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

    /// A deterministic stream of values uniform in [-0.5, 0.5) (a linear congruential generator; test inputs and
    /// fixtures only).
    fn uniform(mut seed: u32) -> impl FnMut() -> f32 {
        move || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        }
    }

    /// A feature vector of values uniform in [-spread / 2, spread / 2).
    fn random_features(next: &mut impl FnMut() -> f32, spread: f32) -> FeatureVector {
        std::array::from_fn(|_| next() * spread)
    }

    /// The reference for a linear classifier, in f64: each sub-class's score (linear terms, plus the step of each
    /// feature's bin found by a binary search of its edges), softmax over sub-classes, summed per class.
    fn reference_probs(l: &Linear, x: &FeatureVector) -> [f64; N_CLASSES] {
        let z: Vec<f64> = (0..l.subclass_of.len())
            .map(|s| {
                let mut z = f64::from(l.bias[s]);
                for j in 0..N_FEATURES {
                    z += f64::from(l.weights[s][j]) * f64::from((x[j] - l.mean[j]) / l.scale[j]);
                }
                let mut offset = 0;
                for (j, e) in l.bin_edges.iter().enumerate() {
                    z += f64::from(l.bin_weights[s][offset + e.partition_point(|&v| v <= x[j])]);
                    offset += e.len() + 1;
                }
                z
            })
            .collect();
        let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = z.iter().map(|v| (v - max).exp()).collect();
        let total: f64 = e.iter().sum();
        let mut want = [0.0f64; N_CLASSES];
        for (s, &c) in l.subclass_of.iter().enumerate() {
            want[usize::from(c)] += e[s] / total;
        }
        want
    }

    /// Asserts that `l`'s reference form and its folded form agree on `x` within 1e-4 per class.
    fn assert_forms_agree(l: &Linear, f: &FoldedLinear, x: &FeatureVector) {
        let (a, b) = (l.predict(x), f.predict(x));
        for k in 0..N_CLASSES {
            assert!((a[k] - b[k]).abs() < 1e-4, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn folded_linear_matches_the_reference_form() {
        let model = Model::embedded().unwrap();
        let Classifier::Linear(l) = &model.file().dense else { panic!("the embedded model is linear") };
        let f = l.fold();
        let mut next = uniform(99);
        for _ in 0..200 {
            let u = random_features(&mut next, 1.0);
            let x: FeatureVector = std::array::from_fn(|j| l.mean[j] + 3.0 * l.scale[j] * u[j]);
            assert_forms_agree(l, &f, &x);
        }
    }

    /// A hand-built linear classifier with two sub-classes for `other` (index 5) and two for still (index 6), with
    /// deterministic pseudo-random weights (a test fixture, not a shipped model).
    fn subclassed_linear() -> Linear {
        let mut next = uniform(7);
        let subclass_of = vec![0u8, 1, 2, 3, 4, 4, 0];
        Linear {
            mean: (0..N_FEATURES).map(|_| next()).collect(),
            scale: (0..N_FEATURES).map(|_| 0.5 + next().abs()).collect(),
            weights: subclass_of.iter().map(|_| (0..N_FEATURES).map(|_| next()).collect()).collect(),
            bias: subclass_of.iter().map(|_| next()).collect(),
            subclass_of,
            bin_edges: Vec::new(),
            bin_weights: Vec::new(),
        }
    }

    /// Asserts that both forms of `l` give [`reference_probs`] within 1e-4 per class on `cases` feature vectors of
    /// the given spread (seeded), and probabilities that sum to 1.
    fn assert_both_forms_match_the_reference(l: &Linear, seed: u32, cases: usize, spread: f32) {
        l.validate().unwrap();
        let f = l.fold();
        let mut next = uniform(seed);
        for _ in 0..cases {
            let x = random_features(&mut next, spread);
            let want = reference_probs(l, &x);
            for p in [l.predict(&x), f.predict(&x)] {
                assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
                for k in 0..N_CLASSES {
                    assert!((f64::from(p[k]) - want[k]).abs() < 1e-4, "{p:?} vs {want:?}");
                }
            }
        }
    }

    #[test]
    fn subclass_probabilities_sum_into_their_classes() {
        // Reference: softmax over the seven sub-classes in f64, summed per class.
        assert_both_forms_match_the_reference(&subclassed_linear(), 5, 200, 4.0);
    }

    /// [`subclassed_linear`] with step terms: three to five bin edges per feature.
    fn binned_linear() -> Linear {
        let mut l = subclassed_linear();
        l.bin_edges = (0..N_FEATURES).map(|j| (0..3 + j % 3).map(|e| e as f32 * 0.4 - 0.8).collect()).collect();
        let n_bins = l.n_bins();
        let mut next = uniform(11);
        l.bin_weights = l.subclass_of.iter().map(|_| (0..n_bins).map(|_| next()).collect()).collect();
        l
    }

    #[test]
    fn binned_terms_add_one_step_per_feature_in_both_forms() {
        let l = binned_linear();
        // Reference: each feature's bin found by searching its edges, in f64.
        assert_both_forms_match_the_reference(&l, 3, 300, 3.0);
        // A value exactly on an edge belongs to the bin above it; moving one feature across an edge changes the
        // scores by that feature's step and nothing else.
        let mut x = [0.0f32; N_FEATURES];
        x[0] = l.bin_edges[0][1];
        let above = l.predict(&x);
        x[0] = l.bin_edges[0][1] - 1e-3;
        let below = l.predict(&x);
        assert_ne!(above, below);
    }

    proptest::proptest! {
        /// The shipped dense classifier (with its step terms) gives the same probabilities in its live, folded form
        /// as in its reference form, for any feature vector within 30 standard deviations of the training mean
        /// (far outside the training range) and for values exactly on a bin edge. Further out the scores grow so
        /// large that the two forms' f32 rounding alone (about 1e-7 of a score in the thousands) moves the
        /// probabilities of two close classes by more than the tolerance: a test of summation order, not of bins.
        #[test]
        fn folded_step_terms_match_the_reference_for_any_input(
            u in proptest::collection::vec(-30.0f32..30.0, N_FEATURES),
            on_edge in proptest::collection::vec(proptest::prelude::any::<Option<proptest::sample::Index>>(), N_FEATURES),
        ) {
            let model = Model::embedded().unwrap();
            let Classifier::Linear(l) = &model.file().dense else { panic!("the embedded model is linear") };
            proptest::prop_assert!(!l.bin_edges.is_empty(), "the shipped dense classifier has step terms");
            let mut v: FeatureVector = std::array::from_fn(|j| l.mean[j] + l.scale[j] * u[j]);
            for (j, pick) in on_edge.iter().enumerate() {
                if let (Some(i), false) = (pick, l.bin_edges[j].is_empty()) {
                    v[j] = l.bin_edges[j][i.index(l.bin_edges[j].len())];
                }
            }
            assert_forms_agree(l, &l.fold(), &v);
        }
    }

    #[test]
    fn bins_count_the_edges_at_or_below_each_value() {
        // Values on a 0.05 grid in [-5, 5), so edges repeat and values land on edges.
        let mut uniform = uniform(17);
        let mut next = move || ((uniform() + 0.5) * 200.0).floor() / 20.0 - 5.0;
        for round in 0..50 {
            // Feature j gets j % 8 edges (0 to 7); values are edges themselves, infinities, NaN or random.
            let mut real: Vec<Vec<f32>> = Vec::new();
            let mut edges = [[f32::NAN; PADDED]; MAX_BIN_EDGES];
            let mut x = [0.0f32; PADDED];
            for j in 0..N_FEATURES {
                let mut e: Vec<f32> = (0..j % 8).map(|_| next()).collect();
                e.sort_by(f32::total_cmp);
                e.dedup();
                for (i, &v) in e.iter().enumerate() {
                    edges[i][j] = v;
                }
                x[j] = match (round + j) % 6 {
                    0 => f32::INFINITY,
                    1 => f32::NEG_INFINITY,
                    2 => f32::NAN,
                    3 if !e.is_empty() => e[(round + j) % e.len()],
                    _ => next(),
                };
                real.push(e);
            }
            let bins = count_bins(&edges, &x);
            for j in 0..N_FEATURES {
                assert_eq!(bins[j] as usize, Linear::bin_of(&real[j], x[j]), "{:?} at {}", real[j], x[j]);
            }
        }
    }

    #[test]
    fn step_terms_of_more_than_eight_sub_classes_use_both_tables() {
        let mut l = binned_linear();
        let extra = [1u8, 2, 3, 0];
        for &c in &extra {
            l.subclass_of.push(c);
            l.weights.push(l.weights[usize::from(c)].iter().map(|w| w * 0.5).collect());
            l.bias.push(0.1);
            l.bin_weights.push(l.bin_weights[usize::from(c)].iter().map(|w| -w).collect());
        }
        l.validate().unwrap();
        let f = l.fold();
        assert!(!f.hi.is_empty() && !f.lo.is_empty());
        let mut next = uniform(8);
        for _ in 0..100 {
            assert_forms_agree(&l, &f, &random_features(&mut next, 3.0));
        }
    }

    #[test]
    fn binned_terms_are_validated() {
        let good = binned_linear();
        let mut file = tiny_model().file().clone();
        file.dense = Classifier::Linear(good.clone());
        let m = Model::new(file.clone()).unwrap();
        assert_eq!(Model::from_bytes(&m.to_bytes()).unwrap(), m);
        let bad = |edit: &dyn Fn(&mut Linear)| {
            let mut l = good.clone();
            edit(&mut l);
            let mut f = file.clone();
            f.dense = Classifier::Linear(l);
            let r = Model::new(f);
            assert!(matches!(r, Err(ModelError::Invalid(_))), "{r:?}");
        };
        bad(&|l| l.bin_edges[4] = vec![0.5, 0.5]); // not strictly increasing
        bad(&|l| l.bin_edges[4] = vec![0.0, f32::NAN]);
        bad(&|l| l.bin_edges[4] = (0..=MAX_BIN_EDGES).map(|v| v as f32).collect()); // too many
        bad(&|l| l.bin_edges[4].push(9.0)); // weights no longer match the bins
        bad(&|l| {
            l.bin_edges.pop();
        });
        bad(&|l| {
            l.bin_weights[1].pop();
        });
        bad(&|l| {
            l.bin_weights.pop();
        });
        bad(&|l| l.bin_weights[2][3] = f32::INFINITY);
        bad(&|l| l.bin_edges.clear()); // weights without edges
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
        bad(&|l| l.scale[0] = 1e-40); // positive and finite, but the folded weight overflows
        bad(&|l| {
            l.weights[0][1] = 1.0;
            l.scale[1] = 1e-3;
            l.mean[1] = 3e37;
        }); // finite, but the folded bias overflows
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

    /// A classifier that gives every window the same probabilities (test fixture).
    pub(crate) fn leaf(p: [u8; N_CLASSES]) -> Classifier {
        Classifier::Forest(Forest {
            roots: vec![0],
            feature: vec![LEAF],
            threshold: vec![0.0],
            right: vec![0],
            leaf_probs: vec![p],
        })
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
            sparse: Classifier::Forest(forest.clone()),
            free_dense: Classifier::Forest(forest.clone()),
            free_sparse: Classifier::Forest(forest),
        })
        .unwrap()
    }

    #[test]
    fn subnormal_priors_and_forests_of_too_many_trees_are_refused() {
        let mut file = tiny_model().file().clone();
        file.class_priors[2] = 1e-40;
        let e = Model::new(file.clone()).unwrap_err();
        assert!(e.to_string().contains("class priors"), "{e}");
        file.class_priors[2] = 0.2;
        let Classifier::Forest(mut forest) = file.dense.clone() else { unreachable!() };
        forest.roots = vec![0; MAX_TREES + 1];
        file.dense = Classifier::Forest(forest.clone());
        let e = Model::new(file.clone()).unwrap_err();
        assert!(e.to_string().contains("1025 trees"), "{e}");
        forest.roots.truncate(MAX_TREES);
        file.dense = Classifier::Forest(forest);
        assert!(Model::new(file).is_ok());
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
        assert!((m.predict(&x, &x, 20.0, true).unwrap()[0] - 0.9).abs() < 1e-6);
        x[6] = 0.0;
        assert!((m.predict(&x, &x, 20.0, true).unwrap()[1] - 0.8).abs() < 1e-6);
        assert!(m.predict(&x, &x, 0.5, true).is_none());
    }

    #[test]
    fn sparse_expert_outweighs_dense_on_transit() {
        // Dense expert: never transit. Sparse expert: mostly transit. Only the transit weight lets it through.
        let mut file = tiny_model().file().clone();
        file.dense = leaf([200, 0, 0, 0, 55]);
        file.sparse = leaf([60, 0, 0, 195, 0]);
        file.slow_weight = 0.5;
        file.expert_floor = 0.02;
        let x = [0.0; N_FEATURES];
        file.transit_slow_weight = 0.5;
        let even = Model::new(file.clone()).unwrap().predict(&x, &x, 50.0, true).unwrap();
        assert!(even[TRANSIT] < even[0], "{even:?}");
        file.transit_slow_weight = 0.9;
        let m = Model::new(file.clone()).unwrap();
        let p = m.predict(&x, &x, 50.0, true).unwrap();
        assert!(p[TRANSIT] > p[0], "{p:?}");
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // Low-rate windows see only the sparse expert.
        assert!(m.predict(&x, &x, 3.0, true).unwrap()[TRANSIT] > 0.7);
        file.expert_floor = 0.0;
        assert!(matches!(Model::new(file.clone()), Err(ModelError::Invalid(_))));
        file.expert_floor = 0.02;
        file.transit_slow_weight = 1.5;
        assert!(matches!(Model::new(file), Err(ModelError::Invalid(_))));
    }

    #[test]
    fn windows_without_gravity_go_to_the_gravity_free_pair() {
        let mut file = tiny_model().file().clone();
        file.dense = leaf([255, 0, 0, 0, 0]);
        file.sparse = leaf([0, 255, 0, 0, 0]);
        file.free_dense = leaf([0, 0, 255, 0, 0]);
        file.free_sparse = leaf([0, 0, 0, 255, 0]);
        file.slow_weight = 0.5;
        file.transit_slow_weight = 0.5;
        file.expert_floor = 0.02;
        let m = Model::new(file.clone()).unwrap();
        let x = [0.0; N_FEATURES];
        let argmax = |p: [f32; N_CLASSES]| (0..N_CLASSES).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap();
        // Low rate: the sparse classifier of the window's pair alone.
        assert_eq!(argmax(m.predict(&x, &x, 3.0, true).unwrap()), 1);
        assert_eq!(argmax(m.predict(&x, &x, 3.0, false).unwrap()), 3);
        // Full rate: the two classifiers of the window's pair, never one of the other pair.
        let with = m.predict(&x, &x, 50.0, true).unwrap();
        assert!(with[0] > 0.4 && with[1] > 0.4 && with[2] < 0.1 && with[3] < 0.1, "{with:?}");
        let without = m.predict(&x, &x, 50.0, false).unwrap();
        assert!(without[2] > 0.4 && without[3] > 0.4 && without[0] < 0.1 && without[1] < 0.1, "{without:?}");
        // A damaged gravity-free classifier makes the whole model invalid.
        for free_dense in [true, false] {
            let mut bad = file.clone();
            let c = if free_dense { &mut bad.free_dense } else { &mut bad.free_sparse };
            if let Classifier::Forest(f) = c {
                f.right[0] = 7; // out of range
            }
            assert!(matches!(Model::new(bad), Err(ModelError::Invalid(_))));
        }
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
