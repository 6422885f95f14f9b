//! Training (feature `train`): linfa fits, motiongate exports.
//!
//! The forest is a bagged ensemble of linfa-trees CART trees: each tree sees a class-balanced bootstrap sample
//! and a random subset of the features (drawn with a seeded SplitMix64, so the same data and seed give the same
//! bytes). Trees are exported to [`Forest`] node arrays and their leaf probabilities recomputed from the tree's own
//! bootstrap sample (linfa's leaves carry only a majority class, with HashMap-order ties). The linear model is
//! linfa-logistic's multinomial regression on standardised features. Inputs are validated before linfa sees them
//! (its `predict` asserts on shapes); linfa itself never runs on the phone.
//!
//! Determinism: the linear model is bit-for-bit reproducible (same data and seed, same bytes; tested). The forest
//! is not across processes: linfa-trees sums Gini impurities over a `HashMap` whose iteration order is seeded per
//! process, so near-ties between splits can resolve differently from run to run. This, with the linear model
//! matching the forest in cross-validation, is why the shipped default is the linear model.

use linfa::prelude::*;
use linfa_trees::{DecisionTree, SplitQuality, TreeNode};
use ndarray::{Array1, Array2};
use rayon::prelude::*;

use crate::features::{FeatureVector, LOG_ENERGY, N_FEATURES};
use crate::model::{Classifier, Forest, Linear, LEAF, MAX_BIN_EDGES, MAX_SUBCLASSES, N_CLASSES};

/// Why training failed.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Not enough labelled windows of some class.
    #[error("not enough training windows: {0}")]
    NotEnoughData(String),
    /// A parameter is out of range.
    #[error("invalid training parameter: {0}")]
    InvalidParam(String),
    /// linfa refused the fit.
    #[error("linfa: {0}")]
    Linfa(String),
}

impl TrainError {
    /// The same error, its message prefixed with where it arose (a classifier, a fold), outermost first.
    pub fn within(self, context: &str) -> Self {
        match self {
            TrainError::NotEnoughData(m) => TrainError::NotEnoughData(format!("{context}: {m}")),
            TrainError::InvalidParam(m) => TrainError::InvalidParam(format!("{context}: {m}")),
            TrainError::Linfa(m) => TrainError::Linfa(format!("{context}: {m}")),
        }
    }
}

/// The model family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// Bagged CART trees.
    Forest,
    /// Multinomial logistic regression.
    Linear,
}

/// Most class-balanced draws per class ([`ForestParams::per_class`]): 400 times the shipped setting, far above any
/// useful value, and small enough that the draws of all classes fit in memory.
pub const MAX_DRAWS_PER_CLASS: usize = 1_000_000;

/// Largest L2 penalty ([`Pieces::alpha`]) accepted from the command line (beyond it every weight is ~0).
pub const MAX_ALPHA: f64 = 1e6;

/// Checks a number of cross-validation folds against the number of subject groups: `2..=groups`.
pub fn check_folds(k: usize, groups: usize, grouping: Grouping) -> Result<(), TrainError> {
    if k < 2 || k > groups {
        let noun = grouping.noun();
        return Err(TrainError::InvalidParam(format!(
            "folds = {k}: expected 2..={groups} (folds are grouped by {noun}, and the data has {groups} {noun}s)"
        )));
    }
    Ok(())
}

/// What cross-validation keeps out of the data each fold's model learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Grouping {
    /// Subjects (`dataset/subject`): no person is in both a fold's training and its test data.
    #[default]
    Subject,
    /// Whole datasets: each fold is scored on recordings whose people, phones, placements and logging the model
    /// never saw (with as many folds as datasets, leave-one-dataset-out). A proxy for data from elsewhere; a
    /// dataset that alone holds a class or a kind of input (the only low-rate vehicles, say) takes that class or
    /// input out of its fold's training.
    Dataset,
}

impl Grouping {
    /// The group key of a trace.
    pub fn key(self, meta: &TraceMeta) -> String {
        match self {
            Grouping::Subject => meta.group(),
            Grouping::Dataset => meta.dataset.clone(),
        }
    }

    /// What a group is, for messages and reports.
    pub fn noun(self) -> &'static str {
        match self {
            Grouping::Subject => "subject",
            Grouping::Dataset => "dataset",
        }
    }
}

/// Hyper-parameters, checked once by [`ForestParams::check`] before any fit.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ForestParams {
    /// Number of trees.
    pub trees: usize,
    /// Maximum depth.
    pub max_depth: usize,
    /// Minimum samples in a leaf.
    pub min_leaf: f32,
    /// Bootstrap draws per class for each tree.
    pub per_class: usize,
    /// Fraction of the features each tree may split on.
    pub feature_fraction: f32,
    /// Seed.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams { trees: 30, max_depth: 10, min_leaf: 8.0, per_class: 2500, feature_fraction: 0.6, seed: 7 }
    }
}

impl ForestParams {
    /// Validates the parameters.
    pub fn check(&self) -> Result<(), TrainError> {
        if self.trees == 0 || self.trees > 1000 {
            return Err(TrainError::InvalidParam(format!("trees = {} (1..=1000)", self.trees)));
        }
        if self.max_depth == 0 || self.max_depth > 30 {
            return Err(TrainError::InvalidParam(format!("max_depth = {} (1..=30)", self.max_depth)));
        }
        if !(self.feature_fraction > 0.0 && self.feature_fraction <= 1.0) {
            return Err(TrainError::InvalidParam(format!("feature_fraction = {} (0..1]", self.feature_fraction)));
        }
        if self.per_class == 0 || self.min_leaf.is_nan() || self.min_leaf < 1.0 {
            return Err(TrainError::InvalidParam("per_class and min_leaf must be at least 1".into()));
        }
        if self.per_class > MAX_DRAWS_PER_CLASS {
            return Err(TrainError::InvalidParam(format!(
                "per_class = {} (draws per class, 1..={MAX_DRAWS_PER_CLASS})",
                self.per_class
            )));
        }
        Ok(())
    }
}

/// SplitMix64: small, seedable, stable across versions.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

fn check_inputs(x: &[FeatureVector], y: &[usize]) -> Result<[usize; N_CLASSES], TrainError> {
    if x.len() != y.len() {
        return Err(TrainError::InvalidParam("features and labels differ in length".into()));
    }
    let mut counts = [0usize; N_CLASSES];
    for &c in y {
        if c >= N_CLASSES {
            return Err(TrainError::InvalidParam(format!("class index {c} out of range")));
        }
        counts[c] += 1;
    }
    if x.iter().flatten().any(|v| !v.is_finite()) {
        return Err(TrainError::InvalidParam("non-finite feature value".into()));
    }
    if counts.iter().filter(|&&n| n > 0).count() < 2 {
        return Err(TrainError::NotEnoughData(format!("class counts {counts:?}")));
    }
    Ok(counts)
}

/// Fits a bagged forest.
pub fn fit_forest(x: &[FeatureVector], y: &[usize], params: &ForestParams) -> Result<Forest, TrainError> {
    params.check()?;
    let counts = check_inputs(x, y)?;
    let by_class: Vec<Vec<usize>> =
        (0..N_CLASSES).map(|c| (0..y.len()).filter(|&i| y[i] == c).collect::<Vec<_>>()).collect();
    let n_feat = ((N_FEATURES as f32 * params.feature_fraction).ceil() as usize).clamp(1, N_FEATURES);
    let trees: Vec<Result<Forest, TrainError>> = (0..params.trees)
        .into_par_iter()
        .map(|t| {
            let mut rng = SplitMix64::new(params.seed.wrapping_mul(1_000_003).wrapping_add(t as u64));
            // Feature subset: a seeded partial Fisher-Yates shuffle, then sorted for stable column order.
            let mut cols: Vec<usize> = (0..N_FEATURES).collect();
            for i in 0..n_feat {
                let j = i + rng.below(N_FEATURES - i);
                cols.swap(i, j);
            }
            let mut cols = cols[..n_feat].to_vec();
            cols.sort_unstable();
            // Class-balanced bootstrap.
            let mut rows = Vec::with_capacity(params.per_class * N_CLASSES);
            for (c, idx) in by_class.iter().enumerate() {
                if counts[c] == 0 {
                    continue;
                }
                for _ in 0..params.per_class {
                    rows.push(idx[rng.below(idx.len())]);
                }
            }
            fit_tree(x, y, &rows, &cols, params)
        })
        .collect();
    let mut forest = Forest { roots: vec![], feature: vec![], threshold: vec![], right: vec![], leaf_probs: vec![] };
    for t in trees {
        let t = t?;
        let offset = forest.feature.len() as u32;
        let leaf_offset = forest.leaf_probs.len() as u32;
        forest.roots.push(offset);
        for i in 0..t.feature.len() {
            forest.feature.push(t.feature[i]);
            forest.threshold.push(t.threshold[i]);
            forest.right.push(if t.feature[i] == LEAF { t.right[i] + leaf_offset } else { t.right[i] + offset });
        }
        forest.leaf_probs.extend_from_slice(&t.leaf_probs);
    }
    Ok(forest)
}

fn fit_tree(
    x: &[FeatureVector],
    y: &[usize],
    rows: &[usize],
    cols: &[usize],
    params: &ForestParams,
) -> Result<Forest, TrainError> {
    let mut records = Array2::<f32>::zeros((rows.len(), cols.len()));
    let mut targets = Array1::<usize>::zeros(rows.len());
    for (r, &i) in rows.iter().enumerate() {
        for (c, &j) in cols.iter().enumerate() {
            records[(r, c)] = x[i][j];
        }
        targets[r] = y[i];
    }
    let ds = Dataset::new(records, targets);
    let tree = DecisionTree::params()
        .split_quality(SplitQuality::Gini)
        .max_depth(Some(params.max_depth))
        .min_weight_leaf(params.min_leaf)
        .min_weight_split(2.0 * params.min_leaf)
        .fit(&ds)
        .map_err(|e| TrainError::Linfa(e.to_string()))?;
    let mut f = Forest { roots: vec![0], feature: vec![], threshold: vec![], right: vec![], leaf_probs: vec![] };
    export_node(tree.root_node(), cols, &mut f);
    // Leaf probabilities from the tree's own bootstrap sample.
    let mut counts = vec![[0.0f32; N_CLASSES]; f.leaf_probs.len()];
    for &i in rows {
        let mut n = 0usize;
        while f.feature[n] != LEAF {
            n = if x[i][f.feature[n] as usize] <= f.threshold[n] { n + 1 } else { f.right[n] as usize };
        }
        counts[f.right[n] as usize][y[i]] += 1.0;
    }
    for (p, c) in f.leaf_probs.iter_mut().zip(counts) {
        let s: f32 = c.iter().sum();
        *p = if s > 0.0 { c.map(|v| (v / s * 255.0).round() as u8) } else { [51; N_CLASSES] };
        if p.iter().all(|&v| v == 0) {
            *p = [51; N_CLASSES];
        }
    }
    Ok(f)
}

fn export_node(node: &TreeNode<f32, usize>, cols: &[usize], f: &mut Forest) -> u32 {
    let idx = f.feature.len();
    f.feature.push(LEAF);
    f.threshold.push(0.0);
    f.right.push(0);
    let children = node.children();
    match (node.is_leaf(), children[0], children[1]) {
        (false, Some(left), Some(right)) => {
            let (feat, thr, _) = node.split();
            f.feature[idx] = cols[feat] as u16;
            f.threshold[idx] = thr;
            export_node(left, cols, f);
            let r = export_node(right, cols, f);
            f.right[idx] = r;
        }
        _ => {
            f.right[idx] = f.leaf_probs.len() as u32;
            f.leaf_probs.push([0; N_CLASSES]);
        }
    }
    idx as u32
}

/// Fits a multinomial logistic model on standardised features, with classes balanced by subsampling.
pub fn fit_linear(x: &[FeatureVector], y: &[usize], per_class: usize, seed: u64) -> Result<Linear, TrainError> {
    fit_linear_grouped(x, y, &vec![0; y.len()], 1.0, per_class, seed)
}

/// [`fit_linear`] with the draws of each class spread over the sources (`groups`, e.g. datasets) that hold it: a
/// source with `n` windows of a class gets a share proportional to `n^balance` (1 = proportional to its windows,
/// 0 = every source alike).
pub fn fit_linear_grouped(
    x: &[FeatureVector],
    y: &[usize],
    groups: &[u32],
    balance: f32,
    per_class: usize,
    seed: u64,
) -> Result<Linear, TrainError> {
    fit_linear_subclasses(x, y, groups, balance, per_class, &Pieces::ONE, seed)
}

/// The shape of a linear classifier: how many linear pieces (sub-classes) it learns per class and how a class's
/// examples are split among them, how many quantile bins each feature's step term has, and the L2 penalty.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Pieces {
    /// Pieces per class ([`crate::model::CLASS_NAMES`] order), each at least 1, at most [`MAX_SUBCLASSES`] in all.
    pub per_class: [usize; N_CLASSES],
    /// How a class's examples are split.
    pub split: Split,
    /// Bins per feature for the additive step terms (see [`Linear::bin_edges`]); 0 or 1: none.
    pub bins: usize,
    /// linfa-logistic's L2 penalty (on the summed loss of all draws).
    pub alpha: f64,
}

impl Pieces {
    /// One piece per class, no bins: plain multinomial regression.
    pub const ONE: Pieces = Pieces { per_class: [1; N_CLASSES], split: Split::KMeans, bins: 0, alpha: 1e-3 };
}

/// Bin edges of one feature: the `bins - 1` inner quantiles of `values` (sorted in place), duplicates dropped so
/// the edges increase strictly. Deterministic. `bins` is at most `MAX_BIN_EDGES + 1` ([`fit_linear_subclasses`]
/// refuses more).
fn quantile_edges(values: &mut [f32], bins: usize) -> Vec<f32> {
    values.sort_by(f32::total_cmp);
    let mut edges: Vec<f32> = Vec::new();
    if values.is_empty() {
        return edges;
    }
    for q in 1..bins {
        // q < bins, so the index stays below the length.
        let v = values[q * values.len() / bins];
        if v.is_finite() && edges.last().is_none_or(|&l| v > l) {
            edges.push(v);
        }
    }
    edges
}

/// [`fit_linear_grouped`] over sub-classes: the draws of class `c` are split into up to `pieces.per_class[c]`
/// sub-classes ([`assign_subclasses`]: `log_energy` bands, or k-means seeded from `seed` and the class), each learned
/// as its own linear piece; [`Linear::predict`] sums the pieces' probabilities back into the class. The draws
/// themselves are those of [`fit_linear_grouped`], so one piece per class gives exactly its model. With
/// `pieces.bins` of 2 or more, every feature also gets a step term ([`Linear::bin_edges`]): its edges are the
/// `bins - 1` inner quantiles of the draws' raw values, and each bin is one more indicator column of the fit.
pub fn fit_linear_subclasses(
    x: &[FeatureVector],
    y: &[usize],
    groups: &[u32],
    balance: f32,
    per_class: usize,
    pieces: &Pieces,
    seed: u64,
) -> Result<Linear, TrainError> {
    let counts = check_inputs(x, y)?;
    let subclasses = &pieces.per_class;
    let total = subclasses.iter().try_fold(0usize, |a, &k| a.checked_add(k));
    if subclasses.contains(&0) || total.is_none_or(|t| t > MAX_SUBCLASSES) {
        return Err(TrainError::InvalidParam(format!(
            "sub-classes {subclasses:?}: at least 1 per class, at most {MAX_SUBCLASSES} in all"
        )));
    }
    if counts.contains(&0) {
        return Err(TrainError::NotEnoughData(format!("the linear model needs every class: {counts:?}")));
    }
    if pieces.bins > MAX_BIN_EDGES + 1 || !(pieces.alpha.is_finite() && pieces.alpha >= 0.0) {
        return Err(TrainError::InvalidParam(format!(
            "bins {} (at most {}) or L2 penalty {} (finite, not negative)",
            pieces.bins,
            MAX_BIN_EDGES + 1,
            pieces.alpha
        )));
    }
    if per_class == 0 || per_class > MAX_DRAWS_PER_CLASS {
        return Err(TrainError::InvalidParam(format!("draws per class = {per_class} (1..={MAX_DRAWS_PER_CLASS})")));
    }
    if groups.len() != y.len() || !(0.0..=1.0).contains(&balance) {
        return Err(TrainError::InvalidParam(
            "groups differ in length from the labels, or balance is not in 0..=1".into(),
        ));
    }
    let mut rng = SplitMix64::new(seed);
    let mut rows = Vec::new();
    for c in 0..N_CLASSES {
        let idx: Vec<usize> = (0..y.len()).filter(|&i| y[i] == c).collect();
        if balance >= 1.0 {
            for _ in 0..per_class {
                rows.push(idx[rng.below(idx.len())]);
            }
            continue;
        }
        // Per group of this class: its windows; groups drawn by cumulative weight n^balance.
        let mut by_group: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for &i in &idx {
            by_group.entry(groups[i]).or_default().push(i);
        }
        let members: Vec<&Vec<usize>> = by_group.values().collect();
        let mut cum = Vec::with_capacity(members.len());
        let mut total = 0.0f64;
        for m in &members {
            total += (m.len() as f64).powf(f64::from(balance));
            cum.push(total);
        }
        for _ in 0..per_class {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let g = cum.partition_point(|&c| c <= u).min(members.len() - 1);
            rows.push(members[g][rng.below(members[g].len())]);
        }
    }
    let n = rows.len() as f64;
    let mut mean = vec![0.0f64; N_FEATURES];
    let mut scale = vec![0.0f64; N_FEATURES];
    for &i in &rows {
        for j in 0..N_FEATURES {
            mean[j] += f64::from(x[i][j]) / n;
        }
    }
    for &i in &rows {
        for j in 0..N_FEATURES {
            scale[j] += (f64::from(x[i][j]) - mean[j]).powi(2) / n;
        }
    }
    let scale: Vec<f64> = scale.iter().map(|v| v.sqrt().max(1e-6)).collect();
    // Standardise in f32 exactly as `Linear::predict` does.
    let pts: Vec<FeatureVector> =
        rows.iter().map(|&i| std::array::from_fn(|j| (x[i][j] - mean[j] as f32) / scale[j] as f32)).collect();
    let labels: Vec<usize> = rows.iter().map(|&i| y[i]).collect();
    let (sub, subclass_of) = assign_subclasses(&pts, &labels, subclasses, pieces.split, seed);
    let bin_edges: Vec<Vec<f32>> = if pieces.bins > 1 {
        (0..N_FEATURES)
            .map(|j| {
                let mut v: Vec<f32> = rows.iter().map(|&i| x[i][j]).collect();
                quantile_edges(&mut v, pieces.bins)
            })
            .collect()
    } else {
        Vec::new()
    };
    // Columns: the standardised features, then one indicator per (feature, bin).
    let mut bin_col = Vec::with_capacity(N_FEATURES);
    let mut n_cols = N_FEATURES;
    for e in &bin_edges {
        bin_col.push(n_cols);
        n_cols += e.len() + 1;
    }
    let mut records = Array2::<f64>::zeros((pts.len(), n_cols));
    for (r, p) in pts.iter().enumerate() {
        for j in 0..N_FEATURES {
            records[(r, j)] = f64::from(p[j]);
        }
        for (j, e) in bin_edges.iter().enumerate() {
            records[(r, bin_col[j] + Linear::bin_of(e, x[rows[r]][j]))] = 1.0;
        }
    }
    let targets = Array1::from_vec(sub);
    let n_sub = subclass_of.len();
    let ds = Dataset::new(records, targets);
    let fitted = linfa_logistic::MultiLogisticRegression::default()
        .alpha(pieces.alpha)
        .max_iterations(300)
        .fit(&ds)
        .map_err(|e| TrainError::Linfa(e.to_string()))?;
    let classes = fitted.classes().to_vec();
    let params = fitted.params();
    let intercept = fitted.intercept();
    let mut weights = vec![vec![0.0f32; N_FEATURES]; n_sub];
    let mut bias = vec![0.0f32; n_sub];
    let mut bin_weights =
        if bin_edges.is_empty() { Vec::new() } else { vec![vec![0.0f32; n_cols - N_FEATURES]; n_sub] };
    for (k, &c) in classes.iter().enumerate() {
        if c >= n_sub {
            return Err(TrainError::Linfa(format!("linfa returned unknown class {c}")));
        }
        for j in 0..N_FEATURES {
            weights[c][j] = params[(j, k)] as f32;
        }
        if let Some(bw) = bin_weights.get_mut(c) {
            for (t, w) in bw.iter_mut().enumerate() {
                *w = params[(N_FEATURES + t, k)] as f32;
            }
        }
        bias[c] = intercept[k] as f32;
    }
    Ok(Linear {
        mean: mean.iter().map(|&v| v as f32).collect(),
        scale: scale.iter().map(|&v| v as f32).collect(),
        weights,
        bias,
        subclass_of,
        bin_edges,
        bin_weights,
    })
}

/// How the examples of a class are split into sub-classes (see [`fit_linear_subclasses`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// [`kmeans`] on the standardised features.
    KMeans,
    /// Equal-count bands of motion intensity (`log_energy`), lowest first.
    Energy,
}

/// Sub-class labels for examples `pts` (standardised) of classes `labels`: class `c`'s examples are split into up to
/// `subclasses[c]` sub-classes by `split`. Returns each example's sub-class and each sub-class's class; sub-class ids
/// are grouped by class, in class order, and empty clusters are dropped. Deterministic.
pub fn assign_subclasses(
    pts: &[FeatureVector],
    labels: &[usize],
    subclasses: &[usize; N_CLASSES],
    split: Split,
    seed: u64,
) -> (Vec<usize>, Vec<u8>) {
    let mut sub = vec![0usize; labels.len()];
    let mut subclass_of: Vec<u8> = Vec::with_capacity(MAX_SUBCLASSES);
    for (c, &k) in subclasses.iter().enumerate() {
        let members: Vec<usize> = (0..labels.len()).filter(|&r| labels[r] == c).collect();
        let class_pts: Vec<FeatureVector> = members.iter().map(|&r| pts[r]).collect();
        let assign = match split {
            Split::KMeans => {
                kmeans(&class_pts, k, seed ^ (0xC1A5_5000u64 + c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
            }
            Split::Energy => quantile_bands(&class_pts, LOG_ENERGY, k),
        };
        let first = subclass_of.len();
        let n_clusters = assign.iter().max().map_or(1, |m| m + 1);
        subclass_of.extend(std::iter::repeat_n(c as u8, n_clusters));
        for (&r, &a) in members.iter().zip(&assign) {
            sub[r] = first + a;
        }
    }
    (sub, subclass_of)
}

/// Splits `pts` into `k` bands of (nearly) equal count by feature `j`, lowest first (ties by position); bands that
/// end up empty are dropped, as in [`kmeans`].
fn quantile_bands(pts: &[FeatureVector], j: usize, k: usize) -> Vec<usize> {
    let n = pts.len();
    let k = k.clamp(1, n.max(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| pts[a][j].total_cmp(&pts[b][j]).then(a.cmp(&b)));
    let mut band = vec![0usize; n];
    for (rank, &i) in order.iter().enumerate() {
        band[i] = rank * k / n.max(1);
    }
    band
}

/// Deterministic k-means of `pts` into at most `k` clusters: k-means++ seeding from a [`SplitMix64`] seeded with
/// `seed`, then Lloyd iterations (at most 50) until no point moves. Returns each point's cluster, numbered `0..k'`
/// in order of first appearance with empty clusters removed (`k' <= k`; 1 when `k <= 1`, there are fewer than two
/// points, or all points coincide). Same points and seed, same clusters.
pub fn kmeans(pts: &[FeatureVector], k: usize, seed: u64) -> Vec<usize> {
    let n = pts.len();
    if k <= 1 || n < 2 {
        return vec![0; n];
    }
    let dist = |a: &FeatureVector, b: &[f64; N_FEATURES]| -> f64 {
        a.iter().zip(b).map(|(&u, &v)| (f64::from(u) - v).powi(2)).sum()
    };
    let as_f64 = |p: &FeatureVector| -> [f64; N_FEATURES] { std::array::from_fn(|j| f64::from(p[j])) };
    let mut rng = SplitMix64::new(seed);
    let mut centres: Vec<[f64; N_FEATURES]> = vec![as_f64(&pts[rng.below(n)])];
    let mut d2: Vec<f64> = pts.iter().map(|p| dist(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = d2.iter().sum();
        if !(total > 0.0 && total.is_finite()) {
            break;
        }
        let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut acc = 0.0;
        let mut pick = n - 1;
        for (i, &d) in d2.iter().enumerate() {
            acc += d;
            if acc > u {
                pick = i;
                break;
            }
        }
        let c = as_f64(&pts[pick]);
        for (d, p) in d2.iter_mut().zip(pts) {
            *d = d.min(dist(p, &c));
        }
        centres.push(c);
    }
    let nearest = |p: &FeatureVector, centres: &[[f64; N_FEATURES]]| -> usize {
        let mut best = (0usize, f64::INFINITY);
        for (i, c) in centres.iter().enumerate() {
            let d = dist(p, c);
            if d < best.1 {
                best = (i, d);
            }
        }
        best.0
    };
    let mut assign: Vec<usize> = pts.iter().map(|p| nearest(p, &centres)).collect();
    for _ in 0..50 {
        let mut sums = vec![[0.0f64; N_FEATURES]; centres.len()];
        let mut counts = vec![0usize; centres.len()];
        for (p, &a) in pts.iter().zip(&assign) {
            counts[a] += 1;
            for (s, &v) in sums[a].iter_mut().zip(p) {
                *s += f64::from(v);
            }
        }
        for ((c, s), &m) in centres.iter_mut().zip(&sums).zip(&counts) {
            if m > 0 {
                *c = s.map(|v| v / m as f64);
            }
        }
        let next: Vec<usize> = pts.iter().map(|p| nearest(p, &centres)).collect();
        if next == assign {
            break;
        }
        assign = next;
    }
    // Renumber in order of first appearance, dropping empty clusters.
    let mut id = vec![usize::MAX; centres.len()];
    let mut next_id = 0;
    for a in assign.iter_mut() {
        if id[*a] == usize::MAX {
            id[*a] = next_id;
            next_id += 1;
        }
        *a = id[*a];
    }
    assign
}

/// Fits the family `opts` chooses. `groups` names each example's source (e.g. its dataset): the linear model spreads
/// each class's draws over them (`opts.balance`, see [`fit_linear_grouped`]) and takes the shape `shape` (pieces per
/// class, step terms, penalty; see [`fit_linear_subclasses`]); the forest draws per class only (it is the compared
/// family, not the shipped one).
pub fn fit(
    x: &[FeatureVector],
    y: &[usize],
    groups: &[u32],
    opts: &TrainOptions,
    shape: &Pieces,
) -> Result<Classifier, TrainError> {
    let p = &opts.params;
    Ok(match opts.family {
        Family::Forest => Classifier::Forest(fit_forest(x, y, p)?),
        Family::Linear => {
            Classifier::Linear(fit_linear_subclasses(x, y, groups, opts.balance, p.per_class, shape, p.seed)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Separable blobs, one per class, on two features (a mechanics test, not training data).
    fn blobs() -> (Vec<FeatureVector>, Vec<usize>) {
        let mut rng = SplitMix64::new(1);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..1000 {
            let c = i % N_CLASSES;
            let mut f = [0.0f32; N_FEATURES];
            for v in f.iter_mut() {
                *v = (rng.below(1000) as f32) / 1000.0;
            }
            f[0] = c as f32 * 2.0 + (rng.below(100) as f32) / 100.0;
            f[5] = (c % 2) as f32 * 3.0 + (rng.below(100) as f32) / 100.0;
            x.push(f);
            y.push(c);
        }
        (x, y)
    }

    #[test]
    fn forest_learns_and_is_deterministic() {
        let (x, y) = blobs();
        let p = ForestParams { trees: 8, per_class: 200, feature_fraction: 1.0, ..Default::default() };
        let f = fit_forest(&x, &y, &p).unwrap();
        let correct = x.iter().zip(&y).filter(|(xi, &yi)| {
            let pr = f.predict(xi);
            pr.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 == yi
        });
        assert!(correct.count() > 970);
        assert_eq!(f, fit_forest(&x, &y, &p).unwrap(), "same data and seed, same forest");
        let other = fit_forest(&x, &y, &ForestParams { seed: 8, ..p.clone() }).unwrap();
        assert_ne!(f, other);
    }

    #[test]
    fn linear_learns() {
        let (x, y) = blobs();
        let l = fit_linear(&x, &y, 200, 3).unwrap();
        let correct = x.iter().zip(&y).filter(|(xi, &yi)| {
            let pr = l.predict(xi);
            pr.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 == yi
        });
        assert!(correct.count() > 850);
    }

    /// Classes that take turns along feature 0 (still for x < 1, walking for 1..2, still again for 2..3, and so on):
    /// no linear function of the feature separates them, a step function of it does.
    fn interleaved() -> (Vec<FeatureVector>, Vec<usize>) {
        let mut rng = SplitMix64::new(4);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..2000 {
            let mut f = [0.0f32; N_FEATURES];
            for v in f.iter_mut() {
                *v = (rng.below(1000) as f32) / 1000.0;
            }
            let band = i % 8;
            f[0] = band as f32 + (rng.below(1000) as f32) / 1000.0;
            x.push(f);
            // Bands alternate between classes 0 and 1; the other classes sit apart on feature 3.
            let c = if band % 2 == 0 { 0 } else { 1 };
            y.push(c);
        }
        for i in 0..600 {
            let mut f = [0.0f32; N_FEATURES];
            for v in f.iter_mut() {
                *v = (rng.below(1000) as f32) / 1000.0;
            }
            let c = 2 + i % 3;
            // Spread over the same range of feature 0, so its quantiles fall on the bands' borders.
            f[0] = (rng.below(8000) as f32) / 1000.0;
            f[3] = 5.0 * c as f32;
            x.push(f);
            y.push(c);
        }
        (x, y)
    }

    fn accuracy(l: &Linear, x: &[FeatureVector], y: &[usize]) -> f64 {
        let correct = x.iter().zip(y).filter(|(xi, &yi)| {
            let p = l.predict(xi);
            p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|m| m.0) == Some(yi)
        });
        correct.count() as f64 / y.len() as f64
    }

    #[test]
    fn binned_terms_learn_what_a_line_cannot() {
        let (x, y) = interleaved();
        let g = vec![0u32; y.len()];
        let plain = fit_linear_subclasses(&x, &y, &g, 1.0, 400, &Pieces::ONE, 3).unwrap();
        let shape = Pieces { bins: 8, alpha: 1.0, ..Pieces::ONE };
        let binned = fit_linear_subclasses(&x, &y, &g, 1.0, 400, &shape, 3).unwrap();
        assert!(plain.bin_edges.is_empty() && plain.bin_weights.is_empty());
        assert_eq!(binned.bin_edges.len(), N_FEATURES);
        assert!(binned.bin_edges.iter().all(|e| e.len() <= 7 && e.windows(2).all(|w| w[0] < w[1])));
        assert_eq!(binned.bin_weights.len(), binned.subclass_of.len());
        assert!(binned.bin_weights.iter().all(|w| w.len() == binned.n_bins()));
        let (a_plain, a_binned) = (accuracy(&plain, &x, &y), accuracy(&binned, &x, &y));
        // Measured: 0.67 and 0.90 (the quantile edges of 2000 draws fall near, not on, the bands' borders).
        assert!(a_plain < 0.75, "a line cannot separate alternating bands: {a_plain}");
        assert!(a_binned > 0.85, "steps can: {a_binned}");
        assert_eq!(binned, fit_linear_subclasses(&x, &y, &g, 1.0, 400, &shape, 3).unwrap(), "deterministic");
    }

    #[test]
    fn quantile_edges_are_strictly_increasing_and_bounded() {
        let mut v: Vec<f32> = (0..100).map(|i| (i % 10) as f32).collect();
        let e = quantile_edges(&mut v, 4);
        assert_eq!(e, vec![2.0, 5.0, 7.0]);
        let mut same = vec![1.0f32; 50];
        assert_eq!(quantile_edges(&mut same, 8), vec![1.0], "repeated values give one edge, not seven equal ones");
        let mut many: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        assert_eq!(quantile_edges(&mut many, MAX_BIN_EDGES + 1).len(), MAX_BIN_EDGES);
        let (x, y) = interleaved();
        let g = vec![0u32; y.len()];
        for bad in [Pieces { bins: MAX_BIN_EDGES + 2, ..Pieces::ONE }, Pieces { alpha: f64::NAN, ..Pieces::ONE }] {
            let r = fit_linear_subclasses(&x, &y, &g, 1.0, 50, &bad, 3);
            assert!(matches!(r, Err(TrainError::InvalidParam(_))), "{r:?}");
        }
        assert!(quantile_edges(&mut [], 8).is_empty());
    }

    #[test]
    fn grouped_linear_is_deterministic_and_checks_its_inputs() {
        let (x, y) = blobs();
        // Two sources of very different size per class.
        let g: Vec<u32> = (0..y.len()).map(|i| u32::from(i % 7 == 0)).collect();
        let a = fit_linear_grouped(&x, &y, &g, 0.5, 200, 3).unwrap();
        assert_eq!(a, fit_linear_grouped(&x, &y, &g, 0.5, 200, 3).unwrap(), "same data and seed, same model");
        assert_ne!(a, fit_linear_grouped(&x, &y, &g, 0.0, 200, 3).unwrap(), "the balance changes the draws");
        // Balance 1 is the plain class-balanced fit.
        assert_eq!(fit_linear_grouped(&x, &y, &g, 1.0, 200, 3).unwrap(), fit_linear(&x, &y, 200, 3).unwrap());
        assert!(fit_linear_grouped(&x, &y, &g, 1.5, 200, 3).is_err());
        assert!(fit_linear_grouped(&x, &y, &g[..10], 0.5, 200, 3).is_err());
    }

    #[test]
    fn kmeans_finds_separated_groups_deterministically() {
        let mut rng = SplitMix64::new(4);
        let mut pts = Vec::new();
        for i in 0..300 {
            let mut p = [0.0f32; N_FEATURES];
            for v in p.iter_mut() {
                *v = rng.below(1000) as f32 / 1000.0;
            }
            p[3] += 10.0 * (i % 3) as f32;
            pts.push(p);
        }
        let a = kmeans(&pts, 3, 11);
        assert_eq!(a, kmeans(&pts, 3, 11), "same points and seed, same clusters");
        // The three groups are found exactly (cluster ids in order of first appearance).
        for (i, &c) in a.iter().enumerate() {
            assert_eq!(c, a[i % 3]);
        }
        assert_eq!(a[..3], [0, 1, 2]);
        assert!(kmeans(&pts, 1, 11).iter().all(|&c| c == 0));
        // Coinciding points give one cluster, whatever k.
        assert!(kmeans(&vec![pts[0]; 50], 4, 1).iter().all(|&c| c == 0));
        assert!(kmeans(&[], 3, 1).is_empty());
    }

    #[test]
    fn subclassed_linear_is_deterministic_and_maps_back() {
        let (x, y) = blobs();
        let g: Vec<u32> = (0..y.len()).map(|i| u32::from(i % 7 == 0)).collect();
        // One piece per class is exactly the plain model.
        assert_eq!(
            fit_linear_subclasses(&x, &y, &g, 0.5, 200, &Pieces::ONE, 3).unwrap(),
            fit_linear_grouped(&x, &y, &g, 0.5, 200, 3).unwrap()
        );
        let split = Pieces { per_class: [2, 1, 1, 1, 3], split: Split::KMeans, ..Pieces::ONE };
        let a = fit_linear_subclasses(&x, &y, &g, 0.5, 200, &split, 3).unwrap();
        assert_eq!(a, fit_linear_subclasses(&x, &y, &g, 0.5, 200, &split, 3).unwrap(), "same data, same model");
        assert_eq!(a.subclass_of, vec![0, 0, 1, 2, 3, 4, 4, 4]);
        assert_eq!((a.weights.len(), a.bias.len()), (8, 8));
        let correct = x.iter().zip(&y).filter(|(xi, &yi)| {
            let pr = a.predict(xi);
            assert!((pr.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            pr.iter().enumerate().max_by(|p, q| p.1.total_cmp(q.1)).unwrap().0 == yi
        });
        assert!(correct.count() > 850);
        assert!(fit_linear_subclasses(&x, &y, &g, 0.5, 200, &Pieces { per_class: [1, 1, 0, 1, 1], ..Pieces::ONE }, 3)
            .is_err());
        // Every example's sub-class belongs to its own class, whichever split.
        for split in [Split::KMeans, Split::Energy] {
            let (sub, map) = assign_subclasses(&x, &y, &[2, 3, 1, 2, 3], split, 3);
            assert_eq!(map, vec![0, 0, 1, 1, 1, 2, 3, 3, 4, 4, 4]);
            assert!(sub.iter().zip(&y).all(|(&s, &c)| usize::from(map[s]) == c));
            assert_eq!((sub.clone(), map.clone()), assign_subclasses(&x, &y, &[2, 3, 1, 2, 3], split, 3));
        }
        // Energy bands: equal counts, ordered by log_energy.
        let (sub, _) = assign_subclasses(&x, &y, &[1, 1, 1, 1, 2], Split::Energy, 3);
        let other: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 4).collect();
        let low = other.iter().filter(|&&i| sub[i] == 4).count();
        assert_eq!(low, other.len() / 2);
        let max_low = other.iter().filter(|&&i| sub[i] == 4).map(|&i| x[i][LOG_ENERGY]).fold(f32::MIN, f32::max);
        assert!(other.iter().filter(|&&i| sub[i] == 5).all(|&i| x[i][LOG_ENERGY] >= max_low));
        assert!(fit_linear_subclasses(&x, &y, &g, 0.5, 200, &Pieces { per_class: [4, 4, 4, 4, 1], ..Pieces::ONE }, 3)
            .is_err());
    }

    #[test]
    fn exclusions_drop_only_the_named_sessions() {
        let meta = |dataset: &str, subject: &str, session: &str| TraceMeta {
            dataset: dataset.into(),
            subject: subject.into(),
            session: session.into(),
            source: String::new(),
            gravity_removed: false,
        };
        let w = "wisdm2019_phone_accel";
        assert!(!learned_from(&meta(w, "1637", "F"), EXCLUSIONS));
        assert!(!learned_from(&meta(w, "1640", "K-2"), EXCLUSIONS));
        // Their sitting, standing and walking are learned from; other subjects' hand activities too.
        assert!(learned_from(&meta(w, "1637", "D"), EXCLUSIONS));
        assert!(learned_from(&meta(w, "1637", "A"), EXCLUSIONS));
        assert!(learned_from(&meta(w, "1600", "F"), EXCLUSIONS));
        assert!(learned_from(&meta("motionsense", "1637", "F"), EXCLUSIONS));
        assert!(learned_from(&meta(w, "1637", "F"), &[]));
    }

    #[test]
    fn a_model_without_windows_is_an_error_that_names_the_classifier() {
        let err = build_model(std::iter::empty(), &TrainOptions::default(), String::new()).unwrap_err().to_string();
        assert!(err.starts_with("not enough training windows: the dense classifier (windows at "), "{err}");
        assert!(err.ends_with("class counts [0, 0, 0, 0, 0]"), "{err}");
        let nested = TrainError::InvalidParam("x".into()).within("inner").within("outer").to_string();
        assert_eq!(nested, "invalid training parameter: outer: inner: x");
    }

    #[test]
    fn bad_params_and_inputs_are_errors() {
        let (x, y) = blobs();
        assert!(fit_forest(&x, &y, &ForestParams { trees: 0, ..Default::default() }).is_err());
        assert!(fit_forest(&x, &y[..10], &ForestParams::default()).is_err());
        let mut bad = x.clone();
        bad[3][2] = f32::NAN;
        assert!(fit_forest(&bad, &y, &ForestParams::default()).is_err());
        assert!(fit_forest(&x, &vec![9; y.len()], &ForestParams::default()).is_err());
    }

    #[test]
    fn draws_folds_and_subclass_counts_out_of_range_are_errors_not_aborts() {
        let (x, y) = blobs();
        let g = vec![0u32; y.len()];
        for per_class in [0, MAX_DRAWS_PER_CLASS + 1, usize::MAX] {
            let p = ForestParams { per_class, ..Default::default() };
            assert!(matches!(p.check(), Err(TrainError::InvalidParam(_))), "{per_class}");
            // The linear fit refuses them itself (--sweep and library callers may not call check()).
            let r = fit_linear_subclasses(&x, &y, &g, 1.0, per_class, &Pieces::ONE, 3);
            assert!(matches!(r, Err(TrainError::InvalidParam(_))), "{per_class}");
        }
        assert!(ForestParams { per_class: MAX_DRAWS_PER_CLASS, ..Default::default() }.check().is_ok());
        // Counts whose sum overflows usize: an error, not a wrapped sum that passes the check.
        let huge = Pieces { per_class: [usize::MAX, 2, 1, 1, 1], ..Pieces::ONE };
        assert!(matches!(fit_linear_subclasses(&x, &y, &g, 1.0, 50, &huge, 3), Err(TrainError::InvalidParam(_))));
        assert!(check_folds(2, 2, Grouping::Subject).is_ok());
        for (k, groups) in [(0, 5), (1, 5), (6, 5), (usize::MAX, 5), (2, 1)] {
            assert!(
                matches!(check_folds(k, groups, Grouping::Dataset), Err(TrainError::InvalidParam(_))),
                "{k} of {groups}"
            );
        }
    }

    #[test]
    fn dataset_folds_never_split_a_dataset_and_subject_folds_never_split_a_subject() {
        let meta = |d: &str, s: &str| TraceMeta {
            dataset: d.into(),
            subject: s.into(),
            session: "x".into(),
            source: String::new(),
            gravity_removed: false,
        };
        // Subject ids repeat across datasets (`1` in both): subject grouping must still tell them apart.
        let traces = [meta("a", "1"), meta("a", "2"), meta("a", "3"), meta("b", "1"), meta("b", "4"), meta("c", "1")];
        for (grouping, k) in [(Grouping::Dataset, 3), (Grouping::Subject, 6), (Grouping::Subject, 2)] {
            let mut sizes = BTreeMap::new();
            for m in &traces {
                *sizes.entry(grouping.key(m)).or_insert(0usize) += 10;
            }
            let folds = assign_folds(&sizes, k);
            let fold_of = |m: &TraceMeta| folds[&grouping.key(m)];
            for x in &traces {
                for y in &traces {
                    let same_group = match grouping {
                        Grouping::Dataset => x.dataset == y.dataset,
                        Grouping::Subject => x.dataset == y.dataset && x.subject == y.subject,
                    };
                    if same_group {
                        assert_eq!(fold_of(x), fold_of(y), "{grouping:?}: {x:?} / {y:?}");
                    }
                }
            }
            let used: std::collections::BTreeSet<usize> = traces.iter().map(fold_of).collect();
            assert_eq!(used.len(), k, "{grouping:?}: every fold holds a group");
        }
        // One fold per dataset: leave-one-dataset-out.
        let mut sizes = BTreeMap::new();
        for m in &traces {
            *sizes.entry(Grouping::Dataset.key(m)).or_insert(0usize) += 1;
        }
        let folds = assign_folds(&sizes, 3);
        let distinct: std::collections::BTreeSet<usize> = folds.values().copied().collect();
        assert_eq!(distinct.len(), 3);
        assert_ne!(Grouping::Subject.key(&traces[0]), Grouping::Subject.key(&traces[3]));
    }
}

// ---------------------------------------------------------------------------------------------------------------
// From traces to a model, and subject-grouped cross-validation.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::eval::{assign_folds, Confusion};
use crate::features::{FEATURE_NAMES, SCHEMA_VERSION};
use crate::model::{Model, ModelFile, CLASS_NAMES};
use crate::offline::{self, DecisionRecord, TraceSampleError, WindowRecord};
use crate::pipeline::PipelineConfig;
use crate::sample::Label;
use crate::trace::{Trace, TraceMeta};

/// How a trace's windows came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// The recording as read.
    Natural,
    /// Gravity removed (as some sources do), for training only.
    GravityRemoved,
    /// Resampled to irregular low-rate timing, for training the sparse classifier.
    Sparse,
    /// Decimated to a lower regular rate, for training only.
    Decimated,
}

/// The windows of one trace (or of one augmented copy of it).
#[derive(Debug, Clone)]
pub struct TraceWindows {
    /// The trace's origin.
    pub meta: TraceMeta,
    /// Time of the trace's first sample (for decision times).
    pub t0_ns: i64,
    /// Which copy this is.
    pub variant: Variant,
    /// The windows.
    pub windows: Vec<WindowRecord>,
}

/// Options of a training run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TrainOptions {
    /// Model family.
    pub family: Family,
    /// Forest / sampling parameters.
    pub params: ForestParams,
    /// Windows at or above this input rate use the dense classifier.
    pub dense_rate_hz: f32,
    /// Windows below this input rate get no decision.
    pub min_rate_hz: f32,
    /// Minimum fraction of a window's samples carrying its majority label for it to be a training example.
    pub min_purity: f32,
    /// Add augmented copies (gravity removed, sparse, decimated) to the training data.
    pub augment: bool,
    /// Weight of the sparse expert on full-rate windows' slow views (see `Model::predict`).
    pub slow_weight: f32,
    /// Weight of the sparse expert for the transit class on full-rate windows (see `Model::predict`).
    pub transit_slow_weight: f32,
    /// Floor on each expert's probabilities before they are combined (see `ModelFile::expert_floor`).
    pub expert_floor: f32,
    /// How the linear model's draws of a class are spread over the datasets holding it: a dataset with `n`
    /// windows of the class gets a share proportional to `n^balance` (1: proportional to its windows, so the
    /// largest source defines the class; 0: every dataset alike, so a 40-window source counts as much as a
    /// 10 000-window one). See [`fit_linear_grouped`].
    pub balance: f32,
    /// Recordings never learned from (cross-validation still scores them): see [`learned_from`].
    pub exclusions: &'static [Exclusion],
    /// Linear pieces (sub-classes) per class of the dense linear classifier (see [`fit_linear_subclasses`]).
    pub dense_subclasses: [usize; N_CLASSES],
    /// Linear pieces per class of the sparse linear classifier.
    pub sparse_subclasses: [usize; N_CLASSES],
    /// How a class's examples are split into its linear pieces.
    pub subclass_split: Split,
    /// Bins per feature of the dense linear classifier's step terms (0: none; see [`Linear::bin_edges`]).
    pub dense_bins: usize,
    /// Bins per feature of the sparse linear classifier's step terms.
    pub sparse_bins: usize,
    /// L2 penalty of the dense linear fit.
    pub dense_alpha: f64,
    /// L2 penalty of the sparse linear fit.
    pub sparse_alpha: f64,
    /// How cross-validation groups its folds (training itself does not use it).
    pub grouping: Grouping,
}

/// A set of recordings kept for scoring but not learned from: the sessions of `subjects` in `dataset` whose session
/// id starts with one of `session_prefixes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Exclusion {
    /// Dataset folder name.
    pub dataset: &'static str,
    /// Subject ids.
    pub subjects: &'static [&'static str],
    /// Session id prefixes (WISDM session ids are activity codes, with `-2`, `-3` for repeated blocks).
    pub session_prefixes: &'static [&'static str],
    /// Why, for the model card and reviewers.
    pub reason: &'static str,
}

/// The default [`TrainOptions::exclusions`]. WISDM 2019 subjects 1637, 1638 and 1640 (the three files logged at
/// exactly 50.0 ms, a different device from the rest) read like a sensor on the hand, not a phone in a pocket:
/// their clapping has a window magnitude standard deviation of 5.0 m/s^2 (0.12 for the other subjects), brushing
/// teeth 1.7 (0.09), typing, writing and eating 0.8-1.1 (0.04-0.05), while their walking has less energy than the
/// other subjects'. Their seated hand activities (typing, writing, eating, drinking: labelled still, since the
/// person is still) therefore carry the hand's motion, which is what `other` (brushing teeth, clapping, folding)
/// looks like; learned as still, they teach the model that vigorous hand motion is stillness. Their sitting,
/// standing and locomotion are kept: those labels and signals agree.
pub const EXCLUSIONS: &[Exclusion] = &[Exclusion {
    dataset: "wisdm2019_phone_accel",
    subjects: &["1637", "1638", "1640"],
    session_prefixes: &["F", "Q", "H", "I", "J", "K", "L"],
    reason: "seated hand activities recorded with the sensor on the hand",
}];

/// Whether a training run with these exclusions learns from the recording `meta`.
pub fn learned_from(meta: &TraceMeta, exclusions: &[Exclusion]) -> bool {
    !exclusions.iter().any(|e| {
        e.dataset == meta.dataset
            && e.subjects.contains(&meta.subject.as_str())
            && e.session_prefixes.iter().any(|p| meta.session.starts_with(p))
    })
}

impl TrainOptions {
    /// The dense linear classifier's shape: its pieces, their split, its step terms and its penalty.
    pub fn dense_shape(&self) -> Pieces {
        Pieces {
            per_class: self.dense_subclasses,
            split: self.subclass_split,
            bins: self.dense_bins,
            alpha: self.dense_alpha,
        }
    }

    /// The sparse linear classifier's shape.
    pub fn sparse_shape(&self) -> Pieces {
        Pieces {
            per_class: self.sparse_subclasses,
            split: self.subclass_split,
            bins: self.sparse_bins,
            alpha: self.sparse_alpha,
        }
    }
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            family: Family::Linear,
            params: ForestParams::default(),
            dense_rate_hz: 8.0,
            min_rate_hz: 1.0,
            min_purity: 0.7,
            augment: true,
            slow_weight: 0.5,
            transit_slow_weight: 0.9,
            expert_floor: 0.02,
            balance: 0.5,
            exclusions: EXCLUSIONS,
            dense_subclasses: [1, 1, 1, 1, 2],
            sparse_subclasses: [1, 1, 1, 1, 3],
            subclass_split: Split::Energy,
            dense_bins: 8,
            sparse_bins: 0,
            dense_alpha: 1.0,
            sparse_alpha: 1e-3,
            grouping: Grouping::Subject,
        }
    }
}

fn trace_hash(meta: &TraceMeta) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in meta.name().bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Computes the windows of every trace, plus augmented copies when `augment` is set (deterministic per trace).
pub fn windows_for(
    traces: &[Trace],
    config: &PipelineConfig,
    augment: bool,
) -> Result<Vec<TraceWindows>, TraceSampleError> {
    let per_trace: Vec<Result<Vec<TraceWindows>, TraceSampleError>> = traces
        .par_iter()
        .map(|t| {
            let t0_ns = t.samples.first().map_or(0, |s| s.t_ns);
            let mut out = vec![TraceWindows {
                meta: t.meta.clone(),
                t0_ns,
                variant: Variant::Natural,
                windows: offline::featurize_for_training(t, config)?,
            }];
            if augment && t.is_labelled() {
                let h = trace_hash(&t.meta);
                let mut rng = SplitMix64::new(h);
                let dense = t.mean_rate_hz() >= 8.0;
                if dense {
                    let hz = 1.5 + (rng.below(1000) as f64 / 1000.0) * 4.5;
                    let sparse = offline::sparsify(t, hz, h);
                    out.push(TraceWindows {
                        meta: t.meta.clone(),
                        t0_ns,
                        variant: Variant::Sparse,
                        windows: offline::featurize_for_training(&sparse, config)?,
                    });
                }
                if !t.meta.gravity_removed && h % 3 == 0 {
                    let g = offline::remove_gravity(t);
                    out.push(TraceWindows {
                        meta: t.meta.clone(),
                        t0_ns,
                        variant: Variant::GravityRemoved,
                        windows: offline::featurize_for_training(&g, config)?,
                    });
                }
                if dense && t.mean_rate_hz() > 25.0 && h % 3 == 1 {
                    let hz = 10.0 + (rng.below(1000) as f64 / 1000.0) * 15.0;
                    // hz is in 10..25 Hz, always a valid decimation rate.
                    if let Ok(d) = offline::decimate(t, hz) {
                        out.push(TraceWindows {
                            meta: t.meta.clone(),
                            t0_ns,
                            variant: Variant::Decimated,
                            windows: offline::featurize_for_training(&d, config)?,
                        });
                    }
                }
            }
            Ok(out)
        })
        .collect();
    let mut all = Vec::new();
    for r in per_trace {
        all.extend(r?);
    }
    Ok(all)
}

/// One classifier's training examples: features, classes and dataset groups.
#[derive(Default)]
struct Set {
    x: Vec<FeatureVector>,
    y: Vec<usize>,
    g: Vec<u32>,
}

impl Set {
    fn push(&mut self, x: &FeatureVector, y: usize, g: u32) {
        self.x.push(*x);
        self.y.push(y);
        self.g.push(g);
    }
}

/// Training examples of the four classifiers: split by input rate, and seen with gravity or blind to it.
struct Examples {
    dense: Set,
    sparse: Set,
    free_dense: Set,
    free_sparse: Set,
}

fn examples<'a>(sets: impl Iterator<Item = &'a TraceWindows>, opts: &TrainOptions) -> Examples {
    let (mut dense, mut sparse, mut free_dense, mut free_sparse) =
        (Set::default(), Set::default(), Set::default(), Set::default());
    let mut datasets: BTreeMap<String, u32> = BTreeMap::new();
    for tw in sets {
        if !learned_from(&tw.meta, opts.exclusions) {
            continue;
        }
        let next = datasets.len() as u32;
        let g = *datasets.entry(tw.meta.dataset.clone()).or_insert(next);
        for w in &tw.windows {
            let Some((label, purity)) = w.truth else { continue };
            if !w.learnable {
                continue;
            }
            if purity < opts.min_purity || w.input_rate_hz < opts.min_rate_hz {
                continue;
            }
            // Label indices equal class indices: still, walking, running, transit, other.
            let c = label as usize;
            // The gravity-free pair learns every window as a source without gravity would show it; without the
            // blind features (windows not computed for training) it learns the windows that hold no gravity.
            let blind = match &w.gravity_blind {
                Some(b) => Some((&b[0], &b[1])),
                None if !w.holds_gravity => Some((&w.features, &w.slow_features)),
                None => None,
            };
            if w.input_rate_hz >= opts.dense_rate_hz {
                dense.push(&w.features, c, g);
                // The sparse expert also learns what full-rate motion looks like through a low-rate logger.
                if opts.slow_weight > 0.0 {
                    sparse.push(&w.slow_features, c, g);
                }
                if let Some((fv, slow)) = blind {
                    free_dense.push(fv, c, g);
                    if opts.slow_weight > 0.0 {
                        free_sparse.push(slow, c, g);
                    }
                }
            } else {
                sparse.push(&w.features, c, g);
                if let Some((fv, _)) = blind {
                    free_sparse.push(fv, c, g);
                }
            }
        }
    }
    Examples { dense, sparse, free_dense, free_sparse }
}

/// Trains a model on the given windows.
pub fn build_model<'a>(
    sets: impl Iterator<Item = &'a TraceWindows>,
    opts: &TrainOptions,
    trained_on: String,
) -> Result<Model, TrainError> {
    let e = examples(sets, opts);
    let full = format!("windows at {} Hz or more", opts.dense_rate_hz);
    let low = format!("windows below {} Hz", opts.dense_rate_hz);
    let dense = fit(&e.dense.x, &e.dense.y, &e.dense.g, opts, &opts.dense_shape())
        .map_err(|err| err.within(&format!("the dense classifier ({full})")))?;
    let sparse = fit(&e.sparse.x, &e.sparse.y, &e.sparse.g, opts, &opts.sparse_shape())
        .map_err(|err| err.within(&format!("the sparse classifier ({low})")))?;
    let free_dense = fit(&e.free_dense.x, &e.free_dense.y, &e.free_dense.g, opts, &opts.dense_shape())
        .map_err(|err| err.within(&format!("the gravity-free dense classifier ({full})")))?;
    let free_sparse = fit(&e.free_sparse.x, &e.free_sparse.y, &e.free_sparse.g, opts, &opts.sparse_shape())
        .map_err(|err| err.within(&format!("the gravity-free sparse classifier ({low})")))?;
    Model::new(ModelFile {
        schema_version: SCHEMA_VERSION,
        feature_names: FEATURE_NAMES.iter().map(|s| s.to_string()).collect(),
        classes: CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        // Class-balanced bootstraps make the leaves' probabilities posteriors under a uniform prior.
        class_priors: [1.0 / N_CLASSES as f32; N_CLASSES],
        trained_on,
        dense_rate_hz: opts.dense_rate_hz,
        min_rate_hz: opts.min_rate_hz,
        slow_weight: opts.slow_weight,
        transit_slow_weight: opts.transit_slow_weight,
        expert_floor: opts.expert_floor,
        dense,
        sparse,
        free_dense,
        free_sparse,
    })
    .map_err(|e| TrainError::InvalidParam(e.to_string()))
}

/// A summary of the training data for the model card: windows per dataset and class, subjects, hours.
pub fn describe(sets: &[TraceWindows]) -> String {
    use std::fmt::Write;
    let mut per: BTreeMap<String, ([usize; 5], std::collections::BTreeSet<String>)> = BTreeMap::new();
    for tw in sets.iter().filter(|t| t.variant == Variant::Natural) {
        let e = per.entry(tw.meta.dataset.clone()).or_default();
        e.1.insert(tw.meta.subject.clone());
        for w in &tw.windows {
            if let Some((l, _)) = w.truth {
                e.0[l as usize] += 1;
            }
        }
    }
    let mut s = String::new();
    for (d, (counts, subjects)) in &per {
        let _ = write!(s, "{d} ({} subjects): ", subjects.len());
        for (i, l) in Label::ALL.iter().enumerate() {
            let _ = write!(
                s,
                "{} {} ({:.2} h){}",
                l,
                counts[i],
                counts[i] as f64 * 2.5 / 3600.0,
                if i < 4 { ", " } else { "" }
            );
        }
        s.push('\n');
    }
    s
}

/// Results of a cross-validation.
#[derive(Debug, Clone, Default)]
pub struct CvResult {
    /// All folds together.
    pub overall: Confusion,
    /// Per dataset.
    pub per_dataset: BTreeMap<String, Confusion>,
    /// Per fold.
    pub per_fold: Vec<Confusion>,
    /// Every test trace's decisions (for reports and transition metrics).
    pub decisions: Vec<(TraceMeta, Vec<DecisionRecord>)>,
    /// For every decision in [`CvResult::decisions`], in the same order: the evidence the smoother was given, so
    /// that smoother settings can be replayed outside this crate.
    pub evidence: Vec<Vec<offline::WindowEvidence>>,
    /// Transition delays and spurious transitions, per dataset.
    pub transitions: BTreeMap<String, offline::TransitionStats>,
}

/// K-fold cross-validation grouped by subject (`dataset/subject`): each fold's model is trained on the other
/// folds' windows (natural and augmented) and scored, through the smoother, on the fold's `test` windows (natural,
/// or transformed by the caller to test robustness).
pub fn cross_validate(
    train_sets: &[TraceWindows],
    test_sets: &[TraceWindows],
    k: usize,
    opts: &TrainOptions,
    config: &PipelineConfig,
    progress: impl FnMut(usize),
) -> Result<CvResult, TrainError> {
    let mut all = cross_validate_many(train_sets, test_sets, k, opts, std::slice::from_ref(config), progress)?;
    all.pop().ok_or_else(|| TrainError::InvalidParam("no configuration".into()))
}

/// [`cross_validate`] for several pipeline (smoother) configurations at once: each fold's model is trained once
/// and replayed under every configuration (for tuning the smoother on the same folds).
pub fn cross_validate_many(
    train_sets: &[TraceWindows],
    test_sets: &[TraceWindows],
    k: usize,
    opts: &TrainOptions,
    configs: &[PipelineConfig],
    progress: impl FnMut(usize),
) -> Result<Vec<CvResult>, TrainError> {
    let jobs: Vec<(&[TraceWindows], &PipelineConfig)> = configs.iter().map(|c| (test_sets, c)).collect();
    cross_validate_jobs(train_sets, &jobs, k, opts, progress)
}

/// [`cross_validate`] for several test sets at once (the natural windows and transformed copies of them, for
/// robustness): each fold's model is trained once and scored on every set, so the result for each set is exactly
/// what [`cross_validate`] gives for it alone.
pub fn cross_validate_sets(
    train_sets: &[TraceWindows],
    test_sets: &[&[TraceWindows]],
    k: usize,
    opts: &TrainOptions,
    config: &PipelineConfig,
    progress: impl FnMut(usize),
) -> Result<Vec<CvResult>, TrainError> {
    let jobs: Vec<(&[TraceWindows], &PipelineConfig)> = test_sets.iter().map(|t| (*t, config)).collect();
    cross_validate_jobs(train_sets, &jobs, k, opts, progress)
}

/// The folds of [`cross_validate`], each fold's model trained once and scored by every (test set, configuration).
fn cross_validate_jobs(
    train_sets: &[TraceWindows],
    jobs: &[(&[TraceWindows], &PipelineConfig)],
    k: usize,
    opts: &TrainOptions,
    mut progress: impl FnMut(usize),
) -> Result<Vec<CvResult>, TrainError> {
    if k < 2 {
        return Err(TrainError::InvalidParam(format!("folds = {k} (at least 2)")));
    }
    let mut sizes: BTreeMap<String, usize> = BTreeMap::new();
    for tw in train_sets.iter().filter(|t| t.variant == Variant::Natural) {
        *sizes.entry(opts.grouping.key(&tw.meta)).or_default() += tw.windows.len();
    }
    check_folds(k, sizes.len(), opts.grouping)?;
    let folds = assign_folds(&sizes, k);
    let mut results = vec![CvResult::default(); jobs.len()];
    for fold in 0..k {
        let in_fold = |m: &TraceMeta| folds.get(&opts.grouping.key(m)) == Some(&fold);
        let model = Arc::new(
            build_model(train_sets.iter().filter(|t| !in_fold(&t.meta)), opts, format!("cross-validation fold {fold}"))
                .map_err(|e| {
                    let held = folds.values().filter(|&&f| f == fold).count();
                    e.within(&format!(
                        "cross-validation fold {} of {k} (trained on {} of {} {}s)",
                        fold + 1,
                        folds.len() - held,
                        folds.len(),
                        opts.grouping.noun()
                    ))
                })?,
        );
        for ((test_sets, config), result) in jobs.iter().zip(results.iter_mut()) {
            let mut conf = Confusion::default();
            for tw in test_sets.iter().filter(|t| in_fold(&t.meta)) {
                let replay = offline::replay_with_transitions(&tw.windows, tw.t0_ns, &model, config);
                result.transitions.entry(tw.meta.dataset.clone()).or_default().add(&replay.decisions, &replay.enters);
                conf.add_all(&replay.decisions);
                result.per_dataset.entry(tw.meta.dataset.clone()).or_default().add_all(&replay.decisions);
                result.decisions.push((tw.meta.clone(), replay.decisions));
                result.evidence.push(replay.evidence);
            }
            result.overall.merge(&conf);
            result.per_fold.push(conf);
        }
        progress(fold + 1);
    }
    Ok(results)
}
