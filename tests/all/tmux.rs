//! The real binary in tmux, driven as a person would: a hub and two
//! editors; a code typed in one shows in the other and is on the hub; a
//! conflict made offline shows and is resolved; an editor killed with
//! kill -9 while edits are pending shows them pending when started again,
//! then saved; quitting leaves the terminal as it was.
//!
//! Screens are read with `tmux capture-pane`. A wait reads the screen
//! again each time the program writes to its terminal (each window's
//! output is piped to the test through `tmux pipe-pane` and a FIFO), until
//! what is expected shows or a timeout passes.

use crate::common;

use common::proxy::Proxy;
use common::*;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedReceiver;

const SCREEN_WAIT: Duration = Duration::from_secs(20);

/// A tmux server of the test's own, killed when dropped.
struct Tmux {
    socket: String,
    /// Where the windows' output FIFOs are.
    fifos: tempfile::TempDir,
    /// Per window: a message each time its program writes output.
    output: std::sync::Mutex<HashMap<String, UnboundedReceiver<()>>>,
}

/// Makes sure tmux is there: on a fresh machine (no tmux), it is
/// installed from the system's packages (apt-get, as `.ci/run` does), once
/// for all the tests. A test never passes by skipping what it cannot run:
/// without tmux and without a way to install it, it fails saying so.
fn ensure_tmux() {
    static READY: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let ready = READY.get_or_init(|| {
        let has = || {
            Command::new("tmux")
                .arg("-V")
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if has() {
            return Ok(());
        }
        eprintln!("tmux is missing: installing it with apt-get");
        let run = |args: &[&str]| {
            Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .output()
                .map_err(|e| format!("apt-get {}: {e}", args.join(" ")))
                .and_then(|o| {
                    if o.status.success() {
                        Ok(())
                    } else {
                        Err(format!(
                            "apt-get {}: {}",
                            args.join(" "),
                            String::from_utf8_lossy(&o.stderr)
                        ))
                    }
                })
        };
        run(&["update"])?;
        run(&["install", "-y", "tmux"])?;
        if has() {
            Ok(())
        } else {
            Err("apt-get installed tmux, but `tmux -V` still fails".into())
        }
    });
    if let Err(e) = ready {
        panic!(
            "these tests drive the real editor in tmux, which is not installed and could not be: {e}\n\
             install it (e.g. `apt-get install tmux`) and run them again"
        );
    }
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        ensure_tmux();
        Tmux {
            socket: format!("rota-test-{name}-{}", std::process::id()),
            fifos: tempfile::tempdir().expect("a dir for FIFOs"),
            output: Default::default(),
        }
    }

    /// Starts `cmd` in a new 120x30 window and hears its output.
    fn session(&self, name: &str, cmd: &str) {
        self.session_sized(name, cmd, (120, 30));
    }

    /// Starts `cmd` in a new window of `size` and hears its output.
    fn session_sized(&self, name: &str, cmd: &str, size: (u16, u16)) {
        let (w, h) = (size.0.to_string(), size.1.to_string());
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(["new-session", "-d", "-s", name, "-x", &w, "-y", &h])
            .arg(cmd)
            .env("NO_COLOR", "1")
            .output()
            .expect("tmux starts");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fifo = self.fifos.path().join(name);
        let made = Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(made.success());
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            // Opening blocks until tmux's `cat` opens the other end.
            let Ok(mut f) = std::fs::File::open(&path) else {
                return;
            };
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut f, &mut buf) {
                if n == 0 || tx.send(()).is_err() {
                    return;
                }
            }
        });
        self.run(&[
            "pipe-pane",
            "-t",
            name,
            &format!("cat >> '{}'", fifo.display()),
        ]);
        self.output
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), rx);
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs (CI installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `rota ARGS` in a 120x30 window named `name`. When rota
    /// exits the shell prints its status and stays, so the pane can be
    /// read after.
    fn start(&self, name: &str, args: &[String]) {
        self.start_sized(name, args, (120, 30));
    }

    /// [`Tmux::start`] in a window of `size`.
    fn start_sized(&self, name: &str, args: &[String], size: (u16, u16)) {
        let bin = env!("CARGO_BIN_EXE_rota");
        let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
        let cmd = format!(
            "'{bin}' {}; echo \"rota exited $?\"; exec sleep 600",
            quoted.join(" ")
        );
        self.session_sized(name, &cmd, size);
    }

    fn screen(&self, name: &str) -> String {
        self.run(&["capture-pane", "-p", "-t", name])
    }

    fn keys(&self, name: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", name];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    fn flag(&self, name: &str, format: &str) -> String {
        self.run(&["display", "-p", "-t", name, format])
            .trim()
            .to_string()
    }

    /// Waits until the screen satisfies `pred`; fails with the screen.
    /// (What is wrapped over lines reads as one with [`words`].)
    async fn wait(&self, name: &str, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let held = self
            .until(name, what, || {
                last = self.screen(name);
                pred(&last)
            })
            .await;
        if !held {
            panic!("timed out waiting for {what} in {name}; screen:\n{last}");
        }
        last
    }

    /// Checks `cond` now and after each output of the window's program,
    /// until it holds (true) or the timeout passes (false).
    async fn until(&self, name: &str, what: &str, mut cond: impl FnMut() -> bool) -> bool {
        let mut rx = self
            .output
            .lock()
            .expect("not poisoned")
            .remove(name)
            .unwrap_or_else(|| panic!("no window {name} to wait on for {what}"));
        let deadline = tokio::time::Instant::now() + SCREEN_WAIT;
        let held = loop {
            if cond() {
                break true;
            }
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(())) => {}
                // The window's program is gone: one last look.
                Ok(None) => break cond(),
                Err(_) => break false,
            }
        };
        self.output
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), rx);
        held
    }

    /// The pid of rota in a window (the shell's child).
    fn rota_pid(&self, name: &str) -> u32 {
        let shell: u32 = self.flag(name, "#{pane_pid}").parse().expect("a pane pid");
        let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
            .expect("the shell's children");
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("rota runs under the shell")
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

fn editor_args(url: &str, user: &str, data: &Path) -> Vec<String> {
    vec![
        "--server".into(),
        url.into(),
        "--user".into(),
        user.into(),
        "--data".into(),
        data.display().to_string(),
        "--config".into(),
        data.join("no-config.toml").display().to_string(),
    ]
}

/// The header line.
fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or_default()
}

/// The status line's account of the cell under the cursor.
fn status_line(screen: &str) -> String {
    screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default()
        .to_string()
}

async fn hub_cell(url: &str) -> Option<String> {
    let (_, cells) = hub_cells(url).await;
    cells.into_iter().find(|c| c.0 == "s1").and_then(|c| c.2)
}

impl Tmux {
    /// Starts an editor as `user` on `url` (data in `base/user`) and waits
    /// until it is connected and shows the roster.
    async fn editor(&self, name: &str, url: &str, user: &str, base: &Path) {
        self.start(name, &editor_args(url, user, &dir_of(base, user)));
        self.wait(name, "connected", |s| {
            s.contains("● connected") && s.contains("Person 1")
        })
        .await;
    }
}

fn dir_of(base: &Path, name: &str) -> PathBuf {
    let d = base.join(name);
    std::fs::create_dir_all(&d).expect("a data dir");
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_typed_in_one_editor_shows_in_the_other_and_is_on_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let t = Tmux::new("two");
    t.editor("ann", &hub.url(), "ann", dir.path()).await;
    t.editor("bob", &hub.url(), "bob", dir.path()).await;
    // Each sees the other.
    t.wait("ann", "bob here", |s| s.contains("here: @BO")).await;
    assert_eq!(t.flag("ann", "#{alternate_on}"), "1");
    // Both cursors start on Person 1, today. Ann types N.
    t.keys("ann", &["N"]);
    t.wait("bob", "ann's N under bob's cursor", |s| {
        status_line(s).contains("Person 1")
            && status_line(s).ends_with("· N")
            && s.contains("● connected")
    })
    .await;
    t.wait("ann", "saved", |s| s.contains("✓ all saved")).await;
    assert_eq!(hub_cell(&hub.url()).await.as_deref(), Some("N"));
    // Quitting leaves the terminal as it was: normal screen, cursor shown.
    assert_eq!(t.flag("bob", "#{cursor_flag}"), "0", "hidden while editing");
    t.keys("bob", &["q"]);
    t.wait("bob", "rota to exit", |s| s.contains("rota exited 0"))
        .await;
    assert_eq!(t.flag("bob", "#{alternate_on}"), "0");
    assert_eq!(t.flag("bob", "#{cursor_flag}"), "1");
    // Logs went to the data dir, not the screen.
    assert!(dir.path().join("bob/rota-editor.log").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_made_offline_shows_and_is_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let proxy = Proxy::start(hub.addr).await;
    let t = Tmux::new("conflict");
    t.editor("ann", &proxy.url(), "ann", dir.path()).await;
    t.editor("bob", &hub.url(), "bob", dir.path()).await;
    proxy.refuse(true);
    proxy.cut_all();
    t.wait("ann", "offline", |s| s.contains("○ offline")).await;
    t.keys("ann", &["D"]);
    t.wait("ann", "pending", |s| {
        s.contains("1 unsaved") && s.contains("D*")
    })
    .await;
    t.keys("bob", &["N"]);
    t.wait("bob", "saved", |s| s.contains("✓ all saved")).await;
    proxy.refuse(false);
    t.keys("ann", &["r"]);
    // The header, the cell and the status line, in one frame.
    t.wait("ann", "the conflict", |s| {
        s.contains("1 conflict") && s.contains("N!") && s.contains("conflict: bob changed")
    })
    .await;
    t.keys("ann", &["c"]);
    t.wait("ann", "the panel", |s| {
        s.contains("mine D, theirs N (bob") && s.contains("CONFLICT 1/1")
    })
    .await;
    t.keys("ann", &["m"]);
    t.wait("ann", "resolved", |s| {
        s.contains("✓ all saved") && !s.contains("1 conflict")
    })
    .await;
    assert_eq!(
        hub_cell(&hub.url()).await.as_deref(),
        Some("D"),
        "kept mine"
    );
    // Bob's cursor moved on after his N: back to the cell.
    t.keys("bob", &["h"]);
    t.wait("bob", "ann's D", |s| status_line(s).ends_with("· D"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_editor_killed_with_pending_edits_shows_them_pending_then_saved() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let proxy = Proxy::start(hub.addr).await;
    let t = Tmux::new("kill");
    let data = dir_of(dir.path(), "ann");
    t.start("ann", &editor_args(&proxy.url(), "ann", &data));
    t.wait("ann", "connected", |s| {
        s.contains("● connected") && s.contains("Person 1")
    })
    .await;
    proxy.refuse(true);
    proxy.cut_all();
    t.wait("ann", "offline", |s| s.contains("○ offline")).await;
    t.keys("ann", &["N", "O", "Tab"]);
    t.wait("ann", "two pending", |s| {
        s.contains("2 unsaved") && s.contains("N*") && s.contains("OFF*")
    })
    .await;
    let pid = t.rota_pid("ann");
    let killed = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    // The shell's word on it may wrap anywhere on the screen.
    t.wait("ann", "rota to die", |s| {
        s.replace('\n', "").contains("rota exited 137")
    })
    .await;
    // Started again, still offline: the edits are there, pending.
    t.start("ann2", &editor_args(&proxy.url(), "ann", &data));
    t.wait("ann2", "the pending edits, offline", |s| {
        s.contains("2 unsaved")
            && s.contains("N*")
            && s.contains("OFF*")
            && (s.contains("○ offline") || s.contains("◌ connecting"))
    })
    .await;
    proxy.refuse(false);
    t.keys("ann2", &["r"]);
    t.wait("ann2", "saved", |s| {
        s.contains("✓ all saved") && !s.contains("N*")
    })
    .await;
    let (_, cells) = hub_cells(&hub.url()).await;
    let codes: Vec<Option<String>> = cells.into_iter().map(|c| c.2).collect();
    assert_eq!(codes, vec![Some("N".to_string()), Some("OFF".to_string())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_opens_at_once_and_a_second_window_joins_it() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::new("demo");
    let demo = |user: &str| {
        vec![
            "--demo".to_string(),
            "--user".into(),
            user.into(),
            "--data".into(),
            dir.path().display().to_string(),
            "--config".into(),
            dir.path().join("none.toml").display().to_string(),
        ]
    };
    t.start("ann", &demo("ann"));
    t.wait("ann", "the demo", |s| {
        s.contains("Amara Okafor")
            && s.contains("✓ all saved")
            && s.contains("rota demo")
            && s.contains("Nurses")
    })
    .await;
    t.start("bob", &demo("bob"));
    t.wait("bob", "the same roster", |s| {
        s.contains("Amara Okafor") && s.contains("here: @AN")
    })
    .await;
    t.wait("ann", "bob", |s| s.contains("here: @BO")).await;
    // Never the real data dir: the demo keeps to DATA/demo.
    assert!(dir.path().join("demo/hub.sqlite3").exists());
    assert!(!dir.path().join("hub.sqlite3").exists());
}

/// Ctrl-Z as in a shell with job control (an interactive bash; a process
/// outside one ignores the stop, and rota then carries on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_z_gives_the_terminal_back_and_sigterm_restores_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let t = Tmux::new("manners");
    t.session("sh", "PS1='$ ' exec bash --norc --noprofile -i");
    let args = editor_args(&hub.url(), "ann", &dir_of(dir.path(), "ann"));
    let line = format!(
        "'{}' {}; echo \"rota exited $?\"",
        env!("CARGO_BIN_EXE_rota"),
        args.iter()
            .map(|a| format!("'{a}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    t.keys("sh", &[&line, "Enter"]);
    t.wait("sh", "the grid", |s| {
        s.contains("Person 1") && s.contains("● connected")
    })
    .await;
    let pid = t.rota_pid("sh");
    t.keys("sh", &["C-z"]);
    t.wait("sh", "the shell's word", |s| s.contains("Stopped"))
        .await;
    assert_eq!(t.flag("sh", "#{alternate_on}"), "0");
    assert_eq!(
        t.flag("sh", "#{cursor_flag}"),
        "1",
        "cursor shown while stopped"
    );
    t.keys("sh", &["clear", "Enter"]);
    t.wait("sh", "a clear screen", |s| !s.contains("Stopped"))
        .await;
    t.keys("sh", &["fg", "Enter"]);
    // Resumed: the editor takes the screen again and draws it whole.
    t.wait("sh", "redrawn", |s| {
        s.contains("Person 1") && s.contains("● connected")
    })
    .await;
    assert_eq!(t.flag("sh", "#{alternate_on}"), "1");
    // Stopped from outside (SIGSTOP, never seen by the editor): the shell
    // takes its terminal modes back; `fg` continues the editor, which sets
    // its own again: a key reaches it without Enter.
    let kill = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap();
        assert!(ok.success(), "kill {sig}");
    };
    kill("-STOP");
    t.wait("sh", "the shell's word", |s| s.contains("Stopped"))
        .await;
    t.keys("sh", &["fg", "Enter"]);
    t.wait("sh", "redrawn after SIGSTOP", |s| {
        s.contains("Person 1") && s.contains("● connected") && !s.contains("Stopped")
    })
    .await;
    t.keys("sh", &["j"]);
    t.wait("sh", "a key taken at once", |s| {
        status_line(s).contains("Person 2")
    })
    .await;
    // SIGTSTP from outside: as Ctrl-Z, the terminal given back first.
    kill("-TSTP");
    t.wait("sh", "the shell's word", |s| s.contains("Stopped"))
        .await;
    assert_eq!(t.flag("sh", "#{alternate_on}"), "0");
    t.keys("sh", &["fg", "Enter"]);
    t.wait("sh", "redrawn after SIGTSTP", |s| {
        s.contains("Person 1") && s.contains("● connected") && !s.contains("Stopped")
    })
    .await;
    t.keys("sh", &["k"]);
    t.wait("sh", "a key taken at once", |s| {
        status_line(s).contains("Person 1")
    })
    .await;
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    // The shell's prompt comes back when rota is gone.
    let gone = t
        .until("sh", "rota to exit", || {
            !std::path::Path::new(&format!("/proc/{pid}")).exists()
        })
        .await;
    assert!(gone, "rota still runs after SIGTERM");
    t.keys("sh", &["echo status=$?", "Enter"]);
    t.wait("sh", "its status", |s| s.contains("status=0")).await;
    assert_eq!(t.flag("sh", "#{alternate_on}"), "0");
    assert_eq!(t.flag("sh", "#{cursor_flag}"), "1");
}

/// Two editors on a roster with a staffing rule (at least one on N each
/// day). Ann fills a block with D that leaves today without a night: Bob's
/// coverage row and warning count change as it lands; Ann's undo takes
/// both back. How long Bob took to show it is printed (measured, not
/// asserted: speed belongs to the benchmarks).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_fill_under_a_minimum_shows_in_the_other_editor_and_undo_clears_it() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let today = rota::domain::Date(chrono::Local::now().date_naive());
    // Planned: yesterday to tomorrow.
    let mut ops = vec![
        rota::domain::Op::SetPeriod {
            from: today.add_days(-1),
            to: today.add_days(1),
        },
        staffing("nights", "N", 1, None),
    ];
    // Person 3 on nights from yesterday to tomorrow: every day covered.
    for i in -1..=1 {
        let date = today.add_days(i).to_string();
        ops.push(set("s3", &date, Some("N"), 0));
    }
    let (mut admin, _) = Client::join(&hub.url(), "admin", "admin-client", "default", 0).await;
    assert!(ack_seq(&admin.edit(2, ops).await) > 0);
    let t = Tmux::new("plan");
    t.editor("ann", &hub.url(), "ann", dir.path()).await;
    t.editor("bob", &hub.url(), "bob", dir.path()).await;
    t.wait("bob", "the coverage row, all covered", |s| {
        s.contains("cover N") && !header(s).contains("warning")
    })
    .await;
    // Ann: a block of the three people on today, filled with D.
    t.keys("ann", &["v", "j", "j"]);
    t.wait("ann", "the block", |s| s.contains("▣ 3 people × 1 date"))
        .await;
    let sent = std::time::Instant::now();
    t.keys("ann", &["D"]);
    let screen = t
        .wait("bob", "today under its minimum", |s| {
            s.contains("^ 1 warning") && s.contains("0/1-")
        })
        .await;
    eprintln!(
        "bob's coverage row and count changed {} ms after ann's key",
        sent.elapsed().as_millis()
    );
    let cover = screen
        .lines()
        .find(|l| l.starts_with("cover N"))
        .unwrap_or_default();
    assert_eq!(cover.matches("0/1-").count(), 1, "only today: {cover}");
    t.wait("ann", "ann's own view says so too", |s| {
        s.contains("^ 1 warning") && s.contains("✓ all saved")
    })
    .await;
    // Undo in ann: both go.
    t.keys("ann", &["u"]);
    t.wait("bob", "covered again", |s| {
        !header(s).contains("warning") && !s.contains("0/1-") && s.contains("cover N")
    })
    .await;
    // Cells pasted as a spreadsheet copies them (tab-separated rows; tmux
    // pastes them bracketed, rows ending in CR): one edit, seen by bob.
    t.keys("ann", &["g", "g"]);
    t.wait("ann", "on Person 1", |s| {
        status_line(s).contains("Person 1")
    })
    .await;
    t.run(&["set-buffer", "-b", "cells", "N\tOFF\nD\tD\n"]);
    t.run(&["paste-buffer", "-p", "-b", "cells", "-t", "ann"]);
    t.wait("ann", "the paste", |s| {
        s.contains("pasted from the clipboard 2 people × 2 dates")
    })
    .await;
    t.wait("bob", "ann's pasted cells", |s| {
        s.lines()
            .any(|l| l.starts_with("Person 1") && l.contains("OFF"))
            && s.lines()
                .any(|l| l.starts_with("Person 2") && l.contains(" D    D "))
    })
    .await;
}

/// The real editor on a hub with accounts: a bad token is refused at
/// start with the hub's reason; a good one opens the roster; revoking it
/// (from the command line, the hub running) turns the header to "refused
/// by the hub" and the editor stops trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_shows_a_refused_token_and_a_revocation() {
    use rota::accounts::{AccountsFile, Grant, Role};
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let hub = Hub::start(&hub_dir).await;
    seed(&hub.url(), 3).await;
    let token = AccountsFile::open_in(&hub_dir)
        .unwrap()
        .add_user(
            "ann",
            Grant::Role {
                roster: "default".into(),
                role: Role::Editor,
            },
        )
        .unwrap();
    // The hub takes the new accounts file in within its watch interval:
    // until a connection without a token is refused, it may still be open.
    let closed = async { while Client::raw_as(&hub.url(), None).await.is_ok() {} };
    tokio::time::timeout(WAIT, closed)
        .await
        .expect("the hub takes on accounts");
    let t = Tmux::new("token");
    let mut args = editor_args(&hub.url(), "ann", &dir_of(dir.path(), "ann"));
    args.extend(["--token".to_string(), format!("{token}x")]);
    t.start("bad", &args);
    let s = t
        .wait("bad", "refused at start", |s| s.contains("rota exited"))
        .await;
    assert!(
        s.contains("the token was refused") && s.contains("rota exited 6"),
        "{s}"
    );

    let mut args = editor_args(&hub.url(), "ann", &dir_of(dir.path(), "ann"));
    args.extend(["--token".to_string(), token.clone()]);
    t.start("ann", &args);
    t.wait("ann", "connected", |s| {
        s.contains("● connected") && s.contains("Person 1")
    })
    .await;
    let id = token.split('_').nth(1).unwrap().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_rota"))
        .args(["--serve", "--data"])
        .arg(&hub_dir)
        .args(["--revoke-token", &id])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = t
        .wait("ann", "refused", |s| s.contains("⊘ refused by the hub"))
        .await;
    // The hub's reason, whole, above the status line.
    assert!(
        words(&s).contains("refused by the hub: the token was revoked"),
        "{s}"
    );
    t.keys("ann", &["q"]);
    t.wait("ann", "rota to exit", |s| s.contains("rota exited 0"))
        .await;
}

/// A planner's first hour, with the real binary: import the benchmark's
/// largest instance (150 staff, 364 days, 32 lower-case codes), open it
/// in two editors (80x24 and 200x50), type lower-case codes, read a
/// cell's history from the hub, jump to a date across the year's end,
/// type there, undo, and find the warning count and the planning period
/// as they were. Each of these failed for a person once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planners_first_hour_on_the_largest_instance() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    let url = hub.url();
    // The import, as README says it, with the real binary.
    let data = dir_of(dir.path(), "importer");
    let out = Command::new(env!("CARGO_BIN_EXE_rota"))
        .args([
            "--apply",
            "tests/data/nrp/Instance24.txt",
            "--format",
            "nrp",
            "--start",
            "2026-11-02",
            "--server",
            &url,
            "--user",
            "importer",
            "--config",
        ])
        .arg(data.join("none.toml"))
        .arg("--data")
        .arg(&data)
        .output()
        .expect("rota runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = Tmux::new("first-hour");
    let ann = editor_args(&url, "ann", &dir_of(dir.path(), "ann"));
    let bob = editor_args(&url, "bob", &dir_of(dir.path(), "bob"));
    t.start_sized("ann", &ann, (200, 50));
    t.start_sized("bob", &bob, (80, 24));
    let first = t
        .wait("ann", "the roster", |s| {
            s.contains("● connected") && s.contains("warnings") && s.contains("plans 2 Nov 2026")
        })
        .await;
    let header = |s: &str| s.lines().next().unwrap_or_default().to_string();
    let warnings_of = |s: &str| -> String {
        header(s)
            .split(" │ ")
            .find(|i| i.contains("warning"))
            .unwrap_or_default()
            .to_string()
    };
    let warnings = warnings_of(&first);
    assert!(
        header(&first).contains("plans 2 Nov 2026 – 31 Oct 2027"),
        "{first}"
    );
    t.wait("bob", "the roster at 80x24", |s| {
        s.contains("● connected") && s.contains("warning")
    })
    .await;
    // Lower-case codes: with Shift, and after `i`.
    t.keys("ann", &["D", "1"]);
    t.wait("ann", "d1 set", |s| s.contains("set d1 for")).await;
    t.keys("ann", &["i", "n", "3"]);
    t.wait("ann", "n3 set", |s| s.contains("set n3 for")).await;
    // A lower-case key alone says how.
    t.keys("ann", &["a"]);
    t.wait("ann", "how to type a1", |s| words(s).contains("a1 as A1"))
        .await;
    t.wait("ann", "saved", |s| s.contains("✓ all saved")).await;
    // The history of the cell just written: an answer, not a wait.
    t.keys("ann", &["h", "H"]);
    t.wait("ann", "the history", |s| {
        s.contains("history: A,") && s.contains("n3") && !s.contains("asking the hub")
    })
    .await;
    t.keys("ann", &["Escape"]);
    // Bob, at 80 columns, sees ann's codes and reads the same history.
    t.keys("bob", &["H"]);
    t.wait("bob", "bob's history panel", |s| {
        s.contains("history:") && !s.contains("asking the hub")
    })
    .await;
    t.keys("bob", &["Escape"]);
    // Across the year's end: 14/1 from December is January 2027.
    t.keys("ann", &["g", "1", "4", "/", "1", "Enter"]);
    t.wait("ann", "14 January 2027", |s| {
        status_line(s).contains("Thu 14 Jan")
    })
    .await;
    t.keys("ann", &["P", "1"]);
    t.wait("ann", "p1 set", |s| s.contains("set p1 for")).await;
    t.keys("ann", &["u"]);
    t.wait("ann", "undone, and said what", |s| {
        s.contains("undone: A, Thu 14 Jan: empty")
    })
    .await;
    let after = t.wait("ann", "saved", |s| s.contains("✓ all saved")).await;
    // The two lower-case codes are still there; the rest is as it was.
    assert!(
        header(&after).contains("plans 2 Nov 2026 – 31 Oct 2027"),
        "{after}"
    );
    // The count of warnings moved only by the two codes kept: undo the
    // other two, and it is back to what it was.
    t.keys("ann", &["u", "u"]);
    let back = t
        .wait("ann", "the warnings as they were", |s| {
            s.contains("✓ all saved") && warnings_of(s) == warnings
        })
        .await;
    assert!(header(&back).contains("plans 2 Nov 2026"), "{back}");
    t.keys("ann", &["q"]);
    t.wait("ann", "rota to exit", |s| s.contains("rota exited 0"))
        .await;
}

/// A screen's words with single spaces: a message wrapped over lines (its
/// line ends padded) reads as one sentence.
fn words(screen: &str) -> String {
    screen.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Staff requests with the real binary, at 200x50 and 80x24: ann enters
/// one with `R`; bob sees its cell marked met (`=`, the cell is empty),
/// then unmet (`?`) when ann puts the night there, counted in his totals,
/// said whole in his status line, listed by `W` and by `e`; ann's `R`
/// again is filled in with it, and emptied (Ctrl-u) it withdraws it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_entered_in_one_editor_is_marked_said_and_listed_in_the_other() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let t = Tmux::new("requests");
    let ann = editor_args(&hub.url(), "ann", &dir_of(dir.path(), "ann"));
    let bob = editor_args(&hub.url(), "bob", &dir_of(dir.path(), "bob"));
    t.start_sized("ann", &ann, (200, 50));
    t.start_sized("bob", &bob, (80, 24));
    for name in ["ann", "bob"] {
        t.wait(name, "connected", |s| {
            s.contains("● connected") && s.contains("Person 1")
        })
        .await;
    }
    let row = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("Person 1"))
            .unwrap_or_default()
            .to_string()
    };
    t.keys("ann", &["R"]);
    t.wait("ann", "the prompt", |s| status_line(s).contains("REQUEST"))
        .await;
    t.keys("ann", &["-l", "off N 2, school run"]);
    t.keys("ann", &["Enter"]);
    t.wait("ann", "sent and saved", |s| {
        words(s).contains("request of Person 1 on") && s.contains("✓ all saved")
    })
    .await;
    // Whole at 200 columns; at 80, who entered it and the note give way,
    // each whole, and the person's name stays.
    t.wait("ann", "said whole", |s| {
        status_line(s).ends_with("met request off N (weight 2, school run; by ann)")
    })
    .await;
    // (Ann's cursor is there too: `·@=`.)
    t.wait("bob", "the mark, met", |s| {
        row(s).contains('=')
            && status_line(s).contains("Person 1 ·")
            && status_line(s).ends_with("met request off N (weight 2)")
    })
    .await;
    // Ann puts the night there: unmet.
    t.keys("ann", &["N"]);
    let screen = t
        .wait("bob", "unmet, counted, said", |s| {
            row(s).contains("N?")
                && status_line(s).contains("Person 1 ·")
                && status_line(s).contains("· unmet request off N (weight 2")
                && status_line(s).ends_with(')')
        })
        .await;
    assert!(
        row(&screen).ends_with("1?"),
        "the totals count it:\n{screen}"
    );
    assert!(
        screen.lines().nth(1).unwrap_or_default().ends_with("unmet"),
        "{screen}"
    );
    t.keys("bob", &["W"]);
    t.wait("bob", "the person's requests", |s| {
        words(s).contains("· off N · weight 2 · unmet (has N) · school run · by ann")
            && status_line(s).contains("REQUESTS")
    })
    .await;
    t.keys("bob", &["Tab"]);
    t.wait("bob", "the date's requests", |s| {
        words(s).contains("? Person 1 · off N · weight 2 · unmet (has N)")
    })
    .await;
    // (Esc and a key at once read as Alt and the key: one at a time.)
    t.keys("bob", &["Escape"]);
    t.wait("bob", "closed", |s| status_line(s).contains("NORMAL"))
        .await;
    t.keys("bob", &["e"]);
    t.wait("bob", "the warnings list", |s| {
        let w = words(s);
        w.contains("? Person 1 asked for off N on") && w.contains("(weight 2), has N [request]")
    })
    .await;
    t.keys("bob", &["Escape"]);
    t.wait("bob", "closed", |s| status_line(s).contains("NORMAL"))
        .await;
    // Ann: back to the cell; R is filled in; emptied, Enter withdraws.
    t.keys("ann", &["h", "R"]);
    t.wait("ann", "filled in", |s| {
        status_line(s).contains("off N 2, school run▏")
    })
    .await;
    t.keys("ann", &["C-u"]);
    t.wait("ann", "rubbed out", |s| {
        words(s).contains("empty: Enter withdraws the request")
    })
    .await;
    t.keys("ann", &["Enter"]);
    t.wait("ann", "withdrawn", |s| {
        words(s).contains("withdrew the request of Person 1")
    })
    .await;
    t.wait("bob", "no mark, no count", |s| {
        !row(s).contains('?') && !status_line(s).contains("request")
    })
    .await;
    for name in ["ann", "bob"] {
        t.keys(name, &["q"]);
        t.wait(name, "rota to exit", |s| s.contains("rota exited 0"))
            .await;
    }
}

/// Issue 22, with the real binary at 80x24: an admin publishes the
/// planning period (`P`, the range filled in, Enter, a note, Enter, the
/// question whole, `y`); changes a published cell; sees it marked `#`
/// and counted in the header; `]` steps to it and says what staff were
/// shown there and what it is now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_publishes_changes_a_cell_and_steps_to_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::start(&dir.path().join("hub")).await;
    seed(&hub.url(), 3).await;
    let t = Tmux::new("publish");
    let ann = editor_args(&hub.url(), "ann", &dir_of(dir.path(), "ann"));
    t.start_sized("ann", &ann, (80, 24));
    t.wait("ann", "connected", |s| {
        s.contains("● connected") && s.contains("Person 1")
    })
    .await;
    let row = |s: &str, who: &str| {
        s.lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_default()
            .to_string()
    };
    // Person 1 and Person 2 on today: D and N (the first code sets the
    // planning period: today's month).
    t.keys("ann", &["D"]);
    t.keys("ann", &["j", "h", "N"]);
    t.wait("ann", "saved", |s| {
        s.contains("✓ all saved") && row(s, "Person 2").contains('N')
    })
    .await;
    t.keys("ann", &["P"]);
    t.wait("ann", "the range, filled in", |s| {
        status_line(s).contains("PUBLISH") && status_line(s).contains(" to ")
    })
    .await;
    t.keys("ann", &["Enter"]);
    t.wait("ann", "the note", |s| words(s).contains("a note for staff"))
        .await;
    t.keys("ann", &["-l", "first"]);
    t.keys("ann", &["Enter"]);
    t.wait("ann", "the question, whole", |s| {
        words(s).contains("(2 cells) as publication 1? y/n") && status_line(s).contains("PUBLISH?")
    })
    .await;
    t.keys("ann", &["y"]);
    t.wait("ann", "published and saved", |s| {
        words(s).contains("(2 cells) as publication 1: first") && s.contains("✓ all saved")
    })
    .await;
    // Person 1's D, today, made N: marked and counted.
    t.keys("ann", &["k", "h", "N"]);
    let screen = t
        .wait("ann", "the mark and the count", |s| {
            header(s).contains("# 1 unpublished")
                && row(s, "Person 1").contains("N#")
                && s.contains("✓ all saved")
        })
        .await;
    assert!(!row(&screen, "Person 2").contains('#'), "{screen}");
    // From elsewhere (the last person), `]` goes to it and says it.
    t.keys("ann", &["G", "]"]);
    t.wait("ann", "stepped to it", |s| {
        let w = words(s);
        w.contains("1 of 1: Person 1")
            && w.contains(": published D, now N")
            && status_line(s).contains("Person 1")
    })
    .await;
    t.keys("ann", &["q"]);
    t.wait("ann", "rota to exit", |s| s.contains("rota exited 0"))
        .await;
}

/// Issue 22's new-user trial, with the real binary on a hub with
/// accounts, at 80x24 and 200x50: a member of staff (bound to Person 3's
/// row) opens on their own row; on another's row `R` names them, not
/// their id, and `H` is refused at the key in a plain sentence; on their
/// own row a request entered and changed shows in `H` as a request, never
/// as `(empty) → (empty)`; undone, it says what came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_of_staff_opens_on_their_row_and_reads_its_requests_history() {
    use rota::accounts::{AccountsFile, Grant};
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let hub = Hub::start(&hub_dir).await;
    seed(&hub.url(), 4).await;
    let token = AccountsFile::open_in(&hub_dir)
        .unwrap()
        .add_user(
            "cleo",
            Grant::Staff {
                roster: "default".into(),
                staff: "s3".into(),
            },
        )
        .unwrap();
    // The hub takes the new accounts file in within its watch interval.
    let closed = async { while Client::raw_as(&hub.url(), None).await.is_ok() {} };
    tokio::time::timeout(WAIT, closed)
        .await
        .expect("the hub takes on accounts");
    let t = Tmux::new("staff");
    for (name, size) in [("narrow", (80, 24)), ("wide", (200, 50))] {
        let mut args = editor_args(&hub.url(), "cleo", &dir_of(dir.path(), name));
        args.extend(["--token".to_string(), token.clone()]);
        t.start_sized(name, &args, size);
        t.wait(name, "connected, on their own row", |s| {
            s.contains("● connected")
                && status_line(s).contains("STAFF")
                && status_line(s).contains("Person 3 ·")
        })
        .await;
        // Another's row: told in names, at the key.
        t.keys(name, &["k", "R"]);
        t.wait(name, "R refused, naming them", |s| {
            words(s).contains("you enter and withdraw your own requests only (Person 3)")
        })
        .await;
        t.keys(name, &["H"]);
        let s = t
            .wait(name, "H refused at the key", |s| {
                words(s).contains("as staff you see the history of your own row only (Person 3)")
            })
            .await;
        assert!(!status_line(&s).contains("HISTORY"), "{s}");
    }
    // Their own row: a request entered, changed; H says them as requests.
    let name = "narrow";
    t.keys(name, &["j", "R"]);
    t.wait(name, "the prompt", |s| status_line(s).contains("REQUEST"))
        .await;
    t.keys(name, &["-l", "off N 2, school run"]);
    t.keys(name, &["Enter"]);
    t.wait(name, "sent and saved", |s| {
        words(s).contains("request of Person 3 on") && s.contains("✓ all saved")
    })
    .await;
    t.keys(name, &["R", "C-u"]);
    t.keys(name, &["-l", "off 3"]);
    t.keys(name, &["Enter"]);
    t.wait(name, "changed and saved", |s| {
        words(s).contains("changed the request of Person 3") && s.contains("✓ all saved")
    })
    .await;
    t.keys(name, &["H"]);
    let s = t
        .wait(name, "the history, as requests", |s| {
            words(s).contains("cleo request: off N (weight 2, school run) → off (weight 3)")
        })
        .await;
    assert!(
        words(&s).contains("cleo request: off N (weight 2, school run)"),
        "{s}"
    );
    assert!(!s.contains("(empty) → (empty)"), "{s}");
    t.keys(name, &["Escape"]);
    t.wait(name, "closed", |s| status_line(s).contains("STAFF"))
        .await;
    t.keys(name, &["u"]);
    t.wait(name, "undone, said as a cell's undo", |s| {
        words(s).contains("undone: Person 3, ")
            && words(s).contains(": request off N (weight 2, school run)")
    })
    .await;
    // The wide one sees it too (a staff member's own request).
    t.wait("wide", "the request marked", |s| {
        s.lines()
            .any(|l| l.starts_with("Person 3") && (l.contains('?') || l.contains('=')))
    })
    .await;
    for name in ["narrow", "wide"] {
        t.keys(name, &["q"]);
        t.wait(name, "rota to exit", |s| s.contains("rota exited 0"))
            .await;
    }
}

/// The line of `who`'s row in the grid.
fn row_of(screen: &str, who: &str) -> String {
    screen
        .lines()
        .find(|l| l.starts_with(who))
        .unwrap_or_default()
        .to_string()
}

/// The cells of `who`'s row as shown (each as a code with its marks,
/// `D`, `N@#`, `·@=`), without the name and the presence tags beside it.
fn cells_of(screen: &str, who: &str) -> Vec<String> {
    row_of(screen, who)
        .trim_start_matches(who)
        .split_whitespace()
        .filter(|c| !c.starts_with('@'))
        .map(String::from)
        .collect()
}

/// Whether `who`'s row shows a cell with `code` (marks aside).
fn shows(screen: &str, who: &str, code: &str) -> bool {
    cells_of(screen, who)
        .iter()
        .any(|c| c.split(['@', '#', '?', '=', '*', '!']).next() == Some(code))
}

/// Publishes the planning period from the editor in window `name` (`P`,
/// the range as filled in, a note, `y`) as publication `n`, and waits until
/// it is saved.
async fn publish_in(t: &Tmux, name: &str, n: u32, note: &str) {
    t.keys(name, &["P"]);
    t.wait(name, "the range, filled in", |s| {
        status_line(s).contains("PUBLISH") && status_line(s).contains(" to ")
    })
    .await;
    t.keys(name, &["Enter"]);
    t.wait(name, "the note", |s| words(s).contains("a note for staff"))
        .await;
    t.keys(name, &["-l", note]);
    t.keys(name, &["Enter"]);
    let asked = format!("as publication {n}? y/n");
    t.wait(name, "the question, whole", |s| {
        words(s).contains(&asked) && status_line(s).contains("PUBLISH?")
    })
    .await;
    t.keys(name, &["y"]);
    let done = format!("as publication {n}: {note}");
    t.wait(name, "published and saved", |s| {
        words(s).contains(&done) && s.contains("✓ all saved")
    })
    .await;
}

/// Runs the binary with `args` off the async threads (the hub in this
/// process answers meanwhile); returns its exit code, stdout and stderr.
async fn run_rota(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_rota"))
            .args(&args)
            .env("ROTA_CONFIG", "/nonexistent/rota-test-config.toml")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("rota runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("the blocking task ends")
}

/// Issue 22, end to end with the real binary on a hub with accounts: a
/// member of staff (sue, Person 1's row, 80x24) in one editor, the
/// planner (ada, an admin, 200x50) in another. The planner publishes a D:
/// the staff screen shows it. The planner changes it to N, a draft: the
/// staff screen never shows the N (a request entered after it reaches the
/// staff screen, the D still there). The planner publishes again; sue,
/// opening the editor again, sees the N and is told her shifts changed
/// since she last looked (D -> N: the D was kept as seen when it came,
/// found by this test); `rota --mine` prints the N, and the calendar feed
/// has it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planner_publishes_and_the_staff_member_sees_it() {
    use rota::accounts::{AccountsFile, Grant, Role};
    let dir = tempfile::tempdir().unwrap();
    let hub_dir = dir.path().join("hub");
    let hub = Hub::start(&hub_dir).await;
    seed(&hub.url(), 3).await;
    let ada = AccountsFile::open_in(&hub_dir)
        .unwrap()
        .add_user(
            "ada",
            Grant::Role {
                roster: "default".into(),
                role: Role::Admin,
            },
        )
        .unwrap();
    let sue = AccountsFile::open_in(&hub_dir)
        .unwrap()
        .add_user(
            "sue",
            Grant::Staff {
                roster: "default".into(),
                staff: "s1".into(),
            },
        )
        .unwrap();
    // The hub takes the new accounts file in within its watch interval:
    // until a connection without a token is refused, it may still be open.
    let closed = async { while Client::raw_as(&hub.url(), None).await.is_ok() {} };
    tokio::time::timeout(WAIT, closed)
        .await
        .expect("the hub takes on accounts");
    let today = chrono::Local::now().date_naive();
    let day = today.format("%a %-d %b").to_string();

    let t = Tmux::new("published");
    let with_token = |user: &str, token: &str| {
        let mut args = editor_args(&hub.url(), user, &dir_of(dir.path(), user));
        args.extend(["--token".to_string(), token.to_string()]);
        args
    };
    let planner = with_token("ada", &ada);
    let staff = with_token("sue", &sue);
    t.start_sized("ada", &planner, (200, 50));
    t.wait("ada", "connected", |s| {
        s.contains("● connected") && s.contains("Person 1")
    })
    .await;
    // The planner: D on Person 1, today (where the cursor starts), a draft
    // of a roster that never published.
    t.keys("ada", &["D"]);
    t.wait("ada", "D saved", |s| {
        s.contains("✓ all saved") && shows(s, "Person 1", "D")
    })
    .await;
    // Sue opens it: before any publication staff see the roster as it is.
    t.start_sized("sue", &staff, (80, 24));
    t.wait("sue", "connected, on her own row, the D", |s| {
        s.contains("● connected")
            && status_line(s).contains("STAFF")
            && status_line(s).contains("Person 1 ·")
            && shows(s, "Person 1", "D")
    })
    .await;
    // Published: the D is news to her as a published shift (what she saw
    // of a roster that never published is not what was published: found
    // by a new-user trial, told nothing before).
    publish_in(&t, "ada", 1, "first").await;
    // Told as it comes (and kept as seen: the next opening compares with it).
    let told = format!("your shifts changed (just published): {day} nothing -> D");
    t.wait("sue", "the published D, told", |s| {
        shows(s, "Person 1", "D") && words(s).contains(&told)
    })
    .await;
    // A key puts the status line back to the cell's account.
    t.keys("sue", &["Escape"]);
    t.wait("sue", "the cell said", |s| status_line(s).contains(" · D"))
        .await;

    // The planner makes it N, a draft; then enters a request of Person 1
    // on the same cell (off: unmet by a shift), which staff are sent.
    t.keys("ada", &["h", "N"]);
    t.wait("ada", "the draft N, marked unpublished", |s| {
        shows(s, "Person 1", "N")
            && header(s).contains("# 1 unpublished")
            && s.contains("✓ all saved")
    })
    .await;
    t.keys("ada", &["h", "R"]);
    t.wait("ada", "the prompt", |s| status_line(s).contains("REQUEST"))
        .await;
    t.keys("ada", &["-l", "off"]);
    t.keys("ada", &["Enter"]);
    t.wait("ada", "the request sent and saved", |s| {
        words(s).contains("request of Person 1 on") && s.contains("✓ all saved")
    })
    .await;
    // The request came after the N: once sue sees it, she would have
    // seen the N, had it been sent to her.
    let screen = t
        .wait("sue", "the request, unmet by the published D", |s| {
            status_line(s).contains("Person 1 ·")
                && status_line(s).contains("unmet request off")
                && cells_of(s, "Person 1").iter().any(|c| c.contains('?'))
        })
        .await;
    assert!(
        shows(&screen, "Person 1", "D") && !shows(&screen, "Person 1", "N"),
        "staff see the published D, never the draft N:\n{screen}"
    );
    assert!(status_line(&screen).contains(" · D"), "{screen}");

    // Sue leaves; the planner publishes the N; sue opens the editor again.
    t.keys("sue", &["q"]);
    t.wait("sue", "rota to exit", |s| s.contains("rota exited 0"))
        .await;
    publish_in(&t, "ada", 2, "nights").await;
    t.start_sized("sue2", &staff, (80, 24));
    let told = format!("your shifts changed since you last looked: {day} D -> N");
    let screen = t
        .wait("sue2", "the published N, and what changed", |s| {
            s.contains("● connected")
                && shows(s, "Person 1", "N")
                && words(s).contains("since you last looked")
        })
        .await;
    assert!(words(&screen).contains(&told), "{told}:\n{screen}");

    // `rota --mine` on sue's account: today's N.
    let mut mine = editor_args(&hub.url(), "sue", &dir_of(dir.path(), "sue-mine"));
    mine.extend(["--mine".to_string(), "--token".to_string(), sue.clone()]);
    let (code, out, err) = run_rota(mine).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Person 1 (s1), roster default: published shifts"),
        "{out}"
    );
    let long_day = today.format("%a %-d %b %Y").to_string();
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&long_day))
        .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "));
    assert_eq!(line.as_deref(), Some("N 8 h"), "{out}");

    // The calendar feed of Person 1: today's N.
    let (code, url, err) = run_rota(vec![
        "--serve".into(),
        "--data".into(),
        hub_dir.display().to_string(),
        "--calendar-url".into(),
        "s1".into(),
        "--roster".into(),
        "default".into(),
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let url = url.trim();
    let prefix = format!("http://{}", hub.addr);
    let path = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("the feed is on the hub ({prefix}): {url}"));
    assert!(
        path.starts_with("/calendar/") && path.ends_with(".ics"),
        "{url}"
    );
    let (status, body) = http_get(hub.addr, path).await;
    assert_eq!(status, 200, "{body}");
    let events: Vec<&str> = body.split("BEGIN:VEVENT").skip(1).collect();
    assert_eq!(events.len(), 1, "one shift published: {body}");
    let stamp = today.format("%Y%m%d").to_string();
    let lines: Vec<&str> = events[0].split("\r\n").collect();
    for want in [
        format!("UID:default-s1-{stamp}@rota"),
        format!("DTSTART;VALUE=DATE:{stamp}"),
        "SUMMARY:N".to_string(),
    ] {
        assert!(lines.contains(&want.as_str()), "{want}: {body}");
    }

    for name in ["ada", "sue2"] {
        t.keys(name, &["q"]);
        t.wait(name, "rota to exit", |s| s.contains("rota exited 0"))
            .await;
    }
}
