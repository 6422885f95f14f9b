//! The motiongate command-line tool: classify, evaluate and train on recorded traces.
//!
//! Exit codes: 0 success, 2 usage or unreadable input (the message names the file, line and field).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use motiongate::datasets::{self, Source};
use motiongate::eval::{Confusion, Report};
use motiongate::offline::{self, DecisionRecord};
use motiongate::pipeline::PipelineConfig;
use motiongate::trace::{csv as trace_csv, Trace};
use motiongate::train::{self, Family, ForestParams, TrainOptions, Variant};
use motiongate::Model;

#[derive(Parser)]
#[command(name = "motiongate", version, about = "Consent-gated on-device activity classification: offline tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify recorded traces and print each one's activity timeline.
    Classify {
        /// Trace files (canonical CSV) or dataset folders.
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Model file (default: the embedded model).
        #[arg(long)]
        model: Option<PathBuf>,
    },
    /// Evaluate the model on labelled traces (files, or folders searched recursively).
    Eval {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Write the metrics as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Model file (default: the embedded model).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Decimate every trace to this rate first (robustness check).
        #[arg(long)]
        decimate: Option<f64>,
        /// Rotate every trace by a random fixed rotation from this seed first (robustness check).
        #[arg(long)]
        rotate: Option<u64>,
    },
    /// Train a model on labelled traces; with --folds, cross-validate grouped by subject first.
    Train {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Where to write the model.
        #[arg(long)]
        out: PathBuf,
        /// Run K-fold subject-grouped cross-validation and report it.
        #[arg(long)]
        folds: Option<usize>,
        /// Write the cross-validation metrics as JSON to this file.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Model family.
        #[arg(long, value_enum, default_value_t = FamilyArg::Forest)]
        family: FamilyArg,
        /// Number of trees.
        #[arg(long, default_value_t = ForestParams::default().trees)]
        trees: usize,
        /// Maximum tree depth.
        #[arg(long, default_value_t = ForestParams::default().max_depth)]
        max_depth: usize,
        /// Seed.
        #[arg(long, default_value_t = ForestParams::default().seed)]
        seed: u64,
        /// Decimate the test folds to this rate (robustness check).
        #[arg(long)]
        decimate: Option<f64>,
        /// Rotate each test trace by a random fixed rotation from this seed (robustness check).
        #[arg(long)]
        rotate: Option<u64>,
        /// Do not add augmented copies (gravity removed, sparse, decimated) to the training data.
        #[arg(long)]
        no_augment: bool,
        /// Write a model card (Markdown) here.
        #[arg(long)]
        card: Option<PathBuf>,
    },
    /// Convert any supported input to canonical trace CSVs.
    Convert {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FamilyArg {
    Forest,
    Linear,
}

/// A failure that ends the command with exit code 2.
struct Fail(String);

impl<E: std::fmt::Display> From<E> for Fail {
    fn from(e: E) -> Self {
        Fail(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify { traces, json, model } => classify(&traces, json, model.as_deref()),
        Command::Eval { paths, json, model, decimate, rotate } => {
            eval(&paths, json.as_deref(), model.as_deref(), decimate, rotate)
        }
        Command::Train {
            paths,
            out,
            folds,
            json,
            family,
            trees,
            max_depth,
            seed,
            decimate,
            rotate,
            no_augment,
            card,
        } => {
            let opts = TrainOptions {
                family: match family {
                    FamilyArg::Forest => Family::Forest,
                    FamilyArg::Linear => Family::Linear,
                },
                params: ForestParams { trees, max_depth, seed, ..ForestParams::default() },
                augment: !no_augment,
                ..TrainOptions::default()
            };
            train_cmd(&paths, &out, folds, json.as_deref(), &opts, decimate, rotate, card.as_deref())
        }
        Command::Convert { paths, out } => convert(&paths, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

fn load_model(path: Option<&Path>) -> Result<Arc<Model>, Fail> {
    match path {
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| Fail(format!("{}: {e}", p.display())))?;
            Ok(Arc::new(Model::from_bytes(&bytes).map_err(|e| Fail(format!("{}: {e}", p.display())))?))
        }
        None => Ok(Model::embedded()?),
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} {elapsed_precise}") {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(what.to_string());
    pb
}

/// Discovers and loads every trace under the given paths (in parallel over sources).
fn load_traces(paths: &[PathBuf]) -> Result<Vec<Trace>, Fail> {
    let mut sources: Vec<Source> = Vec::new();
    for p in paths {
        if !p.exists() {
            return Err(Fail(format!("{}: no such file or folder", p.display())));
        }
        sources.extend(datasets::discover(p)?);
    }
    if sources.is_empty() {
        return Err(Fail("no traces found under the given paths".into()));
    }
    let pb = progress(sources.len() as u64, "loading");
    let loaded: Vec<Result<Vec<Trace>, Fail>> = sources
        .par_iter()
        .map(|s| {
            let r = datasets::load_source(s).map_err(Fail::from);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    let mut out = Vec::new();
    for r in loaded {
        out.extend(r?);
    }
    Ok(out)
}

fn classify(paths: &[PathBuf], json: bool, model: Option<&Path>) -> Result<(), Fail> {
    let model = load_model(model)?;
    let traces = load_traces(paths)?;
    let cfg = PipelineConfig::default();
    let mut all = Vec::new();
    for t in &traces {
        let ds = offline::classify(t, model.clone(), &cfg)?;
        let tl = offline::timeline(&ds);
        if json {
            all.push(serde_json::json!({ "trace": t.meta.source, "name": t.meta.name(), "segments": tl }));
        } else {
            println!("{} ({:.1} s, {:.1} Hz)", t.meta.source, t.duration_s(), t.mean_rate_hz());
            println!("  {:>9} {:>9}  {:<8} {:>10}", "start_s", "end_s", "activity", "confidence");
            for s in &tl {
                println!("  {:>9.1} {:>9.1}  {:<8} {:>10.2}", s.start_s, s.end_s, s.activity.name(), s.mean_confidence);
            }
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(())
}

fn transform(t: &Trace, decimate: Option<f64>, rotate: Option<u64>) -> Trace {
    let mut t = match decimate {
        Some(hz) => offline::decimate(t, hz),
        None => t.clone(),
    };
    if let Some(seed) = rotate {
        t = offline::rotate(&t, seed);
    }
    t
}

fn eval(
    paths: &[PathBuf],
    json: Option<&Path>,
    model: Option<&Path>,
    decimate: Option<f64>,
    rotate: Option<u64>,
) -> Result<(), Fail> {
    let start = std::time::Instant::now();
    let model = load_model(model)?;
    let traces = load_traces(paths)?;
    let loaded = start.elapsed();
    let cfg = PipelineConfig::default();
    let pb = progress(traces.len() as u64, "classifying");
    let results: Vec<Result<(String, Vec<DecisionRecord>), Fail>> = traces
        .par_iter()
        .map(|t| {
            let t2 = transform(t, decimate, rotate);
            let r =
                offline::classify(&t2, model.clone(), &cfg).map(|d| (t.meta.dataset.clone(), d)).map_err(Fail::from);
            pb.inc(1);
            r
        })
        .collect();
    pb.finish_and_clear();
    let mut overall = Confusion::default();
    let mut per_dataset: BTreeMap<String, Confusion> = BTreeMap::new();
    for r in results {
        let (d, ds) = r?;
        overall.add_all(&ds);
        per_dataset.entry(d).or_default().add_all(&ds);
    }
    let report = overall.report();
    print!("{}", report.to_text());
    if per_dataset.len() > 1 {
        println!("per dataset:");
        for (d, c) in &per_dataset {
            let r = c.report();
            println!("  {:<26} macro-F1 {:.3}  accuracy {:.3}  decisions {}", d, r.macro_f1, r.accuracy, r.decisions);
        }
    }
    eprintln!(
        "{} traces in {:.2} s (reading {:.2} s, classifying {:.2} s)",
        traces.len(),
        start.elapsed().as_secs_f64(),
        loaded.as_secs_f64(),
        (start.elapsed() - loaded).as_secs_f64()
    );
    if let Some(path) = json {
        write_json(path, &report)?;
    }
    Ok(())
}

fn write_json(path: &Path, report: &Report) -> Result<(), Fail> {
    let text = serde_json::to_string_pretty(report)?;
    std::fs::write(path, text).map_err(|e| Fail(format!("{}: {e}", path.display())))
}

#[allow(clippy::too_many_arguments)]
fn train_cmd(
    paths: &[PathBuf],
    out: &Path,
    folds: Option<usize>,
    json: Option<&Path>,
    opts: &TrainOptions,
    decimate: Option<f64>,
    rotate: Option<u64>,
    card: Option<&Path>,
) -> Result<(), Fail> {
    opts.params.check()?;
    let start = std::time::Instant::now();
    let traces = load_traces(paths)?;
    let cfg = PipelineConfig::default();
    eprintln!("loaded {} traces in {:.1} s; computing features", traces.len(), start.elapsed().as_secs_f64());
    let sets = train::windows_for(&traces, &cfg, opts.augment)?;
    let description = train::describe(&sets);
    eprint!("{description}");
    let mut cv_text = String::new();
    if let Some(k) = folds {
        let test_sets = if decimate.is_some() || rotate.is_some() {
            let transformed: Vec<Trace> = traces.iter().map(|t| transform(t, decimate, rotate)).collect();
            train::windows_for(&transformed, &cfg, false)?
        } else {
            sets.iter().filter(|t| t.variant == Variant::Natural).cloned().collect()
        };
        let pb = progress(k as u64, "folds");
        let cv = train::cross_validate(&sets, &test_sets, k, opts, &cfg, |i| pb.set_position(i as u64))?;
        pb.finish_and_clear();
        let report = cv.overall.report();
        cv_text.push_str(&format!("## Cross-validation ({k} folds, grouped by subject)\n\n```\n{}", report.to_text()));
        cv_text.push_str("per dataset:\n");
        for (d, c) in &cv.per_dataset {
            let r = c.report();
            let f1 = |n: &str| {
                r.per_class.get(n).filter(|m| m.support > 0).map_or("    -".into(), |m| format!("{:.3}", m.f1))
            };
            cv_text.push_str(&format!(
                "  {:<26} macro-F1 {:.3}  acc {:.3}  F1 still {} walking {} running {} transit {}  n {}\n",
                d,
                r.macro_f1,
                r.accuracy,
                f1("still"),
                f1("walking"),
                f1("running"),
                f1("transit"),
                r.decisions
            ));
        }
        cv_text.push_str("```\n");
        print!("{cv_text}");
        if let Some(path) = json {
            write_json(path, &report)?;
        }
    }
    let n_natural = sets.iter().filter(|t| t.variant == Variant::Natural).count();
    let trained_on = format!(
        "{} traces ({} with augmented copies: {} window sets) from: {}",
        n_natural,
        if opts.augment { "plus" } else { "no" },
        sets.len(),
        description.lines().map(|l| l.split(' ').next().unwrap_or("")).collect::<Vec<_>>().join(", ")
    );
    let model = train::build_model(sets.iter(), opts, trained_on.clone())?;
    let bytes = model.to_bytes();
    std::fs::write(out, &bytes).map_err(|e| Fail(format!("{}: {e}", out.display())))?;
    eprintln!("wrote {} ({} bytes) in {:.1} s total", out.display(), bytes.len(), start.elapsed().as_secs_f64());
    if let Some(card) = card {
        let text = format!(
            "# motiongate default model\n\nFamily: {:?}; {} trees, depth <= {}, seed {}; feature schema {}; \
             dense classifier for input >= {} Hz, sparse below, no decision below {} Hz.\n\
             Size: {} bytes.\n\n## Data\n\n{}\n\nWindows per dataset and label (5-s windows, 2.5-s hop):\n\n```\n{}```\n\n{}",
            opts.family,
            opts.params.trees,
            opts.params.max_depth,
            opts.params.seed,
            motiongate::features::SCHEMA_VERSION,
            opts.dense_rate_hz,
            opts.min_rate_hz,
            bytes.len(),
            trained_on,
            description,
            cv_text
        );
        std::fs::write(card, text).map_err(|e| Fail(format!("{}: {e}", card.display())))?;
    }
    Ok(())
}

fn convert(paths: &[PathBuf], out: &Path) -> Result<(), Fail> {
    let traces = load_traces(paths)?;
    std::fs::create_dir_all(out).map_err(|e| Fail(format!("{}: {e}", out.display())))?;
    for t in &traces {
        let name = t.meta.name().replace(['/', '\\', ' '], "_") + ".csv";
        let path = out.join(name);
        let file = std::fs::File::create(&path).map_err(|e| Fail(format!("{}: {e}", path.display())))?;
        trace_csv::write_trace_csv(t, std::io::BufWriter::new(file))
            .map_err(|e| Fail(format!("{}: {e}", path.display())))?;
    }
    eprintln!("wrote {} traces to {}", traces.len(), out.display());
    Ok(())
}
