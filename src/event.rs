//! What leaves a session: activities, confidences and times. Never a sample or a feature.

use crate::sample::Activity;

/// The kind of an [`ActivityEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The decision for one window hop (emitted every hop).
    Update = 0,
    /// A new activity has lasted the dwell time and is now current.
    Enter = 1,
    /// The current activity ended (always followed by an `Enter` of the next one, or `Unknown`).
    Exit = 2,
}

/// One decision or transition.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActivityEvent {
    /// Update, Enter or Exit.
    pub kind: EventKind,
    /// The activity decided (for `Exit`, the activity that ended).
    pub activity: Activity,
    /// Probability of `activity` after smoothing, 0..1.
    pub confidence: f32,
    /// Start of the span the event covers, in the input's nanosecond clock: the window start for `Update`, the
    /// estimated start of the activity for `Enter` and `Exit`.
    pub start_ns: i64,
    /// End of the span: the window end for `Update`, the decision time for `Enter` and `Exit`.
    pub end_ns: i64,
}

/// What an empty slot of an [`EventQueue`] holds.
const BLANK: ActivityEvent =
    ActivityEvent { kind: EventKind::Update, activity: Activity::Unknown, confidence: 0.0, start_ns: 0, end_ns: 0 };

/// A fixed-capacity FIFO of events, allocated once. When full, the oldest `Update` is dropped first so that
/// transitions are never lost to a slow reader.
#[derive(Debug, Clone)]
pub struct EventQueue {
    buf: Vec<ActivityEvent>,
    head: usize,
    len: usize,
    dropped: u64,
    pushed: u64,
}

impl EventQueue {
    /// A queue that holds up to `capacity` events (at least 4).
    pub fn with_capacity(capacity: usize) -> Self {
        EventQueue { buf: vec![BLANK; capacity.max(4)], head: 0, len: 0, dropped: 0, pushed: 0 }
    }

    /// Number of queued events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Maximum number of events held.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Events pushed since creation (including any dropped later).
    pub fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Events dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Appends an event; never allocates.
    pub fn push(&mut self, ev: ActivityEvent) {
        let cap = self.buf.len();
        if self.len == cap {
            self.dropped += 1;
            // Drop the oldest Update if there is one, else the oldest event.
            let victim =
                (0..self.len).find(|&i| self.buf[(self.head + i) % cap].kind == EventKind::Update).unwrap_or(0);
            for i in victim..self.len - 1 {
                self.buf[(self.head + i) % cap] = self.buf[(self.head + i + 1) % cap];
            }
            self.len -= 1;
        }
        self.pushed += 1;
        let slot = (self.head + self.len) % cap;
        self.buf[slot] = ev;
        self.len += 1;
    }

    /// Removes and returns the oldest event.
    pub fn pop(&mut self) -> Option<ActivityEvent> {
        if self.len == 0 {
            return None;
        }
        let ev = self.buf[self.head];
        self.head = (self.head + 1) % self.buf.len();
        self.len -= 1;
        Some(ev)
    }

    /// Forgets every queued event and overwrites every slot (taken ones too) with a blank event, so that no past
    /// activity, confidence or time stays in memory.
    pub fn clear(&mut self) {
        self.buf.fill(BLANK);
        self.head = 0;
        self.len = 0;
    }

    /// True when every slot holds the blank event (after [`EventQueue::clear`], or before the first push).
    pub fn is_blank(&self) -> bool {
        self.len == 0 && self.buf.iter().all(|e| *e == BLANK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventKind, t: i64) -> ActivityEvent {
        ActivityEvent { kind, activity: Activity::Still, confidence: 1.0, start_ns: t, end_ns: t }
    }

    #[test]
    fn clear_overwrites_taken_and_queued_events() {
        let mut q = EventQueue::with_capacity(4);
        assert!(q.is_blank());
        q.push(ev(EventKind::Enter, 5));
        q.push(ev(EventKind::Update, 6));
        assert!(q.pop().is_some());
        assert!(!q.is_blank());
        q.clear();
        assert!(q.is_empty() && q.is_blank(), "{q:?}");
    }

    #[test]
    fn fifo_and_overflow_drops_updates_first() {
        let mut q = EventQueue::with_capacity(4);
        q.push(ev(EventKind::Enter, 1));
        q.push(ev(EventKind::Update, 2));
        q.push(ev(EventKind::Update, 3));
        q.push(ev(EventKind::Exit, 4));
        q.push(ev(EventKind::Enter, 5));
        assert_eq!(q.dropped(), 1);
        let got: Vec<i64> = std::iter::from_fn(|| q.pop()).map(|e| e.start_ns).collect();
        assert_eq!(got, vec![1, 3, 4, 5]);
    }
}
