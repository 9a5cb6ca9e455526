//! Time-bounded slices for long batch jobs.
//!
//! SQLite has one write lock. A batch job (import, re-inspection) that
//! holds it for seconds makes every interactive write — a review, a
//! complaint — wait as long, and past the busy timeout fail. So batch jobs
//! commit in slices sized to take about [`SLICE_TARGET`] each: a
//! [`Slicer`] measures how long each slice's transaction took and sizes the
//! next one from the observed rate. An interactive writer then waits for at
//! most about one slice. A killed job loses at most its open slice, and
//! every conversation lies wholly inside one slice.
//!
//! On SQLite a writer waiting for the lock does not queue: its busy handler
//! polls, sleeping up to 100 ms between tries. A batch job that starts its
//! next slice the moment it commits can therefore starve a waiting review
//! for the whole job. So between slices it pauses ([`pause_between`]) for
//! half as long as the slice took: the lock is free a third of the time,
//! and a polling waiter gets in within a few polls.

use std::time::Duration;

/// How long one slice of a batch job should hold the write lock.
pub const SLICE_TARGET: Duration = Duration::from_millis(50);

/// Sizes the slices of one batch job from the time the previous slice took.
#[derive(Debug, Clone)]
pub struct Slicer {
    size: usize,
    max: usize,
    target: Duration,
}

impl Slicer {
    /// A slicer aiming at [`SLICE_TARGET`], starting at `start` items a
    /// slice and never exceeding `max`.
    pub fn new(start: usize, max: usize) -> Slicer {
        Slicer::with_target(start, max, SLICE_TARGET)
    }

    /// A slicer aiming at `target` per slice.
    pub fn with_target(start: usize, max: usize, target: Duration) -> Slicer {
        let max = max.max(1);
        Slicer {
            size: start.clamp(1, max),
            max,
            target,
        }
    }

    /// How many items the next slice takes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Records that a slice of `items` took `took`: the next slice is sized
    /// to take the target at that rate, but grows at most twofold and shrinks
    /// at most to a quarter at a time (one slow commit — a checkpoint — should
    /// not collapse it), within 1 ..= max.
    pub fn record(&mut self, items: usize, took: Duration) {
        if items == 0 {
            return;
        }
        let took = took.as_secs_f64().max(1e-6);
        let ideal = items as f64 * self.target.as_secs_f64() / took;
        let lo = (self.size / 4).max(1) as f64;
        let hi = (self.size * 2) as f64;
        self.size = (ideal.clamp(lo, hi).round() as usize).clamp(1, self.max);
    }
}

/// The pause after a slice that held the write lock for `took`: half of it,
/// between 2 and 50 ms, on SQLite; none on PostgreSQL, whose writers lock
/// rows and queue fairly.
pub fn pause_between(backend: crate::Backend, took: Duration) -> Duration {
    match backend {
        crate::Backend::Sqlite => {
            (took / 2).clamp(Duration::from_millis(2), Duration::from_millis(50))
        }
        crate::Backend::Postgres => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_grow_when_fast_and_shrink_when_slow() {
        let mut s = Slicer::with_target(100, 10_000, Duration::from_millis(50));
        s.record(100, Duration::from_millis(5));
        assert_eq!(s.size(), 200, "ten times too fast: grows, but only twofold");
        s.record(200, Duration::from_millis(50));
        assert_eq!(s.size(), 200, "on target: stays");
        s.record(200, Duration::from_millis(100));
        assert_eq!(s.size(), 100, "twice too slow: halves");
        s.record(100, Duration::from_secs(10));
        assert_eq!(s.size(), 25, "far too slow: a quarter at a time");
        s.record(0, Duration::from_secs(10));
        assert_eq!(s.size(), 25, "an empty slice tells nothing");
    }

    #[test]
    fn pauses_only_on_sqlite() {
        use crate::Backend;
        let ms = Duration::from_millis;
        assert_eq!(pause_between(Backend::Sqlite, ms(50)), ms(25));
        assert_eq!(pause_between(Backend::Sqlite, ms(0)), ms(2));
        assert_eq!(pause_between(Backend::Sqlite, ms(900)), ms(50));
        assert_eq!(pause_between(Backend::Postgres, ms(50)), ms(0));
    }

    #[test]
    fn slices_stay_within_bounds() {
        let mut s = Slicer::with_target(1, 8, Duration::from_millis(50));
        for _ in 0..10 {
            s.record(s.size(), Duration::from_micros(1));
        }
        assert_eq!(s.size(), 8);
        for _ in 0..10 {
            s.record(s.size(), Duration::from_secs(60));
        }
        assert_eq!(s.size(), 1);
        assert_eq!(Slicer::new(0, 0).size(), 1);
    }
}
