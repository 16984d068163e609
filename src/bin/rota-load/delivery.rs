//! Broadcast delivery, measured for slow-readers and its baseline: honest
//! readers on the big writer's roster that read everything, each on a
//! thread and a runtime of its own (so neither the attack's tasks nor the
//! others' reading queue ahead of it), and how long after the writer read
//! the ack of each of its edits each of them had that edit's `change`
//! (matched by seq, found in frames and batches without decoding the
//! changes).

use crate::editor::{self, Ws};
use crate::report::Percentiles;
use crate::wire::{self, Style};
use rota::domain::Seq;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// Honest readers on the roster.
pub const READERS: usize = 3;
/// How long after the measured run a reader waits for the changes the
/// writer had acked by its end.
const DRAIN: Duration = Duration::from_secs(30);
/// A wait for the next frame that is never the one that ends it.
const LONG: Duration = Duration::from_secs(3600);

/// The writer's acks: each seq, and when its ack was read.
#[derive(Default)]
pub struct Acks {
    acked: Mutex<Vec<(Seq, Instant)>>,
}

impl Acks {
    pub fn record(&self, seq: Seq, at: Instant) {
        self.lock().push((seq, at));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Seq, Instant)>> {
        self.acked.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The seq of the last ack noted.
    fn last(&self) -> Option<Seq> {
        self.lock().last().map(|(s, _)| *s)
    }
}

/// Where the readers go.
#[derive(Clone)]
pub struct Plan {
    pub url: String,
    pub addr: String,
    pub roster: String,
    /// Client ids begin with this.
    pub tag: String,
    /// The measured run, from `go`.
    pub duration: Duration,
}

/// What one reader saw.
#[derive(Default)]
pub struct Seen {
    /// Every change read, from joining on: its seq, and when its frame
    /// was read whole.
    arrivals: HashMap<Seq, Instant>,
    /// The highest seq read (changes come in seq order, with no gaps).
    highest: Option<Seq>,
    /// When it saw the start signal.
    started: Option<Instant>,
    /// The writer's last acked seq when the measured run ended: its acks
    /// from `started` up to this one are measured.
    upto: Option<Seq>,
    failures: Vec<String>,
}

impl Seen {
    /// Notes the changes of a frame read now.
    fn note(&mut self, text: &str) -> Result<(), String> {
        let at = Instant::now();
        for seq in wire::change_seqs(text)? {
            self.arrivals.entry(seq).or_insert(at);
            self.highest = self.highest.max(Some(seq));
        }
        Ok(())
    }
}

/// The readers, started.
pub struct Readers {
    threads: Vec<std::thread::JoinHandle<Seen>>,
    joined: Vec<oneshot::Receiver<Result<(), String>>>,
}

impl Readers {
    /// Starts `n` readers: each joins, then reads everything until
    /// `plan.duration` after `go` and what the writer had acked by then.
    pub fn start(n: usize, plan: &Plan, acks: &Arc<Acks>, go: &watch::Receiver<bool>) -> Readers {
        let mut readers = Readers {
            threads: Vec::new(),
            joined: Vec::new(),
        };
        for k in 0..n {
            let (joined_tx, joined_rx) = oneshot::channel();
            let (plan, acks, go) = (plan.clone(), acks.clone(), go.clone());
            readers.threads.push(std::thread::spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(read(k, plan, acks, joined_tx, go)),
                    Err(e) => {
                        let e = format!("honest reader {}: runtime: {e}", k + 1);
                        let _ = joined_tx.send(Err(e.clone()));
                        Seen {
                            failures: vec![e],
                            ..Seen::default()
                        }
                    }
                }
            }));
            readers.joined.push(joined_rx);
        }
        readers
    }

    /// Waits until every reader has joined (the first error if one could
    /// not).
    pub async fn joined(&mut self) -> Result<(), String> {
        for rx in self.joined.drain(..) {
            rx.await
                .unwrap_or_else(|_| Err("an honest reader ended before joining".into()))?;
        }
        Ok(())
    }

    /// Waits for the readers to end (they end at the start signal's drop
    /// when the run never started).
    pub async fn finish(self) -> Vec<Seen> {
        let mut out = Vec::new();
        for t in self.threads {
            match tokio::task::spawn_blocking(move || t.join()).await {
                Ok(Ok(seen)) => out.push(seen),
                Ok(Err(_)) => out.push(Seen {
                    failures: vec!["an honest reader panicked".into()],
                    ..Seen::default()
                }),
                Err(e) => out.push(Seen {
                    failures: vec![format!("honest reader thread: {e}")],
                    ..Seen::default()
                }),
            }
        }
        out
    }
}

/// One reader: joins, says so, reads (noting the changes) until the start,
/// then for `plan.duration`, then until it has every change the writer had
/// acked by then (for `DRAIN` at most).
async fn read(
    k: usize,
    plan: Plan,
    acks: Arc<Acks>,
    joined: oneshot::Sender<Result<(), String>>,
    go: watch::Receiver<bool>,
) -> Seen {
    let who = format!("honest reader {}", k + 1);
    let mut seen = Seen::default();
    let client = format!("{}-r{}", plan.tag, k + 1);
    let mut ws = match wire::join(&plan.url, &plan.addr, &client, &plan.roster, Style::Client).await
    {
        Ok((ws, _)) => ws,
        Err(e) => {
            let _ = joined.send(Err(format!("{who}: {e}")));
            seen.failures.push(format!("{who}: {e}"));
            return seen;
        }
    };
    let _ = joined.send(Ok(()));
    if let Err(e) = reading(&mut ws, &plan, &acks, go, &mut seen).await {
        seen.failures.push(format!("{who}: {e}"));
    }
    let _ = futures_util::SinkExt::close(&mut ws).await;
    seen
}

async fn reading(
    ws: &mut Ws,
    plan: &Plan,
    acks: &Acks,
    mut go: watch::Receiver<bool>,
    seen: &mut Seen,
) -> Result<(), String> {
    while !*go.borrow() {
        tokio::select! {
            r = go.changed() => if r.is_err() {
                // The run ended before it began: nothing to measure.
                return Ok(());
            },
            t = editor::next_text(ws, LONG) => seen.note(&t?)?,
        }
    }
    let started = Instant::now();
    seen.started = Some(started);
    let end = tokio::time::Instant::from_std(started + plan.duration);
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => break,
            t = editor::next_text(ws, LONG) => seen.note(&t?)?,
        }
    }
    seen.upto = acks.last();
    let drained = tokio::time::Instant::now() + DRAIN;
    while seen.highest < seen.upto {
        match tokio::time::timeout_at(drained, editor::next_text(ws, LONG)).await {
            Ok(t) => seen.note(&t?)?,
            // Counted as undelivered.
            Err(_) => break,
        }
    }
    Ok(())
}

/// Broadcast delivery: the writer's ack read -> the change read by an
/// honest reader, for each of the writer's edits acked in the measured run
/// and each reader.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Delivery {
    pub readers: usize,
    /// The writer's edits measured (each to be delivered to every reader).
    pub edits: usize,
    /// Ack read -> change read, per (edit, reader); `count` is how many.
    pub ms: Percentiles,
    /// (edit, reader) pairs whose change was read before the writer read
    /// the ack (counted as 0 ms).
    pub before_ack: usize,
    /// (edit, reader) pairs whose change the reader did not have within
    /// 30 s of the measured run's end.
    pub undelivered: usize,
}

/// The delivery figures from the writer's acks and what the readers saw;
/// the readers' failures beside.
pub fn summarise(acks: &Acks, seen: Vec<Seen>) -> (Delivery, Vec<String>) {
    let acked = acks.lock().clone();
    let mut d = Delivery {
        readers: seen.len(),
        ..Delivery::default()
    };
    let (mut us, mut failures, mut edits) = (Vec::new(), Vec::new(), HashSet::new());
    for s in seen {
        failures.extend(s.failures);
        let (Some(started), Some(upto)) = (s.started, s.upto) else {
            continue;
        };
        for (seq, at) in acked.iter().filter(|(q, t)| *t >= started && *q <= upto) {
            edits.insert(*seq);
            match s.arrivals.get(seq) {
                Some(got) => {
                    if got < at {
                        d.before_ack += 1;
                    }
                    let late = got.saturating_duration_since(*at);
                    us.push(late.as_micros().min(u128::from(u32::MAX)) as u32);
                }
                None => d.undelivered += 1,
            }
        }
    }
    d.edits = edits.len();
    d.ms = Percentiles::of_micros(us);
    (d, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_are_timed_from_the_ack_within_the_run() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let acks = Acks::default();
        // Seq 5 acked before the run, 7 and 9 in it, 11 after its end.
        for (seq, at) in [(5, 0), (7, 20), (9, 40), (11, 60)] {
            acks.record(seq, ms(at));
        }
        let arrivals = [(5, 1), (6, 15), (7, 25), (9, 38), (11, 61)];
        let seen = Seen {
            arrivals: arrivals.iter().map(|(s, t)| (*s, ms(*t))).collect(),
            highest: Some(11),
            started: Some(ms(10)),
            upto: Some(9),
            failures: Vec::new(),
        };
        let lost = Seen {
            arrivals: HashMap::new(),
            started: Some(ms(10)),
            upto: Some(9),
            ..Seen::default()
        };
        let (d, failures) = summarise(&acks, vec![seen, lost, Seen::default()]);
        assert!(failures.is_empty());
        assert_eq!((d.readers, d.edits, d.ms.count), (3, 2, 2));
        assert_eq!((d.before_ack, d.undelivered), (1, 2));
        assert_eq!((d.ms.p50, d.ms.max), (0.0, 5.0));
    }
}
