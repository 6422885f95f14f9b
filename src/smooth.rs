//! Temporal smoothing, confidence, `Unknown`, and ENTER/EXIT transitions.
//!
//! Two layers:
//! 1. An HMM forward filter over six hidden states: still, walking, running, transit-moving, transit-stopped and
//!    other (an activity outside the four, reported as `Unknown`). The classifier's per-window probabilities, divided by the training class priors, are the
//!    emission likelihoods (tempered, because overlapping windows are not independent evidence). A stopped vehicle
//!    looks still to a window classifier, so the transit-stopped state emits like `still`; what separates it from
//!    real stillness is the transition structure (and the start: a stream begins with almost no mass on it, see
//!    `initial_distribution`): one reaches transit-stopped from moving transit, and leaves it
//!    for still only at a rate of one per [`SmootherConfig::transit_stop_timeout_s`]. The posterior of the four
//!    activities (transit = moving + stopped) is the calibrated confidence; below
//!    [`SmootherConfig::unknown_floor`] the decision is `Unknown`. So is a window that the classifier itself gives to
//!    `other` with probability [`SmootherConfig::other_gate`] or more: a sticky filter needs several windows of
//!    evidence to switch, and an unfamiliar movement such as standing up from a chair lasts one or two.
//! 2. A commit layer: the current activity changes (EXIT of the old, ENTER of the new) only after the new decision
//!    has held for [`SmootherConfig::dwell_s`]; leaving `Transit` for `Still` or `Unknown` takes
//!    [`SmootherConfig::transit_stop_timeout_s`] and leaving it for `Walking` takes
//!    [`SmootherConfig::transit_walk_exit_s`] (a few steps inside a train do not end the trip). While such an exit
//!    is pending, the per-hop decision keeps reporting `Transit`.

use crate::event::{ActivityEvent, EventKind, EventQueue};
use crate::model::N_CLASSES;
use crate::sample::Activity;

const N_STATES: usize = 6;
const TRANSIT_MOVING: usize = 3;
const TRANSIT_STOPPED: usize = 4;
const OTHER: usize = 5;
/// Index of `other` among the classifier's classes.
const OTHER_CLASS: usize = 4;
/// Prior probability of a stopped vehicle when a stream starts (see [`initial_distribution`]).
const INITIAL_STOPPED: f32 = 0.02;
/// The four activities the smoother reports probabilities for.
pub const N_ACTIVITIES: usize = 4;

/// Tunables of the smoother.
#[derive(Debug, Clone, PartialEq)]
pub struct SmootherConfig {
    /// Seconds between decisions (the window hop).
    pub hop_s: f32,
    /// Below this posterior the decision is `Unknown`.
    pub unknown_floor: f32,
    /// How long a new decision must hold before it is committed (ENTER), seconds.
    pub dwell_s: f32,
    /// How long a vehicle may read as stopped before the trip is considered over, seconds.
    pub transit_stop_timeout_s: f32,
    /// How long walking must last to end a trip, seconds.
    pub transit_walk_exit_s: f32,
    /// How long transit must hold before a trip is committed, seconds. Leaving a trip takes
    /// [`SmootherConfig::transit_walk_exit_s`] or [`SmootherConfig::transit_stop_timeout_s`], so a trip committed on
    /// a blip of one or two windows would be reported for half a minute or more; no real trip is that short.
    pub transit_enter_s: f32,
    /// Per-hop probability of switching activity (the HMM's stickiness).
    pub switch_prob: f32,
    /// Exponent applied to the classifier's likelihood ratios (1 = trust fully).
    pub evidence_weight: f32,
    /// Scale of the `other` likelihood: how readily an unfamiliar activity turns decisions into `Unknown`.
    pub other_weight: f32,
    /// A window whose own `other` probability (from the classifier, before smoothing) reaches this is reported
    /// `Unknown` whatever the filter holds (above 1: never). The filter switches only on sustained evidence, so
    /// without this a postural change of 2-3 s would be reported as the activity around it.
    pub other_gate: f32,
}

impl Default for SmootherConfig {
    fn default() -> Self {
        SmootherConfig {
            hop_s: 2.5,
            unknown_floor: 0.6,
            dwell_s: 5.0,
            transit_stop_timeout_s: 180.0,
            transit_walk_exit_s: 30.0,
            transit_enter_s: 10.0,
            switch_prob: 0.005,
            evidence_weight: 0.7,
            other_weight: 0.7,
            other_gate: 0.9,
        }
    }
}

/// One smoothed decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    /// The reported activity for this hop.
    pub activity: Activity,
    /// Its posterior probability (for `Unknown`, the top posterior that fell short of the floor).
    pub confidence: f32,
    /// Posterior of still, walking, running, transit (the rest is `other`).
    pub posterior: [f32; N_ACTIVITIES],
}

/// The streaming smoother. No allocation.
#[derive(Debug, Clone)]
pub struct Smoother {
    config: SmootherConfig,
    transition: [[f32; N_STATES]; N_STATES],
    priors: [f32; N_CLASSES],
    alpha: [f32; N_STATES],
    started: bool,
    current: Activity,
    current_since_ns: i64,
    candidate: Activity,
    candidate_since_ns: i64,
}

impl Smoother {
    /// A smoother for a model with the given training class priors.
    pub fn new(config: SmootherConfig, priors: [f32; N_CLASSES]) -> Self {
        let transition = transition_matrix(&config);
        Smoother {
            config,
            transition,
            priors,
            alpha: initial_distribution(),
            started: false,
            current: Activity::Unknown,
            current_since_ns: 0,
            candidate: Activity::Unknown,
            candidate_since_ns: 0,
        }
    }

    /// The committed activity.
    pub fn current(&self) -> Activity {
        self.current
    }

    /// Forgets all state (after a long gap or a purge).
    pub fn reset(&mut self) {
        self.alpha = initial_distribution();
        self.started = false;
        self.current = Activity::Unknown;
        self.current_since_ns = 0;
        self.candidate = Activity::Unknown;
        self.candidate_since_ns = 0;
    }

    /// True when the smoother holds no state derived from a stream.
    pub fn is_reset(&self) -> bool {
        !self.started && self.current == Activity::Unknown && self.alpha == initial_distribution()
    }

    /// Advances one hop with the classifier's probabilities (`None`: no evidence this hop, e.g. input too sparse),
    /// pushes the Update and any Exit/Enter events for the window `[start_ns, end_ns]`, and returns the decision.
    pub fn step(
        &mut self,
        probs: Option<&[f32; N_CLASSES]>,
        start_ns: i64,
        end_ns: i64,
        events: &mut EventQueue,
    ) -> Decision {
        // Predict.
        let mut next = [0.0f32; N_STATES];
        for (i, a) in self.alpha.iter().enumerate() {
            for (j, n) in next.iter_mut().enumerate() {
                *n += a * self.transition[i][j];
            }
        }
        // Update with the evidence.
        if let Some(p) = probs {
            let w = self.config.evidence_weight;
            let e = |k: usize| ((p[k].max(0.01)) / self.priors[k]).powf(w);
            let emis = [e(0), e(1), e(2), e(3), e(0), e(4) * self.config.other_weight];
            for (n, em) in next.iter_mut().zip(emis) {
                *n *= em;
            }
            self.started = true;
        }
        let s: f32 = next.iter().sum();
        if s > 0.0 && s.is_finite() {
            for n in next.iter_mut() {
                *n /= s;
            }
        } else {
            next = initial_distribution();
        }
        self.alpha = next;
        let posterior = [next[0], next[1], next[2], next[TRANSIT_MOVING] + next[TRANSIT_STOPPED]];
        let (best, conf) =
            posterior.iter().enumerate().fold((0, f32::NEG_INFINITY), |b, (i, &p)| if p > b.1 { (i, p) } else { b });
        let gated = probs.is_some_and(|p| p[OTHER_CLASS] >= self.config.other_gate);
        let raw_decision = if probs.is_none() || gated || conf < self.config.unknown_floor || next[OTHER] >= conf {
            Activity::Unknown
        } else {
            Activity::CLASSES[best]
        };

        // Commit layer.
        let reported = self.commit(raw_decision, conf, start_ns, end_ns, events, &posterior);
        let confidence = match reported.class_index() {
            Some(k) => posterior[k],
            None => conf,
        };
        let decision = Decision { activity: reported, confidence, posterior };
        events.push(ActivityEvent { kind: EventKind::Update, activity: reported, confidence, start_ns, end_ns });
        decision
    }

    /// How long `to` must hold to replace `from`. From `Unknown` (nothing to leave, e.g. the first activity of a
    /// stream) this is the ordinary dwell, or a trip's own.
    fn required_dwell_s(&self, from: Activity, to: Activity) -> f32 {
        match (from, to) {
            (Activity::Transit, Activity::Still | Activity::Unknown) => self.config.transit_stop_timeout_s,
            (Activity::Transit, Activity::Walking) => self.config.transit_walk_exit_s,
            (_, Activity::Transit) => self.config.transit_enter_s,
            _ => self.config.dwell_s,
        }
    }

    fn commit(
        &mut self,
        decision: Activity,
        conf: f32,
        start_ns: i64,
        end_ns: i64,
        events: &mut EventQueue,
        posterior: &[f32; N_ACTIVITIES],
    ) -> Activity {
        if decision == self.current {
            self.candidate = self.current;
            return decision;
        }
        if decision != self.candidate {
            self.candidate = decision;
            self.candidate_since_ns = start_ns;
        }
        let held_s = (end_ns - self.candidate_since_ns) as f32 * 1e-9;
        let need = self.required_dwell_s(self.current, decision);
        if held_s + 1e-6 >= need {
            if self.current != Activity::Unknown {
                let k = self.current.class_index().unwrap_or(0);
                events.push(ActivityEvent {
                    kind: EventKind::Exit,
                    activity: self.current,
                    confidence: posterior[k],
                    start_ns: self.current_since_ns,
                    end_ns,
                });
            }
            self.current = decision;
            self.current_since_ns = self.candidate_since_ns;
            let confidence = decision.class_index().map(|k| posterior[k]).unwrap_or(conf);
            events.push(ActivityEvent {
                kind: EventKind::Enter,
                activity: decision,
                confidence,
                start_ns: self.candidate_since_ns,
                end_ns,
            });
            decision
        } else if self.current == Activity::Transit {
            // An exit from transit is pending: keep reporting the trip.
            Activity::Transit
        } else {
            decision
        }
    }
}

/// The state distribution at the start of a stream: the four activities and `other` alike, the vehicle's share
/// almost all on transit-moving. Transit-stopped emits exactly like still, so prior mass on it is taken from still
/// one for one and only leaves through transit-moving, over tens of seconds: with a uniform start (a sixth on each
/// state) a stream that began still read as at most two-thirds still, below the `Unknown` floor, for its first
/// 10-20 s. A little mass stays on it because a trip can begin at a stop.
fn initial_distribution() -> [f32; N_STATES] {
    let rest = (1.0 - INITIAL_STOPPED) / (N_STATES - 1) as f32;
    let mut p = [rest; N_STATES];
    p[TRANSIT_STOPPED] = INITIAL_STOPPED;
    p
}

fn transition_matrix(c: &SmootherConfig) -> [[f32; N_STATES]; N_STATES] {
    let s = c.switch_prob;
    let stop_leave = (c.hop_s / c.transit_stop_timeout_s.max(c.hop_s)).min(0.5);
    // Rows: from; columns: to. still, walking, running, transit-moving, transit-stopped, other.
    let mut t = [
        [0.0, s, 0.1 * s, 0.1 * s, 0.05 * s, s],
        [s, 0.0, 0.5 * s, 0.25 * s, 0.25 * s, s],
        [0.25 * s, s, 0.0, 0.05 * s, 0.05 * s, 0.5 * s],
        [0.05 * s, 0.15 * s, 0.01 * s, 0.0, 0.1, 0.05 * s],
        [stop_leave, 0.5 * s, 0.01 * s, 0.1, 0.0, 0.05 * s],
        [s, s, 0.25 * s, 0.05 * s, 0.05 * s, 0.0],
    ];
    for (i, row) in t.iter_mut().enumerate() {
        let off: f32 = row.iter().sum();
        row[i] = (1.0 - off).max(0.0);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOP: i64 = 2_500_000_000;

    fn run(seq: &[[f32; N_CLASSES]], cfg: SmootherConfig) -> (Vec<Activity>, Vec<ActivityEvent>) {
        let mut sm = Smoother::new(cfg, [0.2; N_CLASSES]);
        let mut q = EventQueue::with_capacity(4096);
        let mut out = Vec::new();
        for (i, p) in seq.iter().enumerate() {
            let end = (i as i64 + 2) * HOP;
            out.push(sm.step(Some(p), end - 2 * HOP, end, &mut q).activity);
        }
        let evs: Vec<_> = std::iter::from_fn(|| q.pop()).filter(|e| e.kind != EventKind::Update).collect();
        (out, evs)
    }

    /// `before` windows of `outer`, `len` of `inner`, then `after` of `outer` again.
    fn spliced(
        outer: [f32; N_CLASSES],
        before: usize,
        inner: [f32; N_CLASSES],
        len: usize,
        after: usize,
    ) -> Vec<[f32; N_CLASSES]> {
        let mut seq = vec![outer; before];
        seq.extend(vec![inner; len]);
        seq.extend(vec![outer; after]);
        seq
    }

    const STILL: [f32; N_CLASSES] = [0.9, 0.05, 0.0, 0.05, 0.0];
    const WALK: [f32; N_CLASSES] = [0.05, 0.9, 0.0, 0.05, 0.0];
    const TRANSIT: [f32; N_CLASSES] = [0.1, 0.05, 0.0, 0.85, 0.0];
    const OTHER: [f32; N_CLASSES] = [0.2, 0.1, 0.0, 0.0, 0.7];

    #[test]
    fn enter_after_dwell_and_exit_on_change() {
        let mut seq = vec![STILL; 20];
        seq.extend(vec![WALK; 20]);
        let (_, evs) = run(&seq, SmootherConfig::default());
        let kinds: Vec<_> = evs.iter().map(|e| (e.kind, e.activity)).collect();
        assert_eq!(
            kinds,
            vec![
                (EventKind::Enter, Activity::Still),
                (EventKind::Exit, Activity::Still),
                (EventKind::Enter, Activity::Walking)
            ]
        );
    }

    #[test]
    fn one_odd_window_does_not_flap() {
        let mut seq = vec![WALK; 20];
        seq[10] = STILL;
        let (out, evs) = run(&seq, SmootherConfig::default());
        assert_eq!(evs.len(), 1, "{evs:?}");
        assert!(out[3..].iter().all(|a| *a == Activity::Walking), "{out:?}");
    }

    #[test]
    fn vehicle_stop_stays_transit_until_timeout() {
        let seq = spliced(TRANSIT, 40, STILL, 24, 20); // 60 s stopped at a station
        let (out, evs) = run(&seq, SmootherConfig::default());
        assert_eq!(evs.len(), 1, "only the initial ENTER transit: {evs:?}");
        assert!(out[10..].iter().all(|a| *a == Activity::Transit), "{out:?}");
        // A stop longer than the timeout ends the trip.
        let mut seq = vec![TRANSIT; 40];
        seq.extend(vec![STILL; 120]); // 300 s
        let (out, evs) = run(&seq, SmootherConfig::default());
        assert_eq!(out.last(), Some(&Activity::Still));
        assert_eq!(evs.last().map(|e| (e.kind, e.activity)), Some((EventKind::Enter, Activity::Still)));
    }

    #[test]
    fn few_steps_in_a_train_do_not_end_the_trip() {
        let seq = spliced(TRANSIT, 40, WALK, 4, 20); // 10 s walking down the carriage
        let (out, evs) = run(&seq, SmootherConfig::default());
        assert_eq!(evs.len(), 1, "{evs:?}");
        assert!(out[10..].iter().all(|a| *a == Activity::Transit));
    }

    #[test]
    fn a_transit_blip_in_a_walk_does_not_start_a_trip() {
        // Three windows of vehicle-like evidence inside a walk (the filter turns after the first, so transit holds
        // for less than 10 s): reported as they come, but no trip is committed, so the walk is reported again at
        // once instead of after the 30-s walking exit.
        const VEHICLE: [f32; N_CLASSES] = [0.01, 0.01, 0.0, 0.97, 0.01];
        let seq = spliced(WALK, 20, VEHICLE, 3, 20);
        let (out, evs) = run(&seq, SmootherConfig::default());
        assert!(evs.iter().all(|e| e.activity != Activity::Transit), "{evs:?}");
        assert!(out[26..].iter().all(|a| *a == Activity::Walking), "{out:?}");
        // With the ordinary dwell the blip starts a trip that outlives it by the walking exit.
        let (out, evs) = run(&seq, SmootherConfig { transit_enter_s: 5.0, ..SmootherConfig::default() });
        assert!(evs.iter().any(|e| e.activity == Activity::Transit), "{evs:?}");
        assert!(out[26..30].iter().all(|a| *a == Activity::Transit), "{out:?}");
        // A trip of four windows (12.5 s) is committed.
        let mut seq = vec![WALK; 20];
        seq.extend(vec![TRANSIT; 8]);
        let (_, evs) = run(&seq, SmootherConfig::default());
        assert!(evs.iter().any(|e| e.kind == EventKind::Enter && e.activity == Activity::Transit), "{evs:?}");
    }

    #[test]
    fn ambiguous_evidence_is_unknown() {
        let flat = [0.3, 0.3, 0.2, 0.2, 0.0];
        let (out, _) = run(&[flat; 10], SmootherConfig::default());
        assert!(out.iter().all(|a| *a == Activity::Unknown), "{out:?}");
        // An activity outside the four is reported as unknown, not forced into one of them.
        let (out, _) = run(&[OTHER; 20], SmootherConfig::default());
        assert!(out[2..].iter().all(|a| *a == Activity::Unknown), "{out:?}");
    }

    #[test]
    fn a_short_unfamiliar_movement_is_unknown() {
        // Two windows that the classifier gives to `other` (a postural change) inside stillness: the filter does
        // not switch on so little evidence, so without the gate they would be reported still.
        const POSTURAL: [f32; N_CLASSES] = [0.04, 0.03, 0.0, 0.0, 0.93];
        let seq = spliced(STILL, 20, POSTURAL, 2, 20);
        let (out, _) = run(&seq, SmootherConfig::default());
        assert_eq!(&out[20..22], &[Activity::Unknown, Activity::Unknown], "{out:?}");
        assert!(out[24..].iter().all(|a| *a == Activity::Still), "{out:?}");
        let (out, _) = run(&seq, SmootherConfig { other_gate: 1.1, ..SmootherConfig::default() });
        assert!(out[3..].iter().all(|a| *a == Activity::Still), "{out:?}");
        // Below the gate a single window does not interrupt the activity.
        let seq = spliced(STILL, 20, [0.15, 0.05, 0.0, 0.0, 0.8], 2, 20);
        let (out, _) = run(&seq, SmootherConfig::default());
        assert!(out[3..].iter().all(|a| *a == Activity::Still), "{out:?}");
    }

    #[test]
    fn a_stream_that_starts_still_is_still_at_once() {
        let mut seq = vec![STILL; 8];
        seq.extend(vec![WALK; 8]);
        let (out, _) = run(&seq, SmootherConfig::default());
        assert!(out[..8].iter().all(|a| *a == Activity::Still), "{out:?}");
        // And after a reset, the same again.
        let mut sm = Smoother::new(SmootherConfig::default(), [0.2; N_CLASSES]);
        let mut q = EventQueue::with_capacity(64);
        for i in 0..20 {
            sm.step(Some(&TRANSIT), i * HOP, (i + 2) * HOP, &mut q);
        }
        sm.reset();
        assert!(sm.is_reset());
        assert_eq!(sm.step(Some(&STILL), 0, 2 * HOP, &mut q).activity, Activity::Still);
        let init = initial_distribution();
        assert!((init.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn rows_are_distributions() {
        for row in transition_matrix(&SmootherConfig::default()) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert!(row.iter().all(|p| *p >= 0.0));
        }
    }
}
