//! Big groups committed at a lower CPU priority while nobody else uses
//! their store file (issue 25: back-to-back 10,000-cell edits on one roster
//! took the p99 of one-cell edits on another roster to 2x to 2.5x, the two
//! cores being shared).
//!
//! A writer hands a group of [`BACKGROUND_OPS`] operations or more to a
//! thread of its own at nice +10 when every edit in it comes from one
//! client (its client id: a script run again is the same client) and no
//! other client has edited a roster of its file for [`OTHERS_QUIET`]. The
//! kernel then runs the other rosters' writers, the connections and the
//! reads before it whenever they want a core, and the big group takes what
//! is left (on an idle machine, all of it). The writer's guarantees do not
//! move: the same code commits the group, on one thread at a time.
//!
//! Why only then: whoever waits for that group's commit would wait for the
//! niced thread too, a priority inversion. Everyone on the same store file
//! waits for it (its roster's editors, and those of rosters sharing the
//! file), so a group with anyone else about is committed at the writer's
//! own priority. Someone who arrives while a niced group runs waits for
//! that one group; the groups after it are not niced, as the file is no
//! longer quiet. (Tried and dropped: every big group niced. Those on the
//! big edit's own roster then waited four times as long, 1.9 s to 8.4 s.)
//!
//! A nice value cannot be lowered again without privilege, so the lower
//! priority is a thread's for its life; where it cannot be set, big groups
//! stay on the writer's thread.

use super::writer::{Cmd, Writer};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The operations in a group from which it may go to the background.
pub const BACKGROUND_OPS: usize = 2_000;
/// How long no other client must have edited a roster of the file.
pub const OTHERS_QUIET: Duration = Duration::from_secs(2);
/// The background thread's nice value (the writer's is the hub's, 0).
const NICE: i32 = 10;

/// The two clients that edited the file last, newest first, each with
/// when: enough to tell when any client other than a given one last
/// edited.
#[derive(Default)]
pub struct LastEditors {
    last: [Option<(Arc<str>, Instant)>; 2],
}

impl LastEditors {
    /// `client` edited at `at`.
    pub fn saw(&mut self, client: &Arc<str>, at: Instant) {
        match &mut self.last[0] {
            Some((c, when)) if **c == **client => *when = at,
            _ => {
                let newest = self.last[0].take();
                self.last = [Some((client.clone(), at)), newest];
            }
        }
    }

    /// When a client other than `client` last edited, if one has.
    pub fn other_than(&self, client: &str) -> Option<Instant> {
        self.last
            .iter()
            .flatten()
            .find(|(c, _)| **c != *client)
            .map(|(_, at)| *at)
    }
}

/// Whether `cmds` may be committed in the background: edits only (a join
/// or an accounts barrier waits on the group), all from one client,
/// [`BACKGROUND_OPS`] or more operations in all, and no other client's
/// edit on the file for [`OTHERS_QUIET`] before `now`.
pub fn fits(cmds: &[Cmd], editors: &LastEditors, now: Instant) -> bool {
    let mut client: Option<&str> = None;
    let mut ops = 0;
    for cmd in cmds {
        let Cmd::Edit(e) = cmd else {
            return false;
        };
        if client.is_some_and(|c| c != &*e.author.client) {
            return false;
        }
        client = Some(&e.author.client);
        ops += e.ops.len();
    }
    let Some(client) = client else {
        return false;
    };
    ops >= BACKGROUND_OPS
        && editors
            .other_than(client)
            .is_none_or(|at| now.saturating_duration_since(at) >= OTHERS_QUIET)
}

type Job = (Writer, Vec<Cmd>);

/// A writer's background thread, started on first use.
pub struct Background {
    name: String,
    thread: Option<Thread>,
    /// The thread could not be started or niced: big groups stay on the
    /// writer's own thread.
    unavailable: bool,
}

struct Thread {
    jobs: mpsc::Sender<Job>,
    done: mpsc::Receiver<Writer>,
    handle: JoinHandle<()>,
}

impl Background {
    /// `name`: the writer thread's (`rota-writer-N`), for the background
    /// thread's (`rota-bgwriter-N`: a thread's name shows to 15 bytes).
    pub fn new(name: &str) -> Background {
        Background {
            name: name.replacen("rota-writer", "rota-bgwriter", 1),
            thread: None,
            unavailable: false,
        }
    }

    /// Commits `cmds` with `writer` on the background thread, or on this
    /// one when there is no background thread, and gives the writer back.
    pub fn process(&mut self, writer: Writer, cmds: Vec<Cmd>) -> Writer {
        let Some(thread) = self.thread() else {
            return here(writer, cmds);
        };
        // Counted before it goes (the writer goes with it); taken back if
        // it cannot.
        writer.metrics().background_groups.fetch_add(1, Relaxed);
        if let Err(mpsc::SendError((writer, cmds))) = thread.jobs.send((writer, cmds)) {
            writer.metrics().background_groups.fetch_sub(1, Relaxed);
            // The thread is gone (it ends only by a panic, seen below).
            self.unavailable = true;
            return here(writer, cmds);
        }
        match thread.done.recv() {
            Ok(writer) => writer,
            Err(_) => {
                // The thread panicked with the writer: panic here with it, as
                // the writer's own thread would have.
                let Some(thread) = self.thread.take() else {
                    unreachable_thread()
                };
                drop(thread.jobs);
                match thread.handle.join() {
                    Err(payload) => std::panic::resume_unwind(payload),
                    Ok(()) => unreachable_thread(),
                }
            }
        }
    }

    fn thread(&mut self) -> Option<&Thread> {
        if self.thread.is_none() && !self.unavailable {
            match spawn(&self.name) {
                Some(t) => self.thread = Some(t),
                None => self.unavailable = true,
            }
        }
        self.thread.as_ref()
    }
}

/// Commits `cmds` on the calling thread.
fn here(mut writer: Writer, mut cmds: Vec<Cmd>) -> Writer {
    writer.process(&mut cmds);
    writer
}

fn unreachable_thread() -> ! {
    panic!("the writer's background thread ended holding the writer")
}

/// Starts the background thread and waits until it is niced; None when it
/// could not be started or niced (it is then let go).
fn spawn(name: &str) -> Option<Thread> {
    let (jobs_tx, jobs_rx) = mpsc::channel::<Job>();
    let (done_tx, done_rx) = mpsc::channel::<Writer>();
    let (niced_tx, niced_rx) = mpsc::channel::<bool>();
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let niced = lower_own_priority();
            let _ = niced_tx.send(niced);
            if !niced {
                return;
            }
            while let Ok((writer, cmds)) = jobs_rx.recv() {
                if done_tx.send(here(writer, cmds)).is_err() {
                    return;
                }
            }
        });
    let handle = match handle {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("big groups stay at the writer's priority: no thread for them: {e}");
            return None;
        }
    };
    if niced_rx.recv().unwrap_or(false) {
        Some(Thread {
            jobs: jobs_tx,
            done: done_rx,
            handle,
        })
    } else {
        tracing::warn!("big groups stay at the writer's priority: their thread could not be niced");
        None
    }
}

/// Sets the calling thread's nice value to [`NICE`]: on Linux a nice value
/// is the thread's own.
#[cfg(target_os = "linux")]
fn lower_own_priority() -> bool {
    let me = rustix::thread::gettid();
    rustix::process::setpriority_process(Some(me), NICE).is_ok()
}

#[cfg(not(target_os = "linux"))]
fn lower_own_priority() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_other_editor_is_known_whoever_edits_in_between() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let id = |c: &str| -> Arc<str> { c.into() };
        let mut e = LastEditors::default();
        assert_eq!(e.other_than("a"), None);
        e.saw(&id("a"), at(0));
        assert_eq!(e.other_than("a"), None);
        assert_eq!(e.other_than("b"), Some(at(0)));
        e.saw(&id("a"), at(5));
        e.saw(&id("b"), at(10));
        e.saw(&id("b"), at(20));
        assert_eq!(e.other_than("b"), Some(at(5)));
        assert_eq!(e.other_than("a"), Some(at(20)));
        e.saw(&id("c"), at(30));
        assert_eq!(e.other_than("c"), Some(at(20)));
        assert_eq!(e.other_than("b"), Some(at(30)));
        assert_eq!(e.other_than("z"), Some(at(30)));
    }
}
