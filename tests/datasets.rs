//! Dataset readers against the real files in `../shared/data` (feature `offline`).
#![cfg(feature = "offline")]
#![forbid(unsafe_code)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use motiongate::datasets::{self, DatasetKind, LoadReport, Source};
use motiongate::trace::Trace;
use motiongate::{Label, Sample};

struct Stats {
    traces: usize,
    samples: usize,
    subjects: usize,
    /// Samples per label (None = unlabelled).
    per_label: BTreeMap<Option<Label>, usize>,
    /// Hours per label from sample intervals (each sample's interval to the next, within a trace).
    hours: BTreeMap<Option<Label>, f64>,
    gyro: usize,
}

fn stats(traces: &[Trace]) -> Stats {
    let mut per_label = BTreeMap::new();
    let mut hours = BTreeMap::new();
    let mut subjects = BTreeSet::new();
    let mut gyro = 0;
    for t in traces {
        subjects.insert(t.meta.subject.clone());
        for (i, s) in t.samples.iter().enumerate() {
            let l = t.labels.get(i).copied().flatten();
            *per_label.entry(l).or_insert(0) += 1;
            if let Some(n) = t.samples.get(i + 1) {
                *hours.entry(l).or_insert(0.0) += (n.t_ns - s.t_ns) as f64 / 3.6e12;
            }
            gyro += usize::from(s.gyro.is_some());
        }
    }
    Stats {
        traces: traces.len(),
        samples: traces.iter().map(|t| t.samples.len()).sum(),
        subjects: subjects.len(),
        per_label,
        hours,
        gyro,
    }
}

fn print(kind: DatasetKind, s: &Stats, r: &LoadReport) {
    println!(
        "{kind}: traces {} samples {} subjects {} gyro {} | labels {:?} | hours {:?} | skipped {} back {} rep {} dupes {} empty {}",
        s.traces,
        s.samples,
        s.subjects,
        s.gyro,
        s.per_label,
        s.hours.iter().map(|(k, v)| (k, (v * 1000.0).round() / 1000.0)).collect::<Vec<_>>(),
        r.skipped_lines,
        r.dropped_backwards,
        r.dropped_repeated,
        r.dropped_duplicate_recordings,
        r.files_without_trace
    );
}

fn load(kind: DatasetKind) -> Option<(Vec<Trace>, LoadReport, Stats)> {
    let root = common::shared_data_dir()?;
    let (t, r) = kind.load_with_report(&root.join(kind.folder_name())).unwrap();
    let s = stats(&t);
    print(kind, &s, &r);
    for tr in &t {
        assert_eq!(tr.meta.dataset, kind.folder_name());
        assert!(tr.labels.is_empty() || tr.labels.len() == tr.samples.len());
        assert!(tr.samples.windows(2).all(|w| w[0].t_ns < w[1].t_ns), "{}", tr.meta.name());
        assert!(tr.samples.iter().all(|s| s.check_values().is_ok()));
    }
    Some((t, r, s))
}

fn hours(s: &Stats, l: Option<Label>) -> f64 {
    s.hours.get(&l).copied().unwrap_or(0.0)
}

fn count(s: &Stats, l: Option<Label>) -> usize {
    s.per_label.get(&l).copied().unwrap_or(0)
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn hapt_kcc2020() {
    let Some((t, r, s)) = load(DatasetKind::HaptKcc2020) else { return };
    // README: 25 users, 51 recordings, 916,144 samples, ~5.1 h at 50 Hz.
    assert_eq!((s.traces, s.subjects, s.samples), (51, 25, 916_144));
    assert_eq!(s.gyro, 916_144);
    assert_eq!(count(&s, None), 241_824);
    assert_eq!(count(&s, Some(Label::Still)), 333_554);
    assert_eq!(count(&s, Some(Label::Walking)), 285_485);
    assert_eq!(count(&s, Some(Label::Other)), 55_281);
    assert!(close(s.hours.values().sum::<f64>(), 5.1, 0.05));
    assert!(t.iter().all(|x| (x.mean_rate_hz() - 50.0).abs() < 1e-6));
    assert_eq!(r.skipped_lines + r.dropped_backwards + r.dropped_repeated, 0);
    // Units: |a| ~ 9.8 m/s^2 while still.
    let still: Vec<f32> = t[0]
        .samples
        .iter()
        .zip(&t[0].labels)
        .filter(|(_, l)| **l == Some(Label::Still))
        .map(|(s, _)| s.accel.norm())
        .collect();
    let mean = still.iter().sum::<f32>() / still.len() as f32;
    assert!((mean - 9.8).abs() < 0.5, "{mean}");
    assert_eq!(t[0].meta.name(), "hapt_kcc2020/user01/rec1");
}

#[test]
fn basicmotions() {
    let Some((t, _r, s)) = load(DatasetKind::BasicMotions) else { return };
    // README: 80 cases x 100 samples at 10 Hz, 10 of each class per split, no subject ids.
    assert_eq!((s.traces, s.samples, s.subjects), (80, 8_000, 1));
    for l in [Label::Still, Label::Walking, Label::Running, Label::Other] {
        assert_eq!(count(&s, Some(l)), 2_000);
    }
    assert!(t.iter().all(|x| x.samples.len() == 100 && x.meta.gravity_removed && x.meta.subject == "all"));
    assert!(t.iter().all(|x| (x.mean_rate_hz() - 10.0).abs() < 1e-6));
    assert_eq!(t[0].meta.session, "TRAIN-0");
    assert_eq!(t[79].meta.session, "TEST-39");
    // ~10% of consecutive samples repeat the previous value: kept.
    let reps: usize = t.iter().map(|x| x.samples.windows(2).filter(|w| w[0].accel == w[1].accel).count()).sum();
    println!("basicmotions repeated consecutive accel values: {reps}");
    assert!(reps > 400 && reps < 1_200, "{reps}");
}

#[test]
fn us_transportation_tmd() {
    let Some((t, r, s)) = load(DatasetKind::UsTransportationTmd) else { return };
    // README: 6 users, 65 files; acc events per user/mode from its table, minus the 15 backward events dropped
    // (Claudio Car -7, andrea Train -4 -1 (+ the r2 line, which the README does not count), andreacasalena Car -3).
    assert_eq!((s.traces, s.subjects), (65, 6));
    assert_eq!((r.skipped_lines, r.dropped_backwards, r.dropped_repeated, r.files_without_trace), (1, 15, 0, 0));
    assert_eq!(s.samples, 153_303 - 15);
    let mut per: BTreeMap<(String, String), usize> = BTreeMap::new();
    for x in &t {
        let mode = x.meta.session.split('_').next().unwrap_or_default().to_string();
        *per.entry((x.meta.subject.clone(), mode)).or_default() += x.samples.len();
    }
    let expect: [(&str, &str, usize); 14] = [
        ("andrea", "Bus", 7_744),
        ("andrea", "Car", 19_016),
        ("andrea", "Train", 21_995 - 5),
        ("andrea", "Still", 18_066),
        ("andrea", "Walking", 24_767),
        ("AndreaCarpineti", "Car", 3_295),
        ("AndreaCarpineti", "Still", 10_260),
        ("AndreaCarpineti", "Walking", 33_411),
        ("Claudio", "Car", 9_861 - 7),
        ("IvanHeibi", "Car", 241),
        ("andreacasalena", "Car", 2_702 - 3),
        ("andreacasalena", "Still", 1_852),
        ("FrancescoP", "Car", 11),
        ("FrancescoP", "Still", 54),
    ];
    for (u, m, n) in expect {
        assert_eq!(per.get(&(u.to_string(), m.to_string())), Some(&n), "{u} {m}");
    }
    assert_eq!(per.get(&("FrancescoP".to_string(), "Train".to_string())), Some(&28));
    assert_eq!(count(&s, Some(Label::Transit)), 64_878);
    // Walking files: events where the phone is at rest are unlabelled (module doc), most of one file's.
    let unlabelled = |session: &str| {
        let x = t.iter().find(|x| x.meta.session == session).expect(session);
        (x.labels.iter().filter(|l| l.is_none()).count(), x.labels.len())
    };
    let (rest, n) = unlabelled("Walking_1481124283415");
    assert!(rest * 2 > n, "{rest} of {n}");
    let (rest, n) = unlabelled("Walking_1481128485906");
    assert!(rest * 50 < n, "{rest} of {n}");
    assert_eq!(count(&s, Some(Label::Walking)), 58_178 - 6_972);
    assert_eq!(count(&s, Some(Label::Still)), 30_232);
    // "~13 h span" in the README.
    let total: f64 = s.hours.values().sum();
    assert!(close(total, 13.26, 0.05), "{total}");
    assert_eq!(s.gyro, 10_296);
    // The corrupted "r2" line is reported with file and line.
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("sensorfile_andrea_Train_1480530298390.csv.gz:1:") && w.contains("r2")));
}

#[test]
fn sp_sw_har() {
    let Some((t, r, s)) = load(DatasetKind::SpSwHar) else { return };
    // README: 19 subjects, 183 executions x 2 devices = 366 files, ~35 min per device.
    assert_eq!((s.traces, s.subjects), (366, 19));
    let execs: BTreeSet<(String, String)> = t
        .iter()
        .map(|x| (x.meta.subject.clone(), x.meta.session.split('_').next().unwrap_or_default().to_string()))
        .collect();
    assert_eq!(execs.len(), 183);
    assert_eq!(s.samples, 415_523);
    assert_eq!(r.dropped_repeated, 19_343);
    assert_eq!(r.dropped_backwards, 0);
    assert_eq!(count(&s, Some(Label::Walking)), 267_614);
    assert_eq!(count(&s, Some(Label::Still)), 52_894);
    assert_eq!(count(&s, Some(Label::Other)), 95_015);
    let phone_h: f64 = t.iter().filter(|x| x.meta.session.ends_with("_sp")).map(|x| x.duration_s() / 3600.0).sum();
    let watch_h: f64 = t.iter().filter(|x| x.meta.session.ends_with("_sw")).map(|x| x.duration_s() / 3600.0).sum();
    println!("sp_sw_har phone {:.1} min, watch {:.1} min", phone_h * 60.0, watch_h * 60.0);
    assert!(close(phone_h * 60.0, 35.0, 2.0) && close(watch_h * 60.0, 35.0, 2.0));
}

#[test]
fn adeptdata_running() {
    let Some((t, _r, s)) = load(DatasetKind::AdeptdataRunning) else { return };
    // README: 150,000 rows per location, 100 Hz, 25.0 min. Running only where the hip shows it (module doc): the
    // standing start, five breaks and the walking and standing end are unlabelled, in both sensors alike.
    assert_eq!((s.traces, s.samples, s.subjects), (2, 300_000, 1));
    assert_eq!(t[0].meta.session, "left_hip");
    assert_eq!(t[1].meta.session, "left_ankle");
    assert_eq!(t[0].labels, t[1].labels);
    for x in &t {
        assert!((x.mean_rate_hz() - 100.0).abs() < 1e-3);
        assert!(close(x.duration_s(), 1_499.99, 1e-6));
        assert_eq!(x.samples[0].t_ns, 1_540_490_250_000_000_000);
    }
    let runs: Vec<(usize, usize)> = {
        let mut v = Vec::new();
        let mut start = None;
        for (i, l) in t[0].labels.iter().chain([None].iter()).enumerate() {
            match (l, start) {
                (Some(Label::Running), None) => start = Some(i),
                (None, Some(s0)) => {
                    v.push((s0, i));
                    start = None;
                }
                _ => {}
            }
        }
        v
    };
    println!("adeptdata runs (s): {:?}", runs.iter().map(|&(a, b)| (a / 100, b / 100)).collect::<Vec<_>>());
    // Six stretches of a minute or more (the restarts after breaks dip briefly), none in the first 2 s or the last
    // 60 s.
    assert_eq!(runs.iter().filter(|&&(a, b)| b - a >= 60 * 100).count(), 6, "{runs:?}");
    assert!(runs[0].0 >= 200 && runs[0].0 <= 400, "{runs:?}");
    assert!(runs.last().is_some_and(|r| r.1 <= 150_000 - 60 * 100), "{runs:?}");
    assert_eq!(count(&s, Some(Label::Running)), 221_200);
    assert_eq!(count(&s, None), 78_800);
}

#[test]
fn paris_metro_sensorlogger() {
    let Some((t, r, s)) = load(DatasetKind::ParisMetroSensorlogger) else { return };
    // README: 8 rides, ~79 min, one person; 2 rides with gravity-included files.
    assert_eq!((s.traces, s.subjects), (8, 1));
    assert_eq!(count(&s, Some(Label::Transit)), s.samples);
    assert_eq!(s.samples, 207_696);
    assert_eq!(r.dropped_backwards + r.dropped_repeated, 0);
    let minutes: f64 = t.iter().map(|x| x.duration_s() / 60.0).sum();
    assert!(close(minutes, 79.0, 1.5), "{minutes}");
    let with_g: Vec<&str> = t.iter().filter(|x| !x.meta.gravity_removed).map(|x| x.meta.session.as_str()).collect();
    assert_eq!(with_g.len(), 2, "{with_g:?}");
    assert!(t.iter().filter(|x| !x.meta.gravity_removed).all(|x| x.meta.source.contains("AccelerometerUncalibrated")));
    for x in &t {
        let mean = x.samples.iter().map(|s| s.accel.norm()).sum::<f32>() / x.samples.len() as f32;
        if x.meta.gravity_removed {
            assert!(mean < 2.0, "{} {mean}", x.meta.session);
        } else {
            assert!((mean - 9.9).abs() < 0.5, "{} {mean}", x.meta.session);
        }
    }
    // The rides without gravity brake and pull away at about 1 m/s^2 for 10-25 s, the slow magnitude of gravity
    // in g. They return to near 0 in between, so those windows are judged, not refused as acceleration in g (they
    // were, 16-26 per ride, before the refusal looked at the stream). At most a ride's first window, before it
    // has shown any linear acceleration, may be refused.
    let model = motiongate::Model::embedded().unwrap();
    for x in t.iter().filter(|x| x.meta.gravity_removed) {
        let c = motiongate::offline::classify_with_counts(x, model.clone(), &Default::default()).unwrap();
        let refused = c.windows_refused;
        println!("{}: {} windows, refused {refused:?}", x.meta.session, c.windows);
        assert!(c.windows > 150 && refused.total() <= 1, "{}: {refused:?}", x.meta.session);
        assert_eq!(c.windows_without_gravity + refused.total(), c.windows, "{}", x.meta.session);
    }
}

#[test]
fn motionsense() {
    let Some((t, r, s)) = load(DatasetKind::MotionSense) else { return };
    // README: 19 subjects x 15 trials; subject 1's sit_13 duplicates sit_5 (dropped).
    assert_eq!((s.traces, s.subjects), (19 * 15 - 1, 19));
    assert_eq!(r.dropped_duplicate_recordings, 1);
    assert!(!t.iter().any(|x| x.meta.subject == "sub01" && x.meta.session == "sit_13"));
    assert!(t.iter().any(|x| x.meta.subject == "sub01" && x.meta.session == "sit_5"));
    assert_eq!(s.samples, 1_128_425);
    assert_eq!(count(&s, None), 150 * s.traces);
    assert_eq!(count(&s, Some(Label::Running)), 100_003);
    assert_eq!(count(&s, Some(Label::Walking)), 479_639);
    assert_eq!(count(&s, Some(Label::Still)), 506_183);
    // README (B row counts at 50 Hz): jogging ~35 min, walking + stairs ~168 min, still ~176 min (incl. sit_13).
    let minutes = |act: &[&str]| -> f64 {
        t.iter()
            .filter(|x| act.iter().any(|a| x.meta.session.starts_with(a)))
            .map(|x| x.samples.len() as f64 / 50.0 / 60.0)
            .sum()
    };
    let (jog, walk, still) = (minutes(&["jog"]), minutes(&["wlk", "ups", "dws"]), minutes(&["sit", "std"]));
    println!("motionsense minutes: jog {jog:.1} walk+stairs {walk:.1} still {still:.1}");
    assert!(close(jog, 35.0, 1.0) && close(walk, 168.0, 2.0) && close(still, 176.0, 4.0));
    // Android convention: |a| ~ 9.8 when still.
    let x = t.iter().find(|x| x.meta.session.starts_with("std")).unwrap();
    let mean = x.samples.iter().map(|s| s.accel.norm()).sum::<f32>() / x.samples.len() as f32;
    assert!((mean - 9.9).abs() < 0.5, "{mean}");
}

#[test]
fn wisdm2019_phone_accel() {
    let Some((t, r, s)) = load(DatasetKind::Wisdm2019PhoneAccel) else { return };
    // README: 17 subjects, 18 codes each, except 1609 (no B), 1607 (no J), 1618 (no O); ~51 min per code,
    // jogging ~48 min from 16 subjects.
    assert_eq!((s.traces, s.subjects), (17 * 18 - 3, 17));
    assert!(t.iter().all(|x| x.meta.session.len() == 1), "a code appears in two blocks");
    assert_eq!(s.samples, 1_111_408);
    assert_eq!(r.dropped_backwards + r.dropped_repeated, 0);
    let jog_subjects: BTreeSet<&str> =
        t.iter().filter(|x| x.meta.session == "B").map(|x| x.meta.subject.as_str()).collect();
    assert_eq!(jog_subjects.len(), 16);
    assert!(!jog_subjects.contains("1609"));
    assert!(close(hours(&s, Some(Label::Running)) * 60.0, 48.0, 1.0));
    assert!(close(hours(&s, Some(Label::Walking)) * 60.0, 102.0, 2.0));
    // Still = D, E and the seated hand activities F, Q, H-L: 9 codes of ~51 min, less 1607's missing J.
    assert!(close(hours(&s, Some(Label::Still)) * 60.0, 9.0 * 51.0 - 3.0, 6.0));
    assert_eq!(count(&s, Some(Label::Running)), 63_550);
    assert_eq!(count(&s, Some(Label::Walking)), 123_525);
    assert_eq!(count(&s, Some(Label::Still)), 551_415);
    assert_eq!(count(&s, Some(Label::Other)), 372_918);
    assert_eq!(63_550 + 123_525 + 551_415 + 372_918, s.samples);
    // Saturation near +/-2 g is kept (QUIRKS: ~9.8k samples with |axis| >= 19.3).
    let sat: usize = t.iter().flat_map(|x| &x.samples).filter(|s| s.accel.iter().any(|v| v.abs() >= 19.3)).count();
    println!("wisdm saturated samples: {sat}");
    assert!(sat > 9_000);
}

#[test]
fn discover_and_load_all() {
    let Some(root) = common::shared_data_dir() else { return };
    let sources = datasets::discover(&root).unwrap();
    let kinds: Vec<DatasetKind> = sources
        .iter()
        .filter_map(|s| match s {
            Source::Dataset(k, _) => Some(*k),
            Source::TraceCsv(_) => None,
        })
        .collect();
    let mut sorted = kinds.clone();
    sorted.sort();
    assert_eq!(sorted, DatasetKind::ALL.to_vec());
    // A dataset folder given directly.
    let hapt = datasets::discover(&root.join("hapt_kcc2020")).unwrap();
    assert_eq!(hapt, vec![Source::Dataset(DatasetKind::HaptKcc2020, root.join("hapt_kcc2020"))]);
    // A non-canonical CSV given directly is an error naming the file.
    let bm = root.join("basicmotions/BasicMotions_TRAIN.csv");
    assert!(matches!(datasets::discover(&bm), Err(datasets::ReadError::Header { .. })));
    let t0 = std::time::Instant::now();
    let all = datasets::load_all_with_report(&root).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    let n: usize = all.iter().map(|(_, t, _)| t.len()).sum();
    let samples: usize = all.iter().flat_map(|(_, t, _)| t).map(|t| t.samples.len()).sum();
    println!("load_all: {n} traces, {samples} samples in {secs:.2} s");
    assert_eq!(n, 51 + 80 + 65 + 366 + 2 + 8 + 284 + 303);
}

#[test]
fn discover_finds_canonical_csv_in_folders() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join("x.csv"), "t,ax,ay,az\n0,0,0,9.8\n").unwrap();
    std::fs::write(sub.join("other.csv"), "a,b,c\n1,2,3\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "hello").unwrap();
    let found = datasets::discover(dir.path()).unwrap();
    assert_eq!(found, vec![Source::TraceCsv(sub.join("x.csv"))]);
    let t = datasets::load_source(&found[0]).unwrap();
    assert_eq!(t[0].samples.len(), 1);
    assert_eq!(t[0].meta.subject, "x");
}

#[test]
fn every_real_trace_converts_to_a_canonical_csv_that_reads_back() {
    // The trace CSV reader refuses a median interval outside 1 ms..=1 s (times in the wrong unit) and acceleration
    // that reads as g: no real trace may come near either, or `convert` would write files `eval` cannot read.
    use motiongate::trace::csv::{
        median_interval_ns, read_trace_csv_from, write_trace_csv, MAX_MEDIAN_INTERVAL_NS, MIN_MEDIAN_INTERVAL_NS,
    };
    let Some(root) = common::shared_data_dir() else { return };
    let traces = datasets::load_all(&root).unwrap();
    let mut slowest: Option<(i64, &Trace)> = None;
    for t in &traces {
        // Nor may a real trace read as acceleration in g (the reader refuses those too).
        motiongate::trace::csv::check_acceleration_unit(&t.meta.name(), &t.samples).unwrap();
        let Some(m) = median_interval_ns(&t.samples) else { continue };
        assert!((MIN_MEDIAN_INTERVAL_NS..=MAX_MEDIAN_INTERVAL_NS).contains(&m), "{}: median {m} ns", t.meta.name());
        if slowest.is_none_or(|(s, _)| m > s) {
            slowest = Some((m, t));
        }
    }
    let (m, t) = slowest.unwrap();
    println!("slowest median interval: {} ({m} ns)", t.meta.name());
    let mut buf = Vec::new();
    write_trace_csv(t, &mut buf).unwrap();
    let back = read_trace_csv_from(buf.as_slice(), "converted.csv").unwrap();
    assert_eq!(back.samples, t.samples);
}

#[test]
fn every_real_gyroscope_agrees_with_its_accelerometer_and_would_not_in_degrees() {
    // The trace CSV reader refuses a gyroscope that contradicts its accelerometer (`check_gyroscope_unit`): no real
    // trace may, and every real trace judged at all must be refused with its rates read in deg/s (times 180/pi).
    use motiongate::trace::csv::{check_gyroscope_unit, gyroscope_agreement, MIN_SECOND_PAIRS_FOR_GYRO_CHECK};
    let Some(root) = common::shared_data_dir() else { return };
    let traces = datasets::load_all(&root).unwrap();
    let mut judged = BTreeMap::<String, usize>::new();
    for t in traces.iter().filter(|t| t.samples.iter().any(|s| s.gyro.is_some())) {
        let name = t.meta.name();
        check_gyroscope_unit(&name, &t.samples).unwrap();
        let degrees: Vec<_> =
            t.samples.iter().map(|s| Sample { gyro: s.gyro.map(|g| g * 180.0 / std::f32::consts::PI), ..*s }).collect();
        if gyroscope_agreement(&t.samples).second_pairs >= MIN_SECOND_PAIRS_FOR_GYRO_CHECK {
            let err = check_gyroscope_unit(&name, &degrees).unwrap_err();
            assert!(err.to_string().contains("deg/s"), "{err}");
            *judged.entry(t.meta.dataset.clone()).or_default() += 1;
        }
    }
    println!("traces judged per dataset: {judged:?}");
    // HAPT (a waist phone) and sp_sw_har (phone and watch, 10-s trials) have gyroscopes sampled with every reading.
    assert!(judged.get("hapt_kcc2020").is_some_and(|n| *n >= 50), "{judged:?}");
    assert!(judged.get("sp_sw_har").is_some_and(|n| *n >= 300), "{judged:?}");
}

#[test]
fn no_real_gyroscope_is_ignored_live_and_every_hapt_recording_in_degrees_is() {
    // A live session ignores a gyroscope after 10 s of windows whose gravity estimate it turned away from the gravity
    // the accelerometer shows (`pipeline::GyroscopeCheck`). No real recording may trigger it (its features, and so
    // the model, would change), and every HAPT recording (a waist phone, minutes long) must with its rates in deg/s
    // (times 180/pi, held under the 40 rad/s the sample check allows).
    use motiongate::pipeline::{FrontEnd, PipelineConfig};
    let Some(root) = common::shared_data_dir() else { return };
    let traces = datasets::load_all(&root).unwrap();
    let mut hapt_ignored = 0;
    for t in traces.iter().filter(|t| t.samples.iter().any(|s| s.gyro.is_some())) {
        for degrees in [false, true] {
            let mut front = FrontEnd::new(PipelineConfig::default().max_gap_ns);
            for s in &t.samples {
                let scale = if degrees { 180.0 / std::f32::consts::PI } else { 1.0 };
                let s = Sample { gyro: s.gyro.map(|g| (g * scale).map(|v| v.clamp(-39.9, 39.9))), ..*s };
                front.push(&s, |_, _, _| {}).unwrap();
            }
            let check = front.gyroscope_check();
            if !degrees {
                assert!(!check.ignored, "{}: {check:?}", t.meta.name());
            } else if t.meta.dataset == "hapt_kcc2020" {
                assert!(check.ignored, "{} in deg/s: {check:?}", t.meta.name());
                hapt_ignored += 1;
            }
        }
    }
    assert!(hapt_ignored >= 50, "{hapt_ignored}");
}
