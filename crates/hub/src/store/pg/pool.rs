//! Connections for the hub's occasional reads (a calendar feed, a new
//! client id's first hello): a few, kept and reused, per database, so that
//! a burst of such requests waits for a connection rather than opening one
//! each. With the writers' (one each), the readers' (two) and the
//! listener's, a hub holds at most `writers + 3 + ONE_OFF` connections.

use super::super::{Result, StoreError};
use super::Reader;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

/// Connections for occasional reads, per database.
pub const ONE_OFF: usize = 3;
/// How long a read waits for one before it is refused.
const WAIT: Duration = Duration::from_secs(30);

struct Pool {
    /// Idle connections, and how many are lent out.
    state: Mutex<(Vec<Reader>, usize)>,
    returned: Condvar,
}

fn pool_for(url: &str) -> Arc<Pool> {
    static POOLS: OnceLock<Mutex<HashMap<String, Arc<Pool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(Default::default);
    let mut pools = pools.lock().unwrap_or_else(|p| p.into_inner());
    pools
        .entry(url.to_string())
        .or_insert_with(|| {
            Arc::new(Pool {
                state: Mutex::new((Vec::new(), 0)),
                returned: Condvar::new(),
            })
        })
        .clone()
}

/// Runs `read` on one of the database's occasional connections, waiting
/// for one while [`ONE_OFF`] are in use. A connection that failed is not
/// kept.
pub fn with_reader<T: Send>(
    url: &str,
    read: impl FnOnce(&mut Reader) -> Result<T> + Send,
) -> Result<T> {
    let pool = pool_for(url);
    let kept = {
        let state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
        let (mut state, timeout) = pool
            .returned
            .wait_timeout_while(state, WAIT, |(_, lent)| *lent >= ONE_OFF)
            .unwrap_or_else(|p| p.into_inner());
        if timeout.timed_out() && state.1 >= ONE_OFF {
            return Err(StoreError::Busy(format!(
                "{}: all {ONE_OFF} connections for occasional reads stayed busy for {} s",
                super::without_password(url),
                WAIT.as_secs()
            )));
        }
        state.1 += 1;
        state.0.pop()
    };
    let result = (|| {
        let mut reader = match kept {
            Some(r) => r,
            None => super::off_runtime(|| Reader::connect(url))?,
        };
        let out = super::off_runtime(|| read(&mut reader));
        Ok::<_, StoreError>((reader, out))
    })();
    let mut state = pool.state.lock().unwrap_or_else(|p| p.into_inner());
    state.1 -= 1;
    let out = match result {
        Ok((reader, Ok(out))) => {
            state.0.push(reader);
            Ok(out)
        }
        Ok((_, Err(e))) | Err(e) => Err(e),
    };
    drop(state);
    pool.returned.notify_one();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// However many reads come at once, at most [`ONE_OFF`] connections
    /// are open for them, and they are reused: the database sees no more.
    #[test]
    fn occasional_reads_share_a_few_connections() {
        let url = rota_testpg::fresh_database("pool");
        // The tables, made once.
        drop(super::super::Store::connect(&url).unwrap());
        let (now, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..12 {
                s.spawn(|| {
                    for _ in 0..4 {
                        with_reader(&url, |r| {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(n, Ordering::SeqCst);
                            // The read's own work, long enough to overlap.
                            std::thread::sleep(Duration::from_millis(15));
                            let listed = r.list_rosters();
                            now.fetch_sub(1, Ordering::SeqCst);
                            listed
                        })
                        .unwrap();
                    }
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), ONE_OFF);
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let open: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(open as usize <= ONE_OFF, "{open} connections open");
    }
}
