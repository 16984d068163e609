//! The wall clock, read in one place: Unix time in milliseconds, as the
//! protocol's `at` and the stores write it.

/// Now, in Unix milliseconds (0 on a clock set before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
