//! The calling thread's CPU time: what a piece of work cost the machine,
//! not the wall time it took while other threads held the cores. The read
//! pool charges reads by it (on a busy two-core machine a read's wall time
//! is mostly waiting for a core, and would charge a cheap read as dear).
//! Where the platform has no per-thread clock, wall time stands in.

use std::time::Duration;

/// A reading of this thread's CPU clock.
#[derive(Clone, Copy)]
pub struct Mark(Duration);

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
pub fn now() -> Mark {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Mark(Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    ))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
pub fn now() -> Mark {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    Mark(START.get_or_init(Instant::now).elapsed())
}

/// CPU time this thread used since `mark`.
pub fn since(mark: Mark) -> Duration {
    now().0.saturating_sub(mark.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Busy work is counted; time spent blocked is not (on Linux: the
    /// blocking wait is on a channel nobody sends to, bounded by its
    /// timeout, so the test cannot hang).
    #[test]
    fn work_counts_and_blocking_does_not() {
        let mark = now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let busy = since(mark);
        assert!(busy > Duration::ZERO, "{x}");
        if cfg!(target_os = "linux") {
            let mark = now();
            let (_tx, rx) = std::sync::mpsc::channel::<()>();
            let _ = rx.recv_timeout(Duration::from_millis(300));
            assert!(since(mark) < Duration::from_millis(100));
        }
    }
}
